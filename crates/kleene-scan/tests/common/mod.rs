//! Shared test helpers: random problems (never zeros), tensor conversion, norm-relative errors.
#![allow(dead_code)]

pub mod checks;
pub mod delta;
pub mod oracle;
pub mod pd;
pub mod suites;

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use oracle::SsProblem;

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Uniform values in [lo, hi), rounded through f32 so that f32 backends see exactly the oracle's
/// inputs. Values of magnitude < 1e-3 are pushed away from zero (no exact zeros).
pub fn uniform(rng: &mut ChaCha8Rng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len)
        .map(|_| {
            let mut v: f64 = rng.random_range(lo..hi);
            if v.abs() < 1e-3 {
                v = if v < 0.0 { -1e-3 } else { 1e-3 };
            }
            v as f32 as f64
        })
        .collect()
}

pub fn tensor<B: Backend, const D: usize>(
    v: &[f64],
    shape: [usize; D],
    dev: &B::Device,
) -> Tensor<B, D> {
    let data: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), dev)
}

pub fn int_tensor<B: Backend, const D: usize>(
    v: &[usize],
    shape: [usize; D],
    dev: &B::Device,
) -> Tensor<B, D, Int> {
    let data: Vec<i64> = v.iter().map(|&x| x as i64).collect();
    Tensor::from_data(TensorData::new(data, shape).convert::<i32>(), dev)
}

pub fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    t.into_data().convert::<f64>().into_vec::<f64>().unwrap()
}

/// ||got - want||_2 / ||want||_2 (want is never all-zero in these tests).
pub fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let num: f64 = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w) * (g - w))
        .sum::<f64>()
        .sqrt();
    let den: f64 = want.iter().map(|w| w * w).sum::<f64>().sqrt();
    assert!(den > 0.0, "reference is all zeros");
    assert!(
        got.iter().all(|x| x.is_finite()),
        "non-finite value in result"
    );
    num / den
}

#[track_caller]
pub fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    let e = rel_err(got, want);
    assert!(e < tol, "{what}: relative error {e:.3e} >= {tol:.1e}");
}

/// Options of a random selective-scan problem.
#[derive(Clone, Copy, Debug)]
pub struct SsShape {
    pub batch: usize,
    pub d: usize,
    pub len: usize,
    pub n: usize,
    pub groups: usize,
    pub d_skip: bool,
    pub z: bool,
    pub delta_bias: bool,
    pub softplus: bool,
    pub h0: bool,
    /// transition `2 exp(Δ A) - 1` (TransitionRange::MinusOneOne)
    pub neg_eigval: bool,
}

impl SsShape {
    pub fn full(batch: usize, d: usize, len: usize, n: usize, groups: usize) -> Self {
        Self {
            batch,
            d,
            len,
            n,
            groups,
            d_skip: true,
            z: true,
            delta_bias: true,
            softplus: true,
            h0: true,
            neg_eigval: false,
        }
    }
    pub fn bare(batch: usize, d: usize, len: usize, n: usize, groups: usize) -> Self {
        Self {
            batch,
            d,
            len,
            n,
            groups,
            d_skip: false,
            z: false,
            delta_bias: false,
            softplus: false,
            h0: false,
            neg_eigval: false,
        }
    }
    /// The same shape with the transition `2 exp(Δ A) - 1`.
    pub fn neg(self) -> Self {
        Self {
            neg_eigval: true,
            ..self
        }
    }
}

pub fn random_ss(s: SsShape, seed: u64) -> SsProblem {
    let mut r = rng(seed);
    let x = s.batch * s.d * s.len;
    let bc = s.batch * s.groups * s.n * s.len;
    let delta = if s.softplus {
        uniform(&mut r, x, -2.0, 1.0)
    } else {
        uniform(&mut r, x, 0.01, 0.6)
    };
    SsProblem {
        batch: s.batch,
        d: s.d,
        len: s.len,
        n: s.n,
        groups: s.groups,
        u: uniform(&mut r, x, -1.0, 1.0),
        delta,
        a: uniform(&mut r, s.d * s.n, -3.0, -0.1),
        b: uniform(&mut r, bc, -1.0, 1.0),
        c: uniform(&mut r, bc, -1.0, 1.0),
        d_skip: s.d_skip.then(|| uniform(&mut r, s.d, -1.0, 1.0)),
        z: s.z.then(|| uniform(&mut r, x, -2.0, 2.0)),
        delta_bias: s.delta_bias.then(|| uniform(&mut r, s.d, -1.0, 0.5)),
        softplus: s.softplus,
        h0: s
            .h0
            .then(|| uniform(&mut r, s.batch * s.d * s.n, -1.0, 1.0)),
        neg_eigval: s.neg_eigval,
    }
}

pub fn ss_input<B: kleene_scan::ScanBackend>(
    p: &SsProblem,
    dev: &B::Device,
) -> kleene_scan::SelectiveScanInput<B> {
    let (nb, nd, nl, nn, ng) = (p.batch, p.d, p.len, p.n, p.groups);
    kleene_scan::SelectiveScanInput {
        u: tensor(&p.u, [nb, nd, nl], dev),
        delta: tensor(&p.delta, [nb, nd, nl], dev),
        a: tensor(&p.a, [nd, nn], dev),
        b: tensor(&p.b, [nb, ng, nn, nl], dev),
        c: tensor(&p.c, [nb, ng, nn, nl], dev),
        d_skip: p.d_skip.as_ref().map(|v| tensor(v, [nd], dev)),
        z: p.z.as_ref().map(|v| tensor(v, [nb, nd, nl], dev)),
        delta_bias: p.delta_bias.as_ref().map(|v| tensor(v, [nd], dev)),
        delta_softplus: p.softplus,
        initial_state: p.h0.as_ref().map(|v| tensor(v, [nb, nd, nn], dev)),
        layout: kleene_scan::ScanLayout::ChannelsFirst,
        transition_range: if p.neg_eigval {
            kleene_scan::TransitionRange::MinusOneOne
        } else {
            kleene_scan::TransitionRange::ZeroOne
        },
    }
}
