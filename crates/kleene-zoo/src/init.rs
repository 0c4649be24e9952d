//! Parameter initialisers shared by the models (PyTorch conventions, so that models match
//! the reference code bases at initialisation).

use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};

/// `U(-bound, bound)` parameter.
pub(crate) fn uniform<B: Backend, const D: usize>(
    shape: [usize; D],
    bound: f64,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    param_random(shape, Distribution::Uniform(-bound, bound), device)
}

/// `N(0, std²)` parameter.
pub(crate) fn normal<B: Backend, const D: usize>(
    shape: [usize; D],
    std: f64,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    param_random(shape, Distribution::Normal(0.0, std), device)
}

/// A `Linear` with PyTorch's default `nn.Linear` init: weight and bias `U(±1/√d_in)`.
pub(crate) fn linear_torch<B: Backend>(
    d_in: usize,
    d_out: usize,
    bias: bool,
    device: &B::Device,
) -> Linear<B> {
    let bound = 1.0 / (d_in as f64).sqrt();
    linear_uniform(d_in, d_out, bias, bound, device)
}

/// A `Linear` with weight and bias `U(±bound)`.
pub(crate) fn linear_uniform<B: Backend>(
    d_in: usize,
    d_out: usize,
    bias: bool,
    bound: f64,
    device: &B::Device,
) -> Linear<B> {
    Linear {
        weight: uniform([d_in, d_out], bound, device),
        bias: bias.then(|| uniform([d_out], bound, device)),
    }
}

/// A `Linear` with weight `N(0, std²)` and a zero bias (GPT-2 init).
pub(crate) fn linear_normal<B: Backend>(
    d_in: usize,
    d_out: usize,
    bias: bool,
    std: f64,
    device: &B::Device,
) -> Linear<B> {
    Linear {
        weight: normal([d_in, d_out], std, device),
        bias: bias.then(|| Param::from_tensor(Tensor::zeros([d_out], device))),
    }
}

/// An embedding table (`n × d`) with `U(±bound)` entries.
pub(crate) fn embedding_uniform<B: Backend>(
    n: usize,
    d: usize,
    bound: f64,
    device: &B::Device,
) -> Embedding<B> {
    Embedding {
        weight: uniform([n, d], bound, device),
    }
}

/// An embedding table (`n × d`) with `N(0, std²)` entries.
pub(crate) fn embedding_normal<B: Backend>(
    n: usize,
    d: usize,
    std: f64,
    device: &B::Device,
) -> Embedding<B> {
    Embedding {
        weight: normal([n, d], std, device),
    }
}

/// Looks up rows of an embedding table for a batch of single tokens: `(batch,) -> (batch, d)`.
pub(crate) fn lookup<B: Backend>(table: &Embedding<B>, tokens: Tensor<B, 1, Int>) -> Tensor<B, 2> {
    table.weight.val().select(0, tokens)
}

/// Standard deviation of every Linear / Embedding weight in the `lm_simple` backbone (GPT-2 init).
pub(crate) const INIT_STD: f64 = 0.02;

/// Standard deviation of output projections (`out_proj`, `fc2`): `0.02 / sqrt(2 * n_layer)`.
pub(crate) fn out_std(n_layer: usize) -> f64 {
    INIT_STD / (2.0 * n_layer.max(1) as f64).sqrt()
}

/// A float parameter from host values.
pub(crate) fn param_from_vec<B: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::from_tensor(tensor_from_vec(values, shape, device))
}

/// A float tensor from host values (a constant, not a parameter).
pub(crate) fn tensor_from_vec<B: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// A parameter drawn from `distribution`.
pub(crate) fn param_random<B: Backend, const D: usize>(
    shape: [usize; D],
    distribution: Distribution,
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::random(shape, distribution, device))
}

