//! Gated DeltaNet (Yang et al. 2025) as flash-linear-attention's `fla/layers/gated_deltanet.py`:
//! `S_t = α_t (I − β_t k̂_t k̂_tᵀ) S_{t−1} + β_t k̂_t v_tᵀ`, `α_t = exp(−exp(A_log) ·
//! softplus(W_a x_t + dt_bias))`, with short convolutions, L2-normalised q and k, the gated
//! per-head RMSNorm, and `allow_neg_eigval` (β ∈ (0, 2)).
//!
//! The computation is the shared [`super::delta_block`] with one Householder step and the forget
//! gate, on kleene-scan's delta rule. fla's default `head_dim` is 256 with 6 heads (for
//! `d_model` 2048); here `head_dim` defaults to `d_model / n_heads`, for the small models of
//! formal-language experiments.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::delta_block::{delta_mixer, DeltaBlock, gated_shape, DeltaBlockShape};
use crate::ZooError;

/// Configuration of a [`GatedDeltaNet`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatedDeltaNetConfig {
    /// Number of heads. Default 4.
    pub n_heads: usize,
    /// Key width per head; `null` is `d_model / n_heads` (which must divide). Default null.
    pub head_dim: Option<usize>,
    /// Value width per head is `head_dim · expand_v`. Default 2 (fla).
    pub expand_v: usize,
    /// Output gate `silu(W_g x)` after the norm. Default true.
    pub use_gate: bool,
    /// Causal depthwise convolutions (with SiLU) before q, k, v. Default true.
    pub use_short_conv: bool,
    /// Width of those convolutions. Default 4.
    pub conv_size: usize,
    /// β ∈ (0, 2) instead of (0, 1) (Grazzi et al. 2025). Default false.
    pub allow_neg_eigval: bool,
    /// Epsilon of the output RMSNorm. Default 1e-5.
    pub norm_eps: f64,
}

impl Default for GatedDeltaNetConfig {
    fn default() -> Self {
        Self {
            n_heads: 4,
            head_dim: None,
            expand_v: 2,
            use_gate: true,
            use_short_conv: true,
            conv_size: 4,
            allow_neg_eigval: false,
            norm_eps: 1e-5,
        }
    }
}

impl GatedDeltaNetConfig {
    fn shape(&self, d_model: usize) -> Result<DeltaBlockShape, ZooError> {
        gated_shape(
            "gated_delta_net",
            d_model,
            self.n_heads,
            self.head_dim,
            self.expand_v,
            1,
            true,
            self.use_gate,
            self.use_short_conv.then_some(self.conv_size),
            self.allow_neg_eigval,
            self.norm_eps,
        )
    }
}

delta_mixer!(
    /// The Gated DeltaNet layer; see the module docs.
    GatedDeltaNet,
    GatedDeltaNetConfig
);
