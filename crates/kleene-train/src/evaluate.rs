//! Post-training evaluation used by `kleene train` / `kleene eval`: accuracy on the task's
//! published splits (length bins) or at every length of a range (SD-SSM curves), scored
//! with the same rows and correctness rule as training.

use std::path::Path;

use burn::prelude::*;
use kleene_langs::{seeded_rng, task::split_seed, Example, SplitSpec, Task};
use kleene_zoo::SequenceModel;
use serde::{Deserialize, Serialize};

use crate::checkpoint::write_atomic;
use crate::config::{EvalConfig, EvalProtocol};
use crate::data::Batch;
use crate::loss::{scored_rows, LossKind};
use crate::trainer::{batch_tensors, row_correct, sequence_correct};
use crate::TrainError;

/// Accuracy on one group of examples (a split, or one length).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalRow {
    /// Split name or `len-<n>`.
    pub name: String,
    pub min_len: usize,
    pub max_len: usize,
    pub examples: usize,
    /// Fraction of sequences with every scored position right (Sarrof's "strict").
    pub seq_acc: f64,
    /// Mean over sequences of the fraction of scored positions right ("relaxed").
    pub pos_acc: f64,
}

/// All rows of one evaluation, plus the training window for the in/out-of-distribution split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub task: String,
    pub protocol: EvalProtocol,
    pub train_min_len: usize,
    pub train_max_len: usize,
    pub step: u64,
    pub rows: Vec<EvalRow>,
}

impl EvalReport {
    /// Mean sequence accuracy over rows inside / beyond the training window.
    pub fn in_out_means(&self) -> (Option<f64>, Option<f64>) {
        let mean = |f: &dyn Fn(&EvalRow) -> bool| {
            let v: Vec<f64> = self
                .rows
                .iter()
                .filter(|r| f(r))
                .map(|r| r.seq_acc)
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        (
            mean(&|r| r.max_len <= self.train_max_len),
            mean(&|r| r.min_len > self.train_max_len),
        )
    }

    /// A markdown table: one row per split / length.
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "Task `{}` after {} steps (trained on lengths {}..={}):\n\n| group | lengths | n | sequence acc | position acc |\n|---|---|---|---|---|\n",
            self.task, self.step, self.train_min_len, self.train_max_len
        );
        for r in &self.rows {
            let tag = if r.min_len > self.train_max_len {
                " (longer)"
            } else {
                ""
            };
            s.push_str(&format!(
                "| {}{} | {}..={} | {} | {:.1}% | {:.1}% |\n",
                r.name,
                tag,
                r.min_len,
                r.max_len,
                r.examples,
                100.0 * r.seq_acc,
                100.0 * r.pos_acc
            ));
        }
        let (inside, beyond) = self.in_out_means();
        if let Some(i) = inside {
            s.push_str(&format!(
                "\nmean sequence accuracy, training lengths: {:.1}%\n",
                100.0 * i
            ));
        }
        if let Some(o) = beyond {
            s.push_str(&format!(
                "mean sequence accuracy, longer lengths:   {:.1}%\n",
                100.0 * o
            ));
        }
        s
    }

    /// Writes `eval.json` and `eval.md` into the run directory.
    pub fn write(&self, run_dir: &Path) -> Result<(), TrainError> {
        write_atomic(
            &run_dir.join("eval.json"),
            &serde_json::to_vec_pretty(self).expect("report serialises"),
        )?;
        write_atomic(&run_dir.join("eval.md"), self.to_markdown().as_bytes())
    }
}

