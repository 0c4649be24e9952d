//! Selective-scan and linear-recurrence ops for Burn, forward and backward.
//!
//! Three op families, each available on every backend that implements [`ScanBackend`]:
//!
//! * [`selective_scan`]: the Mamba-1 selective scan, semantics exactly those of mamba's
//!   `selective_scan_ref` (real A, variable grouped B/C, optional D, z gate, delta bias, softplus,
//!   initial state, returns the final state).
//! * [`diagonal_recurrence`] / [`complex_diagonal_recurrence`]: `h_t = a_t * h_{t-1} + b_t`
//!   element-wise (real, or complex as (re, im) pairs).
//! * [`dense_recurrence`]: the SD-SSM recurrence `h_t = M[x_t] h_{t-1} + bias[x_t]` with one dense
//!   matrix per token id.
//! * [`delta_rule`]: the generalized delta rule `S_t = diag(w_t) S_{t-1} + b_t (a_tᵀ S_{t-1}) +
//!   k_t v_tᵀ`, `o_t = S_tᵀ q_t` (DeltaNet, Gated DeltaNet, DeltaProduct, RWKV-7; [`delta`]).
//! * [`pd_scan`]: the PD-SSM recurrence `h_t = P_t D_t h_{t-1} + b_t` with a one-hot `P_t` and a
//!   complex diagonal `D_t`, O(N) per step, scatter or gather form ([`pd`]).
//!
//! Implementations:
//! * default trait bodies: a plain-Rust multi-threaded host implementation ([`host`]); on a
//!   non-CPU backend this is a host round trip. `burn_ndarray::NdArray` uses it directly.
//! * `CubeBackend<R, F, I, BT>` (feature `cube`, enabled by `wgpu`/`cuda`): CubeCL kernels.
//! * `Fusion<B>` (feature `cube`): the op is registered on the fusion stream as a custom op.
//! * `Autodiff<B, C>`: hand-written backward for every input.
//!
//! [`mod@reference`] holds Burn-tensor-op versions of all four ops (differentiable by Burn's own
//! autodiff): the oracle and the baseline for benchmarks.
//!
//! See `docs/scan.md` for definitions, layouts and numerics.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorPrimitive};

mod autodiff;
mod backend;
pub mod conv;
#[cfg(feature = "cube")]
pub mod cube;
pub mod delta;
mod error;
pub mod host;
mod input;
pub mod layout;
pub mod pd;
pub mod reference;
pub mod slstm;

pub use backend::{
    ComplexDiagonalGrads, DenseGrads, DiagonalGrads, ScanBackend, SelectiveScanGrads,
    SelectiveScanPrimitives,
};
/// burn-flex, the second CPU backend (cargo feature `flex`); the CPU kernels run on it.
#[cfg(feature = "flex")]
pub use burn_flex::Flex;
pub use conv::{causal_conv1d, try_causal_conv1d, CausalConvBackend};
pub use delta::{
    delta_product, delta_rule, try_delta_product, try_delta_rule, DeltaDims, DeltaProductInput,
    DeltaRuleBackend, DeltaRuleGrads, DeltaRuleInput, DeltaRulePrimitives,
};
pub use error::ScanError;
pub use input::{ScanDims, ScanLayout, SelectiveScanInput, TransitionRange};
pub use pd::{
    pd_scan, try_pd_scan, PdDims, PdForm, PdScanBackend, PdScanGrads, PdScanInput,
    PdScanPrimitives, PdSurrogate,
};
pub use slstm::{slstm, SlstmBackend};

fn float<B: Backend, const D: usize>(t: Tensor<B, D>) -> burn::tensor::ops::FloatTensor<B> {
    t.into_primitive().tensor()
}

