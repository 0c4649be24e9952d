//! The recurrence of a DeltaProduct layer (fla's `fused_recurrent_gated_delta_product` with
//! `use_qk_l2norm_in_kernel`), in the layer's own layouts: `n` Householder sub-steps per token,
//! keys and query L2-normalised inside, the state read once per token. DeltaNet (`n = 1`, no
//! decay) and Gated DeltaNet (`n = 1`, decay) are special cases.
//!
//! Per batch element, head and token `t` (`k̂ = k / sqrt(Σk² + 1e-6)`, likewise `q̂`):
//! ```text
//! S ← α_t S                                                     (α = 1 without decay)
//! for j < n:  S ← S − β_{t,j} k̂_{t,j} (k̂_{t,j}ᵀ S) + k̂_{t,j} (β_{t,j} v_{t,j})ᵀ
//! o_t = scale · Sᵀ q̂_t
//! ```
//! i.e. the delta rule ([`super::delta_rule`]) on the micro-sequence of `L·n` sub-steps with
//! `a = −k̂`, `b = c β k̂`, `w = c`, write `(k̂, β v)` and a read-out after the last sub-step of every
//! token, where `c = α_t` at sub-step 0 and 1 elsewhere.
//!
//! Layouts (fla's, the projections' own): `q (B, L, H, dk)`, `k (B, L, n, H, dk)`,
//! `v (B, L, n, H, dv)`, `β (B, L, n, H)`, `α (B, L, H)`, state `(B, H, dk, dv)`; output
//! `o (B, L, H, dv)`.
//!
//! Two forms:
//! - fused (the CPU backends, [`super::product_host`]): per sequence, the normalisation and the
//!   micro-sequence are built in a scratch buffer, the delta-rule kernels run with a read-out
//!   every `n` steps, and the backward applies the chain rule through the normalisation and the
//!   gates in the same pass: one autodiff node instead of ~30 tensor ops and their copies;
//! - [`composed`]: the same from Burn tensor ops around [`super::delta_rule`] (the CubeCL
//!   backends, where it keeps the work on the device; and the tests' reference).

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorMetadata};

use super::{delta_rule, float, wrap, DeltaDims, DeltaRuleBackend, DeltaRuleInput};
use crate::error::{expect_nonempty, expect_shape, ScanError};

/// Epsilon inside the square root of the q/k L2 norm (fla's `l2norm`).
pub const L2_EPS: f32 = 1e-6;

/// Inputs of [`delta_product`] (layouts in the module docs).
#[derive(Debug, Clone)]
pub struct DeltaProductInput<B: Backend> {
    /// Queries `(batch, len, heads, dk)`, before normalisation.
    pub q: Tensor<B, 4>,
    /// Keys `(batch, len, n, heads, dk)`, before normalisation.
    pub k: Tensor<B, 5>,
    /// Values `(batch, len, n, heads, dv)`.
    pub v: Tensor<B, 5>,
    /// Write strengths `β (batch, len, n, heads)`.
    pub beta: Tensor<B, 4>,
    /// Decay `α (batch, len, heads)`, applied before a token's first sub-step; `None` is 1.
    pub alpha: Option<Tensor<B, 3>>,
    /// State before the first token `(batch, heads, dk, dv)`; `None` is 0.
    pub initial_state: Option<Tensor<B, 4>>,
    /// Factor of the normalised query (fla: `dk^-½`).
    pub scale: f32,
}

/// [`DeltaProductInput`] as backend primitives.
#[derive(Debug, Clone)]
pub struct DeltaProductPrimitives<B: Backend> {
    pub q: FloatTensor<B>,
    pub k: FloatTensor<B>,
    pub v: FloatTensor<B>,
    pub beta: FloatTensor<B>,
    pub alpha: Option<FloatTensor<B>>,
    pub initial_state: Option<FloatTensor<B>>,
    pub scale: f32,
}

