//! The PD-SSM scan (`kleene_scan::pd`) on burn-ndarray and `Autodiff<NdArray>`: the spec's
//! golden vectors (§9.4), the forward of both forms against the float64 dense-matrix oracle,
//! that oracle against the associative scan of the JAX code, gradients (the straight-through
//! `∂L/∂P` included) against central finite differences of the oracle and against Burn's
//! autodiff of the tensor-op reference, continuation from a state, FSA emulation, and errors.

mod common;

use burn::backend::Autodiff;
use burn::tensor::{Int, Tensor, TensorData};
use burn_ndarray::NdArray;
use common::pd::{dims, op_grads, split, PdProblem};
use common::{assert_close, rng, tensor, uniform, values};
use kleene_scan::pd::naive;
use kleene_scan::pd::reference;
use kleene_scan::{pd_scan, try_pd_scan, PdForm, PdScanInput, ScanError};
use rand::Rng;

type B = NdArray<f32>;
type Ad = Autodiff<B>;

const FORMS: [PdForm; 2] = [PdForm::Scatter, PdForm::Gather];

fn flat(h: (Tensor<B, 3>, Tensor<B, 3>)) -> (Vec<f64>, Vec<f64>) {
    (values(h.0), values(h.1))
}

/// Spec §9.4: scatter form, N = 3, x₀ = e₀, three hand-computed steps.
#[test]
fn golden_vectors_of_the_spec() {
    let dev = Default::default();
    let p = PdProblem {
        dims: dims(1, 3, 3),
        form: PdForm::Scatter,
        index: vec![1, 2, 0, 0, 0, 2, 2, 1, 1],
        d_re: vec![1.0, 1.0, 1.0, 0.5, 0.0, 1.0, 1.0, -1.0, 0.9],
        d_im: vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        b_re: vec![0.0, 0.0, 0.0, 0.0, 0.1, 0.0, 0.2, 0.0, 0.0],
        b_im: vec![0.0; 9],
        h0: Some((vec![1.0, 0.0, 0.0], vec![0.0; 3])),
    };
    // (0,1,0); (i, 0.1, 0); (0.2, −0.1, i)
    let want_re = [0.0, 1.0, 0.0, 0.0, 0.1, 0.0, 0.2, -0.1, 0.0];
    let want_im = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    let (re, im) = flat(pd_scan::<B>(p.input(&dev)));
    let (ore, oim) = split(&p.oracle(None));
    let (d, b, h0) = p.complex();
    let ids = p.ids();
    let x = naive::Inputs {
        index: &ids,
        d: &d,
        b: &b,
        h0: &h0,
        form: PdForm::Scatter,
    };
    let (are, aim) = split(&naive::associative(&p.dims, x));
    for (what, got) in [
        ("op re", &re),
        ("op im", &im),
        ("oracle re", &ore),
        ("oracle im", &oim),
        ("assoc re", &are),
        ("assoc im", &aim),
    ] {
        let want = if what.ends_with("re") {
            &want_re
        } else {
            &want_im
        };
        for (g, w) in got.iter().zip(want.iter()) {
            assert!((g - w).abs() < 1e-6, "{what}: {got:?} vs {want:?}");
        }
    }
}

#[test]
fn forward_matches_the_f64_oracle_in_both_forms() {
    let dev = Default::default();
    let mut r = rng(1);
    let shapes = [
        dims(2, 17, 5),
        dims(1, 1, 1),
        dims(1, 1, 4),
        dims(3, 40, 8),
        dims(2, 300, 16),
    ];
    for (i, &d) in shapes.iter().enumerate() {
        for form in FORMS {
            let p = PdProblem::random(&mut r, d, form, i % 2 == 0);
            let (re, im) = flat(pd_scan::<B>(p.input(&dev)));
            let (wre, wim) = split(&p.oracle(None));
            assert_close(&format!("{d:?} {form:?} re"), &re, &wre, 1e-5);
            assert_close(&format!("{d:?} {form:?} im"), &im, &wim, 1e-5);
        }
    }
}

/// The two f64 oracles (dense matrices step by step; associative scan of `(p, D, b)` triples)
/// agree: the sequential form equals the parallel one (spec §9.4, §11.2).
#[test]
fn sequential_oracle_equals_the_associative_scan() {
    let mut r = rng(2);
    for &d in &[dims(2, 37, 6), dims(1, 64, 3), dims(1, 5, 1)] {
        for form in FORMS {
            let p = PdProblem::random(&mut r, d, form, true);
            let ids = p.ids();
            let (dd, b, h0) = p.complex();
            let x = naive::Inputs {
                index: &ids,
                d: &dd,
                b: &b,
                h0: &h0,
                form,
            };
            let (sre, sim) = split(&p.oracle(None));
            let (are, aim) = split(&naive::associative(&d, x));
            assert_close("assoc re", &are, &sre, 1e-12);
            assert_close("assoc im", &aim, &sim, 1e-12);
        }
    }
}

