//! The generalized delta rule: one recurrence behind DeltaNet, Gated DeltaNet, Gated
//! DeltaProduct and RWKV-7 (flash-linear-attention's `fla/ops/generalized_delta_rule`, DPLR form).
//!
//! Per batch element and head, with a key-major state `S ∈ R^{dk×dv}` (`S_{-1} = S0` or 0):
//! ```text
//! u_t = a_tᵀ S_{t-1}                                  (dv)
//! S_t = diag(w_t) S_{t-1} + b_t u_t + k_t v_tᵀ         (w_t = 1 when `w` is absent)
//! o_t = S_tᵀ q_t                                      (the readout includes token t)
//! ```
//! i.e. the transition is `diag(w_t) + b_t a_tᵀ` (diagonal plus rank one). The layers map onto it
//! as (k̂ the L2-normalised key, β the write strength, α a decay):
//! - DeltaNet: `a = −k̂`, `b = β k̂`, write `(k̂, β v)`; transition `I − β k̂k̂ᵀ`.
//! - Gated DeltaNet: `w = α`, `a = −k̂`, `b = α β k̂`; transition `α (I − β k̂k̂ᵀ)`.
//! - Gated DeltaProduct: the same on the micro-sequence of `n_h` sub-steps per token.
//! - RWKV-7: `w = exp(decay)`, `a = −κ̂`, `b = κ̂ ⊙ a_gate` (fla's DPLR `a`, `b`, `gk`).
//!
//! Layout: heads-first, `(batch, heads, len, dk)` for `q`, `k`, `a`, `b`, `w` and
//! `(batch, heads, len, dv)` for `v` and the output; states `(batch, heads, dk, dv)`.
//!
//! Implementations (one file each):
//! - [`host`]: the multi-threaded plain-Rust forward and hand-written backward (threads over
//!   batch × heads; the backward recomputes states from checkpoints every ~√L steps, so memory is
//!   O(L) for the inputs plus O(√L · dk · dv) per task, never one state per step). The default
//!   of [`DeltaRuleBackend`]: burn-ndarray and burn-flex borrow their buffers in place; other
//!   backends make a host round trip.
//! - [`mod@reference`]: the same recurrence from Burn tensor ops (differentiable by Burn's autodiff):
//!   the baseline for benchmarks and a second oracle for the backward.
//! - [`naive`]: a float64 loop over explicitly formed transition matrices, the test oracle.
//! - `cube` (feature `cube`): CubeCL kernels for `CubeBackend` (burn-wgpu, burn-cuda): one cube
//!   per sequence, one unit per state column in the forward; the backward recomputes the states
//!   from checkpoints and reduces over columns by switching to one unit per state row.
//! - `Autodiff<B>`: one graph node whose backward calls [`DeltaRuleBackend::delta_rule_backward`].
//!
//! [`product`]: the recurrence of a DeltaProduct layer (and DeltaNet, Gated DeltaNet) in the
//! layer's own layouts, key/query normalisation inside: fused on the CPU backends
//! ([`product_host`]), composed from tensor ops around the delta rule elsewhere.

mod autodiff;
#[cfg(feature = "cube")]
pub mod cube;
pub mod host;
pub mod naive;
pub mod product;
pub mod product_host;
pub mod reference;

pub use product::{
    delta_product, try_delta_product, DeltaProductGrads, DeltaProductInput, DeltaProductPrimitives,
    ProductDims,
};

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorMetadata, TensorPrimitive};

use crate::error::{expect_nonempty, expect_shape, ScanError};

const OP: &str = "delta_rule";

/// Inputs of [`delta_rule`] (shapes in the module docs).
#[derive(Debug, Clone)]
pub struct DeltaRuleInput<B: Backend> {
    /// Readout vectors `(batch, heads, len, dk)`.
    pub q: Tensor<B, 4>,
    /// Write keys `(batch, heads, len, dk)`.
    pub k: Tensor<B, 4>,
    /// Write values `(batch, heads, len, dv)`.
    pub v: Tensor<B, 4>,
    /// Read-out direction of the rank-one term `(batch, heads, len, dk)`: `u = aᵀS`.
    pub a: Tensor<B, 4>,
    /// Write-back direction of the rank-one term `(batch, heads, len, dk)`: `S += b u`.
    pub b: Tensor<B, 4>,
    /// Diagonal decay `(batch, heads, len, dk)`; `None` is 1 (no decay).
    pub w: Option<Tensor<B, 4>>,
    /// State before the first step `(batch, heads, dk, dv)`; `None` is 0.
    pub initial_state: Option<Tensor<B, 4>>,
}

