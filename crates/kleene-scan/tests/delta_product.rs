//! The DeltaProduct recurrence (`kleene_scan::delta_product`, fused on the CPU backends) against a
//! float64 oracle written here from the definition (L2 norms in f64, the micro-sequence of
//! explicit transition matrices through `delta::naive`), its gradients against central finite
//! differences of that oracle and against Burn's autodiff of the composed tensor-op form,
//! continuation from a state, and shape errors.

mod common;

use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burn_ndarray::NdArray;
use common::{assert_close, rel_err, rng, tensor, uniform, values};
use kleene_scan::delta::ProductDims;
use kleene_scan::delta::{naive, product};
use kleene_scan::{delta_product, try_delta_product, DeltaDims, DeltaProductInput, ScanError};
use rand_chacha::ChaCha8Rng;

type B = NdArray<f32>;
type Ad = Autodiff<B>;

fn dims(batch: usize, len: usize, n: usize, heads: usize, dk: usize, dv: usize) -> ProductDims {
    ProductDims {
        batch,
        len,
        householder: n,
        heads,
        dk,
        dv,
    }
}

/// One problem in f64 (values exactly representable in f32), in the op's layouts.
#[derive(Debug, Clone)]
struct Problem {
    d: ProductDims,
    q: Vec<f64>,
    k: Vec<f64>,
    v: Vec<f64>,
    beta: Vec<f64>,
    alpha: Option<Vec<f64>>,
    s0: Option<Vec<f64>>,
    scale: f64,
}

impl Problem {
    fn random(r: &mut ChaCha8Rng, d: ProductDims, gated: bool, with_state: bool) -> Self {
        let (b, l, n, h) = (d.batch, d.len, d.householder, d.heads);
        Self {
            d,
            q: uniform(r, b * l * h * d.dk, -1.0, 1.0),
            k: uniform(r, b * l * n * h * d.dk, -1.0, 1.0),
            v: uniform(r, b * l * n * h * d.dv, -1.0, 1.0),
            // β ∈ (0, 2): eigenvalues of the Householder factors in (−1, 1]
            beta: uniform(r, b * l * n * h, 0.05, 1.95),
            alpha: gated.then(|| uniform(r, b * l * h, 0.5, 1.0)),
            s0: with_state.then(|| uniform(r, b * h * d.dk * d.dv, -1.0, 1.0)),
            scale: (1.0 / (d.dk as f32).sqrt()) as f64,
        }
    }

    /// `(o (B, L, H, dv), S_final (B, H, dk, dv))` in f64.
    fn oracle(&self) -> (Vec<f64>, Vec<f64>) {
        let d = self.d;
        let (len, n, h, dk, dv) = (d.len, d.householder, d.heads, d.dk, d.dv);
        let steps = len * n;
        let micro = DeltaDims {
            batch: 1,
            heads: 1,
            len: steps,
            dk,
            dv,
        };
        let norm = |x: &[f64]| {
            let r = (x.iter().map(|v| v * v).sum::<f64>() + 1e-6).sqrt();
            x.iter().map(|v| v / r).collect::<Vec<f64>>()
        };
        let mut o = vec![0.0; d.batch * len * h * dv];
        let mut last = vec![0.0; d.batch * h * dk * dv];
        for b in 0..d.batch {
            for hd in 0..h {
                let (mut q, mut k, mut v) = (
                    vec![0.0; steps * dk],
                    vec![0.0; steps * dk],
                    vec![0.0; steps * dv],
                );
                let (mut a, mut bb, mut w) = (
                    vec![0.0; steps * dk],
                    vec![0.0; steps * dk],
                    vec![1.0; steps * dk],
                );
                for t in 0..len {
                    let tok = (b * len + t) * h + hd;
                    let qh = norm(&self.q[tok * dk..(tok + 1) * dk]);
                    let last_sub = t * n + n - 1;
                    for i in 0..dk {
                        q[last_sub * dk + i] = qh[i] * self.scale;
                    }
                    for j in 0..n {
                        let s = t * n + j;
                        let sub = ((b * len + t) * n + j) * h + hd;
                        let kh = norm(&self.k[sub * dk..(sub + 1) * dk]);
                        let beta = self.beta[sub];
                        let c = match &self.alpha {
                            Some(al) if j == 0 => al[tok],
                            _ => 1.0,
                        };
                        for i in 0..dk {
                            k[s * dk + i] = kh[i];
                            a[s * dk + i] = -kh[i];
                            bb[s * dk + i] = c * beta * kh[i];
                            w[s * dk + i] = c;
                        }
                        for l in 0..dv {
                            v[s * dv + l] = beta * self.v[sub * dv + l];
                        }
                    }
                }
                let seq = b * h + hd;
                let s0 = self
                    .s0
                    .as_ref()
                    .map(|s| s[seq * dk * dv..(seq + 1) * dk * dv].to_vec());
                let x = naive::Inputs {
                    q: &q,
                    k: &k,
                    v: &v,
                    a: &a,
                    b: &bb,
                    w: Some(&w),
                };
                let (om, sm) = naive::forward(&micro, x, s0.as_deref());
                for t in 0..len {
                    let tok = (b * len + t) * h + hd;
                    let m = t * n + n - 1;
                    o[tok * dv..(tok + 1) * dv].copy_from_slice(&om[m * dv..(m + 1) * dv]);
                }
                last[seq * dk * dv..(seq + 1) * dk * dv].copy_from_slice(&sm);
            }
        }
        (o, last)
    }

