//! Burn-tensor-op reference implementations of all four ops.
//!
//! Written with ordinary tensor ops (one small group of ops per time step, like mamba's
//! `selective_scan_ref`), so they run on any backend and are differentiable by Burn's own autodiff.
//! They are the oracle for the fast paths and the baseline in `benches/scan.rs`; they are slow
//! (`O(len)` kernel launches / tensor ops and, for the selective scan, `(batch, d, len, n)`
//! intermediates).

use burn::tensor::activation::silu;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use crate::{ScanLayout, SelectiveScanInput, TransitionRange};

/// softplus with PyTorch's/mamba's threshold: `x > 20 ? x : log1p(exp(x))`.
pub fn softplus_thresholded<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    // clamp before exp so the unused branch never overflows (keeps its gradient finite).
    let soft = x.clone().clamp_max(20.0).exp().log1p();
    let big = x.clone().greater_elem(20.0);
    soft.mask_where(big, x)
}

/// (batch, groups, n, len) -> (batch, d, len, n), channel c using group c / (d / groups).
fn expand_groups<B: Backend>(t: Tensor<B, 4>, d: usize) -> Tensor<B, 4> {
    let [batch, groups, n, len] = t.dims();
    let per_group = d / groups;
    t.reshape([batch, groups, 1, n, len])
        .repeat_dim(2, per_group)
        .reshape([batch, d, n, len])
        .swap_dims(2, 3)
}

/// Mamba-1 selective scan with tensor ops; same contract as [`crate::selective_scan`]
/// (shapes are assumed valid).
pub fn selective_scan<B: Backend>(input: SelectiveScanInput<B>) -> (Tensor<B, 3>, Tensor<B, 3>) {
    if input.layout == ScanLayout::ChannelsLast {
        let (out, last) = selective_scan(input.into_channels_first());
        return (out.swap_dims(1, 2), last);
    }
    let SelectiveScanInput {
        u,
        delta,
        a,
        b,
        c,
        d_skip,
        z,
        delta_bias,
        delta_softplus,
        initial_state,
        layout: _,
        transition_range,
    } = input;
    let [batch, d, len] = u.dims();
    let [_, n] = a.dims();
    let device = u.device();
    let mut delta = delta;
    if let Some(bias) = delta_bias {
        delta = delta + bias.reshape([1, d, 1]);
    }
    if delta_softplus {
        delta = softplus_thresholded(delta);
    }
    let delta4: Tensor<B, 4> = delta.unsqueeze_dim(3); // (b, d, l, 1)
    let delta_a = (delta4.clone() * a.reshape([1, d, 1, n])).exp(); // (b, d, l, n)
    let delta_a = match transition_range {
        TransitionRange::ZeroOne => delta_a,
        TransitionRange::MinusOneOne => delta_a.mul_scalar(2.0).sub_scalar(1.0),
    };
    let u4: Tensor<B, 4> = u.clone().unsqueeze_dim(3);
    let delta_b_u = delta4 * u4 * expand_groups(b, d); // (b, d, l, n)
    let c = expand_groups(c, d);
    let mut x = initial_state.unwrap_or_else(|| Tensor::zeros([batch, d, n], &device));
    let mut ys = Vec::with_capacity(len);
    for i in 0..len {
        let step = |t: &Tensor<B, 4>| {
            t.clone()
                .slice([0..batch, 0..d, i..i + 1, 0..n])
                .reshape([batch, d, n])
        };
        x = step(&delta_a) * x + step(&delta_b_u);
        ys.push((x.clone() * step(&c)).sum_dim(2)); // (b, d, 1)
    }
    let mut out = Tensor::cat(ys, 2);
    if let Some(dd) = d_skip {
        out = out + u * dd.reshape([1, d, 1]);
    }
    if let Some(z) = z {
        out = out * silu(z);
    }
    (out, x)
}

/// Diagonal recurrence with tensor ops; same contract as [`crate::diagonal_recurrence`].
pub fn diagonal_recurrence<B: Backend>(
    a: Tensor<B, 3>,
    b: Tensor<B, 3>,
    h0: Option<Tensor<B, 2>>,
) -> Tensor<B, 3> {
    let [batch, len, dim] = a.dims();
    let mut h = h0.unwrap_or_else(|| Tensor::zeros([batch, dim], &a.device()));
    let mut hs = Vec::with_capacity(len);
    for t in 0..len {
        let step = |x: &Tensor<B, 3>| {
            x.clone()
                .slice([0..batch, t..t + 1, 0..dim])
                .reshape([batch, dim])
        };
        h = step(&a) * h + step(&b);
        hs.push(h.clone().unsqueeze_dim::<3>(1));
    }
    Tensor::cat(hs, 1)
}

/// Complex diagonal recurrence with tensor ops; same contract as
/// [`crate::complex_diagonal_recurrence`].
pub fn complex_diagonal_recurrence<B: Backend>(
    a_re: Tensor<B, 3>,
    a_im: Tensor<B, 3>,
    b_re: Tensor<B, 3>,
    b_im: Tensor<B, 3>,
    h0: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let [batch, len, dim] = a_re.dims();
    let device = a_re.device();
    let (mut hr, mut hi) = h0.unwrap_or_else(|| {
        (
            Tensor::zeros([batch, dim], &device),
            Tensor::zeros([batch, dim], &device),
        )
    });
    let (mut out_re, mut out_im) = (Vec::with_capacity(len), Vec::with_capacity(len));
    for t in 0..len {
        let step = |x: &Tensor<B, 3>| {
            x.clone()
                .slice([0..batch, t..t + 1, 0..dim])
                .reshape([batch, dim])
        };
        let (ar, ai) = (step(&a_re), step(&a_im));
        let new_re = ar.clone() * hr.clone() - ai.clone() * hi.clone() + step(&b_re);
        let new_im = ar * hi + ai * hr + step(&b_im);
        hr = new_re;
        hi = new_im;
        out_re.push(hr.clone().unsqueeze_dim::<3>(1));
        out_im.push(hi.clone().unsqueeze_dim::<3>(1));
    }
    (Tensor::cat(out_re, 1), Tensor::cat(out_im, 1))
}

/// Dense (SD-SSM) recurrence with tensor ops; same contract as [`crate::dense_recurrence`].
pub fn dense_recurrence<B: Backend>(
    m: Tensor<B, 3>,
    bias: Tensor<B, 2>,
    tokens: Tensor<B, 2, Int>,
    h0: Option<Tensor<B, 2>>,
) -> Tensor<B, 3> {
    let [_, n, _] = m.dims();
    let [batch, len] = tokens.dims();
    let flat = tokens.reshape([batch * len]);
    let m_sel = m.select(0, flat.clone()).reshape([batch, len, n, n]);
    let b_sel = bias.select(0, flat).reshape([batch, len, n]);
    let mut h = h0.unwrap_or_else(|| Tensor::zeros([batch, n], &b_sel.device()));
    let mut hs = Vec::with_capacity(len);
    for t in 0..len {
        let mt = m_sel
            .clone()
            .slice([0..batch, t..t + 1, 0..n, 0..n])
            .reshape([batch, n, n]);
        let bt = b_sel
            .clone()
            .slice([0..batch, t..t + 1, 0..n])
            .reshape([batch, n]);
        h = mt.matmul(h.unsqueeze_dim::<3>(2)).reshape([batch, n]) + bt;
        hs.push(h.clone().unsqueeze_dim::<3>(1));
    }
    Tensor::cat(hs, 1)
}
