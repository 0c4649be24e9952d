//! Batches: curriculum, padding, masking, batching by length, deterministic order.
//!
//! The batch of step `s` is a pure function of `(seed, s)` (stream data) or of
//! `(seed, epoch, position)` (split data), so resuming a run needs only the step count:
//! there is no data-loader RNG state to save.

use kleene_langs::{seeded_rng, task::split_seed, Example, Target, Task};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::config::{Curriculum, DataSource};
use crate::loss::LossKind;
use crate::TrainError;

/// A host-side batch: right-padded token ids and the scored rows of the flattened
/// `(batch * len)` positions with their targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub batch_size: usize,
    /// Padded length `L` (the longest example).
    pub seq_len: usize,
    /// `(batch_size * seq_len)` token ids, padded with the pad id.
    pub tokens: Vec<i64>,
    /// Real lengths of the examples.
    pub lengths: Vec<usize>,
    /// Scored flattened positions `b * L + t`.
    pub rows: Vec<i64>,
    /// Which sequence each row belongs to.
    pub row_seq: Vec<usize>,
    /// Class id per row (CE, MSE; 0 for BCE).
    pub classes: Vec<i64>,
    /// `(rows, out_dim)` one-hot (MSE) or next-symbol sets (BCE).
    pub dense: Option<Vec<f32>>,
    /// Width of `dense` rows.
    pub out_dim: usize,
}

impl Batch {
    /// Real (non-padding) tokens in the batch: the throughput unit.
    pub fn real_tokens(&self) -> usize {
        self.lengths.iter().sum()
    }

    /// Builds a batch from examples. `pad_id` is the extra embedding row after the task's
    /// vocabulary; `out_dim` the model's output width.
    pub fn from_examples(
        examples: &[Example],
        task: &dyn Task,
        loss: LossKind,
        pad_id: u32,
        out_dim: usize,
    ) -> Result<Batch, TrainError> {
        let b = examples.len();
        let l = examples.iter().map(|e| e.tokens.len()).max().unwrap_or(0);
        if l == 0 {
            return Err(TrainError::invalid(
                "task",
                format!("task `{}` produced an empty example", task.name()),
            ));
        }
        let mut tokens = vec![pad_id as i64; b * l];
        let mut rows = Vec::new();
        let mut row_seq = Vec::new();
        let mut classes = Vec::new();
        let mut dense = Vec::new();
        let mut lengths = Vec::with_capacity(b);
        for (i, ex) in examples.iter().enumerate() {
            let n = ex.tokens.len();
            lengths.push(n);
            for (t, &tok) in ex.tokens.iter().enumerate() {
                tokens[i * l + t] = tok as i64;
            }
            let sets = if loss == LossKind::Bce {
                Some(task.next_symbol_sets(&ex.tokens).ok_or_else(|| {
                    TrainError::invalid(
                        "training.loss",
                        format!(
                            "`bce` needs next-symbol sets, which task `{}` does not define",
                            task.name()
                        ),
                    )
                })?)
            } else {
                None
            };
            let mut push = |t: usize, class: u32| -> Result<(), TrainError> {
                rows.push((i * l + t) as i64);
                row_seq.push(i);
                classes.push(class as i64);
                match (&sets, loss) {
                    (Some(sets), _) => {
                        let set = &sets[t];
                        if set.len() != out_dim {
                            return Err(TrainError::invalid(
                                "training.loss",
                                format!(
                                    "next-symbol set has {} symbols, model outputs {out_dim}",
                                    set.len()
                                ),
                            ));
                        }
                        dense.extend(set.iter().map(|&s| if s { 1.0f32 } else { 0.0 }));
                    }
                    (None, LossKind::Mse) => {
                        dense.extend((0..out_dim).map(|c| {
                            if c as u32 == class {
                                1.0f32
                            } else {
                                0.0
                            }
                        }));
                    }
                    _ => {}
                }
                Ok(())
            };
            match &ex.target {
                Target::PerPosition(cls) => {
                    for (t, &c) in cls.iter().enumerate().take(n) {
                        push(t, c)?;
                    }
                }
                Target::Masked { classes: cls, mask } => {
                    for t in 0..n.min(cls.len()) {
                        if mask[t] {
                            push(t, cls[t])?;
                        }
                    }
                }
                Target::Final(c) => push(n - 1, *c)?,
            }
        }
        if rows.is_empty() {
            return Err(TrainError::invalid(
                "task",
                "a batch has no scored position (every mask is false)",
            ));
        }
        let has_dense = loss == LossKind::Bce || loss == LossKind::Mse;
        Ok(Batch {
            batch_size: b,
            seq_len: l,
            tokens,
            lengths,
            rows,
            row_seq,
            classes,
            dense: has_dense.then_some(dense),
            out_dim,
        })
    }
}

