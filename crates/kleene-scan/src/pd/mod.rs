//! The PD-SSM recurrence (Terzić et al., NeurIPS 2025; IBM `expressive-sparse-state-space-model`):
//! a complex state `h ∈ ℂ^N` whose transition is a one-hot matrix `P_t` times a complex
//! diagonal `D_t`, so one step costs O(N) (a gather or a scatter plus a diagonal multiply).
//!
//! Per batch element, with `h_{-1} = h0` (0 when absent), token `t`, `p_t ∈ {0..N-1}^N`:
//! ```text
//! scatter (default; paper eqs. and the JAX code, P column one-hot, P[p[n], n] = 1):
//!     h_t = P_t D_t h_{t-1} + b_t,      i.e. h_t[p_t[n]] += D_t[n] h_{t-1}[n], then + b_t
//! gather (the PyTorch code that produced the FSA table, P row one-hot, P[m, p[m]] = 1):
//!     h_t = D_t P_t h_{t-1} + b_t,      i.e. h_t[m] = D_t[m] h_{t-1}[p_t[m]] + b_t[m]
//! ```
//! The output is every state `h_t` (the readout includes token `t`). The two forms coincide when
//! every `p_t` is a permutation; only the scatter form can merge states (resets), see
//! [`PdForm`].
//!
//! Complex numbers are `(re, im)` pairs of f32 tensors of shape `(batch, len, n)` (`h0`:
//! `(batch, n)`); `index` is an Int tensor `(batch, len, n)`.
//!
//! Gradients: with respect to `D` (re, im), `b` (re, im) and `h0`; `P` is an index and has
//! none. For a straight-through estimator the caller passes a dense surrogate of `P`
//! ([`PdScanInput::transition_surrogate`], `(batch, len, n, n)`, e.g. the softmax whose argmax
//! is `p`): its values are never read, it receives `∂L/∂P`, the gradient with respect to the
//! entries of the dense one-hot matrix, so `P = hard + soft − stopgrad(soft)` is exactly
//! "pass `soft` here". With [`PdSurrogate::SoftmaxLogits`] the surrogate is the logits `M`
//! themselves and the op returns `∂L/∂M` through the softmax (fused: the caller never forms
//! the softmax). That gradient is a rank-2 outer product per step,
//! `∂L/∂P = Re(λ̄_t ⊗ D_t h_{t-1})` (scatter) or `Re((λ_t D̄_t)‾ ⊗ h_{t-1})` (gather) with
//! `λ_t = ∂L/∂h_t`: O(N²) per step, written only when the surrogate is given. Everything else in
//! the backward is O(N) per step, and the backward reads the forward's states (stored by
//! autodiff as the op's output) instead of recomputing them.
//!
//! Complex gradients follow the real-pair convention `∂L/∂z = ∂L/∂Re z + i ∂L/∂Im z`; for
//! `z = D h`: `∂L/∂D = λ h̄`, `∂L/∂h = λ D̄`.
//!
//! Implementations (one file each):
//! - [`host`]: multi-threaded plain-Rust forward and hand-written backward (threads over the
//!   batch). The default of [`PdScanBackend`], used by burn-ndarray and burn-flex in place and
//!   by the CubeCL backends through a host round trip (no CubeCL kernel yet).
//! - [`mod@reference`]: the recurrence from Burn tensor ops with the dense `P` (differentiable by
//!   Burn's autodiff): a second oracle for the backward, the surrogate's gradient included.
//! - [`naive`]: float64 oracles: the dense complex transition matrix per step, and the
//!   associative scan of the JAX code (combine of `(p, D, b)` triples).
//! - `Autodiff<B>`: one graph node whose backward calls [`PdScanBackend::pd_scan_backward`].

mod autodiff;
pub mod host;
pub mod naive;
pub mod reference;

use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{Int, Tensor, TensorMetadata, TensorPrimitive};

use crate::error::{expect_nonempty, expect_shape, ScanError};

const OP: &str = "pd_scan";

/// Which one-hot structure `P` has (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PdForm {
    /// Column one-hot, `h_t[p[n]] += D[n] h_{t-1}[n]` (paper, JAX). Default.
    #[default]
    Scatter,
    /// Row one-hot, `h_t[m] = D[m] h_{t-1}[p[m]]` (the PyTorch FSA code).
    Gather,
}

/// What the transition surrogate holds (see [`PdScanInput::transition_surrogate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PdSurrogate {
    /// Any dense relaxation of `P` (values unread); it receives `∂L/∂P`. Default.
    #[default]
    Dense,
    /// The logits `M` whose hardmax is `P` (argmax over rows for scatter, over the last index
    /// for gather); it receives `∂L/∂M` through `softmax(M)` over that axis, i.e. the
    /// straight-through `P = hard + softmax(M) − stopgrad(softmax(M))` with the softmax and its
    /// Jacobian fused into the backward (no softmax tensor in the forward).
    SoftmaxLogits,
}

