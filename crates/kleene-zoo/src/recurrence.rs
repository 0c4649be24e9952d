//! The linear recurrences the models need, isolated in one place.
//!
//! Every recurrent model calls one of these three functions for its parallel (whole
//! sequence) forward; the one-step forms live next to each model. They delegate to
//! `kleene-scan` once its ops are available; until then they are written as a loop of
//! differentiable tensor ops (correct on every backend, slower than a fused kernel).

use burn::prelude::*;

/// The backend bound of the models: Burn backends that provide the recurrence ops.
pub use burn::tensor::backend::Backend as ScanBackend;

/// Diagonal (element-wise) recurrence `h_t = a_t * h_{t-1} + x_t` with `h_{-1} = h0`
/// (zeros when `None`). `a, x: (batch, len, channels)` -> `h: (batch, len, channels)`.
pub fn diagonal<B: ScanBackend>(
    a: Tensor<B, 3>,
    x: Tensor<B, 3>,
    h0: Option<Tensor<B, 2>>,
) -> Tensor<B, 3> {
    let [batch, len, channels] = x.dims();
    let mut h = h0.unwrap_or_else(|| Tensor::zeros([batch, channels], &x.device()));
    let mut out = Vec::with_capacity(len);
    for t in 0..len {
        let a_t = a.clone().narrow(1, t, 1).reshape([batch, channels]);
        let x_t = x.clone().narrow(1, t, 1).reshape([batch, channels]);
        h = a_t * h + x_t;
        out.push(h.clone());
    }
    Tensor::stack(out, 1)
}

/// Complex diagonal recurrence `h_t = a_t ⊙ h_{t-1} + x_t` over complex numbers given as
/// (real, imaginary) parts, `(batch, len, channels)` each, from `h0 = (re, im)`
/// of shape `(batch, channels)`. Returns `(re h, im h)`.
#[allow(clippy::type_complexity)]
pub fn complex_diagonal<B: ScanBackend>(
    a: (Tensor<B, 3>, Tensor<B, 3>),
    x: (Tensor<B, 3>, Tensor<B, 3>),
    h0: (Tensor<B, 2>, Tensor<B, 2>),
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let [batch, len, channels] = x.0.dims();
    let (mut hr, mut hi) = h0;
    let mut out_r = Vec::with_capacity(len);
    let mut out_i = Vec::with_capacity(len);
    let at = |t: &Tensor<B, 3>, i: usize| t.clone().narrow(1, i, 1).reshape([batch, channels]);
    for t in 0..len {
        let (ar, ai) = (at(&a.0, t), at(&a.1, t));
        let (xr, xi) = (at(&x.0, t), at(&x.1, t));
        let nr = ar.clone() * hr.clone() - ai.clone() * hi.clone() + xr;
        let ni = ar * hi + ai * hr + xi;
        hr = nr;
        hi = ni;
        out_r.push(hr.clone());
        out_i.push(hi.clone());
    }
    (Tensor::stack(out_r, 1), Tensor::stack(out_i, 1))
}

/// Dense recurrence `h_t = A_t h_{t-1} + x_t`, `h_{-1} = 0`, with
/// `a: (batch, len, n, n)` (row index = output state), `x: (batch, len, n)`.
/// Returns `h: (batch, len, n)`.
pub fn dense<B: ScanBackend>(a: Tensor<B, 4>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [batch, len, n] = x.dims();
    let mut h: Tensor<B, 2> = Tensor::zeros([batch, n], &x.device());
    let mut out = Vec::with_capacity(len);
    for t in 0..len {
        let a_t = a.clone().narrow(1, t, 1).reshape([batch, n, n]);
        let x_t = x.clone().narrow(1, t, 1).reshape([batch, n]);
        h = dense_step(a_t, h, x_t);
        out.push(h.clone());
    }
    Tensor::stack(out, 1)
}

/// One dense step `A h + x` for `a: (batch, n, n)`, `h, x: (batch, n)`.
pub fn dense_step<B: Backend>(a: Tensor<B, 3>, h: Tensor<B, 2>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    let [batch, n] = h.dims();
    a.matmul(h.reshape([batch, n, 1])).reshape([batch, n]) + x
}