/// The two forms coincide when every `p_t` is a permutation (spec §9.3): the gather form with
/// the inverse permutations equals the scatter form.
#[test]
fn forms_coincide_for_permutations() {
    let dev = Default::default();
    let mut r = rng(3);
    let d = dims(2, 25, 7);
    let mut p = PdProblem::random(&mut r, d, PdForm::Scatter, true);
    let mut perm: Vec<usize> = (0..d.n).collect();
    let mut inverse = Vec::new();
    for step in 0..d.batch * d.len {
        for i in (1..d.n).rev() {
            perm.swap(i, r.random_range(0..=i));
        }
        p.index[step * d.n..(step + 1) * d.n].copy_from_slice(&perm);
        let mut inv = vec![0; d.n];
        for (k, &j) in perm.iter().enumerate() {
            inv[j] = k;
        }
        // Gather reads D at the output index: D'[m] = D[π⁻¹(m)].
        inverse.push(inv);
    }
    let scatter = flat(pd_scan::<B>(p.input(&dev)));
    let mut g = p.clone();
    g.form = PdForm::Gather;
    for (step, inv) in inverse.iter().enumerate() {
        let o = step * d.n;
        for (m, &src) in inv.iter().enumerate() {
            g.index[o + m] = src;
            g.d_re[o + m] = p.d_re[o + src];
            g.d_im[o + m] = p.d_im[o + src];
        }
    }
    let gather = flat(pd_scan::<B>(g.input(&dev)));
    assert_close("re", &gather.0, &scatter.0, 1e-6);
    assert_close("im", &gather.1, &scatter.1, 1e-6);
}

/// `Σ w_re·Re h + w_im·Im h` on the f64 oracle.
fn loss(p: &PdProblem, dense: Option<&[f64]>, w_re: &[f64], w_im: &[f64]) -> f64 {
    let h = p.oracle(dense);
    h.iter()
        .zip(w_re.iter().zip(w_im))
        .map(|(c, (a, b))| c.0 * a + c.1 * b)
        .sum()
}

/// Perturbs one input entry of a problem by the given amount.
type Perturbation = Box<dyn FnMut(&mut PdProblem, f64)>;

/// Central differences of the oracle with respect to every input.
fn fd_grads(p: &PdProblem, w_re: &[f64], w_im: &[f64]) -> Vec<Vec<f64>> {
    const EPS: f64 = 1e-6;
    let fd = |mut set: Perturbation, base: &PdProblem| {
        let mut a = base.clone();
        set(&mut a, EPS);
        let up = loss(&a, None, w_re, w_im);
        let mut a = base.clone();
        set(&mut a, -EPS);
        (up - loss(&a, None, w_re, w_im)) / (2.0 * EPS)
    };
    let full = p.d_re.len();
    let mut out = Vec::new();
    for field in 0..4 {
        out.push(
            (0..full)
                .map(|i| {
                    fd(
                        Box::new(move |q: &mut PdProblem, e| match field {
                            0 => q.d_re[i] += e,
                            1 => q.d_im[i] += e,
                            2 => q.b_re[i] += e,
                            _ => q.b_im[i] += e,
                        }),
                        p,
                    )
                })
                .collect(),
        );
    }
    for field in 0..2 {
        let len = p.h0.as_ref().map_or(0, |h| h.0.len());
        out.push(
            (0..len)
                .map(|i| {
                    fd(
                        Box::new(move |q: &mut PdProblem, e| {
                            let h = q.h0.as_mut().unwrap();
                            if field == 0 {
                                h.0[i] += e
                            } else {
                                h.1[i] += e
                            }
                        }),
                        p,
                    )
                })
                .collect(),
        );
    }
    let hard = naive::one_hot(&p.dims, &p.ids(), p.form);
    out.push(
        (0..hard.len())
            .map(|i| {
                let mut up = hard.clone();
                up[i] += EPS;
                let mut down = hard.clone();
                down[i] -= EPS;
                (loss(p, Some(&up), w_re, w_im) - loss(p, Some(&down), w_re, w_im)) / (2.0 * EPS)
            })
            .collect(),
    );
    out
}

