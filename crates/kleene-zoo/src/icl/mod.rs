//! The in-context-learning zoo of REGBENCH (Akyürek et al., ICML 2024): every mixer as a
//! [`SequenceLayer`](crate::SequenceLayer) with a whole-sequence `forward` and a recurrent
//! `step`, inside the paper's shared backbone ([`backbone`]).
//!
//! Build one at run time with [`IclModelConfig`] (serde, mixer tagged by `"layer"`):
//!
//! ```no_run
//! # use burn::prelude::*;
//! # fn demo<B: Backend>(device: &B::Device) -> Result<(), kleene_zoo::ZooError> {
//! use kleene_zoo::icl::{IclLayerConfig, IclModelConfig};
//! let config = IclModelConfig::new(IclLayerConfig::default_for("retnet")?);
//! let model = config.init::<B>(20, 20, device)?; // implements SequenceModel<B>
//! # Ok(()) }
//! ```
//!
//! Equations, defaults and deviations are documented per module and in `docs/models.md`.

pub mod backbone;
pub mod gilr;
pub mod gla;
pub mod h3;
pub mod hyena;
pub mod linear_attention;
pub mod lru;
pub mod model;
pub mod regbench_lstm;
pub mod regbench_mamba;
pub mod retnet;
pub mod rwkv;
pub mod s4d;
mod util;

pub use backbone::{BackboneConfig, BackboneKind, Block, LmBackbone, LmState, Mlp};
pub use gilr::{Gilr, GilrConfig};
pub use gla::{Gla, GlaConfig, GlaState};
pub use h3::{H3Config, H3State, H3};
pub use hyena::{Hyena, HyenaConfig, HyenaState};
pub use linear_attention::{
    FeatureMap, LinearAttention, LinearAttentionConfig, LinearAttentionForm, LinearAttentionState,
};
pub use lru::{Lru, LruConfig, LruState};
pub use model::{IclLayerConfig, IclMixer, IclMixerState, IclModel, IclModelConfig};
pub use regbench_lstm::{RegbenchLstm, RegbenchLstmConfig, RegbenchLstmState};
pub use regbench_mamba::RegbenchMambaConfig;
pub use retnet::{Retention, RetentionConfig, RetentionForm, RetentionState};
pub use rwkv::{Rwkv, RwkvConfig, RwkvDecay, RwkvState};
pub use s4d::{S4d, S4dConfig, S4dState};
