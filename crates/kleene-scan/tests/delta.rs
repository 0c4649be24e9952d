//! The generalized delta rule (`kleene_scan::delta`) on burn-ndarray and `Autodiff<NdArray>`:
//! forward against the float64 oracle (explicit transition matrices), gradients against central
//! finite differences of that oracle and against Burn's autodiff of the tensor-op reference,
//! continuation from a state, the spec's hand-computed vectors, and shape errors.

mod common;

use burn::backend::Autodiff;
use burn::tensor::Tensor;
use burn_ndarray::NdArray;
use common::delta::{dims, DeltaProblem, Family};
use common::{rel_err, rng, tensor, uniform, values};
use kleene_scan::delta::{naive, reference};
use kleene_scan::{delta_rule, try_delta_rule, DeltaRuleInput, ScanError};

type B = NdArray<f32>;
type Ad = Autodiff<B>;

const FAMILIES: [Family; 4] = [
    Family::DeltaPositive,
    Family::DeltaNegative,
    Family::Gated,
    Family::Generic,
];

#[test]
fn forward_matches_the_f64_oracle() {
    let dev = Default::default();
    let mut r = rng(1);
    // odd heads, dk != dv both ways, L = 1, a longer sequence
    let shapes = [
        dims(2, 3, 17, 5, 7),
        dims(1, 1, 1, 4, 4),
        dims(3, 2, 33, 8, 3),
        dims(1, 5, 64, 16, 16),
    ];
    for (i, &d) in shapes.iter().enumerate() {
        for family in FAMILIES {
            let p = DeltaProblem::random(&mut r, d, family, i % 2 == 0);
            let (o, last) = delta_rule::<B>(p.input(&dev));
            let (want_o, want_last) = p.oracle();
            let (eo, el) = (
                rel_err(&values(o), &want_o),
                rel_err(&values(last), &want_last),
            );
            assert!(
                eo < 1e-5 && el < 1e-5,
                "{d:?} {family:?}: o {eo:.2e}, S {el:.2e}"
            );
        }
    }
}

#[test]
fn forward_matches_the_oracle_at_length_ten_thousand() {
    let dev = Default::default();
    for family in [Family::DeltaNegative, Family::Generic] {
        let p = DeltaProblem::random(&mut rng(2), dims(1, 3, 10_000, 4, 5), family, true);
        let (o, last) = delta_rule::<B>(p.input(&dev));
        let (want_o, want_last) = p.oracle();
        let (eo, el) = (
            rel_err(&values(o), &want_o),
            rel_err(&values(last), &want_last),
        );
        assert!(eo < 1e-4 && el < 1e-4, "{family:?}: o {eo:.2e}, S {el:.2e}");
    }
}

/// Random weights of the test loss `Σ o ⊙ r_o + Σ S_final ⊙ r_s`.
struct LossWeights {
    o: Vec<f64>,
    s: Vec<f64>,
}

impl LossWeights {
    fn random(p: &DeltaProblem, seed: u64) -> Self {
        let d = p.dims;
        let mut r = rng(seed);
        Self {
            o: uniform(&mut r, d.sequences() * d.len * d.dv, -1.0, 1.0),
            s: uniform(&mut r, d.sequences() * d.dk * d.dv, -1.0, 1.0),
        }
    }

    fn oracle_loss(&self, p: &DeltaProblem) -> f64 {
        let (o, s) = p.oracle();
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
        dot(&o, &self.o) + dot(&s, &self.s)
    }
}

/// Gradients from `Autodiff<NdArray>` (the hand-written backward), in input order
/// `q, k, v, a, b, w, s0` (absent inputs give empty vectors).
fn op_grads(p: &DeltaProblem, lw: &LossWeights) -> Vec<Vec<f64>> {
    common::delta::op_grads::<Ad>(p, &lw.o, &lw.s, &Default::default())
}

const NAMES: [&str; 7] = ["q", "k", "v", "a", "b", "w", "s0"];