    fn input<Bk: Backend>(&self, dev: &Bk::Device) -> DeltaProductInput<Bk> {
        let d = self.d;
        let (b, l, n, h) = (d.batch, d.len, d.householder, d.heads);
        DeltaProductInput {
            q: tensor(&self.q, [b, l, h, d.dk], dev),
            k: tensor(&self.k, [b, l, n, h, d.dk], dev),
            v: tensor(&self.v, [b, l, n, h, d.dv], dev),
            beta: tensor(&self.beta, [b, l, n, h], dev),
            alpha: self.alpha.as_ref().map(|a| tensor(a, [b, l, h], dev)),
            initial_state: self.s0.as_ref().map(|s| tensor(s, [b, h, d.dk, d.dv], dev)),
            scale: self.scale as f32,
        }
    }

    fn field(&mut self, f: usize) -> Option<&mut Vec<f64>> {
        match f {
            0 => Some(&mut self.q),
            1 => Some(&mut self.k),
            2 => Some(&mut self.v),
            3 => Some(&mut self.beta),
            4 => self.alpha.as_mut(),
            _ => self.s0.as_mut(),
        }
    }
}

const NAMES: [&str; 6] = ["q", "k", "v", "beta", "alpha", "s0"];

/// Odd heads, dk ≠ dv both ways, L = 1, 1..3 Householders, with and without decay and state.
fn cases() -> Vec<(ProductDims, bool, bool)> {
    vec![
        (dims(2, 7, 2, 3, 5, 7), true, true),
        (dims(1, 1, 3, 1, 4, 4), false, false),
        (dims(2, 9, 1, 2, 6, 3), true, false),
        (dims(1, 33, 2, 1, 8, 8), false, true),
        (dims(3, 5, 3, 2, 3, 9), true, true),
    ]
}

#[test]
fn fused_forward_matches_the_f64_oracle() {
    let dev = Default::default();
    let mut r = rng(11);
    for (d, gated, state) in cases() {
        let p = Problem::random(&mut r, d, gated, state);
        let (want_o, want_s) = p.oracle();
        let (o, s) = delta_product(p.input::<B>(&dev));
        assert_eq!(o.dims(), [d.batch, d.len, d.heads, d.dv]);
        assert_close(&format!("{d:?} o"), &values(o), &want_o, 2e-5);
        assert_close(&format!("{d:?} S"), &values(s), &want_s, 2e-5);
        // the composed tensor-op form agrees with the same oracle
        let (o, s) = product::composed(p.input::<B>(&dev));
        assert_close(&format!("{d:?} composed o"), &values(o), &want_o, 2e-5);
        assert_close(&format!("{d:?} composed S"), &values(s), &want_s, 2e-5);
    }
}

/// Loss weights of `Σ o ⊙ ro + Σ S ⊙ rs`.
fn weights(p: &Problem, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let d = p.d;
    let mut r = rng(seed);
    (
        uniform(&mut r, d.batch * d.len * d.heads * d.dv, -1.0, 1.0),
        uniform(&mut r, d.sequences() * d.dk * d.dv, -1.0, 1.0),
    )
}

/// [`delta_product`] or [`product::composed`] on `Autodiff<NdArray>`.
type ProductFn = fn(DeltaProductInput<Ad>) -> (Tensor<Ad, 4>, Tensor<Ad, 4>);

/// Gradients on `Autodiff<NdArray>` through `run` (fused or composed), in field order.
fn grads(p: &Problem, (ro, rs): &(Vec<f64>, Vec<f64>), run: ProductFn) -> Vec<Vec<f64>> {
    let dev = Default::default();
    let d = p.d;
    let x = p.input::<Ad>(&dev);
    let x = DeltaProductInput {
        q: x.q.require_grad(),
        k: x.k.require_grad(),
        v: x.v.require_grad(),
        beta: x.beta.require_grad(),
        alpha: x.alpha.map(|t| t.require_grad()),
        initial_state: x.initial_state.map(|t| t.require_grad()),
        scale: x.scale,
    };
    let keep = x.clone();
    let (o, s) = run(x);
    let ro: Tensor<Ad, 4> = tensor(ro, [d.batch, d.len, d.heads, d.dv], &dev);
    let rs: Tensor<Ad, 4> = tensor(rs, [d.batch, d.heads, d.dk, d.dv], &dev);
    let g = ((o * ro).sum() + (s * rs).sum()).backward();
    macro_rules! get {
        ($t:expr) => {
            values($t.grad(&g).expect("gradient"))
        };
    }
    vec![
        get!(keep.q),
        get!(keep.k),
        get!(keep.v),
        get!(keep.beta),
        keep.alpha.as_ref().map_or(vec![], |t| get!(t)),
        keep.initial_state.as_ref().map_or(vec![], |t| get!(t)),
    ]
}

