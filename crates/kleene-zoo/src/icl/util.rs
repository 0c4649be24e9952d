//! Small tensor helpers shared by the in-context-learning zoo layers.
//!
//! Everything here is plain Burn tensor ops (differentiable by any autodiff backend).

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};

use kleene_scan::{diagonal_recurrence, ScanBackend};

use crate::ZooError;

/// Standard deviation of every Linear / Embedding weight in the `lm_simple` backbone (GPT-2 init).
pub(crate) const INIT_STD: f64 = 0.02;

/// Standard deviation of output projections (`out_proj`, `fc2`): `0.02 / sqrt(2 * n_layer)`.
pub(crate) fn out_std(n_layer: usize) -> f64 {
    INIT_STD / (2.0 * n_layer.max(1) as f64).sqrt()
}

/// A `Linear` layer with weight `N(0, std^2)` and zero bias (the backbone's init).
pub(crate) fn linear<B: Backend>(
    d_in: usize,
    d_out: usize,
    bias: bool,
    std: f64,
    device: &B::Device,
) -> Linear<B> {
    Linear {
        weight: Param::from_tensor(Tensor::random(
            [d_in, d_out],
            Distribution::Normal(0.0, std),
            device,
        )),
        bias: bias.then(|| Param::from_tensor(Tensor::zeros([d_out], device))),
    }
}

/// A float parameter from host values.
pub(crate) fn param_from_vec<B: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
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

/// `ZooError::InvalidConfig` for `field`.
pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> ZooError {
    ZooError::InvalidConfig {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// `Err(invalid(field, reason))` unless `ok`.
pub(crate) fn ensure(ok: bool, field: &str, reason: impl Into<String>) -> Result<(), ZooError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(field, reason))
    }
}

/// Checks `0 <= p < 1` for a dropout probability.
pub(crate) fn ensure_prob(p: f64, field: &str) -> Result<(), ZooError> {
    ensure(
        p.is_finite() && (0.0..1.0).contains(&p),
        field,
        format!("must be in [0, 1), got {p}"),
    )
}

/// Checks `0 < lo <= hi`, both finite.
pub(crate) fn ensure_range(
    lo: f64,
    hi: f64,
    field_lo: &str,
    field_hi: &str,
) -> Result<(), ZooError> {
    ensure(
        lo.is_finite() && lo > 0.0,
        field_lo,
        format!("must be finite and > 0, got {lo}"),
    )?;
    ensure(
        hi.is_finite() && hi >= lo,
        field_hi,
        format!("must be finite and >= {field_lo} ({lo}), got {hi}"),
    )
}

/// GELU with the erf, `x/2 (1 + erf(x/√2))`, built from tensor ops so that autodiff
/// differentiates it exactly.
///
/// Why not `burn::tensor::activation::gelu`: its forward is exact but Burn 0.21's default
/// `gelu_backward` (used by burn-ndarray, burn-wgpu and burn-cuda) is the derivative of the
/// tanh approximation, off by up to ~1e-3 relative in a model's gradients, while burn-flex
/// implements the exact one: the gradients would depend on the backend.
pub(crate) fn gelu_erf<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let cdf = x
        .clone()
        .div_scalar(std::f64::consts::SQRT_2)
        .erf()
        .add_scalar(1.0);
    x * cdf.mul_scalar(0.5)
}

/// LayerNorm over the last dimension without affine parameters.
pub(crate) fn layer_norm_plain<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    eps: f64,
) -> Tensor<B, D> {
    let mean = x.clone().mean_dim(D - 1);
    let centred = x - mean;
    let var = (centred.clone() * centred.clone()).mean_dim(D - 1);
    centred / var.add_scalar(eps).sqrt()
}

/// `(l, l)` mask that is `true` strictly above the diagonal (key position `s` after query `t`).
pub(crate) fn future_mask<B: Backend>(l: usize, device: &B::Device) -> Tensor<B, 2, Bool> {
    let rows = Tensor::<B, 1, Int>::arange(0..l as i64, device)
        .reshape([l, 1])
        .expand([l, l]);
    let cols = Tensor::<B, 1, Int>::arange(0..l as i64, device)
        .reshape([1, l])
        .expand([l, l]);
    cols.greater(rows)
}

/// Block length of [`causal_conv`].
pub(crate) const CONV_BLOCK: usize = 64;

