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
    /// Whether each row counts in the accuracy metrics: the task's accuracy mask
    /// (`Task::accuracy_mask`, e.g. DM's stop after END) where it declares one, else every
    /// row the loss scores.
    pub in_accuracy: Vec<bool>,
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
        let mut in_accuracy = Vec::new();
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
            let accuracy_mask = task.accuracy_mask(ex);
            let mut push = |t: usize, class: u32| -> Result<(), TrainError> {
                rows.push((i * l + t) as i64);
                row_seq.push(i);
                classes.push(class as i64);
                in_accuracy.push(
                    accuracy_mask
                        .as_ref()
                        .is_none_or(|m| m.get(t).copied().unwrap_or(false)),
                );
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
            in_accuracy,
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
                // The window is in the task's length unit (input symbols, not the query
                // token or DM's output positions).
                let kept: Vec<Example> = all
                    .into_iter()
                    .filter(|e| (min_len..=max_len).contains(&task.input_len(e)))
                    .collect();
                if kept.len() < batch_size {
                    return Err(TrainError::invalid(
                        "training.batch_size",
                        if max_len == usize::MAX {
                            format!(
                                "the train split has {} examples, fewer than one batch",
                                kept.len()
                            )
                        } else {
                            format!(
                                "the train split has {} examples in lengths {min_len}..={max_len}, fewer than one batch",
                                kept.len()
                            )
                        },
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

    /// The fixed training set of split mode: the `train` split's examples whose length in
    /// the task's unit (`Task::input_len`) lies in the window. Empty when streaming.
    pub fn training_set(&self) -> &[Example] {
        &self.split
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

#[cfg(test)]
mod tests {
    use super::*;
    use kleene_langs::{LangError, SplitSpec, TargetKind};
    use rand_chacha::ChaCha8Rng;

    /// Lengths 1..=9 except 5 (an exact-length request for 5 fails, to exercise the
    /// redraw), classes = token ids.
    struct Toy;
    impl Task for Toy {
        fn name(&self) -> &str {
            "toy"
        }
        fn description(&self) -> &str {
            "toy"
        }
        fn vocab(&self) -> Vec<String> {
            vec!["a".into(), "b".into()]
        }
        fn classes(&self) -> Vec<String> {
            self.vocab()
        }
        fn target_kind(&self) -> TargetKind {
            TargetKind::PerPosition
        }
        fn sample(&self, a: usize, b: usize, rng: &mut ChaCha8Rng) -> Result<Example, LangError> {
            let mut n = rng.random_range(a..=b);
            if n == 5 && a < b {
                n = 4;
            }
            if n == 5 {
                return Err(LangError::InvalidConfig {
                    task: "toy".into(),
                    field: "len".into(),
                    reason: "no member of length 5".into(),
                });
            }
            let tokens: Vec<u32> = (0..n).map(|_| rng.random_range(0..2)).collect();
            Ok(Example {
                target: Target::PerPosition(tokens.clone()),
                tokens,
            })
        }
        fn splits(&self) -> Vec<SplitSpec> {
            vec![SplitSpec {
                name: "train".into(),
                min_len: 1,
                max_len: 9,
                size: 200,
            }]
        }
    }

    fn ex(tokens: &[u32], target: Target) -> Example {
        Example {
            tokens: tokens.to_vec(),
            target,
        }
    }

    #[test]
    fn padding_and_scored_rows() {
        let exs = vec![
            ex(&[0, 1, 1], Target::PerPosition(vec![2, 0, 1])),
            ex(&[1], Target::PerPosition(vec![1])),
        ];
        let b = Batch::from_examples(&exs, &Toy, LossKind::Mse, 9, 3).unwrap();
        assert_eq!(b.seq_len, 3);
        assert_eq!(b.tokens, vec![0, 1, 1, 1, 9, 9]);
        assert_eq!(b.rows, vec![0, 1, 2, 3]);
        assert_eq!(b.row_seq, vec![0, 0, 0, 1]);
        assert_eq!(b.classes, vec![2, 0, 1, 1]);
        assert_eq!(
            b.dense.as_ref().unwrap(),
            &vec![0., 0., 1., 1., 0., 0., 0., 1., 0., 0., 1., 0.]
        );
        assert_eq!(b.real_tokens(), 4);
    }

    #[test]
    fn final_and_masked_rows() {
        let exs = vec![
            ex(&[0, 1, 1], Target::Final(4)),
            ex(&[1, 0], Target::Final(2)),
            ex(
                &[0, 0, 1],
                Target::Masked {
                    classes: vec![7, 8, 9],
                    mask: vec![false, true, true],
                },
            ),
        ];
        let b = Batch::from_examples(&exs, &Toy, LossKind::CrossEntropy, 2, 10).unwrap();
        // Final: last real position (b*L + len-1); masked: the true positions.
        assert_eq!(b.rows, vec![2, 3 + 1, 6 + 1, 6 + 2]);
        assert_eq!(b.classes, vec![4, 2, 8, 9]);
        assert_eq!(b.row_seq, vec![0, 1, 2, 2]);
        assert!(b.dense.is_none());
    }

    #[test]
    fn accuracy_rows_follow_the_tasks_accuracy_mask() {
        // binary-addition, 1 + 1: output [0, 1, END, 0] at positions 3..7; the loss scores
        // all four, DM's accuracy stops after END.
        let add = kleene_langs::task_by_name("binary-addition").unwrap();
        let e = ex(
            &[1, 2, 1, 3, 3, 3, 3],
            Target::Masked {
                classes: vec![0, 0, 0, 0, 1, 2, 0],
                mask: vec![false, false, false, true, true, true, true],
            },
        );
        let b = Batch::from_examples(&[e], add.as_ref(), LossKind::CrossEntropy, 4, 3).unwrap();
        assert_eq!(b.rows, vec![3, 4, 5, 6]);
        assert_eq!(b.in_accuracy, vec![true, true, true, false]);
        // A wrong row after END does not count; one before it does.
        use crate::trainer::{accuracy_rows, sequence_correct};
        let wrong_after_end = [true, true, true, false];
        assert_eq!(accuracy_rows(&b, &wrong_after_end), (3, 3));
        assert_eq!(sequence_correct(&b, &wrong_after_end), vec![true]);
        let wrong_before_end = [true, false, true, true];
        assert_eq!(accuracy_rows(&b, &wrong_before_end), (2, 3));
        assert_eq!(sequence_correct(&b, &wrong_before_end), vec![false]);
        // Toy declares no accuracy mask: every loss row counts.
        let b = Batch::from_examples(
            &[ex(&[0, 1], Target::PerPosition(vec![1, 0]))],
            &Toy,
            LossKind::CrossEntropy,
            2,
            2,
        )
        .unwrap();
        assert_eq!(b.in_accuracy, vec![true, true]);
    }

    #[test]
    fn bce_needs_next_symbol_sets() {
        let exs = vec![ex(&[0], Target::PerPosition(vec![0]))];
        let err = Batch::from_examples(&exs, &Toy, LossKind::Bce, 2, 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("training.loss") && err.contains("toy"),
            "{err}"
        );
    }

    #[test]
    fn stream_batches_are_deterministic_uniform_and_skip_empty_lengths() {
        let mut s1 =
            BatchSource::new(&Toy, DataSource::Stream, Curriculum::Uniform, 8, 1, 9, 7).unwrap();
        let mut s2 =
            BatchSource::new(&Toy, DataSource::Stream, Curriculum::Uniform, 8, 1, 9, 7).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for step in 0..60 {
            let a = s1.examples(step).unwrap();
            assert_eq!(a, s2.examples(step).unwrap());
            let len = a[0].tokens.len();
            assert!(
                a.iter().all(|e| e.tokens.len() == len),
                "one length per batch"
            );
            seen.insert(len);
        }
        // Out-of-order access gives the same batch (resume needs nothing but the step).
        assert_eq!(s1.examples(3).unwrap(), s2.examples(3).unwrap());
        assert!(!seen.contains(&5));
        assert_eq!(seen.len(), 8, "{seen:?}");
        let mut other =
            BatchSource::new(&Toy, DataSource::Stream, Curriculum::Uniform, 8, 1, 9, 8).unwrap();
        assert_ne!(other.examples(0).unwrap(), s1.examples(0).unwrap());
    }

    #[test]
    fn split_epochs_cover_the_split_once_with_similar_lengths() {
        let mut s =
            BatchSource::new(&Toy, DataSource::Split, Curriculum::Uniform, 10, 1, 9, 3).unwrap();
        let n = s.split.len();
        let per_epoch = n / 10; // 200 = a chunk of 160 (16 batches) + 40 (4 batches)
        let mut count = std::collections::HashMap::new();
        let mut spread = 0;
        for step in 0..per_epoch as u64 {
            let b = s.examples(step).unwrap();
            let lens: Vec<usize> = b.iter().map(|e| e.tokens.len()).collect();
            spread = spread.max(lens.iter().max().unwrap() - lens.iter().min().unwrap());
            for e in b {
                *count.entry(e.tokens).or_insert(0usize) += 1;
            }
        }
        let total: usize = count.values().sum();
        assert_eq!(total, per_epoch * 10);
        // Random batches of 10 over lengths 1..9 would spread ~7; sorted chunks stay small.
        assert!(spread <= 4, "batches by length: spread {spread}");
        // Next epoch is a different order.
        assert_ne!(
            s.examples(0).unwrap(),
            s.examples(per_epoch as u64).unwrap()
        );
    }
}