/// Gradients of [`delta_product`] (an optional one is `Some` exactly when the input was given).
#[derive(Debug, Clone)]
pub struct DeltaProductGrads<B: Backend> {
    pub q: FloatTensor<B>,
    pub k: FloatTensor<B>,
    pub v: FloatTensor<B>,
    pub beta: FloatTensor<B>,
    pub alpha: Option<FloatTensor<B>>,
    pub initial_state: Option<FloatTensor<B>>,
}

/// Sizes of one [`delta_product`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductDims {
    pub batch: usize,
    pub len: usize,
    /// Householder sub-steps per token `n`.
    pub householder: usize,
    pub heads: usize,
    pub dk: usize,
    pub dv: usize,
}

impl ProductDims {
    /// The delta rule's sizes for one sequence's micro-sequence (`len · n` steps).
    pub fn micro_seq(&self) -> DeltaDims {
        DeltaDims {
            batch: 1,
            heads: 1,
            len: self.len * self.householder,
            dk: self.dk,
            dv: self.dv,
        }
    }

    /// `batch · heads`: the independent recurrences.
    pub fn sequences(&self) -> usize {
        self.batch * self.heads
    }
}

impl<B: Backend> DeltaProductPrimitives<B> {
    /// The sizes, read off the shapes of `k` and `v`.
    pub fn dims(&self) -> ProductDims {
        let (ks, vs) = (self.k.shape(), self.v.shape());
        ProductDims {
            batch: ks[0],
            len: ks[1],
            householder: ks[2],
            heads: ks[3],
            dk: ks[4],
            dv: vs[4],
        }
    }
}

impl<B: Backend> DeltaProductInput<B> {
    /// Checks every shape against `k` and `v`; returns the sizes.
    pub fn validate(&self) -> Result<ProductDims, ScanError> {
        const OP: &str = "delta_product";
        let [batch, len, n, heads, dk] = self.k.dims();
        expect_nonempty(OP, "k", &self.k.dims())?;
        let dv = self.v.dims()[4];
        expect_nonempty(OP, "v", &self.v.dims())?;
        expect_shape(OP, "v", &self.v.dims(), &[batch, len, n, heads, dv])?;
        expect_shape(OP, "q", &self.q.dims(), &[batch, len, heads, dk])?;
        expect_shape(OP, "beta", &self.beta.dims(), &[batch, len, n, heads])?;
        if let Some(alpha) = &self.alpha {
            expect_shape(OP, "alpha", &alpha.dims(), &[batch, len, heads])?;
        }
        if let Some(s0) = &self.initial_state {
            expect_shape(OP, "initial_state", &s0.dims(), &[batch, heads, dk, dv])?;
        }
        Ok(ProductDims {
            batch,
            len,
            householder: n,
            heads,
            dk,
            dv,
        })
    }

    /// The inputs as backend primitives.
    pub fn into_primitives(self) -> DeltaProductPrimitives<B> {
        DeltaProductPrimitives {
            q: float(self.q),
            k: float(self.k),
            v: float(self.v),
            beta: float(self.beta),
            alpha: self.alpha.map(float),
            initial_state: self.initial_state.map(float),
            scale: self.scale,
        }
    }