/// [`DeltaRuleInput`] as backend primitives.
#[derive(Debug, Clone)]
pub struct DeltaRulePrimitives<B: Backend> {
    /// `(batch, heads, len, dk)`
    pub q: FloatTensor<B>,
    /// `(batch, heads, len, dk)`
    pub k: FloatTensor<B>,
    /// `(batch, heads, len, dv)`
    pub v: FloatTensor<B>,
    /// `(batch, heads, len, dk)`
    pub a: FloatTensor<B>,
    /// `(batch, heads, len, dk)`
    pub b: FloatTensor<B>,
    /// `(batch, heads, len, dk)`
    pub w: Option<FloatTensor<B>>,
    /// `(batch, heads, dk, dv)`
    pub initial_state: Option<FloatTensor<B>>,
}

impl<B: Backend> DeltaRulePrimitives<B> {
    /// The sizes, read off the shapes of `q` and `v`.
    pub fn dims(&self) -> DeltaDims {
        let (qs, vs) = (self.q.shape(), self.v.shape());
        DeltaDims {
            batch: qs[0],
            heads: qs[1],
            len: qs[2],
            dk: qs[3],
            dv: vs[3],
        }
    }
}

/// Gradients of the delta rule with respect to every input (an optional one is `Some` exactly
/// when the input was given).
#[derive(Debug, Clone)]
pub struct DeltaRuleGrads<B: Backend> {
    /// d/dq
    pub q: FloatTensor<B>,
    /// d/dk
    pub k: FloatTensor<B>,
    /// d/dv
    pub v: FloatTensor<B>,
    /// d/da
    pub a: FloatTensor<B>,
    /// d/db
    pub b: FloatTensor<B>,
    /// d/dw
    pub w: Option<FloatTensor<B>>,
    /// d/dS0
    pub initial_state: Option<FloatTensor<B>>,
}

/// Sizes of one delta-rule call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaDims {
    /// Batch size.
    pub batch: usize,
    /// Number of heads (independent recurrences per batch element).
    pub heads: usize,
    /// Sequence length.
    pub len: usize,
    /// Key width per head (rows of the state).
    pub dk: usize,
    /// Value width per head (columns of the state).
    pub dv: usize,
}

impl DeltaDims {
    /// `batch * heads`: the number of independent recurrences.
    pub fn sequences(&self) -> usize {
        self.batch * self.heads
    }
}

/// Backends that provide the delta rule. The defaults are the plain-Rust [`host`] kernels (a
/// host round trip off the CPU); `Autodiff<B>` wires the backward into Burn's graph.
///
/// The forward returns one packed 1-D tensor `[o (batch·heads·len·dv) | S_final
/// (batch·heads·dk·dv)]` (one output keeps the autodiff graph to one node); the backward
/// receives the gradient of that packed tensor.
pub trait DeltaRuleBackend: Backend {
    /// Forward; returns the packed `[o | final state]`.
    fn delta_rule_forward(input: DeltaRulePrimitives<Self>) -> FloatTensor<Self> {
        host::forward_primitives::<Self>(input)
    }

    /// Backward from the gradient of the packed output (recomputes the states).
    fn delta_rule_backward(
        input: DeltaRulePrimitives<Self>,
        grad: FloatTensor<Self>,
    ) -> DeltaRuleGrads<Self> {
        host::backward_primitives::<Self>(input, grad)
    }

    /// Whether [`delta_product`] runs fused here (the CPU backends: [`product_host`], one node)
    /// or as [`product::composed`] tensor ops around the delta rule (where a host round trip
    /// would cost more than the ops: the CubeCL backends).
    fn delta_product_fused() -> bool {
        true
    }

