//! Protocol drivers: run any [`SequenceModel`] on any [`Task`] and feed the plain-Rust
//! metrics of [`crate::metrics`]. The only Burn code of the crate lives here.
//!
//! Two ways to run a model:
//! - **parallel** ([`for_each_output`]): sequences sorted by length, cut into batches of
//!   `batch_size`, right-padded with `pad_token` to the longest in the batch, one
//!   `forward` per batch. Padding sits after every real token, so a causal model (the
//!   `SequenceModel` contract: output `t` depends only on inputs `0..=t`) gives the same
//!   outputs at real positions as without padding; padded positions are never scored.
//! - **recurrent** ([`evaluate_examples_recurrent`], [`long_length_curve`],
//!   [`greedy_generation`]): `init_state` then one `step` per position, so memory on the
//!   device does not grow with the length (10⁴, 10⁵ tokens and beyond).

use std::borrow::Cow;

use burn::prelude::*;
use burn::tensor::TensorData;
use kleene_langs::regbench::RegbenchProblem;
use kleene_langs::task::split_seed;
use kleene_langs::{seeded_rng, Example, SplitSpec, Target, TargetKind, Task};
use kleene_zoo::SequenceModel;
use serde::{Deserialize, Serialize};

use crate::metrics::accuracy::{
    final_token_correct, multilabel_correct, score_target, AccuracyCounts, Scoring,
};
use crate::metrics::curve::{LengthCurve, LengthPoint, SkippedLength};
use crate::metrics::dyck::{CloseAccuracy, CloseAccuracyConfig, DyckVocab};
use crate::metrics::flipflop::FlipFlopMetrics;
use crate::metrics::regbench::{
    generation_accepted, GenerationCounts, NextTokenOracle, RegbenchCounts, TaskOracle,
};
use crate::metrics::{argmax, row};
use crate::results::SplitMetrics;
use crate::EvalError;

/// Options shared by the drivers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalOptions {
    /// Sequences per forward / step batch. Default 64 (the SD-SSM sub-batch).
    pub batch_size: usize,
    /// How a position is judged. Default [`Scoring::Argmax`].
    pub scoring: Scoring,
    /// Input id used to right-pad shorter sequences in a batch. Default 0.
    pub pad_token: u32,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            batch_size: 64,
            scoring: Scoring::Argmax,
            pad_token: 0,
        }
    }
}

impl EvalOptions {
    fn check(&self) -> Result<(), EvalError> {
        if self.batch_size == 0 {
            return Err(EvalError::option("batch_size", "must be at least 1"));
        }
        Ok(())
    }
}

fn tokens_2d<B: Backend>(
    rows: &[&[u32]],
    len: usize,
    pad: u32,
    device: &B::Device,
) -> Tensor<B, 2, Int> {
    let mut v: Vec<i64> = Vec::with_capacity(rows.len() * len);
    for r in rows {
        v.extend((0..len).map(|t| i64::from(*r.get(t).unwrap_or(&pad))));
    }
    Tensor::<B, 2, Int>::from_data(TensorData::new(v, [rows.len(), len]), device)
}

fn tokens_1d<B: Backend>(ids: &[u32], device: &B::Device) -> Tensor<B, 1, Int> {
    let v: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
    Tensor::<B, 1, Int>::from_data(TensorData::new(v, [ids.len()]), device)
}

fn to_host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>, EvalError> {
    t.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| EvalError::Device(format!("{e:?}")))
}

