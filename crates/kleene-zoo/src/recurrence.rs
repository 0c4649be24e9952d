//! The linear recurrences the models need, isolated in one place: thin wrappers over
//! `kleene-scan`'s ops (fast paths per backend, hand-written backward). The one-step forms
//! live next to each model.

use burn::prelude::*;

/// The backend bound of the models: Burn backends that provide `kleene-scan`'s ops
/// (`NdArray`, `Autodiff<_>`, and the CubeCL backends behind the `wgpu` / `cuda` features).
pub use kleene_scan::ScanBackend;

/// Complex diagonal recurrence `h_t = a_t ⊙ h_{t-1} + x_t` over complex numbers given as
/// (real, imaginary) parts, `(batch, len, channels)` each, from `h0 = (re, im)` of shape
/// `(batch, channels)`. Returns `(re h, im h)`.
#[allow(clippy::type_complexity)]
pub fn complex_diagonal<B: ScanBackend>(
    a: (Tensor<B, 3>, Tensor<B, 3>),
    x: (Tensor<B, 3>, Tensor<B, 3>),
    h0: (Tensor<B, 2>, Tensor<B, 2>),
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    kleene_scan::complex_diagonal_recurrence(a.0, a.1, x.0, x.1, Some(h0))
}

/// SD-SSM recurrence with one matrix per token: `h_t = M[x_t] h_{t-1} + bias[x_t]`,
/// `h_{-1} = 0`; `m: (vocab, n, n)` (row = output state), `bias: (vocab, n)`,
/// `tokens: (batch, len)`. Returns `h: (batch, len, n)`.
pub fn dense_per_token<B: ScanBackend>(
    m: Tensor<B, 3>,
    bias: Tensor<B, 2>,
    tokens: Tensor<B, 2, Int>,
) -> Tensor<B, 3> {
    kleene_scan::dense_recurrence(m, bias, tokens, None)
}

/// One dense step `A h + x` for `a: (batch, n, n)`, `h, x: (batch, n)`.
pub fn dense_step<B: Backend>(a: Tensor<B, 3>, h: Tensor<B, 2>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    let [batch, n] = h.dims();
    a.matmul(h.reshape([batch, n, 1])).reshape([batch, n]) + x
}
