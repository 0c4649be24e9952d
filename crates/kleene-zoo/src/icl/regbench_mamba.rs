//! The REGBENCH Mamba mixer (`dfa/mamba`, `mamba_ssm.Mamba` with its defaults) as an ICL-zoo
//! layer. The mixer itself is [`crate::mamba::MambaMixer`] (Mamba-1: in-projection, causal
//! depthwise conv, selective scan, SiLU gate, out-projection); this module only configures it
//! the way REGBENCH does: `d_state = 16`, `d_conv = 4`, `expand = 2`, `dt_rank = ceil(d/16)`,
//! Δ log-uniform in `[1e-3, 1e-1]` floored at `1e-4`, `A_log = log(1..=16)`, `D = 1`.
//!
//! The paper's "Mamba" is this mixer inside the `no_ffn_faithful` backbone: one Mamba layer on
//! the raw embeddings whatever `n_layer` is swept (spec §3.1.2); `no_ffn` gives the proper
//! pre-norm residual stack (`mamba_ssm.MixerModel`). Upstream's `_no_weight_decay` flags are
//! ignored by REGBENCH's optimizer, so `A_log` and `D` get weight decay like everything else
//! (a trainer concern, noted here for reproduction).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::util::{ensure, ensure_range};
use crate::config::MambaConfig;
use crate::mamba::MambaMixer;
use crate::ZooError;

/// Configuration of the REGBENCH Mamba mixer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegbenchMambaConfig {
    /// SSM state size `N` per channel. > 0. Default 16.
    pub d_state: usize,
    /// Width of the causal depthwise convolution. > 0. Default 4.
    pub d_conv: usize,
    /// Inner width factor (`d_inner = expand · d`). > 0. Default 2.
    pub expand: usize,
    /// Rank of the Δ projection; `None` = `ceil(d / 16)`. Default `None`.
    pub dt_rank: Option<usize>,
    /// Lower end of the log-uniform Δ init. Default 1e-3.
    pub dt_min: f64,
    /// Upper end of the log-uniform Δ init. Default 1e-1.
    pub dt_max: f64,
    /// Floor of the initial Δ. Default 1e-4.
    pub dt_init_floor: f64,
}

impl Default for RegbenchMambaConfig {
    fn default() -> Self {
        Self {
            d_state: 16,
            d_conv: 4,
            expand: 2,
            dt_rank: None,
            dt_min: 1e-3,
            dt_max: 1e-1,
            dt_init_floor: 1e-4,
        }
    }
}

impl RegbenchMambaConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(self.d_state > 0, "mamba.d_state", "must be > 0")?;
        ensure(self.d_conv > 0, "mamba.d_conv", "must be > 0")?;
        ensure(self.expand > 0, "mamba.expand", "must be > 0")?;
        ensure(
            self.dt_rank != Some(0),
            "mamba.dt_rank",
            "must be > 0 (or null for ceil(d_model / 16))",
        )?;
        ensure_range(self.dt_min, self.dt_max, "mamba.dt_min", "mamba.dt_max")?;
        ensure(
            self.dt_init_floor.is_finite() && self.dt_init_floor > 0.0,
            "mamba.dt_init_floor",
            format!("must be finite and > 0, got {}", self.dt_init_floor),
        )
    }

    /// The equivalent `kleene_zoo::MambaConfig` for width `d_model` (`n_layer` scales the
    /// out-projection's init as mamba-ssm's MixerModel does).
    pub fn mamba_config(&self, d_model: usize, n_layer: usize) -> MambaConfig {
        MambaConfig {
            d_model,
            n_layers: n_layer.max(1),
            d_state: self.d_state,
            d_conv: self.d_conv,
            expand: self.expand,
            dt_rank: self.dt_rank,
            dt_min: self.dt_min,
            dt_max: self.dt_max,
            dt_init_floor: self.dt_init_floor,
            ..MambaConfig::default()
        }
    }

    /// Builds the mixer.
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<MambaMixer<B>, ZooError> {
        self.validate(d_model)?;
        Ok(MambaMixer::new(
            &self.mamba_config(d_model, n_layer),
            device,
        ))
    }
}