/// Runs `model.forward` over `sequences` (batched by length, see the module docs) and
/// calls `visit(index, outputs)` once per sequence with its `(len, out_dim)` outputs,
/// row-major. Sequences are visited in order of increasing length, not index order.
pub fn for_each_output<B, M, F>(
    model: &M,
    sequences: &[&[u32]],
    opts: &EvalOptions,
    device: &B::Device,
    mut visit: F,
) -> Result<(), EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
    F: FnMut(usize, &[f32]) -> Result<(), EvalError>,
{
    opts.check()?;
    let dim = model.out_dim();
    let mut order: Vec<usize> = (0..sequences.len()).collect();
    order.sort_by_key(|&i| (sequences[i].len(), i));
    for chunk in order.chunks(opts.batch_size) {
        let max_len = chunk.iter().map(|&i| sequences[i].len()).max().unwrap_or(0);
        if max_len == 0 {
            for &i in chunk {
                visit(i, &[])?;
            }
            continue;
        }
        let rows: Vec<&[u32]> = chunk.iter().map(|&i| sequences[i]).collect();
        let y = model.forward(tokens_2d::<B>(&rows, max_len, opts.pad_token, device));
        let dims = y.dims();
        if dims != [chunk.len(), max_len, dim] {
            return Err(EvalError::shape(
                "model forward output",
                format!("{:?}", [chunk.len(), max_len, dim]),
                format!("{dims:?}"),
            ));
        }
        let host = to_host(y)?;
        for (r, &i) in chunk.iter().enumerate() {
            let start = r * max_len * dim;
            visit(i, &host[start..start + sequences[i].len() * dim])?;
        }
    }
    Ok(())
}

/// `ex` as the accuracy sees it: where the task declares an accuracy mask
/// (`Task::accuracy_mask`, DM's `accuracy_mask`), a masked target scored at those
/// positions only (and only where the target itself is scored); otherwise `ex` itself.
/// Final targets score their one position either way.
fn accuracy_view<'a>(task: &dyn Task, ex: &'a Example) -> Cow<'a, Example> {
    let Some(accuracy) = task.accuracy_mask(ex) else {
        return Cow::Borrowed(ex);
    };
    let in_mask = |t: usize| accuracy.get(t).copied().unwrap_or(false);
    let target = match &ex.target {
        Target::PerPosition(classes) => Target::Masked {
            classes: classes.clone(),
            mask: (0..classes.len()).map(in_mask).collect(),
        },
        Target::Masked { classes, mask } => Target::Masked {
            classes: classes.clone(),
            mask: mask
                .iter()
                .enumerate()
                .map(|(t, &m)| m && in_mask(t))
                .collect(),
        },
        Target::Final(_) => return Cow::Borrowed(ex),
    };
    Cow::Owned(Example {
        tokens: ex.tokens.clone(),
        target,
    })
}

fn score_one(
    task: &dyn Task,
    scoring: Scoring,
    ex: &Example,
    logits: &[f32],
    dim: usize,
) -> Result<Vec<bool>, EvalError> {
    let len = ex.tokens.len();
    match scoring {
        Scoring::Argmax => score_target(logits, len, dim, &ex.target),
        Scoring::MultiLabel => {
            let sets =
                task.next_symbol_sets(&ex.tokens)
                    .ok_or_else(|| EvalError::MissingOracle {
                        task: task.name().to_string(),
                        what: "next-symbol sets".into(),
                        metric: "multi-label accuracy".into(),
                    })?;
            let all = multilabel_correct(logits, dim, &sets)?;
            Ok(match &ex.target {
                Target::Masked { mask, .. } => all
                    .into_iter()
                    .zip(mask)
                    .filter(|(_, &m)| m)
                    .map(|(c, _)| c)
                    .collect(),
                _ => all,
            })
        }
    }
}

struct SplitAccumulator {
    counts: AccuracyCounts,
    final_ok: u64,
    final_n: u64,
    min_len: usize,
    max_len: usize,
}

impl SplitAccumulator {
    fn new() -> Self {
        SplitAccumulator {
            counts: AccuracyCounts::default(),
            final_ok: 0,
            final_n: 0,
            min_len: usize::MAX,
            max_len: 0,
        }
    }