/// Draws the training examples of each step.
pub struct BatchSource<'a> {
    task: &'a dyn Task,
    source: DataSource,
    curriculum: Curriculum,
    batch_size: usize,
    min_len: usize,
    max_len: usize,
    seed: u64,
    /// Split mode: the fixed training set and its length-grouped epoch plan cache.
    split: Vec<Example>,
    cached_epoch: Option<(u64, Vec<Vec<usize>>)>,
}

impl<'a> BatchSource<'a> {
    pub fn new(
        task: &'a dyn Task,
        source: DataSource,
        curriculum: Curriculum,
        batch_size: usize,
        min_len: usize,
        max_len: usize,
        seed: u64,
    ) -> Result<Self, TrainError> {
        let split = match source {
            DataSource::Stream => Vec::new(),
            DataSource::Split => {
                let spec = task
                    .splits()
                    .into_iter()
                    .find(|s| s.name == "train")
                    .ok_or_else(|| {
                        TrainError::invalid(
                            "training.data",
                            format!("task `{}` has no `train` split", task.name()),
                        )
                    })?;
                let all = task.generate_split(&spec, seed)?;
                let kept: Vec<Example> = all
                    .into_iter()
                    .filter(|e| (min_len..=max_len).contains(&e.tokens.len()))
                    .collect();
                if kept.len() < batch_size {
                    return Err(TrainError::invalid(
                        "training.batch_size",
                        format!(
                            "the train split has {} examples in lengths {min_len}..={max_len}, fewer than one batch",
                            kept.len()
                        ),
                    ));
                }
                kept
            }
        };
        Ok(BatchSource {
            task,
            source,
            curriculum,
            batch_size,
            min_len,
            max_len,
            seed,
            split,
            cached_epoch: None,
        })
    }

    /// The examples of (0-based) step `step`.
    pub fn examples(&mut self, step: u64) -> Result<Vec<Example>, TrainError> {
        match self.source {
            DataSource::Stream => self.stream_examples(step),
            DataSource::Split => Ok(self.split_examples(step)),
        }
    }

    fn stream_examples(&self, step: u64) -> Result<Vec<Example>, TrainError> {
        let mut rng = seeded_rng(split_seed(self.seed, &format!("train-step-{step}")));
        let mut out = Vec::with_capacity(self.batch_size);
        match self.curriculum {
            Curriculum::Uniform => {
                // Some lengths have no member (a^n b^n at odd n): redraw the length.
                let mut last_err = None;
                for _ in 0..64 {
                    let len = rng.random_range(self.min_len..=self.max_len);
                    match self.task.sample(len, len, &mut rng) {
                        Ok(first) => {
                            out.push(first);
                            while out.len() < self.batch_size {
                                out.push(self.task.sample(len, len, &mut rng)?);
                            }
                            return Ok(out);
                        }
                        Err(e) => last_err = Some(e),
                    }
                }
                Err(last_err.expect("64 failed draws").into())
            }
            Curriculum::Mixed => {
                while out.len() < self.batch_size {
                    out.push(self.task.sample(self.min_len, self.max_len, &mut rng)?);
                }
                Ok(out)
            }
        }
    }

    /// Epoch plan: shuffle, sort by length inside chunks of 16 batches (so batches hold
    /// similar lengths and little padding), cut into batches, shuffle the batches.
    fn epoch_plan(&self, epoch: u64) -> Vec<Vec<usize>> {
        let mut rng = seeded_rng(split_seed(self.seed, &format!("train-epoch-{epoch}")));
        let mut idx: Vec<usize> = (0..self.split.len()).collect();
        idx.shuffle(&mut rng);
        let chunk = self.batch_size * 16;
        let mut batches = Vec::new();
        for part in idx.chunks(chunk) {
            let mut part = part.to_vec();
            part.sort_by_key(|&i| self.split[i].tokens.len());
            for b in part.chunks(self.batch_size) {
                if b.len() == self.batch_size {
                    batches.push(b.to_vec());
                }
            }
        }
        batches.shuffle(&mut rng);
        batches
    }

    fn split_examples(&mut self, step: u64) -> Vec<Example> {
        // Every epoch plan has the same number of batches: full chunks give 16 each, the
        // remainder chunk gives its full batches.
        let chunk = self.batch_size * 16;
        let n = self.split.len();
        let per_epoch = ((n / chunk) * 16 + (n % chunk) / self.batch_size) as u64;
        let epoch = step / per_epoch;
        if self.cached_epoch.as_ref().map(|c| c.0) != Some(epoch) {
            self.cached_epoch = Some((epoch, self.epoch_plan(epoch)));
        }
        let plan = &self.cached_epoch.as_ref().unwrap().1;
        let b = &plan[(step % per_epoch) as usize];
        b.iter().map(|&i| self.split[i].clone()).collect()
    }
}