/// Long causal depthwise convolution with a per-channel kernel (exact, no FFT).
///
/// `u: (B, L, D)`, `kernel: (D, >= L)`; `y[b, t, c] = sum_{s <= t} kernel[c, t - s] * u[b, s, c]`.
/// See [`causal_conv_blocked`]; the block length is [`CONV_BLOCK`].
pub(crate) fn causal_conv<B: Backend>(u: Tensor<B, 3>, kernel: Tensor<B, 2>) -> Tensor<B, 3> {
    causal_conv_blocked(u, kernel, CONV_BLOCK)
}

/// Block-Toeplitz causal convolution: the sequence is cut into `n` blocks of `block` positions
/// and output block `q` is `sum_m T_m u_{q-m}` with `T_m[t, s] = k[m·block + t - s]` (zero for a
/// negative lag). Work `O(L^2 D B / 2)` in `n` batched matmuls, memory `O(L · block · D)` for the
/// `T_m` (a full `L x L` Toeplitz matrix per channel would need `O(L^2 D)`).
///
/// The `T_m` are built without a large gather: each is read out of its window
/// `w_m = k[m·block - block + 1 ..= m·block + block - 1]` padded to `z` of length `2·block`,
/// repeated and re-read with row stride `2·block - 1`, so row `s`, column `t` holds
/// `z[block - 1 + t - s]`.
pub(crate) fn causal_conv_blocked<B: Backend>(
    u: Tensor<B, 3>,
    kernel: Tensor<B, 2>,
    block: usize,
) -> Tensor<B, 3> {
    let [b, l, d] = u.dims();
    let device = u.device();
    let c = block.max(1).min(l);
    let n = l.div_ceil(c);
    let lp = n * c;
    // kp = [0 (c-1), k[0..l], 0 (lp - l)]
    let mut parts = Vec::with_capacity(3);
    if c > 1 {
        parts.push(Tensor::zeros([d, c - 1], &device));
    }
    parts.push(kernel.narrow(1, 0, l));
    if lp > l {
        parts.push(Tensor::zeros([d, lp - l], &device));
    }
    let kp = Tensor::cat(parts, 1);
    // Window m: kp[m c .. m c + 2c - 1].
    let starts = Tensor::<B, 1, Int>::arange(0..n as i64, &device)
        .mul_scalar(c as i64)
        .reshape([n, 1])
        .expand([n, 2 * c - 1]);
    let offsets = Tensor::<B, 1, Int>::arange(0..(2 * c - 1) as i64, &device)
        .reshape([1, 2 * c - 1])
        .expand([n, 2 * c - 1]);
    let windows = kp
        .select(1, (starts + offsets).reshape([n * (2 * c - 1)]))
        .reshape([d, n, 2 * c - 1]);
    let z = Tensor::cat(vec![windows, Tensor::zeros([d, n, 1], &device)], 2); // (d, n, 2c)
    let t_mats = z
        .repeat_dim(2, c + 1)
        .narrow(2, c - 1, c * (2 * c - 1))
        .reshape([d, n, c, 2 * c - 1])
        .narrow(3, 0, c) // [.., s, t] = k[m c + t - s]
        .swap_dims(2, 3); // [.., t, s]
    let u = if lp > l {
        Tensor::cat(vec![u, Tensor::zeros([b, lp - l, d], &device)], 1)
    } else {
        u
    };
    let ub = u.permute([2, 1, 0]).reshape([d, n, c, b]);
    let mut y: Option<Tensor<B, 4>> = None;
    for m in 0..n {
        let src = ub.clone().narrow(1, 0, n - m);
        let t_m = t_mats.clone().narrow(1, m, 1).expand([d, n - m, c, c]);
        let term = t_m.matmul(src); // output blocks m..n
        let term = if m > 0 {
            Tensor::cat(vec![Tensor::zeros([d, m, c, b], &device), term], 1)
        } else {
            term
        };
        y = Some(match y {
            None => term,
            Some(acc) => acc + term,
        });
    }
    y.expect("at least one block")
        .reshape([d, lp, b])
        .permute([2, 1, 0])
        .narrow(1, 0, l)
}

