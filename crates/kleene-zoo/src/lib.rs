//! Sequence models generic over Burn's [`Backend`].
//!
//! The crate's tree (docs/architecture.md):
//! - [`layers`]: the sequence mixers, one file each, and the one list that registers them;
//! - [`ops`]: computations shared by layers (chunked gated attention, long and short causal
//!   convolutions, the Vandermonde kernel, ...), each with its step form and a reference;
//! - [`backbone`]: the residual block, norms, and the backbones the papers use;
//! - [`models`]: whole models (mixer stacks and the SD-SSM paper's recurrent models), and
//!   the one list that registers them.
//!
//! Two seams:
//! - [`SequenceLayer`]: a sequence mixer `(B, L, D) -> (B, L, D)` with a parallel
//!   `forward` and a recurrent `step` over an explicit state (Mamba mixer, causal
//!   self-attention with a KV cache, S4D, RetNet, ...).
//! - [`SequenceModel`]: a whole model from token ids `(B, L)` to per-position outputs
//!   `(B, L, out)`, also with a recurrent `step`, so evaluation can stream inputs far
//!   longer than training lengths in constant memory.
//!
//! Models are described by a serde [`ModelConfig`] (deserialisable from TOML) and built at
//! run time with [`ModelConfig::init`], which returns an [`AnyModel`] (a Burn `Module`
//! enum that implements [`SequenceModel`]).
//!
//! ## Outputs and task kinds
//! Every model returns one output vector per position, `(batch, len, out_dim)`, raw logits
//! (no softmax / sigmoid). The same tensor serves every task kind; only the loss and the
//! position the trainer reads differ (see [`heads`]):
//! - per-position multi-class: softmax cross-entropy at every position;
//! - per-position multi-label: sigmoid per output unit (binary cross-entropy / MSE);
//! - final-state class: the trainer reads the output at the last position (or at the
//!   query step) with [`heads::last_position`] / [`heads::at_positions`]. Because every
//!   model is causal, the output at position `t` equals what the model would emit after
//!   reading exactly `tokens[..=t]`.
//!
//! All models run on any `B: ScanBackend` (Burn backend with the selective/linear
//! recurrence ops of `kleene-scan`).

use burn::prelude::*;

pub mod backbone;
pub mod error;
pub mod heads;
pub mod layers;
pub mod models;
pub mod ops;

mod init;
mod validate;

pub use backbone::NormKind;
pub use error::ZooError;
/// The backend bound of the models: Burn backends that provide `kleene-scan`'s ops
/// (`NdArray`, `Autodiff<_>`, and the CubeCL backends behind the `wgpu` / `cuda` features).
pub use kleene_scan::ScanBackend;
pub use layers::{Mixer, MixerConfig, MixerState};
pub use models::complex_diagonal::ComplexDiagonalConfig;
pub use models::custom::CustomModelConfig;
pub use models::dm_positions::DmPositions;
pub use models::dm_transformer::DmTransformerConfig;
pub use models::icl::IclModelConfig;
pub use models::lstm::LstmConfig;
pub use models::mamba::MambaConfig;
pub use models::rnn::{RnnConfig, RnnNonlinearity};
pub use models::sdssm::{ReadoutKind, SdSsmConfig};
pub use models::stack_rnn::StackRnnConfig;
pub use models::tape_rnn::TapeRnnConfig;
pub use models::transformer::{PositionKind, TransformerConfig};
pub use models::{AnyModel, AnyState, ModelConfig, RECORD_FORMAT};

/// A sequence mixer: whole-sequence forward and one-step recurrent form.
///
/// Contract (tested for every implementation): running `step` over `t = 0..L` from
/// `init_state` gives the same outputs as `forward` (to 1e-5 in f32), and output `t`
/// depends only on inputs `0..=t`.
pub trait SequenceLayer<B: Backend> {
    /// Everything the layer carries from one step to the next.
    type State: Clone;

    /// `x: (batch, len, d_model) -> (batch, len, d_model)`.
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3>;

    /// The state before the first input.
    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State;

    /// One step: `x: (batch, d_model) -> (batch, d_model)`.
    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State);
}

/// A whole model: token ids in, per-position outputs (logits) out.
pub trait SequenceModel<B: Backend> {
    /// Everything the model carries from one step to the next.
    type State: Clone;

    /// `tokens: (batch, len) -> (batch, len, out_dim)`.
    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3>;

    /// The state before the first token.
    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State;

    /// One step: `tokens: (batch,) -> (batch, out_dim)`.
    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State);

    /// Size of the last output dimension.
    fn out_dim(&self) -> usize;

    /// Longest input the model can represent faithfully, if bounded (a learned position
    /// table). Positions at or beyond it reuse the last learned position; evaluators should
    /// check this before streaming longer inputs. `None` = unbounded (recurrent models,
    /// rotary attention).
    fn max_len(&self) -> Option<usize> {
        None
    }
}