const NAMES: [&str; 7] = ["d_re", "d_im", "b_re", "b_im", "h0_re", "h0_im", "P"];

#[test]
fn gradients_match_finite_differences_of_the_oracle() {
    let dev = Default::default();
    let mut r = rng(4);
    for (i, &d) in [dims(2, 9, 4), dims(1, 6, 1), dims(1, 13, 5)]
        .iter()
        .enumerate()
    {
        for form in FORMS {
            let p = PdProblem::random(&mut r, d, form, i != 1);
            let full = d.batch * d.len * d.n;
            let (w_re, w_im) = (
                uniform(&mut r, full, -1.0, 1.0),
                uniform(&mut r, full, -1.0, 1.0),
            );
            let got = op_grads::<Ad>(&p, &w_re, &w_im, None, &dev);
            let want = fd_grads(&p, &w_re, &w_im);
            for (k, name) in NAMES.iter().enumerate() {
                if want[k].is_empty() {
                    assert!(got[k].is_empty(), "{name}: gradient of an absent input");
                    continue;
                }
                assert_close(&format!("{d:?} {form:?} d{name}"), &got[k], &want[k], 1e-4);
            }
        }
    }
}

/// The op's backward (the surrogate's `∂L/∂P` included) equals Burn's autodiff through the
/// tensor-op reference with `P = hard + soft − soft.detach()`.
#[test]
fn gradients_match_autodiff_of_the_reference() {
    let dev = Default::default();
    let mut r = rng(5);
    for form in FORMS {
        let d = dims(3, 24, 6);
        let p = PdProblem::random(&mut r, d, form, true);
        let full = d.batch * d.len * d.n;
        let (w_re, w_im) = (
            uniform(&mut r, full, -1.0, 1.0),
            uniform(&mut r, full, -1.0, 1.0),
        );
        let got = op_grads::<Ad>(&p, &w_re, &w_im, None, &dev);

        let sh = [d.batch, d.len, d.n];
        let hard: Tensor<Ad, 4> = tensor(
            &naive::one_hot(&d, &p.ids(), form),
            [d.batch, d.len, d.n, d.n],
            &dev,
        );
        let soft: Tensor<Ad, 4> = tensor(
            &uniform(&mut r, full * d.n, 0.0, 1.0),
            [d.batch, d.len, d.n, d.n],
            &dev,
        )
        .require_grad();
        let st = hard + soft.clone() - soft.clone().detach();
        let leaf3 = |v: &[f64]| tensor::<Ad, 3>(v, sh, &dev).require_grad();
        let (dr, di, br, bi) = (
            leaf3(&p.d_re),
            leaf3(&p.d_im),
            leaf3(&p.b_re),
            leaf3(&p.b_im),
        );
        let (h0r, h0i) = p.h0.as_ref().unwrap();
        let h0r = tensor::<Ad, 2>(h0r, [d.batch, d.n], &dev).require_grad();
        let h0i = tensor::<Ad, 2>(h0i, [d.batch, d.n], &dev).require_grad();
        let (hr, hi) = reference::pd_scan(
            st,
            (dr.clone(), di.clone()),
            (br.clone(), bi.clone()),
            (h0r.clone(), h0i.clone()),
            form,
        );
        let g = ((hr * tensor::<Ad, 3>(&w_re, sh, &dev)).sum()
            + (hi * tensor::<Ad, 3>(&w_im, sh, &dev)).sum())
        .backward();
        let want = [
            values(dr.grad(&g).unwrap()),
            values(di.grad(&g).unwrap()),
            values(br.grad(&g).unwrap()),
            values(bi.grad(&g).unwrap()),
            values(h0r.grad(&g).unwrap()),
            values(h0i.grad(&g).unwrap()),
            values(soft.grad(&g).unwrap()),
        ];
        for (k, name) in NAMES.iter().enumerate() {
            assert_close(&format!("{form:?} d{name}"), &got[k], &want[k], 1e-5);
        }
    }
}

