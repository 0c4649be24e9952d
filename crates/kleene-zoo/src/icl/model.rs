//! Run-time choice of the ICL-zoo mixer: [`IclLayerConfig`] (serde, tagged by `layer`),
//! the [`IclMixer`] module enum, and [`IclModelConfig`] which builds a whole backbone model.
//!
//! ```json
//! {"d_model": 64, "n_layer": 2, "mixer": {"layer": "retnet", "n_heads": 2}}
//! ```

use burn::prelude::*;
use kleene_scan::ScanBackend;
use serde::{Deserialize, Serialize};

use super::backbone::{BackboneConfig, BackboneKind, LmBackbone};
use super::gilr::{Gilr, GilrConfig};
use super::gla::{Gla, GlaConfig, GlaState};
use super::h3::{H3Config, H3State, H3};
use super::hyena::{Hyena, HyenaConfig, HyenaState};
use super::linear_attention::{LinearAttention, LinearAttentionConfig, LinearAttentionState};
use super::lru::{Lru, LruConfig, LruState};
use super::regbench_lstm::{RegbenchLstm, RegbenchLstmConfig, RegbenchLstmState};
use super::regbench_mamba::RegbenchMambaConfig;
use super::retnet::{Retention, RetentionConfig, RetentionState};
use super::rwkv::{Rwkv, RwkvConfig, RwkvState};
use super::s4d::{S4d, S4dConfig, S4dState};
use crate::mamba::{MambaMixer, MambaState};
use crate::{SequenceLayer, ZooError};

/// Configuration of one ICL-zoo mixer, tagged by `"layer"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "layer", rename_all = "snake_case")]
pub enum IclLayerConfig {
    S4d(S4dConfig),
    H3(H3Config),
    Hyena(HyenaConfig),
    Gilr(GilrConfig),
    Lru(LruConfig),
    Rwkv(RwkvConfig),
    Retnet(RetentionConfig),
    Gla(GlaConfig),
    LinearAttention(LinearAttentionConfig),
    /// The REGBENCH LSTM (use with the `no_ffn_faithful` or `no_ffn` backbone).
    Lstm(RegbenchLstmConfig),
    /// The REGBENCH Mamba (use with the `no_ffn_faithful` or `no_ffn` backbone).
    Mamba(RegbenchMambaConfig),
}

impl IclLayerConfig {
    /// All layer names accepted by [`IclLayerConfig::default_for`].
    pub const NAMES: [&'static str; 11] = [
        "s4d",
        "h3",
        "hyena",
        "gilr",
        "lru",
        "rwkv",
        "retnet",
        "gla",
        "linear_attention",
        "lstm",
        "mamba",
    ];

    /// The layer's name (its serde tag).
    pub fn name(&self) -> &'static str {
        match self {
            Self::S4d(_) => "s4d",
            Self::H3(_) => "h3",
            Self::Hyena(_) => "hyena",
            Self::Gilr(_) => "gilr",
            Self::Lru(_) => "lru",
            Self::Rwkv(_) => "rwkv",
            Self::Retnet(_) => "retnet",
            Self::Gla(_) => "gla",
            Self::LinearAttention(_) => "linear_attention",
            Self::Lstm(_) => "lstm",
            Self::Mamba(_) => "mamba",
        }
    }

    /// The default configuration of the layer called `name`.
    pub fn default_for(name: &str) -> Result<Self, ZooError> {
        Ok(match name {
            "s4d" => Self::S4d(S4dConfig::default()),
            "h3" => Self::H3(H3Config::default()),
            "hyena" => Self::Hyena(HyenaConfig::default()),
            "gilr" => Self::Gilr(GilrConfig::default()),
            "lru" => Self::Lru(LruConfig::default()),
            "rwkv" => Self::Rwkv(RwkvConfig::default()),
            "retnet" => Self::Retnet(RetentionConfig::default()),
            "gla" => Self::Gla(GlaConfig::default()),
            "linear_attention" => Self::LinearAttention(LinearAttentionConfig::default()),
            "lstm" => Self::Lstm(RegbenchLstmConfig::default()),
            "mamba" => Self::Mamba(RegbenchMambaConfig::default()),
            other => return Err(ZooError::UnknownModel(other.to_string())),
        })
    }

    /// Checks the layer's fields for width `d_model`.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        match self {
            Self::S4d(c) => c.validate(d_model),
            Self::H3(c) => c.validate(d_model),
            Self::Hyena(c) => c.validate(d_model),
            Self::Gilr(c) => c.validate(d_model),
            Self::Lru(c) => c.validate(d_model),
            Self::Rwkv(c) => c.validate(d_model),
            Self::Retnet(c) => c.validate(d_model),
            Self::Gla(c) => c.validate(d_model),
            Self::LinearAttention(c) => c.validate(d_model),
            Self::Lstm(c) => c.validate(d_model),
            Self::Mamba(c) => c.validate(d_model),
        }
    }

    /// Builds one mixer (`n_layer` scales the output projections' init).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<IclMixer<B>, ZooError> {
        Ok(match self {
            Self::S4d(c) => IclMixer::S4d(c.init(d_model, n_layer, device)?),
            Self::H3(c) => IclMixer::H3(c.init(d_model, n_layer, device)?),
            Self::Hyena(c) => IclMixer::Hyena(c.init(d_model, n_layer, device)?),
            Self::Gilr(c) => IclMixer::Gilr(c.init(d_model, n_layer, device)?),
            Self::Lru(c) => IclMixer::Lru(c.init(d_model, n_layer, device)?),
            Self::Rwkv(c) => IclMixer::Rwkv(c.init(d_model, n_layer, device)?),
            Self::Retnet(c) => IclMixer::Retnet(c.init(d_model, n_layer, device)?),
            Self::Gla(c) => IclMixer::Gla(c.init(d_model, n_layer, device)?),
            Self::LinearAttention(c) => {
                IclMixer::LinearAttention(c.init(d_model, n_layer, device)?)
            }
            Self::Lstm(c) => IclMixer::Lstm(c.init(d_model, n_layer, device)?),
            Self::Mamba(c) => IclMixer::Mamba(c.init(d_model, n_layer, device)?),
        })
    }
}

