//! Whole models, token ids in, per-position logits out ([`SequenceModel`]), one file each with
//! its serde config beside it. The list at the bottom is the only place that names them: from
//! it `models!` generates [`ModelConfig`] (the `[model]` table, tagged by `kind`),
//! [`AnyModel`] (the Burn `Module` enum), [`AnyState`], the kind names, validation, init and
//! the forward / step dispatch. Adding a model is its file plus one line there.
//!
//! A model file provides `XConfig` (`serde` + `Default`, every field documented with its
//! default) with `fn validate(&self, vocab_size, out_dim) -> Result<(), ZooError>` (errors
//! name the field as `<kind>.<field>`), and `X<B>`: a Burn `Module` implementing
//! [`SequenceModel`], built by `X::new(&config, vocab_size, out_dim, device)` from a
//! validated config (returning `X` or `Result<X, ZooError>`).
//!
//! A `[model]` table in TOML (every field has a default, so `kind = "mamba"` alone is valid;
//! unknown kinds and unknown fields are rejected with a parse error that names them):
//!
//! ```toml
//! [model]
//! kind = "mamba"
//! d_model = 64
//! n_layers = 2
//! ```

// The `Module` derive's record enum does not inherit the enum's own allow below.
#![allow(clippy::large_enum_variant)]

use std::fmt;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::layers::MixerConfig;
use crate::validate::positive;
use crate::{ScanBackend, SequenceModel, ZooError};

/// What a model's `new(config, vocab_size, out_dim, device)` returns: the model, or a
/// `Result` of it where building can fail (`icl`: the mixer's own checks).
trait IntoBuilt<M> {
    fn into_built(self) -> Result<M, ZooError>;
}

impl<M> IntoBuilt<M> for M {
    fn into_built(self) -> Result<M, ZooError> {
        Ok(self)
    }
}

impl<M> IntoBuilt<M> for Result<M, ZooError> {
    fn into_built(self) -> Result<M, ZooError> {
        self
    }
}