/// Reference (gather-based) Toeplitz convolution, kept for tests of [`causal_conv`].
#[cfg(test)]
pub(crate) fn causal_conv_gather<B: Backend>(
    u: Tensor<B, 3>,
    kernel: Tensor<B, 2>,
) -> Tensor<B, 3> {
    let [_, l, d] = u.dims();
    let device = u.device();
    let rows = Tensor::<B, 1, Int>::arange(0..l as i64, &device)
        .reshape([l, 1])
        .expand([l, l]);
    let cols = Tensor::<B, 1, Int>::arange(0..l as i64, &device)
        .reshape([1, l])
        .expand([l, l]);
    let lag = (rows - cols).clamp_min(0).reshape([l * l]);
    let toeplitz = kernel
        .narrow(1, 0, l)
        .select(1, lag)
        .reshape([d, l, l])
        .mask_fill(
            future_mask::<B>(l, &device)
                .unsqueeze::<3>()
                .expand([d, l, l]),
            0.0,
        );
    toeplitz.matmul(u.permute([2, 1, 0])).permute([2, 1, 0])
}

/// Short causal depthwise convolution: `w: (D, K)` holds the tap for lag `j` in column `j`.
///
/// `y[b, t, c] = bias[c] + sum_{j < K} w[c, j] * u[b, t - j, c]` (zero before the start).
pub(crate) fn short_conv<B: Backend>(
    u: Tensor<B, 3>,
    w: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 3> {
    let [b, l, d] = u.dims();
    let taps = w.dims()[1];
    let device = u.device();
    let padded = if taps > 1 {
        Tensor::cat(vec![Tensor::zeros([b, taps - 1, d], &device), u], 1)
    } else {
        u
    };
    let mut y: Option<Tensor<B, 3>> = None;
    for j in 0..taps {
        let term = padded.clone().narrow(1, taps - 1 - j, l)
            * w.clone().narrow(1, j, 1).reshape([1, 1, d]);
        y = Some(match y {
            None => term,
            Some(acc) => acc + term,
        });
    }
    let y = y.expect("at least one tap");
    match bias {
        Some(bias) => y + bias.reshape([1, 1, d]),
        None => y,
    }
}

/// One step of [`short_conv`]: `buffer: (B, K-1, D)` holds the previous `K-1` inputs
/// (oldest first). Returns `(y_t, new_buffer)`.
pub(crate) fn short_conv_step<B: Backend>(
    u: Tensor<B, 2>,
    buffer: Tensor<B, 3>,
    w: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> (Tensor<B, 2>, Tensor<B, 3>) {
    let [b, d] = u.dims();
    let taps = w.dims()[1];
    let window = Tensor::cat(vec![buffer, u.reshape([b, 1, d])], 1); // (B, K, D)
    let y = short_conv(window.clone(), w, bias)
        .narrow(1, taps - 1, 1)
        .reshape([b, d]);
    (y, window.narrow(1, 1, taps - 1))
}

/// Reference loop for `h[t] = a[t] * h[t-1] + x[t]` along dim 1 (test oracle).
#[cfg(test)]
pub(crate) fn linear_recurrence_sequential<B: Backend>(
    a: Tensor<B, 3>,
    x: Tensor<B, 3>,
) -> Tensor<B, 3> {
    let t = x.dims()[1];
    let mut h = x.clone().narrow(1, 0, 1);
    let mut outs = Vec::with_capacity(t);
    outs.push(h.clone());
    for i in 1..t {
        h = a.clone().narrow(1, i, 1) * h + x.clone().narrow(1, i, 1);
        outs.push(h.clone());
    }
    Tensor::cat(outs, 1)
}

/// Kernel of a diagonal complex SSM in Vandermonde form:
/// `K[c, l] = 2 Re sum_n ct[c, n] * exp(l * (log_mag[c, n] + i phase[c, n]))`, `l = 0..len`.
///
/// All inputs `(D, N)`; output `(D, len)`.
pub(crate) fn vandermonde_kernel<B: Backend>(
    log_mag: Tensor<B, 2>,
    phase: Tensor<B, 2>,
    ct_re: Tensor<B, 2>,
    ct_im: Tensor<B, 2>,
    len: usize,
) -> Tensor<B, 2> {
    let [d, n] = log_mag.dims();
    let device = log_mag.device();
    let lags = Tensor::<B, 1, Int>::arange(0..len as i64, &device)
        .float()
        .reshape([1, 1, len]);
    let mag = (log_mag.reshape([d, n, 1]) * lags.clone()).exp();
    let angle = phase.reshape([d, n, 1]) * lags;
    let p_re = mag.clone() * angle.clone().cos();
    let p_im = mag * angle.sin();
    let k = ct_re.reshape([d, n, 1]) * p_re - ct_im.reshape([d, n, 1]) * p_im;
    k.sum_dim(1).reshape([d, len]).mul_scalar(2.0)
}

/// One step of a diagonal complex SSM: `s = a * s + x` (x real, broadcast over modes),
/// `y = 2 Re sum_n ct[n] s[n]`. `a, ct: (D, N)`, `s: (B, D, N)`, `x: (B, D)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn diag_ssm_step<B: Backend>(
    a_re: Tensor<B, 2>,
    a_im: Tensor<B, 2>,
    ct_re: Tensor<B, 2>,
    ct_im: Tensor<B, 2>,
    s_re: Tensor<B, 3>,
    s_im: Tensor<B, 3>,
    x: Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 3>, Tensor<B, 3>) {
    let [b, d] = x.dims();
    let a_re = a_re.unsqueeze::<3>();
    let a_im = a_im.unsqueeze::<3>();
    let new_re = a_re.clone() * s_re.clone() - a_im.clone() * s_im.clone() + x.reshape([b, d, 1]);
    let new_im = a_re * s_im + a_im * s_re;
    let y = (ct_re.unsqueeze::<3>() * new_re.clone() - ct_im.unsqueeze::<3>() * new_im.clone())
        .sum_dim(2)
        .reshape([b, d])
        .mul_scalar(2.0);
    (y, new_re, new_im)
}

/// Split the last dim `(B, L, H*dh)` into heads `(B, H, L, dh)`.
pub(crate) fn to_heads<B: Backend>(x: Tensor<B, 3>, heads: usize) -> Tensor<B, 4> {
    let [b, l, hd] = x.dims();
    x.reshape([b, l, heads, hd / heads]).swap_dims(1, 2)
}

/// Inverse of [`to_heads`].
pub(crate) fn from_heads<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 3> {
    let [b, h, l, dh] = x.dims();
    x.swap_dims(1, 2).reshape([b, l, h * dh])
}

/// Splits `x: (B, L, D)` into its `L` time steps `(B, D)`, by recursive halving.
///
/// Burn's autodiff backward of `narrow`/`slice` (and of `split`, `chunk`, `iter_dim`, which are
/// built on it) allocates a zero gradient of the *whole input* and writes the slice into it,
/// so taking `L` single steps straight from `x` costs `O(L)` each, `O(L^2)` in all. Halving
/// keeps every slice's parent at most twice its size: `O(L log L)` for the backward.
pub(crate) fn unstack_time<B: Backend>(x: Tensor<B, 3>) -> Vec<Tensor<B, 2>> {
    fn split<B: Backend>(x: Tensor<B, 3>, out: &mut Vec<Tensor<B, 2>>) {
        let [b, l, d] = x.dims();
        if l == 1 {
            out.push(x.reshape([b, d]));
        } else {
            let mid = l / 2;
            split(x.clone().narrow(1, 0, mid), out);
            split(x.narrow(1, mid, l - mid), out);
        }
    }
    let mut out = Vec::with_capacity(x.dims()[1]);
    split(x, &mut out);
    out
}

/// `[first, x[:, ..L-1]]` along dim 1: the sequence delayed by one step, `first: (B, 1, D)`
/// filling the first position (a token shift, or "state before step t" from "state after").
pub(crate) fn shift_in_time<B: Backend>(x: Tensor<B, 3>, first: Tensor<B, 3>) -> Tensor<B, 3> {
    let l = x.dims()[1];
    if l > 1 {
        Tensor::cat(vec![first, x.narrow(1, 0, l - 1)], 1)
    } else {
        first
    }
}

/// Chunkwise-parallel gated linear attention (the GLA / RetNet / linear-attention core):
///
/// `S[t] = diag(exp(g[t])) S[t-1] + k[t]^T v[t]`, `S[-1] = 0`, `o[t] = q[t] S[t]`,
///
/// with `q, k, g: (B, H, L, dk)` (`g <= 0` is a log decay per key channel) and
/// `v: (B, H, L, dv)`. Inside a chunk the decays are factored as `q * exp(G_t)` and
/// `k * exp(-G_s)` with `G` the within-chunk cumulative log decay, so `chunk * max|g|` must
/// stay well below ~80 to avoid f32 overflow; across chunks the `(dk, dv)` states follow a
/// diagonal linear recurrence (`kleene_scan::diagonal_recurrence`). Work is `O(L * chunk * (dk + dv) + L/chunk * dk * dv)`.
pub(crate) fn chunked_gated_attention<B: ScanBackend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    g: Tensor<B, 4>,
    chunk: usize,
) -> Tensor<B, 4> {
    let [b, h, l, dk] = q.dims();
    let dv = v.dims()[3];
    let device = q.device();
    let n = l.div_ceil(chunk);
    let lp = n * chunk;
    let pad = |x: Tensor<B, 4>, width: usize| {
        if lp == l {
            x
        } else {
            Tensor::cat(vec![x, Tensor::zeros([b, h, lp - l, width], &device)], 2)
        }
    };
    let q = pad(q, dk).reshape([b, h, n, chunk, dk]);
    let k = pad(k, dk).reshape([b, h, n, chunk, dk]);
    let v = pad(v, dv).reshape([b, h, n, chunk, dv]);
    let g = pad(g, dk).reshape([b, h, n, chunk, dk]);

    let gc = g.cumsum(3); // inclusive within-chunk cumulative log decay
    let q_hat = q * gc.clone().exp();
    let k_hat = k.clone() * gc.clone().neg().exp();
    let future = future_mask::<B>(chunk, &device)
        .reshape([1, 1, 1, chunk, chunk])
        .expand([b, h, n, chunk, chunk]);
    let scores = q_hat
        .clone()
        .matmul(k_hat.swap_dims(3, 4))
        .mask_fill(future, 0.0);
    let o_intra = scores.matmul(v.clone());

    // Chunk summaries: decay over the whole chunk and the chunk's own contribution.
    let g_last = gc.clone().narrow(3, chunk - 1, 1); // (b, h, n, 1, dk)
    let k_tail = k * (g_last.clone() - gc).exp();
    let contrib = k_tail.swap_dims(3, 4).matmul(v); // (b, h, n, dk, dv)
    let decay = g_last
        .exp()
        .swap_dims(3, 4)
        .expand([b, h, n, dk, dv])
        .reshape([b * h, n, dk * dv]);
    let states_after = diagonal_recurrence(decay, contrib.reshape([b * h, n, dk * dv]), None);
    let states_before = shift_in_time(states_after, Tensor::zeros([b * h, 1, dk * dv], &device))
        .reshape([b, h, n, dk, dv]);
    let o_inter = q_hat.matmul(states_before);
    (o_intra + o_inter).reshape([b, h, lp, dv]).narrow(2, 0, l)
}