/// A bias-free `Linear` whose weight is PyTorch's `nn.init.orthogonal_(W, gain)` for the
/// PyTorch `(d_out, d_in)` matrix `W`: the QR factor of a Gaussian matrix, with the signs of
/// R's diagonal moved into Q (so orthonormal rows when `d_out <= d_in`, orthonormal columns
/// otherwise), times `gain`. Stored transposed, as Burn's `(d_in, d_out)`.
pub(crate) fn linear_orthogonal<B: Backend>(
    d_in: usize,
    d_out: usize,
    gain: f64,
    device: &B::Device,
) -> Linear<B> {
    // Orthonormalise the `short` vectors of length `long` (modified Gram–Schmidt, which is the
    // QR with a positive diagonal of R, i.e. PyTorch's sign correction).
    let (long, short) = (d_out.max(d_in), d_out.min(d_in));
    let mut q: Vec<f64> =
        Tensor::<B, 1>::random([long * short], Distribution::Normal(0.0, 1.0), device)
            .into_data()
            .convert::<f64>()
            .into_vec()
            .expect("f64 data");
    for i in 0..short {
        for j in 0..i {
            let dot: f64 = (0..long).map(|n| q[i * long + n] * q[j * long + n]).sum();
            for n in 0..long {
                q[i * long + n] -= dot * q[j * long + n];
            }
        }
        let norm = (0..long)
            .map(|n| q[i * long + n].powi(2))
            .sum::<f64>()
            .sqrt();
        for n in 0..long {
            q[i * long + n] /= norm;
        }
    }
    // Vector i is column i of the long side: with d_out >= d_in it is the i-th input's column
    // of W (row i of Burn's weight), otherwise the i-th output's row of W (column i of Burn's).
    let weight: Vec<f32> = (0..d_in * d_out)
        .map(|idx| {
            let (row, col) = (idx / d_out, idx % d_out); // Burn (d_in, d_out)
            let v = if d_out >= d_in {
                q[row * long + col]
            } else {
                q[col * long + row]
            };
            (v * gain) as f32
        })
        .collect();
    Linear {
        weight: param_from_vec(weight, [d_in, d_out], device),
        bias: None,
    }
}

/// Inverse of softplus, `log(exp(y) - 1) = y + log(-expm1(-y))`.
pub(crate) fn inverse_softplus(y: f64) -> f64 {
    y + (-(-y).exp_m1()).ln()
}

/// `n` time-step biases as mamba-ssm and fla draw them: `dt` log-uniform in `[dt_min, dt_max]`
/// (one `U(0, 1)` draw per entry on `device`), floored at `floor`, stored as `softplus⁻¹(dt)`
/// so that `softplus(bias) = dt` at init.
pub(crate) fn dt_bias_log_uniform<B: Backend>(
    n: usize,
    dt_min: f64,
    dt_max: f64,
    floor: f64,
    device: &B::Device,
) -> Vec<f32> {
    let (lo, hi) = (dt_min.ln(), dt_max.ln());
    let u: Vec<f32> = Tensor::<B, 1>::random([n], Distribution::Uniform(0.0, 1.0), device)
        .into_data()
        .convert::<f32>()
        .into_vec()
        .expect("f32 data");
    u.iter()
        .map(|&u| {
            let dt = (u as f64 * (hi - lo) + lo).exp().max(floor);
            inverse_softplus(dt) as f32
        })
        .collect()
}

/// A `Linear` with Haiku's default init (DeepMind's Chomsky-hierarchy models): weight from a
/// normal of std `1/√d_in` truncated to `±2` std (no variance correction after truncation),
/// bias 0. Entries outside the interval are redrawn from the backend's RNG until none is left.
pub(crate) fn linear_haiku<B: Backend>(
    d_in: usize,
    d_out: usize,
    bias: bool,
    device: &B::Device,
) -> Linear<B> {
    let std = 1.0 / (d_in as f64).sqrt();
    Linear {
        weight: Param::from_tensor(truncated_normal([d_in, d_out], std, device)),
        bias: bias.then(|| Param::from_tensor(Tensor::zeros([d_out], device))),
    }
}

/// `N(0, std²)` truncated to `[-2 std, 2 std]` by redrawing (Haiku's `TruncatedNormal`).
pub(crate) fn truncated_normal<B: Backend, const D: usize>(
    shape: [usize; D],
    std: f64,
    device: &B::Device,
) -> Tensor<B, D> {
    let mut x = Tensor::<B, D>::random(shape, Distribution::Normal(0.0, 1.0), device);
    loop {
        let outside = x.clone().abs().greater_elem(2.0);
        if outside.clone().int().sum().into_scalar().elem::<i64>() == 0 {
            return x * std;
        }
        let redraw = Tensor::<B, D>::random(shape, Distribution::Normal(0.0, 1.0), device);
        x = x.mask_where(outside, redraw);
    }
}