/// Any ICL-zoo mixer, chosen at run time.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum IclMixer<B: Backend> {
    S4d(S4d<B>),
    H3(H3<B>),
    Hyena(Hyena<B>),
    Gilr(Gilr<B>),
    Lru(Lru<B>),
    Rwkv(Rwkv<B>),
    Retnet(Retention<B>),
    Gla(Gla<B>),
    LinearAttention(LinearAttention<B>),
    Lstm(RegbenchLstm<B>),
    Mamba(MambaMixer<B>),
}

/// Recurrent state of [`IclMixer`] (same variant as the mixer).
#[derive(Debug, Clone)]
pub enum IclMixerState<B: Backend> {
    S4d(S4dState<B>),
    H3(H3State<B>),
    Hyena(HyenaState<B>),
    Gilr(Tensor<B, 2>),
    Lru(LruState<B>),
    Rwkv(RwkvState<B>),
    Retnet(RetentionState<B>),
    Gla(GlaState<B>),
    LinearAttention(LinearAttentionState<B>),
    Lstm(RegbenchLstmState<B>),
    Mamba(MambaState<B>),
}

impl<B: ScanBackend> SequenceLayer<B> for IclMixer<B> {
    type State = IclMixerState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        match self {
            Self::S4d(m) => m.forward(x),
            Self::H3(m) => m.forward(x),
            Self::Hyena(m) => m.forward(x),
            Self::Gilr(m) => m.forward(x),
            Self::Lru(m) => m.forward(x),
            Self::Rwkv(m) => m.forward(x),
            Self::Retnet(m) => m.forward(x),
            Self::Gla(m) => m.forward(x),
            Self::LinearAttention(m) => m.forward(x),
            Self::Lstm(m) => m.forward(x),
            Self::Mamba(m) => m.forward(x),
        }
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        match self {
            Self::S4d(m) => IclMixerState::S4d(m.init_state(batch, device)),
            Self::H3(m) => IclMixerState::H3(m.init_state(batch, device)),
            Self::Hyena(m) => IclMixerState::Hyena(m.init_state(batch, device)),
            Self::Gilr(m) => IclMixerState::Gilr(m.init_state(batch, device)),
            Self::Lru(m) => IclMixerState::Lru(m.init_state(batch, device)),
            Self::Rwkv(m) => IclMixerState::Rwkv(m.init_state(batch, device)),
            Self::Retnet(m) => IclMixerState::Retnet(m.init_state(batch, device)),
            Self::Gla(m) => IclMixerState::Gla(m.init_state(batch, device)),
            Self::LinearAttention(m) => IclMixerState::LinearAttention(m.init_state(batch, device)),
            Self::Lstm(m) => IclMixerState::Lstm(m.init_state(batch, device)),
            Self::Mamba(m) => IclMixerState::Mamba(m.init_state(batch, device)),
        }
    }

    /// # Panics
    /// If `state` was made by a different mixer variant (a programming error, not bad input).
    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        use IclMixerState as S;
        match (self, state) {
            (Self::S4d(m), S::S4d(s)) => wrap(m.step(x, s), S::S4d),
            (Self::H3(m), S::H3(s)) => wrap(m.step(x, s), S::H3),
            (Self::Hyena(m), S::Hyena(s)) => wrap(m.step(x, s), S::Hyena),
            (Self::Gilr(m), S::Gilr(s)) => wrap(m.step(x, s), S::Gilr),
            (Self::Lru(m), S::Lru(s)) => wrap(m.step(x, s), S::Lru),
            (Self::Rwkv(m), S::Rwkv(s)) => wrap(m.step(x, s), S::Rwkv),
            (Self::Retnet(m), S::Retnet(s)) => wrap(m.step(x, s), S::Retnet),
            (Self::Gla(m), S::Gla(s)) => wrap(m.step(x, s), S::Gla),
            (Self::LinearAttention(m), S::LinearAttention(s)) => {
                wrap(m.step(x, s), S::LinearAttention)
            }
            (Self::Lstm(m), S::Lstm(s)) => wrap(m.step(x, s), S::Lstm),
            (Self::Mamba(m), S::Mamba(s)) => wrap(m.step(x, s), S::Mamba),
            _ => panic!("IclMixer::step: state variant does not match the mixer"),
        }
    }
}