/// One recurrent step of [`chunked_gated_attention`]: `q, k, g: (B, H, dk)`, `v: (B, H, dv)`,
/// `state: (B, H, dk, dv)`. Returns `(o: (B, H, dv), new_state)`.
pub(crate) fn gated_attention_step<B: Backend>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    g: Tensor<B, 3>,
    state: Tensor<B, 4>,
) -> (Tensor<B, 3>, Tensor<B, 4>) {
    let [b, h, dk] = q.dims();
    let dv = v.dims()[2];
    let state = state * g.exp().reshape([b, h, dk, 1])
        + k.reshape([b, h, dk, 1]) * v.reshape([b, h, 1, dv]);
    let o = q
        .reshape([b, h, 1, dk])
        .matmul(state.clone())
        .reshape([b, h, dv]);
    (o, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_ndarray::NdArray;

    type B = NdArray<f32>;

    /// `gelu_erf` and its gradient (in f32) against the closed forms in f64:
    /// GELU(x) = x Φ(x), GELU'(x) = Φ(x) + x φ(x), with erf from its Maclaurin series
    /// (converges for every x; to ~1e-15 for |x| <= 4 in f64).
    #[test]
    fn gelu_erf_value_and_gradient_are_exact() {
        // f32, not NdArray<f64>: the device's default float dtype is shared with the f32
        // backend that other tests in this process use.
        type Ad = burn::backend::Autodiff<B>;
        fn erf64(x: f64) -> f64 {
            // Maclaurin series: erf x = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)); converges for all x.
            let (mut term, mut sum, mut n) = (x, x, 0.0f64);
            while term.abs() > 1e-18 * sum.abs().max(1e-300) {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        }
        let device = Default::default();
        let xs: Vec<f64> = (0..41).map(|i| -4.0 + 0.2 * i as f64 + 0.013).collect();
        let x32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
        let x = Tensor::<Ad, 1>::from_data(TensorData::new(x32.clone(), [xs.len()]), &device)
            .require_grad();
        let y = gelu_erf(x.clone());
        let grad = x.grad(&y.clone().sum().backward()).unwrap();
        let y = y.into_data().to_vec::<f32>().unwrap();
        let g = grad.into_data().to_vec::<f32>().unwrap();
        for (i, &x) in x32.iter().enumerate() {
            let (v, y, g) = (x as f64, y[i] as f64, g[i] as f64);
            let cdf = 0.5 * (1.0 + erf64(v / std::f64::consts::SQRT_2));
            let pdf = (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt();
            assert!(
                (y - v * cdf).abs() < 2e-6,
                "value at {v}: {y} vs {}",
                v * cdf
            );
            // Burn's own gelu backward (tanh form) is off by up to 8.7e-4 here.
            let want = cdf + v * pdf;
            assert!((g - want).abs() < 2e-6, "gradient at {v}: {g} vs {want}");
        }
    }

    #[test]
    fn causal_conv_matches_gather_and_direct_sum() {
        let device = Default::default();
        for (l, block) in [(1usize, 64usize), (2, 1), (7, 3), (9, 3), (7, 64), (13, 4)] {
            let u = Tensor::<B, 3>::random([2, l, 3], Distribution::Normal(0.0, 1.0), &device);
            let k = Tensor::<B, 2>::random([3, l + 2], Distribution::Normal(0.0, 1.0), &device);
            let fast = causal_conv(u.clone(), k.clone())
                .into_data()
                .to_vec::<f32>()
                .unwrap();
            let slow = causal_conv_gather(u.clone(), k.clone())
                .into_data()
                .to_vec::<f32>()
                .unwrap();
            let uv = u.into_data().to_vec::<f32>().unwrap();
            let kv = k.into_data().to_vec::<f32>().unwrap();
            for b in 0..2 {
                for t in 0..l {
                    for c in 0..3 {
                        let want: f64 = (0..=t)
                            .map(|s| {
                                kv[c * (l + 2) + t - s] as f64 * uv[(b * l + s) * 3 + c] as f64
                            })
                            .sum();
                        let i = (b * l + t) * 3 + c;
                        assert!(
                            (fast[i] as f64 - want).abs() < 1e-5,
                            "blocked l={l} block={block}"
                        );
                        assert!((slow[i] as f64 - want).abs() < 1e-5, "gather l={l}");
                    }
                }
            }
        }
    }

    #[test]
    fn unstack_time_returns_every_step_in_order() {
        let device = Default::default();
        for l in [1usize, 2, 7, 16] {
            let x = Tensor::<B, 3>::random([2, l, 3], Distribution::Normal(0.0, 1.0), &device);
            let xv = x.clone().into_data().to_vec::<f32>().unwrap();
            let steps = unstack_time(x);
            assert_eq!(steps.len(), l);
            for (t, step) in steps.into_iter().enumerate() {
                assert_eq!(step.dims(), [2, 3]);
                let sv = step.into_data().to_vec::<f32>().unwrap();
                for b in 0..2 {
                    for c in 0..3 {
                        assert_eq!(sv[b * 3 + c], xv[(b * l + t) * 3 + c], "l={l} t={t}");
                    }
                }
            }
        }
    }

    #[test]
    fn chunk_scan_matches_loop() {
        let device = Default::default();
        let a = Tensor::<B, 3>::random([2, 9, 3], Distribution::Uniform(-1.0, 1.0), &device);
        let x = Tensor::<B, 3>::random([2, 9, 3], Distribution::Normal(0.0, 1.0), &device);
        let p = diagonal_recurrence(a.clone(), x.clone(), None)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let s = linear_recurrence_sequential(a.clone(), x.clone())
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let av = a.into_data().to_vec::<f32>().unwrap();
        let xv = x.into_data().to_vec::<f32>().unwrap();
        for b in 0..2 {
            for c in 0..3 {
                let mut h = 0.0f64;
                for t in 0..9 {
                    let i = (b * 9 + t) * 3 + c;
                    h = av[i] as f64 * h + xv[i] as f64;
                    assert!((p[i] as f64 - h).abs() < 1e-5);
                    assert!((s[i] as f64 - h).abs() < 1e-5);
                }
            }
        }
    }
}
