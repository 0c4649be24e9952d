//! Sequence mixers `(batch, len, d) -> (batch, len, d)`, one file each, its config beside its
//! module (as burn-nn's `modules/linear.rs`). Every mixer has a whole-sequence `forward` and a
//! recurrent `step` ([`SequenceLayer`]), and runs inside any backbone ([`crate::backbone`]).
//!
//! The list below is the only place that names them: from it `mixers!` generates the serde
//! config enum [`MixerConfig`] (tagged by `layer`), the module enum [`Mixer`], the state enum
//! [`MixerState`], the names, validation, init, and the forward / step dispatch. Adding a mixer
//! is its file plus one line here (see docs/architecture.md). A mixer file provides:
//! - `XConfig`: `serde` + `Default` (every field documented with its default), and
//!   `fn validate(&self, d_model: usize) -> Result<(), ZooError>` (errors name the field as
//!   `<layer>.<field>`) and `fn init<B: Backend>(&self, d_model, n_layer, device) ->
//!   Result<X<B>, ZooError>` (`n_layer` scales output-projection inits where the paper does);
//! - `X<B>`: a Burn `Module` implementing [`SequenceLayer`] for every `B: ScanBackend`.

// The `Module` derive's record enum does not inherit the enum's own allow below.
#![allow(clippy::large_enum_variant)]

use std::fmt;

use burn::prelude::*;
use kleene_scan::ScanBackend;
use serde::{Deserialize, Serialize};

use crate::{SequenceLayer, ZooError};

/// The block shared by the delta-rule mixers (not a mixer itself).
pub mod delta_block;
/// The parts shared by the xLSTM mixers `slstm` and `mlstm` (not a mixer itself).
pub mod xlstm_parts;

/// Generates the mixer enums and their dispatch from one list of
/// `Variant = "name": file::{Config, Module};` lines.
macro_rules! mixers {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal : $file:ident :: { $config:ident, $module:ident }; )*) => {
        $( pub mod $file; )*
        $( pub use $file::*; )*

        /// Configuration of one mixer, tagged by `layer` (`{ layer = "retnet", n_heads = 2 }`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "layer")]
        pub enum MixerConfig {
            $( $(#[doc = $doc])* #[serde(rename = $name)] $variant($config), )*
        }

        /// Any mixer, chosen at run time (a Burn `Module`).
        #[derive(Module, Debug)]
        #[allow(clippy::large_enum_variant)]
        pub enum Mixer<B: Backend> {
            $( $(#[doc = $doc])* $variant($module<B>), )*
        }

        /// Recurrent state of a [`Mixer`] (same variant as the mixer).
        #[derive(Clone)]
        #[allow(clippy::large_enum_variant)]
        pub enum MixerState<B: ScanBackend> {
            $( $(#[doc = $doc])* $variant(<$module<B> as SequenceLayer<B>>::State), )*
        }

        impl<B: ScanBackend> fmt::Debug for MixerState<B> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Self::$variant(_) => write!(f, "MixerState::{}", stringify!($variant)), )*
                }
            }
        }

        impl MixerConfig {
            /// Every mixer name (the `layer` tag), in list order.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// One line on the mixer called `name` (its doc line in the list), if it exists.
            pub fn description(name: &str) -> Option<&'static str> {
                match name {
                    $( $name => Some(concat!($($doc),*).trim_start()), )*
                    _ => None,
                }
            }

            /// The mixer's name (its `layer` tag).
            pub fn name(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $name, )*
                }
            }

            /// The default configuration of the mixer called `name`.
            pub fn default_for(name: &str) -> Result<Self, ZooError> {
                match name {
                    $( $name => Ok(Self::$variant($config::default())), )*
                    other => Err(ZooError::UnknownModel(other.to_string())),
                }
            }

            /// Checks the mixer's fields for width `d_model`; errors name the field.
            pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
                match self {
                    $( Self::$variant(c) => c.validate(d_model), )*
                }
            }

            /// Builds one mixer of width `d_model` (`n_layer` scales output-projection inits).
            pub fn init<B: ScanBackend>(
                &self,
                d_model: usize,
                n_layer: usize,
                device: &B::Device,
            ) -> Result<Mixer<B>, ZooError> {
                Ok(match self {
                    $( Self::$variant(c) => Mixer::$variant(c.init(d_model, n_layer, device)?), )*
                })
            }
        }

        impl<B: ScanBackend> SequenceLayer<B> for Mixer<B> {
            type State = MixerState<B>;

            fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
                match self {
                    $( Self::$variant(m) => m.forward(x), )*
                }
            }

            fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
                match self {
                    $( Self::$variant(m) => MixerState::$variant(m.init_state(batch, device)), )*
                }
            }

            /// # Panics
            /// If `state` was made by a different mixer (a programming error, not bad input).
            fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
                match (self, state) {
                    $( (Self::$variant(m), MixerState::$variant(s)) => {
                        let (y, s) = m.step(x, s);
                        (y, MixerState::$variant(s))
                    } )*
                    #[allow(unreachable_patterns)]
                    _ => panic!("Mixer::step: the state belongs to a different mixer"),
                }
            }
        }
    };
}

