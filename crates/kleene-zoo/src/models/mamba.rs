//! Sarrof et al.'s Mamba (spec `bhattamishra-flipflop-dyck.md` §4.1): mamba-ssm's
//! `MixerModel` (embedding, pre-norm residual Mamba blocks, final norm) with a linear head,
//! i.e. the [`crate::layers::mamba`] mixer on the [`crate::backbone::residual_stack`].

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::backbone::norm::NormKind;
use crate::backbone::{MixerModel, ResidualStack};
use crate::init::{embedding_normal, linear_torch};
use crate::layers::mamba::{MambaMixer, MambaMixerConfig};
use crate::validate::{positive, positive_f};
use crate::ZooError;

/// Mamba-1 MixerModel. Defaults: Sarrof et al.'s `configs/model/mamba.yaml`
/// (d_model 16, d_state 16, d_conv 4, expand 2, 1 layer, LayerNorm, eps 1e-5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MambaConfig {
    /// Residual width `d`. Default 16.
    pub d_model: usize,
    /// Number of Mamba blocks. Default 1.
    pub n_layers: usize,
    /// SSM state size `N` per channel. Default 16.
    pub d_state: usize,
    /// Causal depthwise convolution width. Default 4.
    pub d_conv: usize,
    /// Inner width factor: `d_inner = expand * d_model`. Default 2.
    pub expand: usize,
    /// Rank of the Δ projection; `None` = `ceil(d_model / 16)`. Default `None`.
    pub dt_rank: Option<usize>,
    /// Range of the initial step sizes Δ (log-uniform). Defaults 1e-3, 0.1.
    pub dt_min: f64,
    /// See `dt_min`.
    pub dt_max: f64,
    /// Lower clamp of the initial Δ. Default 1e-4.
    pub dt_init_floor: f64,
    /// Norm of the blocks and of the final norm. Default `layer_norm`.
    pub norm: NormKind,
    /// Norm epsilon. Default 1e-5.
    pub norm_eps: f64,
    /// Linear output head `d_model -> out_dim` (with bias). When `false` the final norm's
    /// output is the logit vector (Sarrof et al.'s bounded-Dyck setup); then the model's
    /// `out_dim()` is `d_model` and the requested `out_dim` must be `<= d_model`. Default true.
    pub head: bool,
    /// Grazzi et al. 2025: transition 2·exp(ΔA)−1 ∈ (−1,1) instead of exp(ΔA) ∈ (0,1), in
    /// every block ([`MambaMixerConfig::allow_neg_eigval`]). Default false.
    pub allow_neg_eigval: bool,
}

impl Default for MambaConfig {
    fn default() -> Self {
        Self {
            d_model: 16,
            n_layers: 1,
            d_state: 16,
            d_conv: 4,
            expand: 2,
            dt_rank: None,
            dt_min: 1e-3,
            dt_max: 0.1,
            dt_init_floor: 1e-4,
            norm: NormKind::LayerNorm,
            norm_eps: 1e-5,
            head: true,
            allow_neg_eigval: false,
        }
    }
}

impl MambaConfig {
    /// The mixer settings of every block.
    pub fn mixer(&self) -> MambaMixerConfig {
        MambaMixerConfig {
            d_state: self.d_state,
            d_conv: self.d_conv,
            expand: self.expand,
            dt_rank: self.dt_rank,
            dt_min: self.dt_min,
            dt_max: self.dt_max,
            dt_init_floor: self.dt_init_floor,
            allow_neg_eigval: self.allow_neg_eigval,
        }
    }
}

impl MambaConfig {
    /// Checks every field (and the sizes the model will be built with); errors name the
    /// field as `<kind>.<field>`.
    pub fn validate(&self, _vocab_size: usize, out_dim: usize) -> Result<(), ZooError> {
        let c = self;
        positive("mamba.d_model", c.d_model)?;
        positive("mamba.n_layers", c.n_layers)?;
        positive("mamba.d_state", c.d_state)?;
        positive("mamba.d_conv", c.d_conv)?;
        positive("mamba.expand", c.expand)?;
        if let Some(r) = c.dt_rank {
            positive("mamba.dt_rank", r)?;
        }
        positive_f("mamba.dt_min", c.dt_min)?;
        positive_f("mamba.dt_max", c.dt_max)?;
        positive_f("mamba.dt_init_floor", c.dt_init_floor)?;
        positive_f("mamba.norm_eps", c.norm_eps)?;
        if c.dt_min > c.dt_max {
            return Err(ZooError::invalid("mamba.dt_min", "must be <= dt_max"));
        }
        if !c.head && out_dim > c.d_model {
            return Err(ZooError::invalid(
                "mamba.head",
                format!("without a head the outputs are the d_model = {} normed features, fewer than out_dim = {out_dim}", c.d_model),
            ));
        }
        Ok(())
    }
}

/// Sarrof et al.'s Mamba: the Mamba mixer in mamba-ssm's `MixerModel` with a linear head
/// (or none, see [`MambaConfig::head`]); embedding `N(0, 0.02²)`, head PyTorch's default init.
pub type MambaModel<B> = MixerModel<B, MambaMixer<B>>;

impl<B: Backend> MixerModel<B, MambaMixer<B>> {
    /// Builds the model; the config must have been validated.
    pub fn new(
        config: &MambaConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Self {
        let mixer = config.mixer();
        let mixers = (0..config.n_layers)
            .map(|_| MambaMixer::new(&mixer, config.d_model, config.n_layers, device))
            .collect();
        let head = config
            .head
            .then(|| linear_torch(config.d_model, out_dim, true, device));
        // Mixers, head, embedding: the order of the random draws since the first release.
        Self::from_parts(
            embedding_normal(vocab_size, config.d_model, 0.02, device),
            ResidualStack::new(
                mixers,
                config.norm,
                config.d_model,
                config.norm_eps,
                None,
                device,
            ),
            head,
        )
    }
}