fn wrap<B: Backend, S, T>(out: (Tensor<B, 2>, S), f: impl FnOnce(S) -> T) -> (Tensor<B, 2>, T) {
    (out.0, f(out.1))
}

/// A whole ICL-zoo language model.
pub type IclModel<B> = LmBackbone<B, IclMixer<B>>;

/// Backbone + mixer configuration; builds an [`IclModel`] at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IclModelConfig {
    /// Backbone fields (`d_model`, `n_layer`, ...), flattened into this object.
    #[serde(flatten)]
    pub backbone: BackboneConfig,
    /// The mixer used in every block.
    pub mixer: IclLayerConfig,
}

impl IclModelConfig {
    /// Default backbone around `mixer`.
    pub fn new(mixer: IclLayerConfig) -> Self {
        Self {
            backbone: BackboneConfig::default(),
            mixer,
        }
    }

    /// The REGBENCH DFA experiment defaults (`configs/experiment/dfa/*.yaml`, spec §3.3) for
    /// `name` (one of [`IclLayerConfig::NAMES`]): width, depth, heads, positions, feature map.
    pub fn regbench_dfa(name: &str) -> Result<Self, ZooError> {
        let mut mixer = IclLayerConfig::default_for(name)?;
        let mut backbone = BackboneConfig::default();
        let (d, layers) = match &mut mixer {
            IclLayerConfig::S4d(_) | IclLayerConfig::H3(_) => (128, 2),
            IclLayerConfig::Hyena(_) => (64, 2),
            IclLayerConfig::Gilr(_) | IclLayerConfig::Lru(_) => (128, 2),
            IclLayerConfig::Rwkv(_) => (32, 2),
            IclLayerConfig::Retnet(c) => {
                c.n_heads = 8;
                (32, 2)
            }
            IclLayerConfig::Gla(c) => {
                c.n_heads = 1;
                (128, 4)
            }
            IclLayerConfig::LinearAttention(c) => {
                *c = LinearAttentionConfig::regbench();
                c.n_heads = 2;
                backbone.max_position_embeddings = 4098;
                (128, 8)
            }
            IclLayerConfig::Mamba(_) => {
                // One effective Mamba on the raw embeddings (nominal n_layer 4), spec §3.2.7.
                backbone.backbone = BackboneKind::NoFfnFaithful;
                (128, 4)
            }
            IclLayerConfig::Lstm(_) => {
                // One effective LSTM on the raw embeddings (nominal n_layer 2), spec §3.2.8.
                backbone.backbone = BackboneKind::NoFfnFaithful;
                (32, 2)
            }
        };
        backbone.d_model = d;
        backbone.n_layer = layers;
        Ok(Self { backbone, mixer })
    }

    /// Checks backbone and mixer fields; errors name the field.
    pub fn validate(&self) -> Result<(), ZooError> {
        self.backbone.validate()?;
        self.mixer.validate(self.backbone.d_model)
    }

    /// Builds the model: `vocab_size` token ids in, `out_dim` logits out per position.
    pub fn init<B: Backend>(
        &self,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Result<IclModel<B>, ZooError> {
        self.validate()?;
        // Init scales follow the mixers actually built (1 for the faithful no-FFN backbone).
        let (d, n_layer) = (self.backbone.d_model, self.backbone.n_mixers());
        self.backbone.init(
            vocab_size,
            out_dim,
            |_| self.mixer.init(d, n_layer, device),
            device,
        )
    }
}