    /// The delta rule's inputs over the micro-sequence of `len · n` sub-steps, heads first
    /// (the query zero at every sub-step but a token's last), built from tensor ops: the
    /// transitions `diag(w) + b aᵀ` of the layer, and the input of [`composed`].
    pub fn micro_inputs(self) -> DeltaRuleInput<B> {
        let [batch, len, n, h, dk] = self.k.dims();
        let dv = self.v.dims()[4];
        let steps = len * n;
        // (B, L, n, H, c) -> (B, H, L·n, c): the micro-sequence t·n + j.
        let micro =
            |t: Tensor<B, 5>, c: usize| t.permute([0, 3, 1, 2, 4]).reshape([batch, h, steps, c]);
        let k = l2_normalise(micro(self.k, dk));
        let beta = micro(self.beta.reshape([batch, len, n, h, 1]), 1); // (B, H, L·n, 1)
        let v = micro(self.v, dv) * beta.clone();
        let q = l2_normalise(self.q.swap_dims(1, 2))
            .mul_scalar(self.scale)
            .unsqueeze_dim::<5>(3); // (B, H, L, 1, dk)
        let q = if n > 1 {
            let zeros = Tensor::zeros([batch, h, len, n - 1, dk], &q.device());
            Tensor::cat(vec![zeros, q], 3)
        } else {
            q
        }
        .reshape([batch, h, steps, dk]);
        // α at sub-step 0 of every token, 1 elsewhere, laid out as β through the same
        // reshape/permute path (a `swap_dims` of a length-1 time axis followed by a reshape gave
        // wrong values on burn-wgpu)
        let alpha = self.alpha.map(|alpha| {
            let alpha = alpha.reshape([batch, len, 1, h]);
            let alpha = if n > 1 {
                let ones = Tensor::ones([batch, len, n - 1, h], &alpha.device());
                Tensor::cat(vec![alpha, ones], 2)
            } else {
                alpha
            };
            micro(alpha.reshape([batch, len, n, h, 1]), 1) // (B, H, L·n, 1)
        });
        let b = match &alpha {
            Some(alpha) => k.clone() * beta * alpha.clone(),
            None => k.clone() * beta,
        };
        DeltaRuleInput {
            q,
            a: k.clone().neg(),
            b,
            w: alpha.map(|a| a.expand([batch, h, steps, dk])),
            v,
            k,
            initial_state: self.initial_state,
        }
    }
}

/// `x / sqrt(Σ x² + 1e-6)` over the last dimension.
fn l2_normalise<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let norm = x
        .clone()
        .powi_scalar(2)
        .sum_dim(3)
        .add_scalar(L2_EPS)
        .sqrt();
    x / norm
}

/// The DeltaProduct recurrence (module docs). Returns `(o (batch, len, heads, dv), S_final
/// (batch, heads, dk, dv))`; feed `S_final` back as `initial_state` to continue.
///
/// # Panics
/// On inconsistent shapes ([`try_delta_product`] returns the error instead).
pub fn delta_product<B: DeltaRuleBackend>(
    input: DeltaProductInput<B>,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    try_delta_product(input).unwrap_or_else(|e| panic!("{e}"))
}

/// [`delta_product`] with shape errors returned.
pub fn try_delta_product<B: DeltaRuleBackend>(
    input: DeltaProductInput<B>,
) -> Result<(Tensor<B, 4>, Tensor<B, 4>), ScanError> {
    let d = input.validate()?;
    if !B::delta_product_fused() {
        return Ok(composed(input));
    }
    let packed: Tensor<B, 1> = wrap(B::delta_product_forward(input.into_primitives()));
    let o_len = d.sequences() * d.len * d.dv;
    let o = packed
        .clone()
        .slice(0..o_len)
        .reshape([d.batch, d.len, d.heads, d.dv]);
    let last = packed
        .slice(o_len..o_len + d.sequences() * d.dk * d.dv)
        .reshape([d.batch, d.heads, d.dk, d.dv]);
    Ok((o, last))
}

/// [`delta_product`] from tensor ops around [`delta_rule`] (same contract; shapes unchecked).
pub fn composed<B: DeltaRuleBackend>(input: DeltaProductInput<B>) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let [batch, len, n, h, _] = input.k.dims();
    let dv = input.v.dims()[4];
    let (o, s) = delta_rule(input.micro_inputs());
    let o = o
        .reshape([batch, h, len, n, dv])
        .narrow(3, n - 1, 1)
        .reshape([batch, h, len, dv])
        .swap_dims(1, 2);
    (o, s)
}