    fn add(&mut self, len: usize, scored: u64, correct: u64, last_ok: Option<bool>) {
        self.counts.add_tally(scored, correct);
        if let Some(ok) = last_ok {
            self.final_n += 1;
            self.final_ok += u64::from(ok);
        }
        self.min_len = self.min_len.min(len);
        self.max_len = self.max_len.max(len);
    }

    fn finish(self, split: &str, kind: TargetKind, scoring: Scoring) -> SplitMetrics {
        SplitMetrics {
            split: split.to_string(),
            target_kind: kind,
            scoring,
            min_len: if self.min_len == usize::MAX {
                0
            } else {
                self.min_len
            },
            max_len: self.max_len,
            strict_accuracy: self.counts.strict(),
            relaxed_accuracy: self.counts.relaxed(),
            token_accuracy: self.counts.token(),
            final_token_accuracy: crate::metrics::accuracy::ratio(
                self.final_ok as f64,
                self.final_n as f64,
            ),
            counts: self.counts,
        }
    }
}

/// Evaluates `model` on given examples of `task` (parallel forward).
///
/// Strict, relaxed and token accuracy follow the task's [`Target`]s (see
/// [`crate::metrics::accuracy`]); `final_token_accuracy` scores the last position of every
/// sequence. With [`Scoring::MultiLabel`] the task must provide `next_symbol_sets`.
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

