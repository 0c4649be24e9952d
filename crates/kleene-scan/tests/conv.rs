//! The causal depthwise convolution (`kleene_scan::conv`) against a brute-force f64 oracle:
//! the CPU op on NdArray (forward, and every gradient through Autodiff<NdArray>), the tensor-op
//! composition (the default on other backends), determinism across thread counts, shape errors.

use burn::backend::Autodiff;
use burn::prelude::*;
use burn_ndarray::NdArray;
use kleene_scan::conv::{self, CausalConvBackend};
use kleene_scan::{causal_conv1d, try_causal_conv1d, ScanError};
use rand::{Rng, SeedableRng};

type B = NdArray<f32>;
type AD = Autodiff<B>;

/// A random problem: x (batch, len, c), weight (c, k), bias (c), and the loss weights r
/// (loss = sum(r * y)), all drawn from [-1.5, 1.5] (never zeros).
struct Problem {
    dims: [usize; 4], // batch, len, c, k
    x: Vec<f64>,
    w: Vec<f64>,
    bias: Vec<f64>,
    r: Vec<f64>,
}

fn random_problem(batch: usize, len: usize, c: usize, k: usize, seed: u64) -> Problem {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |n: usize| -> Vec<f64> { (0..n).map(|_| rng.random_range(-1.5..1.5)).collect() };
    Problem {
        dims: [batch, len, c, k],
        x: draw(batch * len * c),
        w: draw(c * k),
        bias: draw(c),
        r: draw(batch * len * c),
    }
}

fn sig(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// Brute-force f64 oracle: `(y, dx, dw, dbias)` for loss = sum(r * y), the gradients
/// accumulated by scattering each output's contribution (the kernel gathers instead).
#[allow(clippy::type_complexity)]
fn oracle(p: &Problem, silu: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let [batch, len, c, k] = p.dims;
    let idx = |b: usize, t: usize, ch: usize| (b * len + t) * c + ch;
    let mut y = vec![0.0; p.x.len()];
    let mut dx = vec![0.0; p.x.len()];
    let mut dw = vec![0.0; p.w.len()];
    let mut db = vec![0.0; c];
    for b in 0..batch {
        for t in 0..len {
            for ch in 0..c {
                let mut s = p.bias[ch];
                for j in 0..k {
                    let src = t as i64 - (k as i64 - 1) + j as i64;
                    if src >= 0 {
                        s += p.w[ch * k + j] * p.x[idx(b, src as usize, ch)];
                    }
                }
                let (out, ds) = if silu {
                    (s * sig(s), sig(s) * (1.0 + s * (1.0 - sig(s))))
                } else {
                    (s, 1.0)
                };
                y[idx(b, t, ch)] = out;
                let g = p.r[idx(b, t, ch)] * ds;
                db[ch] += g;
                for j in 0..k {
                    let src = t as i64 - (k as i64 - 1) + j as i64;
                    if src >= 0 {
                        dx[idx(b, src as usize, ch)] += g * p.w[ch * k + j];
                        dw[ch * k + j] += g * p.x[idx(b, src as usize, ch)];
                    }
                }
            }
        }
    }
    (y, dx, dw, db)
}

fn tensor<Bk: Backend, const D: usize>(v: &[f64], shape: [usize; D]) -> Tensor<Bk, D> {
    let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

fn values<Bk: Backend, const D: usize>(t: Tensor<Bk, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec().unwrap()
}

/// Max |got - want| relative to max |want| (at least 1).
fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).abs())
        .fold(0.0, f64::max)
        / scale
}

const TOL: f64 = 1e-5;

/// Awkward sizes: K = 1, L = 1, L < K, one batch, odd channel counts, a long-ish L.
const SHAPES: [[usize; 4]; 6] = [
    [2, 9, 5, 4],
    [1, 1, 3, 4],
    [3, 2, 7, 4],
    [2, 11, 6, 1],
    [1, 300, 3, 3],
    [4, 70, 33, 4],
];

