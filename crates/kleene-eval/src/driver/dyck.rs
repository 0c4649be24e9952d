//! Protocol: bounded-Dyck close accuracy (Sarrof et al. 2024, the 80% rule).

use burn::prelude::*;
use kleene_langs::Example;
use kleene_zoo::SequenceModel;

use crate::metrics::dyck::{CloseAccuracy, CloseAccuracyConfig, DyckVocab};
use crate::EvalError;

use super::runner::*;
use super::EvalOptions;

/// Bounded-Dyck close accuracy of `model` on `examples` (their tokens are the model
/// inputs, START first).
pub fn close_accuracy<B, M>(
    model: &M,
    examples: &[Example],
    vocab: &DyckVocab,
    cfg: &CloseAccuracyConfig,
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<CloseAccuracy, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    let dim = model.out_dim();
    let seqs: Vec<&[u32]> = examples.iter().map(|e| e.tokens.as_slice()).collect();
    let mut acc = CloseAccuracy::default();
    for_each_output(model, &seqs, opts, device, |i, logits| {
        acc.add_sequence(seqs[i], logits, dim, vocab, cfg, i)
    })?;
    Ok(acc)
}
