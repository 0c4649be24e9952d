//! Sequence models generic over Burn's [`Backend`].
//!
//! Two seams:
//! - [`SequenceLayer`]: a sequence mixer `(B, L, D) -> (B, L, D)` with a parallel
//!   `forward` and a recurrent `step` over an explicit state (Mamba mixer, S4D, RetNet, ...).
//! - [`SequenceModel`]: a whole model from token ids `(B, L)` to per-position outputs
//!   `(B, L, out)`, also with a recurrent `step`, so evaluation can stream inputs far
//!   longer than training lengths in constant memory.

use burn::prelude::*;

pub mod error;
pub mod icl;
pub use error::ZooError;

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
}