    /// Fused DeltaProduct forward; returns the packed `[o | final state]`.
    fn delta_product_forward(input: DeltaProductPrimitives<Self>) -> FloatTensor<Self> {
        product_host::forward_primitives::<Self>(input)
    }

    /// Fused DeltaProduct backward from the gradient of the packed output.
    fn delta_product_backward(
        input: DeltaProductPrimitives<Self>,
        grad: FloatTensor<Self>,
    ) -> DeltaProductGrads<Self> {
        product_host::backward_primitives::<Self>(input, grad)
    }
}

impl<E, I, Q> DeltaRuleBackend for burn_ndarray::NdArray<E, I, Q>
where
    E: burn_ndarray::FloatNdArrayElement,
    I: burn_ndarray::IntNdArrayElement,
    Q: burn_ndarray::QuantElement,
    burn_ndarray::NdArrayTensor: From<burn_ndarray::SharedArray<E>>,
    burn_ndarray::NdArrayTensor: From<burn_ndarray::SharedArray<I>>,
{
}

#[cfg(feature = "flex")]
impl DeltaRuleBackend for burn_flex::Flex {}

fn float<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

fn wrap<B: Backend, const D: usize>(p: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

impl<B: Backend> DeltaRuleInput<B> {
    /// Checks every shape against `q` and `v`; returns the sizes.
    pub fn validate(&self) -> Result<DeltaDims, ScanError> {
        let [batch, heads, len, dk] = self.q.dims();
        expect_nonempty(OP, "q", &self.q.dims())?;
        let [vb, vh, vl, dv] = self.v.dims();
        expect_nonempty(OP, "v", &self.v.dims())?;
        expect_shape(OP, "v", &[vb, vh, vl, dv], &[batch, heads, len, dv])?;
        let key = [batch, heads, len, dk];
        expect_shape(OP, "k", &self.k.dims(), &key)?;
        expect_shape(OP, "a", &self.a.dims(), &key)?;
        expect_shape(OP, "b", &self.b.dims(), &key)?;
        if let Some(w) = &self.w {
            expect_shape(OP, "w", &w.dims(), &key)?;
        }
        if let Some(s0) = &self.initial_state {
            expect_shape(OP, "initial_state", &s0.dims(), &[batch, heads, dk, dv])?;
        }
        Ok(DeltaDims {
            batch,
            heads,
            len,
            dk,
            dv,
        })
    }

    /// The inputs as backend primitives.
    pub fn into_primitives(self) -> DeltaRulePrimitives<B> {
        DeltaRulePrimitives {
            q: float(self.q),
            k: float(self.k),
            v: float(self.v),
            a: float(self.a),
            b: float(self.b),
            w: self.w.map(float),
            initial_state: self.initial_state.map(float),
        }
    }
}

/// The generalized delta rule (module docs). Returns `(o (batch, heads, len, dv), S_final
/// (batch, heads, dk, dv))`; feed `S_final` back as `initial_state` to continue the sequence.
///
/// # Panics
/// On inconsistent shapes ([`try_delta_rule`] returns the error instead).
pub fn delta_rule<B: DeltaRuleBackend>(input: DeltaRuleInput<B>) -> (Tensor<B, 4>, Tensor<B, 4>) {
    try_delta_rule(input).unwrap_or_else(|e| panic!("{e}"))
}

/// [`delta_rule`] with shape errors returned.
pub fn try_delta_rule<B: DeltaRuleBackend>(
    input: DeltaRuleInput<B>,
) -> Result<(Tensor<B, 4>, Tensor<B, 4>), ScanError> {
    let d = input.validate()?;
    let packed: Tensor<B, 1> = wrap(B::delta_rule_forward(input.into_primitives()));
    let o_len = d.sequences() * d.len * d.dv;
    let o = packed
        .clone()
        .slice(0..o_len)
        .reshape([d.batch, d.heads, d.len, d.dv]);
    let last = packed
        .slice(o_len..o_len + d.sequences() * d.dk * d.dv)
        .reshape([d.batch, d.heads, d.dk, d.dv]);
    Ok((o, last))
}