fn wrap<B: Backend, const D: usize>(p: burn::tensor::ops::FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

/// Mamba-1 selective scan, semantics exactly those of mamba's `selective_scan_ref`.
///
/// Returns `(out, final_state)`: `out` (batch, d, len), or (batch, len, d) in
/// [`ScanLayout::ChannelsLast`], is `y * silu(z)` when `z` is given, else `y`;
/// `final_state` (batch, d, n) is the state after the last step (feed it back as
/// `initial_state` to continue the sequence).
///
/// # Panics
/// On inconsistent shapes (the message is the [`ScanError`] of [`try_selective_scan`]).
pub fn selective_scan<B: ScanBackend>(
    input: SelectiveScanInput<B>,
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    try_selective_scan(input).unwrap_or_else(|e| panic!("{e}"))
}

/// [`selective_scan`] returning a [`ScanError`] on inconsistent shapes instead of panicking.
pub fn try_selective_scan<B: ScanBackend>(
    input: SelectiveScanInput<B>,
) -> Result<(Tensor<B, 3>, Tensor<B, 3>), ScanError> {
    let dims = input.validate()?;
    let (batch, d, len, n) = (dims.batch, dims.d, dims.len, dims.n);
    let y_shape = dims.x_shape(input.layout);
    let packed = B::selective_scan_forward(input.into_primitives());
    let packed: Tensor<B, 1> = wrap(packed);
    let y_len = batch * d * len;
    let y = packed.clone().slice(0..y_len).reshape(y_shape);
    let last = packed
        .slice(y_len..y_len + batch * d * n)
        .reshape([batch, d, n]);
    Ok((y, last))
}

/// Diagonal linear recurrence `h_t = a_t * h_{t-1} + b_t` (element-wise), `h_{-1} = h0` or 0.
///
/// `a`, `b`: (batch, len, dim); `h0`: (batch, dim). Returns every state, (batch, len, dim).
///
/// # Panics
/// On inconsistent shapes (see [`try_diagonal_recurrence`]).
pub fn diagonal_recurrence<B: ScanBackend>(
    a: Tensor<B, 3>,
    b: Tensor<B, 3>,
    h0: Option<Tensor<B, 2>>,
) -> Tensor<B, 3> {
    try_diagonal_recurrence(a, b, h0).unwrap_or_else(|e| panic!("{e}"))
}

/// [`diagonal_recurrence`] returning a [`ScanError`] on inconsistent shapes.
pub fn try_diagonal_recurrence<B: ScanBackend>(
    a: Tensor<B, 3>,
    b: Tensor<B, 3>,
    h0: Option<Tensor<B, 2>>,
) -> Result<Tensor<B, 3>, ScanError> {
    let [batch, len, dim] = a.dims();
    error::expect_nonempty("diagonal_recurrence", "a", &a.dims())?;
    error::expect_shape("diagonal_recurrence", "b", &b.dims(), &[batch, len, dim])?;
    if let Some(h0) = &h0 {
        error::expect_shape("diagonal_recurrence", "h0", &h0.dims(), &[batch, dim])?;
    }
    Ok(wrap(B::diagonal_recurrence_forward(
        float(a),
        float(b),
        h0.map(float),
    )))
}

/// Complex diagonal recurrence `h_t = a_t * h_{t-1} + b_t` with complex numbers given as
/// (re, im) pairs; all (batch, len, dim), `h0` (batch, dim) pairs. Returns `(h_re, h_im)`.
///
/// # Panics
/// On inconsistent shapes (see [`try_complex_diagonal_recurrence`]).
pub fn complex_diagonal_recurrence<B: ScanBackend>(
    a_re: Tensor<B, 3>,
    a_im: Tensor<B, 3>,
    b_re: Tensor<B, 3>,
    b_im: Tensor<B, 3>,
    h0: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    try_complex_diagonal_recurrence(a_re, a_im, b_re, b_im, h0).unwrap_or_else(|e| panic!("{e}"))
}

/// [`complex_diagonal_recurrence`] returning a [`ScanError`] on inconsistent shapes.
pub fn try_complex_diagonal_recurrence<B: ScanBackend>(
    a_re: Tensor<B, 3>,
    a_im: Tensor<B, 3>,
    b_re: Tensor<B, 3>,
    b_im: Tensor<B, 3>,
    h0: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
) -> Result<(Tensor<B, 3>, Tensor<B, 3>), ScanError> {
    const OP: &str = "complex_diagonal_recurrence";
    let [batch, len, dim] = a_re.dims();
    let full = [batch, len, dim];
    error::expect_nonempty(OP, "a_re", &full)?;
    error::expect_shape(OP, "a_im", &a_im.dims(), &full)?;
    error::expect_shape(OP, "b_re", &b_re.dims(), &full)?;
    error::expect_shape(OP, "b_im", &b_im.dims(), &full)?;
    if let Some((re, im)) = &h0 {
        error::expect_shape(OP, "h0.re", &re.dims(), &[batch, dim])?;
        error::expect_shape(OP, "h0.im", &im.dims(), &[batch, dim])?;
    }
    let packed: Tensor<B, 4> = wrap(B::complex_diagonal_recurrence_forward(
        float(a_re),
        float(a_im),
        float(b_re),
        float(b_im),
        h0.map(|(re, im)| (float(re), float(im))),
    ));
    let re = packed.clone().slice(0..1).reshape([batch, len, dim]);
    let im = packed.slice(1..2).reshape([batch, len, dim]);
    Ok((re, im))
}

/// SD-SSM dense recurrence `h_t = M[tok_t] h_{t-1} + bias[tok_t]`, `h_{-1} = h0` or 0.
///
/// `m`: (vocab, n, n) row-major, `h_t[i] = sum_j M[v][i][j] h_{t-1}[j]`; `bias`: (vocab, n);
/// `tokens`: (batch, len) ids in `0..vocab`; `h0`: (batch, n). Returns every state (batch, len, n).
///
/// Token ids are not range-checked here (that would need a device sync); out-of-range ids give
/// unspecified values (never memory errors). Use [`try_dense_recurrence`] to check them.
///
/// # Panics
/// On inconsistent shapes.
pub fn dense_recurrence<B: ScanBackend>(
    m: Tensor<B, 3>,
    bias: Tensor<B, 2>,
    tokens: Tensor<B, 2, Int>,
    h0: Option<Tensor<B, 2>>,
) -> Tensor<B, 3> {
    dense_checked(m, bias, tokens, h0, false).unwrap_or_else(|e| panic!("{e}"))
}

/// [`dense_recurrence`] returning a [`ScanError`] on inconsistent shapes or an out-of-range token
/// id (reads the token ids back to the host once: a device sync on GPU backends).
pub fn try_dense_recurrence<B: ScanBackend>(
    m: Tensor<B, 3>,
    bias: Tensor<B, 2>,
    tokens: Tensor<B, 2, Int>,
    h0: Option<Tensor<B, 2>>,
) -> Result<Tensor<B, 3>, ScanError> {
    dense_checked(m, bias, tokens, h0, true)
}

fn dense_checked<B: ScanBackend>(
    m: Tensor<B, 3>,
    bias: Tensor<B, 2>,
    tokens: Tensor<B, 2, Int>,
    h0: Option<Tensor<B, 2>>,
    check_tokens: bool,
) -> Result<Tensor<B, 3>, ScanError> {
    const OP: &str = "dense_recurrence";
    let [vocab, n, n2] = m.dims();
    error::expect_shape(OP, "m", &[vocab, n, n2], &[vocab, n, n])?;
    error::expect_shape(OP, "bias", &bias.dims(), &[vocab, n])?;
    let [batch, _len] = tokens.dims();
    error::expect_nonempty(OP, "m", &[vocab, n])?;
    error::expect_nonempty(OP, "tokens", &tokens.dims())?;
    if let Some(h0) = &h0 {
        error::expect_shape(OP, "h0", &h0.dims(), &[batch, n])?;
    }
    if check_tokens {
        let ids = tokens.clone().into_data().convert::<i64>();
        let ids = ids
            .as_slice::<i64>()
            .map_err(|e| ScanError::Data(format!("{e:?}")))?;
        if let Some((pos, &id)) = ids
            .iter()
            .enumerate()
            .find(|(_, &v)| v < 0 || v as usize >= vocab)
        {
            return Err(ScanError::TokenOutOfRange {
                op: OP,
                position: pos,
                id,
                vocab,
            });
        }
    }
    Ok(wrap(B::dense_recurrence_forward(
        float(m),
        float(bias),
        tokens.into_primitive(),
        h0.map(float),
    )))
}
