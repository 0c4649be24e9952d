//! Reading model outputs for each task kind.
//!
//! Every [`SequenceModel`](crate::SequenceModel) emits raw logits `(batch, len, out_dim)`,
//! one vector per position, through a linear head (or MLP readout) defined by the model
//! itself. The task kind decides how the trainer reads them:
//!
//! | task kind | output used | loss |
//! |---|---|---|
//! | per-position multi-class | all positions, `(batch, len, C)` | softmax cross-entropy |
//! | per-position multi-label | all positions, `(batch, len, M)`; probabilities = `sigmoid` of the logits | binary cross-entropy on sigmoid (or MSE on raw outputs) |
//! | final-state class | one position per sequence: [`last_position`] or [`at_positions`] (query step / last real token of a padded batch) | softmax cross-entropy |
//!
//! Because all models are causal, the output at position `t` depends only on tokens
//! `0..=t`, so reading position `t` is the same as running the model on the prefix.

use burn::prelude::*;

/// The output at the last position: `(batch, len, C) -> (batch, C)`.
pub fn last_position<B: Backend>(outputs: Tensor<B, 3>) -> Tensor<B, 2> {
    let [batch, len, c] = outputs.dims();
    outputs.narrow(1, len - 1, 1).reshape([batch, c])
}

/// The output at one position per sequence (`positions[b]` for row `b`, e.g. the query
/// step or the last real token of a right-padded batch): `(batch, len, C) -> (batch, C)`.
pub fn at_positions<B: Backend>(
    outputs: Tensor<B, 3>,
    positions: Tensor<B, 1, Int>,
) -> Tensor<B, 2> {
    let [batch, _, c] = outputs.dims();
    let index = positions.reshape([batch, 1, 1]).repeat_dim(2, c);
    outputs.gather(1, index).reshape([batch, c])
}
