//! DeltaNet (Schlag et al. 2021; Yang et al. 2024) as flash-linear-attention's
//! `fla/layers/delta_net.py`: `S_t = (I − β_t k̂_t k̂_tᵀ) S_{t−1} + β_t k̂_t v_tᵀ`, `o_t = S_tᵀ q̂_t / √K`,
//! with short convolutions, L2-normalised q and k, a per-head output RMSNorm (gated with
//! `use_gate`), and `allow_neg_eigval` (Grazzi et al. 2025: β ∈ (0, 2), so the transition has
//! the eigenvalue 1 − β ∈ (−1, 1) along k̂ and can reflect; parity needs it).
//!
//! The computation is the shared [`super::delta_block`] with one Householder step and no forget
//! gate, on kleene-scan's delta rule.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::delta_block::{delta_mixer, DeltaBlock, DeltaBlockShape};
use crate::validate::ensure;
use crate::ZooError;

/// Configuration of a [`DeltaNet`] layer (fla's `DeltaNet` defaults unless noted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeltaNetConfig {
    /// Number of heads; must divide `d_model · expand_k` and `d_model · expand_v`. Default 4.
    pub n_heads: usize,
    /// Key width `d_model · expand_k` in all. Default 1.
    pub expand_k: usize,
    /// Value width `d_model · expand_v` in all. Default 1.
    pub expand_v: usize,
    /// Causal depthwise convolutions (with SiLU) before q, k, v; without them SiLU only.
    /// Default true.
    pub use_short_conv: bool,
    /// Width of those convolutions. Default 4.
    pub conv_size: usize,
    /// Output gate `silu(W_g x)` after the norm. Default false.
    pub use_gate: bool,
    /// β ∈ (0, 2) instead of (0, 1): transition eigenvalues in (−1, 1] (Grazzi et al. 2025).
    /// Default false.
    pub allow_neg_eigval: bool,
    /// Epsilon of the output RMSNorm. Default 1e-5.
    pub norm_eps: f64,
}

impl Default for DeltaNetConfig {
    fn default() -> Self {
        Self {
            n_heads: 4,
            expand_k: 1,
            expand_v: 1,
            use_short_conv: true,
            conv_size: 4,
            use_gate: false,
            allow_neg_eigval: false,
            norm_eps: 1e-5,
        }
    }
}

impl DeltaNetConfig {
    fn shape(&self, d_model: usize) -> Result<DeltaBlockShape, ZooError> {
        let h = self.n_heads.max(1);
        for (field, width) in [
            ("delta_net.expand_k", d_model * self.expand_k),
            ("delta_net.expand_v", d_model * self.expand_v),
        ] {
            ensure(
                width.is_multiple_of(h),
                "delta_net.n_heads",
                format!("must divide {field} · d_model = {width}, got {h}"),
            )?;
        }
        let shape = DeltaBlockShape {
            d_model,
            heads: self.n_heads,
            head_k: d_model * self.expand_k / h,
            head_v: d_model * self.expand_v / h,
            householder: 1,
            forget_gate: false,
            output_gate: self.use_gate,
            conv_size: self.use_short_conv.then_some(self.conv_size),
            allow_neg_eigval: self.allow_neg_eigval,
            norm_eps: self.norm_eps,
        };
        ensure(self.expand_k > 0, "delta_net.expand_k", "must be > 0")?;
        ensure(self.expand_v > 0, "delta_net.expand_v", "must be > 0")?;
        shape.validate("delta_net")?;
        Ok(shape)
    }
}

delta_mixer!(
    /// The DeltaNet layer; see the module docs.
    DeltaNet,
    DeltaNetConfig
);
