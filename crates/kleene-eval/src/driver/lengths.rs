//! Protocol: accuracy per length in the task's unit (SD-SSM `range_evaluation.py`,
//! DM's 41..500), and at long lengths through the recurrent runner.

use burn::prelude::*;
use kleene_langs::task::split_seed;
use kleene_langs::{seeded_rng, Example, Task};
use kleene_zoo::SequenceModel;
use serde::{Deserialize, Serialize};

use crate::metrics::curve::{LengthCurve, LengthPoint, SkippedLength};
use crate::EvalError;

use super::runner::*;
use super::splits::evaluate_examples;
use super::EvalOptions;

/// Settings of the per-length protocol (SD-SSM `range_evaluation.py`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CurveConfig {
    /// First length evaluated. Default 1.
    pub min_len: usize,
    /// Last length evaluated. Default 500.
    pub max_len: usize,
    /// Stride between evaluated lengths (`min_len, min_len + step, ...`). Default 1.
    pub step: usize,
    /// Fresh sequences per length. Default 512.
    pub per_length: usize,
    /// Base seed; length `l` draws from `seeded_rng(split_seed(seed, "length-{l}"))`, so
    /// every length is reproducible on its own. Default 1 (the paper reseeds to 1).
    pub seed: u64,
    /// Longest training length (in-distribution up to it). Default none.
    pub train_max_len: Option<usize>,
    /// Record lengths the task cannot sample (e.g. odd lengths of aⁿbⁿ) as skipped
    /// instead of failing. Default true.
    pub skip_unsampleable: bool,
    /// Batch size and scoring.
    pub options: EvalOptions,
}

impl Default for CurveConfig {
    fn default() -> Self {
        CurveConfig {
            min_len: 1,
            max_len: 500,
            step: 1,
            per_length: 512,
            seed: 1,
            train_max_len: None,
            skip_unsampleable: true,
            options: EvalOptions::default(),
        }
    }
}

/// The RNG of length `length` in the per-length protocols.
pub fn length_rng(seed: u64, length: usize) -> rand_chacha::ChaCha8Rng {
    seeded_rng(split_seed(seed, &format!("length-{length}")))
}

/// Draws `n` examples of exactly `length` from the length's own RNG. `Ok(None)` when the
/// task has no example of that length and `skip` is set.
fn sample_length(
    task: &dyn Task,
    length: usize,
    n: usize,
    seed: u64,
    skip: bool,
) -> Result<Result<Vec<Example>, SkippedLength>, EvalError> {
    let mut rng = length_rng(seed, length);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        match task.sample(length, length, &mut rng) {
            Ok(e) => out.push(e),
            Err(e) if skip && out.is_empty() => {
                return Ok(Err(SkippedLength {
                    length,
                    reason: e.to_string(),
                }))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Ok(out))
}

/// Accuracy at every length `min_len..=max_len` with `per_length` fresh sequences each
/// (parallel forward). The point's `accuracy` is strict accuracy (final-class accuracy
/// for SD-SSM tasks).
pub fn length_curve<B, M>(
    model: &M,
    task: &dyn Task,
    cfg: &CurveConfig,
    device: &B::Device,
) -> Result<LengthCurve, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    if cfg.min_len > cfg.max_len || cfg.per_length == 0 || cfg.step == 0 {
        return Err(EvalError::option(
            "length curve",
            format!(
                "needs min_len <= max_len, step >= 1 and per_length >= 1 (got {}..={}, step {}, {})",
                cfg.min_len, cfg.max_len, cfg.step, cfg.per_length
            ),
        ));
    }
    let mut curve = LengthCurve::new(Vec::new(), cfg.train_max_len);
    for length in (cfg.min_len..=cfg.max_len).step_by(cfg.step) {
        match sample_length(
            task,
            length,
            cfg.per_length,
            cfg.seed,
            cfg.skip_unsampleable,
        )? {
            Err(skipped) => curve.skipped.push(skipped),
            Ok(examples) => {
                let name = format!("length-{length}");
                let m = evaluate_examples(model, task, &name, &examples, &cfg.options, device)?;
                curve.points.push(LengthPoint {
                    length,
                    n: examples.len(),
                    accuracy: m.strict_accuracy,
                    token_accuracy: m.token_accuracy,
                });
            }
        }
    }
    Ok(curve)
}

/// Settings of the long-length protocol (recurrent mode, constant device memory).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LongLengthConfig {
    /// Lengths evaluated. Default `[10_000, 100_000]`.
    pub lengths: Vec<usize>,
    /// Sequences per length. Default 64.
    pub per_length: usize,
    /// Base seed (same per-length RNG as [`CurveConfig::seed`]). Default 1.
    pub seed: u64,
    /// Batch size and scoring.
    pub options: EvalOptions,
}

impl Default for LongLengthConfig {
    fn default() -> Self {
        LongLengthConfig {
            lengths: vec![10_000, 100_000],
            per_length: 64,
            seed: 1,
            options: EvalOptions::default(),
        }
    }
}

/// Accuracy at each of `cfg.lengths` through `step`, sampling one batch at a time so host
/// memory is `O(batch_size × length)` and device memory does not grow with the length.
/// Points can be appended to a [`LengthCurve`] from [`length_curve`].
pub fn long_length_curve<B, M>(
    model: &M,
    task: &dyn Task,
    cfg: &LongLengthConfig,
    device: &B::Device,
) -> Result<Vec<LengthPoint>, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    cfg.options.check()?;
    let mut points = Vec::new();
    for &length in &cfg.lengths {
        let mut rng = length_rng(cfg.seed, length);
        let mut acc = SplitAccumulator::new();
        let mut done = 0;
        while done < cfg.per_length {
            let n = cfg.options.batch_size.min(cfg.per_length - done);
            let batch = (0..n)
                .map(|_| task.sample(length, length, &mut rng))
                .collect::<Result<Vec<_>, _>>()?;
            let tallies = step_batch(model, task, &batch, &cfg.options, device, done)?;
            for (e, tl) in batch.iter().zip(tallies) {
                let last = (!e.tokens.is_empty()).then_some(tl.last_ok);
                acc.add(task.input_len(e), tl.scored, tl.correct, last);
            }
            done += n;
        }
        let m = acc.finish("long", task.target_kind(), cfg.options.scoring);
        points.push(LengthPoint {
            length,
            n: cfg.per_length,
            accuracy: m.strict_accuracy,
            token_accuracy: m.token_accuracy,
        });
    }
    Ok(points)
}
