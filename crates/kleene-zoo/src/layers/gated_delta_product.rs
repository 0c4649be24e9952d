//! Gated DeltaProduct (Siems et al. 2025) as flash-linear-attention's
//! `fla/layers/gated_deltaproduct.py`: `num_householder` delta-rule sub-steps per token, each with
//! its own key, value and β, so the transition is `α_t Π_j (I − β_{t,j} k̂_{t,j} k̂_{t,j}ᵀ)`
//! (identity plus rank `num_householder`; two reflections compose into a rotation).
//!
//! The computation is the shared [`super::delta_block`] over the micro-sequence of sub-steps, on
//! kleene-scan's delta rule. Defaults are the fla layer's (`num_householder` 2,
//! `allow_neg_eigval` on, forget gate on); fla's model config uses 1 / off / off, and
//! `num_householder = 1` with the forget gate is exactly Gated DeltaNet.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::delta_block::{delta_mixer, DeltaBlock, gated_shape, DeltaBlockShape};
use crate::ZooError;

/// Configuration of a [`GatedDeltaProduct`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatedDeltaProductConfig {
    /// Number of heads. Default 4.
    pub n_heads: usize,
    /// Key width per head; `null` is `d_model / n_heads` (which must divide). Default null.
    pub head_dim: Option<usize>,
    /// Value width per head is `head_dim · expand_v`. Default 2 (fla).
    pub expand_v: usize,
    /// Householder sub-steps per token (>= 1). Default 2.
    pub num_householder: usize,
    /// The forget gate `α`. Default true.
    pub use_forget_gate: bool,
    /// Output gate `silu(W_g x)` after the norm. Default true.
    pub use_output_gate: bool,
    /// Causal depthwise convolutions (with SiLU) before q, k, v. Default true.
    pub use_short_conv: bool,
    /// Width of those convolutions. Default 4.
    pub conv_size: usize,
    /// β ∈ (0, 2) instead of (0, 1). Default true.
    pub allow_neg_eigval: bool,
    /// Epsilon of the output RMSNorm. Default 1e-5.
    pub norm_eps: f64,
}

impl Default for GatedDeltaProductConfig {
    fn default() -> Self {
        Self {
            n_heads: 4,
            head_dim: None,
            expand_v: 2,
            num_householder: 2,
            use_forget_gate: true,
            use_output_gate: true,
            use_short_conv: true,
            conv_size: 4,
            allow_neg_eigval: true,
            norm_eps: 1e-5,
        }
    }
}

impl GatedDeltaProductConfig {
    fn shape(&self, d_model: usize) -> Result<DeltaBlockShape, ZooError> {
        gated_shape(
            "gated_delta_product",
            d_model,
            self.n_heads,
            self.head_dim,
            self.expand_v,
            self.num_householder,
            self.use_forget_gate,
            self.use_output_gate,
            self.use_short_conv.then_some(self.conv_size),
            self.allow_neg_eigval,
            self.norm_eps,
        )
    }
}

delta_mixer!(
    /// The Gated DeltaProduct layer; see the module docs.
    GatedDeltaProduct,
    GatedDeltaProductConfig
);