/// The split's metrics from one [`Tally`] per example. Tallies are added in example order,
/// so the float sums do not depend on the batching order, and the parallel and recurrent
/// paths give the same numbers bit for bit.
fn split_metrics(
    split: &str,
    task: &dyn Task,
    scoring: Scoring,
    examples: &[Example],
    tallies: Vec<Tally>,
) -> SplitMetrics {
    let mut acc = SplitAccumulator::new();
    for (ex, tl) in examples.iter().zip(tallies) {
        let last = (!ex.tokens.is_empty()).then_some(tl.last_ok);
        acc.add(task.input_len(ex), tl.scored, tl.correct, last);
    }
    acc.finish(split, task.target_kind(), scoring)
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

/// Per-sequence tallies of the recurrent path.
#[derive(Clone, Copy, Default)]
struct Tally {
    scored: u64,
    correct: u64,
    last_ok: bool,
}

/// Runs `model.step` over one batch of examples and scores every position the target
/// asks for, keeping only counters (outputs are read from the device only at scored
/// steps).
fn step_batch<B, M>(
    model: &M,
    task: &dyn Task,
    batch: &[Example],
    opts: &EvalOptions,
    device: &B::Device,
    first_index: usize,
) -> Result<Vec<Tally>, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    let dim = model.out_dim();
    let views: Vec<Cow<Example>> = batch.iter().map(|e| accuracy_view(task, e)).collect();
    let batch: Vec<&Example> = views.iter().map(|v| v.as_ref()).collect();
    let sets: Vec<Option<Vec<Vec<bool>>>> = match opts.scoring {
        Scoring::Argmax => vec![None; batch.len()],
        Scoring::MultiLabel => batch
            .iter()
            .map(|e| {
                task.next_symbol_sets(&e.tokens)
                    .map(Some)
                    .ok_or_else(|| EvalError::MissingOracle {
                        task: task.name().to_string(),
                        what: "next-symbol sets".into(),
                        metric: "multi-label accuracy".into(),
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    for (i, e) in batch.iter().enumerate() {
        let len = e.tokens.len();
        let ok = match &e.target {
            Target::PerPosition(c) => c.len() == len,
            Target::Masked { classes, mask } => classes.len() == len && mask.len() == len,
            Target::Final(_) => len > 0,
        };
        if !ok {
            return Err(EvalError::shape(
                format!("sequence {}: target", first_index + i),
                format!("one entry per token ({len})"),
                "another length",
            ));
        }
        if let Some(s) = &sets[i] {
            if s.len() != len {
                return Err(EvalError::shape(
                    format!("sequence {}: next-symbol sets", first_index + i),
                    len,
                    s.len(),
                ));
            }
        }
    }
    let max_len = batch.iter().map(|e| e.tokens.len()).max().unwrap_or(0);
    let mut tallies = vec![Tally::default(); batch.len()];
    let mut state = model.init_state(batch.len(), device);
    let mut ids = vec![0u32; batch.len()];
    for t in 0..max_len {
        for (b, e) in batch.iter().enumerate() {
            ids[b] = e.tokens.get(t).copied().unwrap_or(opts.pad_token);
        }
        let (out, next) = model.step(tokens_1d::<B>(&ids, device), state);
        state = next;
        let wanted = |e: &Example| {
            let len = e.tokens.len();
            t < len
                && (t + 1 == len
                    || match &e.target {
                        Target::PerPosition(_) => true,
                        Target::Masked { mask, .. } => mask[t],
                        Target::Final(_) => false,
                    })
        };
        if !batch.iter().any(|e| wanted(e)) {
            continue;
        }
        let dims = out.dims();
        if dims != [batch.len(), dim] {
            return Err(EvalError::shape(
                "model step output",
                format!("{:?}", [batch.len(), dim]),
                format!("{dims:?}"),
            ));
        }
        let host = to_host(out)?;
        for (b, e) in batch.iter().enumerate() {
            if !wanted(e) {
                continue;
            }
            let out_row = row(&host, dim, b);
            let len = e.tokens.len();
            let (scored, class) = match &e.target {
                Target::PerPosition(c) => (true, c[t]),
                Target::Masked { classes, mask } => (mask[t], classes[t]),
                Target::Final(c) => (t + 1 == len, *c),
            };
            if scored {
                let ok = match &sets[b] {
                    None => argmax(out_row) == class as usize,
                    Some(s) => multilabel_correct(out_row, dim, &s[t..t + 1])
                        .map_err(|e| e.in_sequence(first_index + b))?[0],
                };
                tallies[b].scored += 1;
                tallies[b].correct += u64::from(ok);
            }
            if t + 1 == len {
                let last_class = match &e.target {
                    Target::PerPosition(c) => c[t],
                    Target::Masked { classes, .. } => classes[t],
                    Target::Final(c) => *c,
                };
                tallies[b].last_ok = argmax(out_row) == last_class as usize;
            }
        }
    }
    Ok(tallies)
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

/// Which positions REGBENCH accuracy and TVD score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegbenchPositions {
    /// Every input position (the paper's figures, `get_greedy_dfa_accuracy`).
    #[default]
    All,
    /// Only positions the masked target scores (training-time `dfa_accuracy`, which skips
    /// positions whose true next token is the separator).
    TargetMask,
}

/// REGBENCH accuracy and TVD of `model` on `examples`, with the allowed next symbols
/// from `task.next_symbol_sets` (a task with one fixed language). For the real REGBENCH
/// task, whose problems each carry a DFA, use [`regbench_problems`].
pub fn regbench_metrics<B, M>(
    model: &M,
    task: &dyn Task,
    examples: &[Example],
    positions: RegbenchPositions,
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<RegbenchCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    regbench_metrics_with(
        model,
        &TaskOracle(task),
        task.name(),
        examples,
        positions,
        opts,
        device,
    )
}

/// REGBENCH accuracy and TVD on problems of `kleene_langs::regbench::Regbench` (each
/// scored against its own DFA). The inputs are `problem.example()`.
pub fn regbench_problems<B, M>(
    model: &M,
    problems: &[RegbenchProblem],
    positions: RegbenchPositions,
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<RegbenchCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    let examples: Vec<Example> = problems.iter().map(|p| p.example()).collect();
    regbench_metrics_with(
        model, problems, "regbench", &examples, positions, opts, device,
    )
}

/// REGBENCH accuracy and TVD with any [`NextTokenOracle`] (`task_name` only names errors).
pub fn regbench_metrics_with<B, M, O>(
    model: &M,
    oracle: &O,
    task_name: &str,
    examples: &[Example],
    positions: RegbenchPositions,
    opts: &EvalOptions,
    device: &B::Device,
) -> Result<RegbenchCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
    O: NextTokenOracle + ?Sized,
{
    let dim = model.out_dim();
    let seqs: Vec<&[u32]> = examples.iter().map(|e| e.tokens.as_slice()).collect();
    let mut per_seq: Vec<RegbenchCounts> = vec![RegbenchCounts::default(); examples.len()];
    for_each_output(model, &seqs, opts, device, |i, logits| {
        let ex = &examples[i];
        let sets = oracle
            .allowed(i, &ex.tokens)
            .ok_or_else(|| EvalError::MissingOracle {
                task: task_name.to_string(),
                what: "next-symbol sets (the DFA)".into(),
                metric: "REGBENCH accuracy".into(),
            })?;
        let mask = match (positions, &ex.target) {
            (RegbenchPositions::All, _) => None,
            (RegbenchPositions::TargetMask, Target::Masked { mask, .. }) => Some(mask.as_slice()),
            (RegbenchPositions::TargetMask, t) => {
                return Err(EvalError::WrongTargetKind {
                    metric: "REGBENCH dfa_accuracy (target mask)".into(),
                    task: task_name.to_string(),
                    needs: "masked".into(),
                    got: t.kind(),
                })
            }
        };
        per_seq[i]
            .add_sequence(logits, dim, &sets, mask, i)
            .map_err(|e| e.in_sequence(i))
    })?;
    // Summed in example order: the TVD sum does not depend on batching.
    let mut counts = RegbenchCounts::default();
    for c in &per_seq {
        counts.merge(c);
    }
    Ok(counts)
}

/// Whether every generated symbol is allowed after the prefix and the symbols before it.
/// The oracle is asked about growing prefixes and the check stops at the first symbol it
/// does not allow, so tasks whose oracle is undefined outside the language work too.
fn generated_is_accepted<O: NextTokenOracle + ?Sized>(
    oracle: &O,
    task_name: &str,
    example: usize,
    prefix: &[u32],
    generated: &[u32],
) -> Result<bool, EvalError> {
    let mut full = prefix.to_vec();
    for &g in generated {
        let sets = oracle
            .allowed(example, &full)
            .ok_or_else(|| EvalError::MissingOracle {
                task: task_name.to_string(),
                what: "next-symbol sets (the DFA)".into(),
                metric: "greedy generation acceptance".into(),
            })?;
        let Some(last) = sets.last() else {
            return Err(EvalError::shape(
                format!("sequence {example}: next-symbol sets"),
                full.len(),
                0,
            ));
        };
        if !generation_accepted(&[g], std::slice::from_ref(last))? {
            return Ok(false);
        }
        full.push(g);
    }
    Ok(true)
}

/// Settings of greedy generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationConfig {
    /// Separator id appended to the prefix and ending a sample. Default 19 (REGBENCH `|`).
    pub separator: u32,
    /// Length cap of a sample. Default 12 (the upstream `generate.py`).
    pub max_new_tokens: usize,
    /// Sequences stepped together. Default 64.
    pub batch_size: usize,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        GenerationConfig {
            separator: 19,
            max_new_tokens: 12,
            batch_size: 64,
        }
    }
}

/// Greedy generation: for every example, feed its tokens plus one separator through
/// `step`, then decode greedily (argmax) until the separator or `max_new_tokens`; the
/// sample is accepted iff every generated symbol is in the task's allowed set where it
/// was generated. A predicted id outside the input vocabulary ends the sample as rejected.
pub fn greedy_generation<B, M>(
    model: &M,
    task: &dyn Task,
    examples: &[Example],
    cfg: &GenerationConfig,
    device: &B::Device,
) -> Result<GenerationCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    greedy_generation_with(
        model,
        &TaskOracle(task),
        task.name(),
        task.vocab().len(),
        examples,
        cfg,
        device,
    )
}

/// [`greedy_generation`] on REGBENCH problems (each checked against its own DFA), with
/// the REGBENCH separator whatever `cfg.separator` says.
pub fn regbench_generation<B, M>(
    model: &M,
    problems: &[RegbenchProblem],
    cfg: &GenerationConfig,
    device: &B::Device,
) -> Result<GenerationCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    let examples: Vec<Example> = problems.iter().map(|p| p.example()).collect();
    let cfg = GenerationConfig {
        separator: kleene_langs::regbench::SEPARATOR,
        ..cfg.clone()
    };
    greedy_generation_with(
        model,
        problems,
        "regbench",
        kleene_langs::regbench::VOCAB_SIZE,
        &examples,
        &cfg,
        device,
    )
}

/// Greedy generation with any [`NextTokenOracle`]; ids `>= vocab_size` are rejections.
pub fn greedy_generation_with<B, M, O>(
    model: &M,
    oracle: &O,
    task_name: &str,
    vocab_size: usize,
    examples: &[Example],
    cfg: &GenerationConfig,
    device: &B::Device,
) -> Result<GenerationCounts, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
    O: NextTokenOracle + ?Sized,
{
    if cfg.batch_size == 0 {
        return Err(EvalError::option("batch_size", "must be at least 1"));
    }
    let dim = model.out_dim();
    let vocab = vocab_size;
    let mut counts = GenerationCounts::default();
    for (k, batch) in examples.chunks(cfg.batch_size).enumerate() {
        let prefixes: Vec<Vec<u32>> = batch
            .iter()
            .map(|e| {
                let mut p = e.tokens.clone();
                p.push(cfg.separator);
                p
            })
            .collect();
        let n = prefixes.len();
        let mut generated: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut done = vec![false; n];
        let mut invalid = vec![false; n];
        let mut hit_cap = vec![false; n];
        let mut state = model.init_state(n, device);
        let mut ids = vec![0u32; n];
        let mut t = 0;
        while done.iter().any(|d| !d) {
            for b in 0..n {
                let p = &prefixes[b];
                ids[b] = if t < p.len() {
                    p[t]
                } else if !done[b] {
                    *generated[b].last().unwrap_or(&cfg.separator)
                } else {
                    cfg.separator
                };
            }
            let (out, next) = model.step(tokens_1d::<B>(&ids, device), state);
            state = next;
            if prefixes
                .iter()
                .zip(&done)
                .any(|(p, &d)| !d && t + 1 >= p.len())
            {
                let host = to_host(out)?;
                if host.len() != n * dim {
                    return Err(EvalError::shape("model step output", n * dim, host.len()));
                }
                for b in 0..n {
                    if done[b] || t + 1 < prefixes[b].len() {
                        continue;
                    }
                    if generated[b].len() >= cfg.max_new_tokens {
                        done[b] = true;
                        hit_cap[b] = true;
                        continue;
                    }
                    let g = argmax(row(&host, dim, b)) as u32;
                    if g == cfg.separator {
                        done[b] = true;
                    } else if g as usize >= vocab {
                        done[b] = true;
                        invalid[b] = true;
                    } else {
                        generated[b].push(g);
                        if generated[b].len() == cfg.max_new_tokens {
                            done[b] = true;
                            hit_cap[b] = true;
                        }
                    }
                }
            }
            t += 1;
        }
        for b in 0..n {
            let accepted = !invalid[b]
                && generated_is_accepted(
                    oracle,
                    task_name,
                    k * cfg.batch_size + b,
                    &prefixes[b],
                    &generated[b],
                )?;
            counts.samples += 1;
            counts.accepted += u64::from(accepted);
            counts.hit_cap += u64::from(hit_cap[b]);
            counts.generated_tokens += generated[b].len() as u64;
        }
    }
    Ok(counts)
}