/// Scores `examples` (any lengths; grouped by length into batches of `batch_size`).
pub fn score_examples<B: Backend, M: SequenceModel<B>>(
    model: &M,
    task: &dyn Task,
    examples: &[Example],
    loss: LossKind,
    batch_size: usize,
    device: &B::Device,
) -> Result<(f64, f64), TrainError> {
    let pad_id = task.vocab().len() as u32;
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| examples[i].tokens.len());
    let (mut seq_ok, mut pos_frac) = (0usize, 0.0f64);
    for chunk in order.chunks(batch_size.max(1)) {
        let exs: Vec<Example> = chunk.iter().map(|&i| examples[i].clone()).collect();
        let batch = Batch::from_examples(&exs, task, loss, pad_id, model.out_dim())?;
        let (tok, targets) = batch_tensors::<B>(&batch, device);
        let x = scored_rows(model.forward(tok), targets.rows);
        let ok = row_correct(loss, x, &batch);
        seq_ok += sequence_correct(&batch, &ok).iter().filter(|&&b| b).count();
        let mut per = vec![(0usize, 0usize); batch.batch_size];
        for (r, &good) in ok.iter().enumerate() {
            let e = &mut per[batch.row_seq[r]];
            e.1 += 1;
            if good {
                e.0 += 1;
            }
        }
        pos_frac += per
            .iter()
            .map(|&(g, n)| if n == 0 { 1.0 } else { g as f64 / n as f64 })
            .sum::<f64>();
    }
    let n = examples.len().max(1) as f64;
    Ok((seq_ok as f64 / n, pos_frac / n))
}

/// Runs the configured protocol.
#[allow(clippy::too_many_arguments)]
pub fn evaluate<B: Backend, M: SequenceModel<B>>(
    model: &M,
    task: &dyn Task,
    eval: &EvalConfig,
    loss: LossKind,
    train_window: (usize, usize),
    step: u64,
    device: &B::Device,
    mut on_row: impl FnMut(&EvalRow),
) -> Result<EvalReport, TrainError> {
    let mut rows = Vec::new();
    match eval.protocol {
        EvalProtocol::Splits => {
            let all = task.splits();
            let wanted: Vec<SplitSpec> = if eval.splits.is_empty() {
                all.into_iter().filter(|s| s.name != "train").collect()
            } else {
                let mut v = Vec::new();
                for name in &eval.splits {
                    let s = all.iter().find(|s| &s.name == name).ok_or_else(|| {
                        TrainError::invalid(
                            "eval.splits",
                            format!(
                                "task `{}` has no split `{name}` (it has: {})",
                                task.name(),
                                all.iter()
                                    .map(|s| s.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })?;
                    v.push(s.clone());
                }
                v
            };
            for mut spec in wanted {
                if eval.max_examples > 0 {
                    spec.size = spec.size.min(eval.max_examples);
                }
                let examples = task.generate_split(&spec, eval.seed)?;
                let (seq_acc, pos_acc) =
                    score_examples(model, task, &examples, loss, eval.batch_size, device)?;
                let row = EvalRow {
                    name: spec.name.clone(),
                    min_len: spec.min_len,
                    max_len: spec.max_len,
                    examples: examples.len(),
                    seq_acc,
                    pos_acc,
                };
                on_row(&row);
                rows.push(row);
            }
        }
        EvalProtocol::Lengths => {
            let mut len = eval.min_len.max(1);
            while len <= eval.max_len {
                let mut rng = seeded_rng(split_seed(eval.seed, &format!("len-{len}")));
                let mut examples = Vec::with_capacity(eval.samples_per_len);
                for _ in 0..eval.samples_per_len {
                    match task.sample(len, len, &mut rng) {
                        Ok(e) => examples.push(e),
                        Err(_) => break, // no member of this length (e.g. odd a^n b^n)
                    }
                }
                if !examples.is_empty() {
                    let (seq_acc, pos_acc) =
                        score_examples(model, task, &examples, loss, eval.batch_size, device)?;
                    let row = EvalRow {
                        name: format!("len-{len}"),
                        min_len: len,
                        max_len: len,
                        examples: examples.len(),
                        seq_acc,
                        pos_acc,
                    };
                    on_row(&row);
                    rows.push(row);
                }
                len += eval.len_step;
            }
        }
    }
    Ok(EvalReport {
        task: task.name().to_string(),
        protocol: eval.protocol,
        train_min_len: train_window.0,
        train_max_len: train_window.1,
        step,
        rows,
    })
}