fn field(p: &mut DeltaProblem, f: usize) -> Option<&mut Vec<f64>> {
    match f {
        0 => Some(&mut p.q),
        1 => Some(&mut p.k),
        2 => Some(&mut p.v),
        3 => Some(&mut p.a),
        4 => Some(&mut p.b),
        5 => p.w.as_mut(),
        _ => p.s0.as_mut(),
    }
}

/// Central finite differences of the f64 oracle loss at the given entries of input `f`.
fn fd_grads(p: &DeltaProblem, lw: &LossWeights, f: usize, entries: &[usize]) -> Vec<f64> {
    const EPS: f64 = 1e-6;
    let mut p = p.clone();
    entries
        .iter()
        .map(|&i| {
            let orig = field(&mut p, f).unwrap()[i];
            field(&mut p, f).unwrap()[i] = orig + EPS;
            let lp = lw.oracle_loss(&p);
            field(&mut p, f).unwrap()[i] = orig - EPS;
            let lm = lw.oracle_loss(&p);
            field(&mut p, f).unwrap()[i] = orig;
            (lp - lm) / (2.0 * EPS)
        })
        .collect()
}

fn check_against_fd(p: &DeltaProblem, seed: u64, sample: Option<usize>, tol: f64) {
    let lw = LossWeights::random(p, seed);
    let got = op_grads(p, &lw);
    let mut r = rng(seed + 1);
    for (f, g) in got.iter().enumerate() {
        let mut pc = p.clone();
        let Some(len) = field(&mut pc, f).map(|v| v.len()) else {
            assert!(g.is_empty(), "{}: gradient of an absent input", NAMES[f]);
            continue;
        };
        let entries: Vec<usize> = match sample {
            None => (0..len).collect(),
            Some(n) => {
                use rand::Rng;
                (0..n).map(|_| r.random_range(0..len)).collect()
            }
        };
        let want = fd_grads(p, &lw, f, &entries);
        let got: Vec<f64> = entries.iter().map(|&i| g[i]).collect();
        if want.iter().all(|&x| x == 0.0) {
            // e.g. d/da, d/db, d/dw at the first step from a zero state
            assert!(
                got.iter().all(|x| x.abs() < 1e-6),
                "d/d{}: {got:?} vs 0",
                NAMES[f]
            );
            continue;
        }
        let e = rel_err(&got, &want);
        assert!(e < tol, "{:?} d/d{}: rel err {e:.2e}", p.dims, NAMES[f]);
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut r = rng(3);
    for (i, family) in FAMILIES.into_iter().enumerate() {
        // len 11: the backward's recompute chunk is 4, the last chunk partial
        let p = DeltaProblem::random(&mut r, dims(2, 3, 11, 3, 4), family, true);
        check_against_fd(&p, 10 + i as u64, None, 2e-4);
    }
    // no initial state, L = 1, dk > dv
    let p = DeltaProblem::random(&mut r, dims(1, 1, 1, 5, 2), Family::Gated, false);
    check_against_fd(&p, 20, None, 2e-4);
}

#[test]
fn gradients_match_finite_differences_at_length_ten_thousand() {
    let p = DeltaProblem::random(
        &mut rng(4),
        dims(1, 2, 10_000, 3, 4),
        Family::DeltaNegative,
        true,
    );
    check_against_fd(&p, 30, Some(40), 1e-3);
}

#[test]
fn gradients_match_burn_autodiff_of_the_tensor_op_reference() {
    let dev = Default::default();
    let p = DeltaProblem::random(&mut rng(5), dims(2, 2, 150, 6, 5), Family::Generic, true);
    let lw = LossWeights::random(&p, 40);
    let got = op_grads(&p, &lw);
    let d = p.dims;
    let x = p.input::<Ad>(&dev);
    let x = DeltaRuleInput {
        q: x.q.require_grad(),
        k: x.k.require_grad(),
        v: x.v.require_grad(),
        a: x.a.require_grad(),
        b: x.b.require_grad(),
        w: x.w.map(|t| t.require_grad()),
        initial_state: x.initial_state.map(|t| t.require_grad()),
    };
    let keep = x.clone();
    let (o, s) = reference::delta_rule(x);
    let ro: Tensor<Ad, 4> = tensor(&lw.o, [d.batch, d.heads, d.len, d.dv], &dev);
    let rs: Tensor<Ad, 4> = tensor(&lw.s, [d.batch, d.heads, d.dk, d.dv], &dev);
    let g = ((o * ro).sum() + (s * rs).sum()).backward();
    let want = [
        &keep.q,
        &keep.k,
        &keep.v,
        &keep.a,
        &keep.b,
        keep.w.as_ref().unwrap(),
        keep.initial_state.as_ref().unwrap(),
    ]
    .map(|t| values(t.grad(&g).unwrap()));
    for (f, (g, w)) in got.iter().zip(&want).enumerate() {
        let e = rel_err(g, w);
        assert!(e < 1e-4, "d/d{}: rel err {e:.2e}", NAMES[f]);
    }
}

#[test]
fn continuing_from_the_final_state_equals_one_call() {
    let dev = Default::default();
    let p = DeltaProblem::random(&mut rng(6), dims(2, 3, 20, 4, 6), Family::Gated, true);
    let (o_all, s_all) = delta_rule::<B>(p.input(&dev));
    let x = p.input::<B>(&dev);
    let part = |t: &Tensor<B, 4>, r: std::ops::Range<usize>| t.clone().slice([0..2, 0..3, r]);
    let first = DeltaRuleInput {
        q: part(&x.q, 0..7),
        k: part(&x.k, 0..7),
        v: part(&x.v, 0..7),
        a: part(&x.a, 0..7),
        b: part(&x.b, 0..7),
        w: x.w.as_ref().map(|w| part(w, 0..7)),
        initial_state: x.initial_state.clone(),
    };
    let (o1, s1) = delta_rule(first);
    let second = DeltaRuleInput {
        q: part(&x.q, 7..20),
        k: part(&x.k, 7..20),
        v: part(&x.v, 7..20),
        a: part(&x.a, 7..20),
        b: part(&x.b, 7..20),
        w: x.w.as_ref().map(|w| part(w, 7..20)),
        initial_state: Some(s1),
    };
    let (o2, s2) = delta_rule(second);
    let joined = values(Tensor::cat(vec![o1, o2], 2));
    assert!(rel_err(&joined, &values(o_all)) < 1e-6);
    assert!(rel_err(&values(s2), &values(s_all)) < 1e-6);
}

/// One head, dk = dv = 2, scale 1/√2 on q: the DeltaNet steps of spec §2.5 and, with gates
/// `g = (-0.1, -0.5, -0.2)`, the Gated DeltaNet steps of §3.4 (values computed by hand there).
#[test]
#[allow(clippy::approx_constant)] // the spec's printed values, not 1/√2
fn reproduces_the_spec_vectors() {
    let dev = Default::default();
    let k = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
    let v = [1.0, 2.0, 3.0, 4.0, 1.0, -1.0];
    let beta = [0.5, 1.0, 2.0];
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let q = [s, 0.0, 0.6 * s, 0.8 * s, s, 0.0];
    for (gates, want_o, want_s) in [
        (
            [0.0; 3],
            [0.353553, 0.707107, 1.909188, 2.687006, -1.088944, -3.365828],
            [-1.54, -4.76, 0.28, -3.68],
        ),
        (
            [-0.1, -0.5, -0.2],
            [0.353553, 0.707107, 1.825721, 2.520071, -0.769631, -2.973301],
            [-1.088423, -4.204882, 0.673905, -2.9937],
        ),
    ] {
        let alpha: Vec<f64> = gates.iter().map(|g: &f64| g.exp()).collect();
        let a: Vec<f64> = k.iter().map(|x| -x).collect();
        let b: Vec<f64> = (0..6).map(|j| alpha[j / 2] * beta[j / 2] * k[j]).collect();
        let w: Vec<f64> = (0..6).map(|j| alpha[j / 2]).collect();
        let vb: Vec<f64> = (0..6).map(|j| beta[j / 2] * v[j]).collect();
        let sh = [1, 1, 3, 2];
        let (o, last) = delta_rule::<B>(DeltaRuleInput {
            q: tensor(&q, sh, &dev),
            k: tensor(&k, sh, &dev),
            v: tensor(&vb, sh, &dev),
            a: tensor(&a, sh, &dev),
            b: tensor(&b, sh, &dev),
            w: Some(tensor(&w, sh, &dev)),
            initial_state: None,
        });
        for (got, want) in values(o).iter().zip(want_o) {
            assert!((got - want).abs() < 2e-5, "o: {got} vs {want}");
        }
        for (got, want) in values(last).iter().zip(want_s) {
            assert!((got - want).abs() < 2e-5, "S: {got} vs {want}");
        }
    }
}

/// With `k̂ = 1`, `β = 2·bit` and `v = 0` (dk = dv = 1) the transition is `1 - 2·bit`: the state
/// started at 1 is `(-1)^(number of ones)`, parity. With `β ∈ [0, 1]` the eigenvalue `1 - β` never
/// goes below 0 and the sign can never flip.
#[test]
fn a_reflection_per_one_bit_tracks_parity() {
    let dev = Default::default();
    let mut r = rng(7);
    let bits: Vec<f64> = uniform(&mut r, 257, 0.0, 1.0)
        .iter()
        .map(|x| x.round())
        .collect();
    let len = bits.len();
    let sh = [1, 1, len, 1];
    let ones = vec![1.0; len];
    let run = |beta_max: f64| {
        let b: Vec<f64> = bits.iter().map(|x| beta_max * x).collect();
        let (o, _) = delta_rule::<B>(DeltaRuleInput {
            q: tensor(&ones, sh, &dev),
            k: tensor(&ones, sh, &dev),
            v: tensor(&vec![0.0; len], sh, &dev),
            a: tensor(&vec![-1.0; len], sh, &dev),
            b: tensor(&b, sh, &dev),
            w: None,
            initial_state: Some(tensor(&[1.0], [1, 1, 1, 1], &dev)),
        });
        values(o)
    };
    let mut parity = 0;
    for (t, o) in run(2.0).iter().enumerate() {
        parity ^= bits[t] as i32;
        assert_eq!(*o, if parity == 0 { 1.0 } else { -1.0 }, "step {t}");
    }
    assert!(run(1.0).iter().all(|&o| o >= 0.0));
}

#[test]
fn bad_shapes_are_errors_naming_the_field() {
    let dev = Default::default();
    let p = DeltaProblem::random(&mut rng(8), dims(1, 2, 3, 4, 5), Family::Generic, true);
    let mut x = p.input::<B>(&dev);
    x.b = x.b.slice([0..1, 0..2, 0..3, 0..3]);
    match try_delta_rule(x) {
        Err(ScanError::Shape { field, .. }) => assert_eq!(field, "b"),
        other => panic!("expected a shape error on b, got {other:?}"),
    }
    let mut x = p.input::<B>(&dev);
    x.initial_state = Some(Tensor::zeros([1, 2, 5, 4], &dev));
    match try_delta_rule(x) {
        Err(ScanError::Shape { field, .. }) => assert_eq!(field, "initial_state"),
        other => panic!("expected a shape error on initial_state, got {other:?}"),
    }
    // the oracle agrees with itself on the transition it forms (a sanity check of the test's
    // own helper: T = diag(w) + b aᵀ)
    let t = naive::transition(&p.dims, &p.naive_inputs(), 0, 1);
    let i = 1; // sequence 0, step 1
    let want = p.w.as_ref().unwrap()[i * 4] + p.b[i * 4] * p.a[i * 4];
    assert!((t[0] - want).abs() < 1e-12);
}
