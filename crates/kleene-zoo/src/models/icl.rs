//! REGBENCH's models (Akyürek et al., ICML 2024): any mixer of [`crate::layers`] inside
//! seq_icl's backbone ([`crate::backbone::lm_simple`], or the published no-FFN backbone
//! [`crate::backbone::no_ffn_faithful`]), built at run time from `kind = "icl"`:
//!
//! ```toml
//! [model]
//! kind = "icl"
//! d_model = 64
//! n_layer = 2
//! mixer = { layer = "retnet", n_heads = 2 }
//! ```

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::backbone::{BackboneConfig, BackboneKind, LmBackbone, LmState, NoFfnFaithful};
use crate::layers::{LinearAttentionConfig, Mixer, MixerConfig, MixerState};
use crate::{ScanBackend, SequenceModel, ZooError};

/// Backbone + mixer configuration (`kind = "icl"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IclModelConfig {
    /// Backbone fields (`d_model`, `n_layer`, ...), flattened into this object.
    #[serde(flatten)]
    pub backbone: BackboneConfig,
    /// The mixer used in every block.
    pub mixer: MixerConfig,
}

impl Default for IclModelConfig {
    /// The default backbone around the first mixer of the list ([`MixerConfig::NAMES`]).
    fn default() -> Self {
        Self::new(MixerConfig::default_for(MixerConfig::NAMES[0]).expect("a listed mixer"))
    }
}

impl IclModelConfig {
    /// Default backbone around `mixer`.
    pub fn new(mixer: MixerConfig) -> Self {
        Self {
            backbone: BackboneConfig::default(),
            mixer,
        }
    }

    /// The REGBENCH DFA experiment defaults (`configs/experiment/dfa/*.yaml`, spec §3.3) for the
    /// mixer `name`: width, depth, heads, positions, feature map. Mixers REGBENCH did not run
    /// have no preset ([`ZooError::InvalidConfig`] naming `mixer`).
    pub fn regbench_dfa(name: &str) -> Result<Self, ZooError> {
        let mut mixer = MixerConfig::default_for(name)?;
        let mut backbone = BackboneConfig::default();
        let (d, layers) = match &mut mixer {
            MixerConfig::S4d(_) | MixerConfig::H3(_) => (128, 2),
            MixerConfig::Hyena(_) => (64, 2),
            MixerConfig::Gilr(_) | MixerConfig::Lru(_) => (128, 2),
            MixerConfig::Rwkv(_) => (32, 2),
            MixerConfig::Retnet(c) => {
                c.n_heads = 8;
                (32, 2)
            }
            MixerConfig::Gla(c) => {
                c.n_heads = 1;
                (128, 4)
            }
            MixerConfig::LinearAttention(c) => {
                *c = LinearAttentionConfig::regbench();
                c.n_heads = 2;
                backbone.max_position_embeddings = 4098;
                (128, 8)
            }
            MixerConfig::Mamba(_) => {
                // One effective Mamba on the raw embeddings (nominal n_layer 4), spec §3.2.7.
                backbone.backbone = BackboneKind::NoFfnFaithful;
                (128, 4)
            }
            MixerConfig::Lstm(_) => {
                // One effective LSTM on the raw embeddings (nominal n_layer 2), spec §3.2.8.
                backbone.backbone = BackboneKind::NoFfnFaithful;
                (32, 2)
            }
            MixerConfig::Attention(c) => {
                // `dfa/transformer` (spec §3.2.1, §3.3): learned positions, 2 heads, attention
                // dropout 0.1.
                c.n_heads = 2;
                c.attn_dropout = 0.1;
                backbone.max_position_embeddings = 4098;
                (128, 8)
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(ZooError::invalid(
                    "mixer",
                    format!("REGBENCH has no DFA preset for `{name}`"),
                ))
            }
        };
        backbone.d_model = d;
        backbone.n_layer = layers;
        Ok(Self { backbone, mixer })
    }

    /// Checks backbone and mixer fields; errors name the field. (`vocab_size` and `out_dim`
    /// are checked by [`crate::ModelConfig::validate`] and [`Self::init`].)
    pub fn validate(&self, _vocab_size: usize, _out_dim: usize) -> Result<(), ZooError> {
        self.backbone.validate()?;
        self.mixer.validate(self.backbone.d_model)
    }

    /// Builds the model: `vocab_size` token ids in, `out_dim` logits out per position.
    pub fn init<B: ScanBackend>(
        &self,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Result<IclModel<B>, ZooError> {
        self.validate(vocab_size, out_dim)?;
        // Init scales follow the mixers actually built (1 for the faithful no-FFN backbone).
        let (d, n_mixers) = (self.backbone.d_model, self.backbone.n_mixers());
        let mixer = |_| self.mixer.init(d, n_mixers, device);
        Ok(match self.backbone.backbone {
            BackboneKind::NoFfnFaithful => IclModel::NoFfnFaithful(NoFfnFaithful::new(
                &self.backbone,
                vocab_size,
                out_dim,
                || mixer(0),
                device,
            )?),
            BackboneKind::LmSimple | BackboneKind::NoFfn => IclModel::Residual(
                self.backbone
                    .init_residual(vocab_size, out_dim, mixer, device)?,
            ),
        })
    }
}

/// A REGBENCH model: a mixer in one of seq_icl's backbones.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum IclModel<B: Backend> {
    /// `lm_simple` or the corrected `no_ffn`.
    Residual(LmBackbone<B, Mixer<B>>),
    /// The published `lm_simple_noffn`.
    NoFfnFaithful(NoFfnFaithful<B, Mixer<B>>),
}

impl<B: ScanBackend> IclModel<B> {
    /// [`IclModelConfig::init`].
    pub fn new(
        config: &IclModelConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Result<Self, ZooError> {
        config.init(vocab_size, out_dim, device)
    }
}

impl<B: ScanBackend> SequenceModel<B> for IclModel<B> {
    type State = LmState<MixerState<B>>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        match self {
            Self::Residual(m) => m.forward(tokens),
            Self::NoFfnFaithful(m) => m.forward(tokens),
        }
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        match self {
            Self::Residual(m) => m.init_state(batch, device),
            Self::NoFfnFaithful(m) => m.init_state(batch, device),
        }
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        match self {
            Self::Residual(m) => m.step(tokens, state),
            Self::NoFfnFaithful(m) => m.step(tokens, state),
        }
    }

    fn out_dim(&self) -> usize {
        match self {
            Self::Residual(m) => m.out_dim(),
            Self::NoFfnFaithful(m) => m.out_dim(),
        }
    }

    fn max_len(&self) -> Option<usize> {
        match self {
            Self::Residual(m) => m.max_len(),
            Self::NoFfnFaithful(m) => m.max_len(),
        }
    }
}