/// Generates the model enums and their dispatch from one list of
/// `Variant = "kind": file::{Config, Module};` lines.
macro_rules! models {
    ($( $(#[doc = $doc:literal])* $variant:ident = $kind:literal : $file:ident :: { $config:ident, $module:ident }; )*) => {
        $( pub mod $file; )*
        $( pub use $file::{$config, $module}; )*

        /// Which model to build, with its settings: the `[model]` table, tagged by `kind`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum ModelConfig {
            $( $(#[doc = $doc])* #[serde(rename = $kind)] $variant($config), )*
            /// A model kind the program registered itself (kleene-train's
            /// `register_model`), by name, with its settings ([`custom`]).
            #[serde(rename = "custom")]
            Custom(CustomModelConfig),
        }

        /// Any model of the zoo; a Burn `Module` (records, optimizers, `valid()` all work).
        #[derive(Module, Debug)]
        #[allow(clippy::large_enum_variant)]
        pub enum AnyModel<B: Backend> {
            $( $(#[doc = $doc])* $variant($module<B>), )*
        }

        /// The recurrent state of an [`AnyModel`] (same variant as the model).
        #[derive(Clone)]
        #[allow(clippy::large_enum_variant)]
        pub enum AnyState<B: ScanBackend> {
            $( $(#[doc = $doc])* $variant(<$module<B> as SequenceModel<B>>::State), )*
        }

        impl<B: ScanBackend> fmt::Debug for AnyState<B> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Self::$variant(_) => write!(f, "AnyState::{}", stringify!($variant)), )*
                }
            }
        }

        impl ModelConfig {
            /// Every `kind`, in list order.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// One line on the model `kind` (its doc line in the list), if it exists.
            pub fn description(kind: &str) -> Option<&'static str> {
                match kind {
                    $( $kind => Some(concat!($($doc),*).trim_start()), )*
                    "custom" => Some("A model kind registered by the program (kleene-train's register_model), by `name`."),
                    _ => None,
                }
            }

            /// The `kind` of this config.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $kind, )*
                    Self::Custom(_) => "custom",
                }
            }

            fn default_of_kind(kind: &str) -> Option<Self> {
                match kind {
                    $( $kind => Some(Self::$variant($config::default())), )*
                    _ => None,
                }
            }

            /// Checks every field (and the vocabulary / output sizes the model will be built
            /// with); errors name the field as `<kind>.<field>`.
            pub fn validate(&self, vocab_size: usize, out_dim: usize) -> Result<(), ZooError> {
                positive("vocab_size", vocab_size)?;
                positive("out_dim", out_dim)?;
                match self {
                    $( Self::$variant(c) => c.validate(vocab_size, out_dim), )*
                    Self::Custom(c) => c.validate(),
                }
            }

            /// Validates the config and builds the model with `vocab_size` input tokens and
            /// `out_dim` outputs per position (random init from the backend's RNG: call
            /// `B::seed(&device, seed)` first for reproducible weights).
            pub fn init<B: ScanBackend>(
                &self,
                vocab_size: usize,
                out_dim: usize,
                device: &B::Device,
            ) -> Result<AnyModel<B>, ZooError> {
                self.validate(vocab_size, out_dim)?;
                Ok(match self {
                    $( Self::$variant(c) => AnyModel::$variant(
                        IntoBuilt::into_built($module::new(c, vocab_size, out_dim, device))?,
                    ), )*
                    Self::Custom(c) => return Err(ZooError::CustomModel(c.name.clone())),
                })
            }
        }

        impl<B: ScanBackend> SequenceModel<B> for AnyModel<B> {
            type State = AnyState<B>;

            fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
                match self {
                    $( Self::$variant(m) => m.forward(tokens), )*
                }
            }

            fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
                match self {
                    $( Self::$variant(m) => AnyState::$variant(m.init_state(batch, device)), )*
                }
            }

            /// # Panics
            /// If `state` was made by a different model kind (a programming error).
            fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
                match (self, state) {
                    $( (Self::$variant(m), AnyState::$variant(s)) => {
                        let (y, s) = m.step(tokens, s);
                        (y, AnyState::$variant(s))
                    } )*
                    #[allow(unreachable_patterns)]
                    _ => panic!("AnyModel::step: the state belongs to a different model kind \
                                 (use the state returned by this model's init_state)"),
                }
            }

            fn out_dim(&self) -> usize {
                match self {
                    $( Self::$variant(m) => m.out_dim(), )*
                }
            }

            fn max_len(&self) -> Option<usize> {
                match self {
                    $( Self::$variant(m) => m.max_len(), )*
                }
            }
        }
    };
}

// The order is part of the checkpoint format (Burn records an enum variant by its index):
// append new models at the end.
models! {
    /// Sarrof et al.'s Mamba: mamba-ssm's MixerModel (embedding, pre-norm residual Mamba
    /// blocks, final norm) and a linear head.
    Mamba = "mamba": mamba::{MambaConfig, MambaModel};
    /// Selective dense SSM (Terzić et al. 2025).
    Sdssm = "sdssm": sdssm::{SdSsmConfig, SdSsm};
    /// Complex-diagonal selective SSMs (the four baselines of the SD-SSM repository).
    ComplexDiagonal = "complex_diagonal": complex_diagonal::{ComplexDiagonalConfig, ComplexDiagonalSsm};
    /// Elman RNN (tanh or ReLU), single or stacked.
    Rnn = "rnn": rnn::{RnnConfig, RnnModel};
    /// LSTM, single or stacked.
    Lstm = "lstm": lstm::{LstmConfig, LstmModel};
    /// Causal decoder-only transformer (learned positions), "Transformer+" (rotary), or
    /// DeepMind's parameter-free positions (none, sin_cos, alibi).
    Transformer = "transformer": transformer::{TransformerConfig, TransformerModel};
    /// Any mixer (`kleene model list`) in seq_icl's backbone (REGBENCH).
    Icl = "icl": icl::{IclModelConfig, IclModel};
    /// Stack-RNN (Joulin & Mikolov 2015; DeepMind's Chomsky-hierarchy `stack_rnn`): Elman
    /// controller with a differentiable stack (push / pop / no-op).
    StackRnn = "stack_rnn": stack_rnn::{StackRnnConfig, StackRnnModel};
    /// Tape-RNN (DeepMind's Chomsky-hierarchy `tape_rnn`): Elman controller with a circular
    /// tape (write and stay / left / right / jump by the input length).
    TapeRnn = "tape_rnn": tape_rnn::{TapeRnnConfig, TapeRnnModel};
    /// DeepMind's Chomsky-hierarchy Transformer encoder (post-LN, d 64, 5 layers, 8 heads),
    /// causal, with one of its positional encodings (none, sin_cos, alibi, relative, rotary).
    DmTransformer = "dm_transformer": dm_transformer::{DmTransformerConfig, DmTransformerModel};
    /// PD-SSM as in its FSA experiments (Terzić et al. 2025): embedding, PD-SSM blocks (each
    /// post-LayerNorm, no residual), linear head.
    PdSsm = "pd_ssm": pd_ssm::{PdSsmModelConfig, PdSsmModel};
}