/// With the logits `M` as the surrogate the op returns `∂L/∂M` through the softmax over the
/// form's axis: equal to Burn's autodiff of the reference with
/// `P = hard + softmax(M) − stopgrad(softmax(M))`, `hard` the argmax of `M`.
#[test]
fn softmax_logit_gradients_match_autodiff_of_the_reference() {
    let dev = Default::default();
    let mut r = rng(9);
    for form in FORMS {
        let d = dims(2, 15, 5);
        let mut p = PdProblem::random(&mut r, d, form, true);
        let full = d.batch * d.len * d.n;
        let m = uniform(&mut r, full * d.n, -2.0, 2.0);
        // ids = argmax over rows (scatter: per column) or over the last index (gather).
        for step in 0..d.batch * d.len {
            for line in 0..d.n {
                let at = |o: usize| match form {
                    PdForm::Scatter => (step * d.n + o) * d.n + line,
                    PdForm::Gather => (step * d.n + line) * d.n + o,
                };
                p.index[step * d.n + line] =
                    (0..d.n).fold(0, |b, o| if m[at(o)] > m[at(b)] { o } else { b });
            }
        }
        let (w_re, w_im) = (
            uniform(&mut r, full, -1.0, 1.0),
            uniform(&mut r, full, -1.0, 1.0),
        );
        let got = op_grads::<Ad>(&p, &w_re, &w_im, Some(&m), &dev);
        // Without ids the op takes the hardmax of the logits itself: the same states.
        let shape4 = [d.batch, d.len, d.n, d.n];
        let with_ids = PdScanInput {
            transition_surrogate: Some(tensor::<B, 4>(&m, shape4, &dev)),
            surrogate: kleene_scan::PdSurrogate::SoftmaxLogits,
            ..p.input::<B>(&dev)
        };
        let own = PdScanInput {
            index: None,
            ..with_ids.clone()
        };
        assert_eq!(
            flat(pd_scan(own)),
            flat(pd_scan(with_ids)),
            "{form:?} own hardmax"
        );
        let mut ties = p.clone();
        ties.index.iter_mut().for_each(|i| *i = 0);
        let tied_m = vec![0.5; full * d.n];
        let tied = PdScanInput {
            index: None,
            transition_surrogate: Some(tensor::<B, 4>(&tied_m, shape4, &dev)),
            surrogate: kleene_scan::PdSurrogate::SoftmaxLogits,
            ..p.input::<B>(&dev)
        };
        assert_eq!(
            flat(pd_scan(tied)),
            flat(pd_scan::<B>(ties.input(&dev))),
            "{form:?} ties go to the first index"
        );

        let sh = [d.batch, d.len, d.n];
        let hard: Tensor<Ad, 4> = tensor(&naive::one_hot(&d, &p.ids(), form), shape4, &dev);
        let logits: Tensor<Ad, 4> = tensor(&m, shape4, &dev).require_grad();
        let axis = match form {
            PdForm::Scatter => 2,
            PdForm::Gather => 3,
        };
        let soft = burn::tensor::activation::softmax(logits.clone(), axis);
        let st = hard + soft.clone() - soft.detach();
        let leaf3 = |v: &[f64]| tensor::<Ad, 3>(v, sh, &dev).require_grad();
        let (dr, di, br, bi) = (
            leaf3(&p.d_re),
            leaf3(&p.d_im),
            leaf3(&p.b_re),
            leaf3(&p.b_im),
        );
        let (h0r, h0i) = p.h0.as_ref().unwrap();
        let h0 = (
            tensor::<Ad, 2>(h0r, [d.batch, d.n], &dev),
            tensor::<Ad, 2>(h0i, [d.batch, d.n], &dev),
        );
        let (hr, hi) = reference::pd_scan(st, (dr.clone(), di), (br, bi), h0, form);
        let g = ((hr * tensor::<Ad, 3>(&w_re, sh, &dev)).sum()
            + (hi * tensor::<Ad, 3>(&w_im, sh, &dev)).sum())
        .backward();
        assert_close(
            &format!("{form:?} dD_re"),
            &got[0],
            &values(dr.grad(&g).unwrap()),
            1e-5,
        );
        assert_close(
            &format!("{form:?} dM"),
            &got[6],
            &values(logits.grad(&g).unwrap()),
            1e-5,
        );
    }
}

#[test]
fn continuing_from_the_last_state_equals_the_whole_sequence() {
    let dev = Default::default();
    let mut r = rng(6);
    for form in FORMS {
        let d = dims(2, 30, 5);
        let p = PdProblem::random(&mut r, d, form, true);
        let (whole_re, whole_im) = pd_scan::<B>(p.input(&dev));
        let x = p.input::<B>(&dev);
        let part = |t: &Tensor<B, 3>, a: usize, b: usize| t.clone().narrow(1, a, b - a);
        let idx = |a: usize, b: usize| x.index.clone().map(|i| i.narrow(1, a, b - a));
        let first = pd_scan(PdScanInput {
            index: idx(0, 12),
            d_re: part(&x.d_re, 0, 12),
            d_im: part(&x.d_im, 0, 12),
            b_re: part(&x.b_re, 0, 12),
            b_im: part(&x.b_im, 0, 12),
            ..x.clone()
        });
        let last = |t: Tensor<B, 3>| t.narrow(1, 11, 1).reshape([d.batch, d.n]);
        let second = pd_scan(PdScanInput {
            index: idx(12, 30),
            d_re: part(&x.d_re, 12, 30),
            d_im: part(&x.d_im, 12, 30),
            b_re: part(&x.b_re, 12, 30),
            b_im: part(&x.b_im, 12, 30),
            initial_state: Some((last(first.0.clone()), last(first.1.clone()))),
            ..x.clone()
        });
        let re = Tensor::cat(vec![first.0, second.0], 1);
        let im = Tensor::cat(vec![first.1, second.1], 1);
        assert_eq!(values(re), values(whole_re), "{form:?} re");
        assert_eq!(values(im), values(whole_im), "{form:?} im");
    }
}