fn oracle_loss(p: &Problem, (ro, rs): &(Vec<f64>, Vec<f64>)) -> f64 {
    let (o, s) = p.oracle();
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    dot(&o, ro) + dot(&s, rs)
}

#[test]
fn fused_gradients_match_finite_differences_of_the_oracle() {
    const EPS: f64 = 1e-6;
    let mut r = rng(12);
    for (d, gated, state) in [
        (dims(1, 4, 2, 2, 3, 2), true, true),
        (dims(2, 3, 3, 1, 4, 3), false, true),
        (dims(1, 5, 1, 3, 2, 4), true, false),
    ] {
        let p = Problem::random(&mut r, d, gated, state);
        let lw = weights(&p, 13);
        let got = grads(&p, &lw, delta_product);
        for (f, g) in got.iter().enumerate() {
            let mut pc = p.clone();
            let Some(n) = pc.field(f).map(|v| v.len()) else {
                assert!(g.is_empty(), "{}: gradient of an absent input", NAMES[f]);
                continue;
            };
            let want: Vec<f64> = (0..n)
                .map(|i| {
                    let orig = pc.field(f).unwrap()[i];
                    pc.field(f).unwrap()[i] = orig + EPS;
                    let lp = oracle_loss(&pc, &lw);
                    pc.field(f).unwrap()[i] = orig - EPS;
                    let lm = oracle_loss(&pc, &lw);
                    pc.field(f).unwrap()[i] = orig;
                    (lp - lm) / (2.0 * EPS)
                })
                .collect();
            let e = rel_err(g, &want);
            assert!(e < 1e-3, "{d:?} d/d{}: rel err {e:.2e}", NAMES[f]);
        }
    }
}

#[test]
fn fused_gradients_match_autodiff_of_the_composed_form() {
    let mut r = rng(14);
    for (d, gated, state) in [
        (dims(2, 20, 2, 3, 5, 6), true, true),
        (dims(1, 64, 1, 2, 16, 32), true, false),
        (dims(2, 17, 3, 1, 7, 4), false, true),
    ] {
        let p = Problem::random(&mut r, d, gated, state);
        let lw = weights(&p, 15);
        let fused = grads(&p, &lw, delta_product);
        let composed = grads(&p, &lw, product::composed);
        for (f, (g, want)) in fused.iter().zip(&composed).enumerate() {
            if want.is_empty() {
                assert!(g.is_empty(), "{}: gradient of an absent input", NAMES[f]);
                continue;
            }
            assert_close(&format!("{d:?} d/d{}", NAMES[f]), g, want, 1e-4);
        }
    }
}

#[test]
fn continuing_from_the_final_state_equals_one_call() {
    let dev = Default::default();
    let mut r = rng(16);
    let d = dims(2, 12, 2, 3, 4, 5);
    let p = Problem::random(&mut r, d, true, true);
    let (o_all, s_all) = delta_product(p.input::<B>(&dev));
    let x = p.input::<B>(&dev);
    let split = |t: usize, n: usize| DeltaProductInput {
        q: x.q.clone().narrow(1, t, n),
        k: x.k.clone().narrow(1, t, n),
        v: x.v.clone().narrow(1, t, n),
        beta: x.beta.clone().narrow(1, t, n),
        alpha: x.alpha.clone().map(|a| a.narrow(1, t, n)),
        initial_state: None,
        scale: x.scale,
    };
    let first = DeltaProductInput {
        initial_state: x.initial_state.clone(),
        ..split(0, 5)
    };
    let (o1, s1) = delta_product(first);
    let (o2, s2) = delta_product(DeltaProductInput {
        initial_state: Some(s1),
        ..split(5, 7)
    });
    let o = Tensor::cat(vec![o1, o2], 1);
    assert_eq!(values(o), values(o_all));
    assert_eq!(values(s2), values(s_all));
}

#[test]
fn bad_shapes_are_errors_naming_the_field() {
    let dev = Default::default();
    let mut r = rng(17);
    let p = Problem::random(&mut r, dims(1, 4, 2, 2, 3, 5), true, true);
    let check = |x: DeltaProductInput<B>, field: &str| match try_delta_product(x) {
        Err(e @ ScanError::Shape { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(field), "{msg:?} should name {field}");
        }
        other => panic!(
            "{field}: expected a shape error, got {:?}",
            other.map(|_| ())
        ),
    };
    let x = p.input::<B>(&dev);
    check(
        DeltaProductInput {
            q: x.q.clone().narrow(3, 0, 2),
            ..x.clone()
        },
        "q",
    );
    check(
        DeltaProductInput {
            beta: x.beta.clone().narrow(2, 0, 1),
            ..x.clone()
        },
        "beta",
    );
    check(
        DeltaProductInput {
            alpha: x.alpha.clone().map(|a| a.narrow(1, 0, 3)),
            ..x.clone()
        },
        "alpha",
    );
    check(
        DeltaProductInput {
            initial_state: x.initial_state.clone().map(|s| s.narrow(3, 0, 4)),
            ..x.clone()
        },
        "initial_state",
    );
}