pub mod custom;
pub use custom::CustomModelConfig;
pub mod dm_attention;
pub mod dm_positions;
pub mod memory_controller;

/// Version of the layout of [`AnyModel`]'s records (Burn records are positional: a record
/// only loads into a model of the same layout). Checkpoints store it; see
/// [`ModelConfig::check_record_format`].
///
/// - 1: up to the reshaping of kleene-zoo (2026-12);
/// - 2: the reshaping: `icl` models are an enum of backbones around the one residual `Block`
///   (a `Norm` enum, no optional pre-norm), so an `icl` record of format 1 does not load;
///   every other kind kept its layout (tested byte for byte on format-1 checkpoints).
pub const RECORD_FORMAT: u32 = 2;

impl ModelConfig {
    /// Whether a record written in `format` ([`RECORD_FORMAT`] of the kleene that wrote it)
    /// loads into this model: `Err` says why not, for the user.
    pub fn check_record_format(&self, format: u32) -> Result<(), String> {
        match format {
            RECORD_FORMAT => Ok(()),
            1 if self.kind() != "icl" => Ok(()),
            1 => Err(format!(
                "its weights are in record format 1 (kleene before the zoo reshaping of 2026-12), \
                 and the parameter layout of `icl` models changed in format {RECORD_FORMAT} \
                 (one residual Block for every backbone); retrain it, or evaluate it with \
                 kleene at commit 8484c17"
            )),
            newer if newer > RECORD_FORMAT => Err(format!(
                "its weights are in record format {newer}, written by a newer kleene \
                 (this one reads formats 1 to {RECORD_FORMAT})"
            )),
            other => Err(format!("unknown record format {other}")),
        }
    }

    /// The default config of a model kind ([`ModelConfig::KINDS`]); also accepted:
    /// `transformer_plus` (the transformer with rotary positions) and every mixer name
    /// ([`MixerConfig::NAMES`]: that mixer in the default `icl` backbone). Other names:
    /// [`ZooError::UnknownModel`].
    pub fn default_for(name: &str) -> Result<Self, ZooError> {
        if let Some(config) = Self::default_of_kind(name) {
            return Ok(config);
        }
        match name {
            "transformer_plus" => Ok(ModelConfig::Transformer(TransformerConfig {
                positions: transformer::PositionKind::Rotary,
                ..TransformerConfig::default()
            })),
            mixer if MixerConfig::NAMES.contains(&mixer) => Ok(ModelConfig::Icl(
                IclModelConfig::new(MixerConfig::default_for(mixer)?),
            )),
            other => Err(ZooError::UnknownModel(other.to_string())),
        }
    }

    /// Parses a TOML table (e.g. the `[model]` section's text).
    pub fn from_toml_str(text: &str) -> Result<Self, ZooError> {
        toml::from_str(text).map_err(|e| ZooError::Parse(e.to_string()))
    }

    /// Parses JSON.
    pub fn from_json_str(text: &str) -> Result<Self, ZooError> {
        serde_json::from_str(text).map_err(|e| ZooError::Parse(e.to_string()))
    }
}