/// Spec §9.4: with `p = δ(·, letter)`, `D = 1`, `b = 0` the scatter form runs any DFA (merges
/// included): the state after reading w is `e_{δ*(q0, w)}`, exactly, for a long w.
#[test]
fn scatter_form_emulates_a_random_dfa_exactly() {
    let dev = Default::default();
    let mut r = rng(7);
    let (states, letters, len) = (6, 3, 2000);
    let delta: Vec<Vec<usize>> = (0..letters)
        .map(|_| (0..states).map(|_| r.random_range(0..states)).collect())
        .collect();
    let word: Vec<usize> = (0..len).map(|_| r.random_range(0..letters)).collect();
    let q0 = 2;
    let mut index = Vec::new();
    let mut want = Vec::new();
    let mut q = q0;
    for &a in &word {
        index.extend_from_slice(&delta[a]);
        q = delta[a][q];
        want.extend((0..states).map(|s| f64::from(u8::from(s == q))));
    }
    let full = len * states;
    let mut h0 = vec![0.0; states];
    h0[q0] = 1.0;
    let p = PdProblem {
        dims: dims(1, len, states),
        form: PdForm::Scatter,
        index,
        d_re: vec![1.0; full],
        d_im: vec![0.0; full],
        b_re: vec![0.0; full],
        b_im: vec![0.0; full],
        h0: Some((h0, vec![0.0; states])),
    };
    let (re, im) = flat(pd_scan::<B>(p.input(&dev)));
    assert_eq!(re, want);
    assert!(im.iter().all(|&v| v == 0.0));
}

#[test]
fn bad_shapes_and_ids_are_errors() {
    let dev = Default::default();
    let p = PdProblem::random(&mut rng(8), dims(2, 5, 3), PdForm::Gather, true);
    let shape_err = |x: PdScanInput<B>, field: &str| match try_pd_scan(x) {
        Err(ScanError::Shape { field: f, .. }) => assert_eq!(f, field),
        other => panic!(
            "{field}: expected a shape error, got {:?}",
            other.map(|_| ())
        ),
    };
    let x = p.input::<B>(&dev);
    shape_err(
        PdScanInput {
            d_im: x.d_im.clone().narrow(1, 0, 4),
            ..x.clone()
        },
        "d_im",
    );
    shape_err(
        PdScanInput {
            index: x.index.clone().map(|i| i.narrow(2, 0, 2)),
            ..x.clone()
        },
        "index",
    );
    shape_err(
        PdScanInput {
            transition_surrogate: Some(Tensor::ones([2, 5, 3, 2], &dev)),
            ..x.clone()
        },
        "transition_surrogate",
    );
    shape_err(
        PdScanInput {
            initial_state: Some((Tensor::ones([2, 3], &dev), Tensor::ones([1, 3], &dev))),
            ..x.clone()
        },
        "initial_state.im",
    );
    let mut ids: Vec<i64> = p.ids();
    ids[7] = 3;
    let bad = PdScanInput {
        index: Some(Tensor::<B, 3, Int>::from_data(
            TensorData::new(ids, [2, 5, 3]),
            &dev,
        )),
        ..x
    };
    let no_ids = PdScanInput {
        index: None,
        ..bad.clone()
    };
    match try_pd_scan(no_ids) {
        Err(ScanError::Missing { field, .. }) => assert_eq!(field, "index"),
        other => panic!(
            "expected a missing-index error, got {:?}",
            other.map(|_| ())
        ),
    }
    match try_pd_scan(bad) {
        Err(ScanError::IndexOutOfRange {
            position,
            id,
            bound,
            ..
        }) => assert_eq!((position, id, bound), (7, 3, 3)),
        other => panic!("expected an id error, got {:?}", other.map(|_| ())),
    }
}