/// Inputs of [`pd_scan`] (shapes in the module docs).
#[derive(Debug, Clone)]
pub struct PdScanInput<B: Backend> {
    /// One-hot positions `(batch, len, n)`, ids in `0..n` (see [`PdForm`] for their meaning).
    /// `None`: the hardmax of the logits in `transition_surrogate` (which must then be
    /// [`PdSurrogate::SoftmaxLogits`]), computed by the op: the argmax over rows (scatter) or
    /// over the last index (gather), ties to the first index.
    pub index: Option<Tensor<B, 3, Int>>,
    /// `Re D` `(batch, len, n)`.
    pub d_re: Tensor<B, 3>,
    /// `Im D` `(batch, len, n)`.
    pub d_im: Tensor<B, 3>,
    /// `Re b` `(batch, len, n)`.
    pub b_re: Tensor<B, 3>,
    /// `Im b` `(batch, len, n)`.
    pub b_im: Tensor<B, 3>,
    /// `(Re h0, Im h0)`, each `(batch, n)`; `None` is 0.
    pub initial_state: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
    /// Dense straight-through surrogate of `P`, `(batch, len, n, n)` (row = output index):
    /// never read in the forward, receives `∂L/∂P` (or `∂L/∂M`, see `surrogate`). `None`: no
    /// gradient for `P`.
    pub transition_surrogate: Option<Tensor<B, 4>>,
    /// What `transition_surrogate` holds.
    pub surrogate: PdSurrogate,
    /// Scatter (default) or gather form.
    pub form: PdForm,
}

/// [`PdScanInput`] as backend primitives.
#[derive(Debug, Clone)]
pub struct PdScanPrimitives<B: Backend> {
    /// `(batch, len, n)`; `None`: the hardmax of the softmax logits
    pub index: Option<IntTensor<B>>,
    /// `(batch, len, n)`
    pub d_re: FloatTensor<B>,
    /// `(batch, len, n)`
    pub d_im: FloatTensor<B>,
    /// `(batch, len, n)`
    pub b_re: FloatTensor<B>,
    /// `(batch, len, n)`
    pub b_im: FloatTensor<B>,
    /// `(batch, n)` pairs
    pub initial_state: Option<(FloatTensor<B>, FloatTensor<B>)>,
    /// `(batch, len, n, n)`
    pub transition_surrogate: Option<FloatTensor<B>>,
    /// What the surrogate holds.
    pub surrogate: PdSurrogate,
    /// The form.
    pub form: PdForm,
}

impl<B: Backend> PdScanPrimitives<B> {
    /// The sizes, read off the shape of `d_re`.
    pub fn dims(&self) -> PdDims {
        let s = self.d_re.shape();
        PdDims {
            batch: s[0],
            len: s[1],
            n: s[2],
        }
    }
}

/// Sizes of one PD-SSM scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdDims {
    /// Batch size.
    pub batch: usize,
    /// Sequence length.
    pub len: usize,
    /// State size `N`.
    pub n: usize,
}

/// Gradients of [`pd_scan`] (an optional one is `Some` exactly when the input was given).
#[derive(Debug, Clone)]
pub struct PdScanGrads<B: Backend> {
    /// d/dRe D, d/dIm D
    pub d: (FloatTensor<B>, FloatTensor<B>),
    /// d/dRe b, d/dIm b
    pub b: (FloatTensor<B>, FloatTensor<B>),
    /// d/dRe h0, d/dIm h0
    pub initial_state: Option<(FloatTensor<B>, FloatTensor<B>)>,
    /// d/dP (dense), or d/dM with [`PdSurrogate::SoftmaxLogits`], into the surrogate
    pub transition: Option<FloatTensor<B>>,
}

/// Backends that provide the PD-SSM scan. The defaults are the plain-Rust [`host`] kernels (a
/// host round trip off the CPU); `Autodiff<B>` wires the backward into Burn's graph.
///
/// The forward returns the packed `(2, batch, len, n)` = `[h_re, h_im]`; the backward receives
/// that output (the states) and its gradient.
pub trait PdScanBackend: Backend {
    /// Forward; returns `(2, batch, len, n)`.
    fn pd_scan_forward(input: PdScanPrimitives<Self>) -> FloatTensor<Self> {
        host::forward_primitives::<Self>(input)
    }

