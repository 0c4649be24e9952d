//! The one runner of every protocol: a model's outputs on sequences, either **parallel**
//! ([`for_each_output`]: one `forward` per length-sorted, right-padded batch) or
//! **recurrent** ([`step_batch`]: `init_state` then one `step` per position, constant device
//! memory), and the per-sequence scoring both feed (the task's accuracy mask applied).

use std::borrow::Cow;

use burn::prelude::*;
use burn::tensor::TensorData;
use kleene_langs::{Example, Target, TargetKind, Task};
use kleene_zoo::SequenceModel;

use crate::metrics::accuracy::{multilabel_correct, score_target, AccuracyCounts, Scoring};
use crate::metrics::{argmax, row};
use crate::results::SplitMetrics;
use crate::EvalError;

use super::EvalOptions;

pub(super) fn tokens_2d<B: Backend>(
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

pub(super) fn tokens_1d<B: Backend>(ids: &[u32], device: &B::Device) -> Tensor<B, 1, Int> {
    let v: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
    Tensor::<B, 1, Int>::from_data(TensorData::new(v, [ids.len()]), device)
}

pub(super) fn to_host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>, EvalError> {
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
pub(super) fn accuracy_view<'a>(task: &dyn Task, ex: &'a Example) -> Cow<'a, Example> {
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

pub(super) fn score_one(
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

pub(super) struct SplitAccumulator {
    counts: AccuracyCounts,
    final_ok: u64,
    final_n: u64,
    min_len: usize,
    max_len: usize,
}

impl SplitAccumulator {
    pub(super) fn new() -> Self {
        SplitAccumulator {
            counts: AccuracyCounts::default(),
            final_ok: 0,
            final_n: 0,
            min_len: usize::MAX,
            max_len: 0,
        }
    }

    pub(super) fn add(&mut self, len: usize, scored: u64, correct: u64, last_ok: Option<bool>) {
        self.counts.add_tally(scored, correct);
        if let Some(ok) = last_ok {
            self.final_n += 1;
            self.final_ok += u64::from(ok);
        }
        self.min_len = self.min_len.min(len);
        self.max_len = self.max_len.max(len);
    }

    pub(super) fn finish(self, split: &str, kind: TargetKind, scoring: Scoring) -> SplitMetrics {
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

/// The split's metrics from one [`Tally`] per example. Tallies are added in example order,
/// so the float sums do not depend on the batching order, and the parallel and recurrent
/// paths give the same numbers bit for bit.
pub(super) fn split_metrics(
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

/// Per-sequence tallies of the recurrent path.
#[derive(Clone, Copy, Default)]
pub(super) struct Tally {
    pub(super) scored: u64,
    pub(super) correct: u64,
    pub(super) last_ok: bool,
}

/// Runs `model.step` over one batch of examples and scores every position the target
/// asks for, keeping only counters (outputs are read from the device only at scored
/// steps).
pub(super) fn step_batch<B, M>(
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
