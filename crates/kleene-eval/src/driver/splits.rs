//! Protocol: accuracy on given examples and on the task's splits (Bhattamishra bins,
//! flip-flop sets, dev/test), through the parallel or the recurrent runner.

use burn::prelude::*;
use kleene_langs::{Example, SplitSpec, Task};
use kleene_zoo::SequenceModel;

use crate::metrics::accuracy::final_token_correct;
use crate::metrics::flipflop::FlipFlopMetrics;
use crate::results::SplitMetrics;
use crate::EvalError;

use super::runner::*;
use super::EvalOptions;

/// Evaluates `model` on given examples of `task` (parallel forward).
///
/// Strict, relaxed and token accuracy follow the task's [`kleene_langs::Target`]s (see
/// [`crate::metrics::accuracy`]); `final_token_accuracy` scores the last position of every
/// sequence. With `Scoring::MultiLabel` the task must provide `next_symbol_sets`.
pub fn evaluate_examples<B, M>(
    model: &M,
    task: &dyn Task,
    split: &str,
    examples: &[Example],
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<SplitMetrics, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    let dim = model.out_dim();
    let seqs: Vec<&[u32]> = examples.iter().map(|e| e.tokens.as_slice()).collect();
    let mut tallies = vec![Tally::default(); examples.len()];
    for_each_output(model, &seqs, opts, device, |i, logits| {
        let ex = &examples[i];
        let len = ex.tokens.len();
        let correct = score_one(task, opts.scoring, &accuracy_view(task, ex), logits, dim)
            .map_err(|e| e.in_sequence(i))?;
        let last_ok = len > 0
            && final_token_correct(logits, len, dim, &ex.target).map_err(|e| e.in_sequence(i))?;
        tallies[i] = Tally {
            scored: correct.len() as u64,
            correct: correct.iter().filter(|&&c| c).count() as u64,
            last_ok,
        };
        Ok(())
    })?;
    Ok(split_metrics(split, task, opts.scoring, examples, tallies))
}

/// Generates split `split` of `task` from `seed` (`Task::generate_split`) and evaluates it.
pub fn evaluate_split<B, M>(
    model: &M,
    task: &dyn Task,
    split: &SplitSpec,
    seed: u64,
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<SplitMetrics, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    let examples = task.generate_split(split, seed)?;
    evaluate_examples(model, task, &split.name, &examples, opts, device)
}

/// Evaluates every split of the task except `train` (Bhattamishra bins, flip-flop sets,
/// dev/test), in release order.
pub fn evaluate_splits<B, M>(
    model: &M,
    task: &dyn Task,
    seed: u64,
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<Vec<SplitMetrics>, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    task.splits()
        .iter()
        .filter(|s| s.name != "train")
        .map(|s| evaluate_split(model, task, s, seed, opts, device))
        .collect()
}

/// Flip-flop: evaluates the non-train splits and summarises them as in-distribution /
/// sparse / dense read and sequence accuracy.
pub fn flip_flop<B, M>(
    model: &M,
    task: &dyn Task,
    seed: u64,
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<(FlipFlopMetrics, Vec<SplitMetrics>), EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    let splits = evaluate_splits(model, task, seed, opts, device)?;
    Ok((FlipFlopMetrics::from_splits(&splits), splits))
}

/// Like [`evaluate_examples`] but through the recurrent `step` mode (same metrics; a
/// model honouring the `SequenceModel` contract gives the same numbers both ways).
pub fn evaluate_examples_recurrent<B, M>(
    model: &M,
    task: &dyn Task,
    split: &str,
    examples: &[Example],
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<SplitMetrics, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    opts.check()?;
    let mut tallies = Vec::with_capacity(examples.len());
    for (k, batch) in examples.chunks(opts.batch_size).enumerate() {
        tallies.extend(step_batch(
            model,
            task,
            batch,
            opts,
            device,
            k * opts.batch_size,
        )?);
    }
    Ok(split_metrics(split, task, opts.scoring, examples, tallies))
}