    /// Backward; `h` is the forward output, `grad` its gradient.
    fn pd_scan_backward(
        input: PdScanPrimitives<Self>,
        h: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> PdScanGrads<Self> {
        host::backward_primitives::<Self>(input, h, grad)
    }
}

impl<E, I, Q> PdScanBackend for burn_ndarray::NdArray<E, I, Q>
where
    E: burn_ndarray::FloatNdArrayElement,
    I: burn_ndarray::IntNdArrayElement,
    Q: burn_ndarray::QuantElement,
    burn_ndarray::NdArrayTensor: From<burn_ndarray::SharedArray<E>>,
    burn_ndarray::NdArrayTensor: From<burn_ndarray::SharedArray<I>>,
{
}

#[cfg(feature = "flex")]
impl PdScanBackend for burn_flex::Flex {}

/// No CubeCL kernel yet: the host kernels through a round trip (a device sync per call).
#[cfg(feature = "cube")]
impl<R, F, I, BT> PdScanBackend for burn_cubecl::CubeBackend<R, F, I, BT>
where
    R: burn_cubecl::CubeRuntime,
    F: burn_cubecl::FloatElement,
    I: burn_cubecl::IntElement,
    BT: burn_cubecl::BoolElement,
{
}

fn float<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

fn wrap<B: Backend, const D: usize>(p: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

impl<B: Backend> PdScanInput<B> {
    /// Checks every shape against `d_re`; returns the sizes.
    pub fn validate(&self) -> Result<PdDims, ScanError> {
        let full = self.d_re.dims();
        expect_nonempty(OP, "d_re", &full)?;
        let [batch, len, n] = full;
        match &self.index {
            Some(index) => expect_shape(OP, "index", &index.dims(), &full)?,
            None if self.surrogate != PdSurrogate::SoftmaxLogits
                || self.transition_surrogate.is_none() =>
            {
                return Err(ScanError::Missing {
                    op: OP,
                    field: "index",
                    reason: "without ids the transition surrogate must hold softmax logits",
                })
            }
            None => {}
        }
        expect_shape(OP, "d_im", &self.d_im.dims(), &full)?;
        expect_shape(OP, "b_re", &self.b_re.dims(), &full)?;
        expect_shape(OP, "b_im", &self.b_im.dims(), &full)?;
        if let Some((re, im)) = &self.initial_state {
            expect_shape(OP, "initial_state.re", &re.dims(), &[batch, n])?;
            expect_shape(OP, "initial_state.im", &im.dims(), &[batch, n])?;
        }
        if let Some(s) = &self.transition_surrogate {
            expect_shape(OP, "transition_surrogate", &s.dims(), &[batch, len, n, n])?;
        }
        Ok(PdDims { batch, len, n })
    }

    /// The inputs as backend primitives.
    pub fn into_primitives(self) -> PdScanPrimitives<B> {
        PdScanPrimitives {
            index: self.index.map(|i| i.into_primitive()),
            d_re: float(self.d_re),
            d_im: float(self.d_im),
            b_re: float(self.b_re),
            b_im: float(self.b_im),
            initial_state: self.initial_state.map(|(re, im)| (float(re), float(im))),
            transition_surrogate: self.transition_surrogate.map(float),
            surrogate: self.surrogate,
            form: self.form,
        }
    }
}

/// The PD-SSM scan (module docs). Returns every state `(h_re, h_im)`, each `(batch, len, n)`;
/// the last step is the state to feed back as `initial_state` to continue the sequence.
///
/// Ids in `index` are not range-checked here (that needs a device sync); out-of-range ids are
/// clamped into `0..n`. [`try_pd_scan`] checks them.
///
/// # Panics
/// On inconsistent shapes.
pub fn pd_scan<B: PdScanBackend>(input: PdScanInput<B>) -> (Tensor<B, 3>, Tensor<B, 3>) {
    checked(input, false).unwrap_or_else(|e| panic!("{e}"))
}

/// [`pd_scan`] returning a [`ScanError`] on inconsistent shapes or an id outside `0..n` (reads
/// the ids back to the host once: a device sync on GPU backends).
pub fn try_pd_scan<B: PdScanBackend>(
    input: PdScanInput<B>,
) -> Result<(Tensor<B, 3>, Tensor<B, 3>), ScanError> {
    checked(input, true)
}

fn checked<B: PdScanBackend>(
    input: PdScanInput<B>,
    check_ids: bool,
) -> Result<(Tensor<B, 3>, Tensor<B, 3>), ScanError> {
    let d = input.validate()?;
    if let (true, Some(index)) = (check_ids, &input.index) {
        let ids = index.clone().into_data().convert::<i64>();
        let ids = ids
            .as_slice::<i64>()
            .map_err(|e| ScanError::Data(format!("{e:?}")))?;
        if let Some((pos, &id)) = ids
            .iter()
            .enumerate()
            .find(|(_, &v)| v < 0 || v as usize >= d.n)
        {
            return Err(ScanError::IndexOutOfRange {
                op: OP,
                field: "index",
                position: pos,
                id,
                bound: d.n,
            });
        }
    }
    let packed: Tensor<B, 4> = wrap(B::pd_scan_forward(input.into_primitives()));
    let shape = [d.batch, d.len, d.n];
    let re = packed.clone().slice(0..1).reshape(shape);
    let im = packed.slice(1..2).reshape(shape);
    Ok((re, im))
}