#[test]
fn cpu_op_matches_oracle_forward_and_gradients() {
    for (i, [batch, len, c, k]) in SHAPES.into_iter().enumerate() {
        for silu in [true, false] {
            let p = random_problem(batch, len, c, k, 10 + i as u64);
            let (y, dx, dw, db) = oracle(&p, silu);
            let x = tensor::<AD, 3>(&p.x, [batch, len, c]).require_grad();
            let w = tensor::<AD, 2>(&p.w, [c, k]).require_grad();
            let bias = tensor::<AD, 1>(&p.bias, [c]).require_grad();
            let out = causal_conv1d(x.clone(), w.clone(), bias.clone(), silu);
            let loss = (out.clone() * tensor::<AD, 3>(&p.r, [batch, len, c])).sum();
            let grads = loss.backward();
            let ctx = format!("shape {:?} silu {silu}", p.dims);
            assert!(rel_err(&values(out), &y) < TOL, "y {ctx}");
            assert!(
                rel_err(&values(x.grad(&grads).unwrap()), &dx) < TOL,
                "dx {ctx}"
            );
            assert!(
                rel_err(&values(w.grad(&grads).unwrap()), &dw) < TOL,
                "dw {ctx}"
            );
            assert!(
                rel_err(&values(bias.grad(&grads).unwrap()), &db) < TOL,
                "db {ctx}"
            );
        }
    }
}

#[test]
fn tensor_op_composition_matches_oracle() {
    for (i, [batch, len, c, k]) in SHAPES.into_iter().enumerate() {
        for silu in [true, false] {
            let p = random_problem(batch, len, c, k, 50 + i as u64);
            let (y, dx, dw, db) = oracle(&p, silu);
            let x = tensor::<B, 3>(&p.x, [batch, len, c]);
            let w = tensor::<B, 2>(&p.w, [c, k]);
            let bias = tensor::<B, 1>(&p.bias, [c]);
            let r = tensor::<B, 3>(&p.r, [batch, len, c]);
            let out = conv::reference_forward(x.clone(), w.clone(), bias.clone(), silu);
            let (gx, gw, gb) = conv::reference_backward(x, w, bias, silu, r);
            let ctx = format!("shape {:?} silu {silu}", p.dims);
            assert!(rel_err(&values(out), &y) < TOL, "y {ctx}");
            assert!(rel_err(&values(gx), &dx) < TOL, "dx {ctx}");
            assert!(rel_err(&values(gw), &dw) < TOL, "dw {ctx}");
            assert!(rel_err(&values(gb), &db) < TOL, "db {ctx}");
        }
    }
}

#[test]
fn cpu_backward_is_bitwise_independent_of_thread_count() {
    let [batch, len, c, k] = [5, 200, 24, 4];
    let p = random_problem(batch, len, c, k, 7);
    let run = || {
        let g = B::causal_conv1d_backward(
            tensor::<B, 3>(&p.x, [batch, len, c])
                .into_primitive()
                .tensor(),
            tensor::<B, 2>(&p.w, [c, k]).into_primitive().tensor(),
            tensor::<B, 1>(&p.bias, [c]).into_primitive().tensor(),
            true,
            tensor::<B, 3>(&p.r, [batch, len, c])
                .into_primitive()
                .tensor(),
        );
        [
            Tensor::<B, 3>::from_primitive(burn::tensor::TensorPrimitive::Float(g.x)).into_data(),
            Tensor::<B, 2>::from_primitive(burn::tensor::TensorPrimitive::Float(g.weight))
                .into_data(),
            Tensor::<B, 1>::from_primitive(burn::tensor::TensorPrimitive::Float(g.bias))
                .into_data(),
        ]
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(run);
    let three = pool(3).install(run);
    for (a, b) in one.iter().zip(&three) {
        assert_eq!(a.as_bytes(), b.as_bytes());
    }
}

#[test]
fn shape_errors_name_the_field() {
    let x = Tensor::<B, 3>::ones([1, 4, 3], &Default::default());
    let w = Tensor::<B, 2>::ones([3, 4], &Default::default());
    let err = try_causal_conv1d(
        x.clone(),
        w.clone(),
        Tensor::ones([2], &Default::default()),
        true,
    )
    .unwrap_err();
    assert!(
        matches!(err, ScanError::Shape { field: "bias", .. }),
        "{err}"
    );
    let err = try_causal_conv1d(
        x,
        Tensor::ones([2, 4], &Default::default()),
        Tensor::ones([3], &Default::default()),
        true,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::Shape {
                field: "weight",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("weight"));
}