// The order is part of the checkpoint format (Burn records an enum variant by its index, and an
// `icl` model's record holds its `Mixer`): append new mixers at the end.
mixers! {
    /// S4D: diagonal complex SSM as a long convolution, GELU (Gu et al. 2022).
    S4d = "s4d": s4d::{S4dConfig, S4d};
    /// H3: shift SSM and diagonal SSM around multiplicative gates (Fu et al. 2023).
    H3 = "h3": h3::{H3Config, H3};
    /// Hyena: implicit long filters and gates (Poli et al. 2023).
    Hyena = "hyena": hyena::{HyenaConfig, Hyena};
    /// GILR: gated impulse linear recurrence (Martin & Cundy 2018).
    Gilr = "gilr": gilr::{GilrConfig, Gilr};
    /// LRU: linear recurrent unit (Orvieto et al. 2023).
    Lru = "lru": lru::{LruConfig, Lru};
    /// RWKV (v4) time mixing and channel mixing.
    Rwkv = "rwkv": rwkv::{RwkvConfig, Rwkv};
    /// RetNet multi-scale retention.
    Retnet = "retnet": retnet::{RetentionConfig, Retention};
    /// GLA: gated linear attention (Yang et al. 2024).
    Gla = "gla": gla::{GlaConfig, Gla};
    /// Linear attention with a feature map (Katharopoulos et al. 2020).
    LinearAttention = "linear_attention": linear_attention::{LinearAttentionConfig, LinearAttention};
    /// LSTM (PyTorch gates; REGBENCH init).
    Lstm = "lstm": lstm::{LstmMixerConfig, Lstm};
    /// Mamba-1 selective SSM (Gu & Dao 2023).
    Mamba = "mamba": mamba::{MambaMixerConfig, MambaMixer};
    /// Causal multi-head softmax attention, learned or rotary positions (KV-cache step).
    Attention = "attention": attention::{AttentionConfig, CausalSelfAttention};
    /// DeltaNet: delta rule with L2-normalised keys, β ∈ (0,1) or (0,2) (Yang et al. 2024).
    DeltaNet = "delta_net": delta_net::{DeltaNetConfig, DeltaNet};
    /// Gated DeltaNet: delta rule with a forget gate (Yang et al. 2025).
    GatedDeltaNet = "gated_delta_net": gated_delta_net::{GatedDeltaNetConfig, GatedDeltaNet};
    /// Gated DeltaProduct: several Householder steps per token (Siems et al. 2025).
    GatedDeltaProduct = "gated_delta_product": gated_delta_product::{GatedDeltaProductConfig, GatedDeltaProduct};
    /// RWKV-7 "Goose": DPLR delta rule with token shift, LoRA gates, GroupNorm (Peng et al. 2025).
    Rwkv7 = "rwkv7": rwkv7::{Rwkv7Config, Rwkv7};
    /// Mamba-2 (SSD): scalar decay per head, multi-head x, shared B/C, gated RMSNorm (Dao & Gu 2024).
    Mamba2 = "mamba2": mamba2::{Mamba2Config, Mamba2};
    /// PD-SSM: one-hot times complex diagonal transitions, post-LayerNorm block (Terzić et al. 2025).
    PdSsm = "pd_ssm": pd_ssm::{PdSsmConfig, PdSsm};
    /// sLSTM: scalar-memory LSTM with exponential gating and head-wise recurrence (Beck et al. 2024).
    Slstm = "slstm": slstm::{SlstmConfig, Slstm};
    /// mLSTM: matrix-memory LSTM with exponential gating, parallel form (Beck et al. 2024).
    Mlstm = "mlstm": mlstm::{MlstmConfig, Mlstm};
}
