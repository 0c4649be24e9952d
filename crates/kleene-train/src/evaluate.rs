//! Post-training evaluation used by `kleene train` / `kleene eval`: the run config's
//! `[eval]` section becomes a [`kleene_eval::EvalPlan`], [`kleene_eval::evaluate_run`]
//! measures it (the papers' protocols: split accuracies, per-length curves, long lengths
//! through `step`, bounded-Dyck close accuracy, REGBENCH metrics), and the run directory
//! gets `result.json` (a [`RunResult`]) plus kleene-eval's `report.md`, `report.json`
//! and `<experiment>.svg`.
//!
//! [`EvalReport`] is a view of the [`RunResult`] for the terminal: one row per split or
//! length, with the training window, so `kleene train` can print its
//! length-generalization table. It computes nothing itself.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use kleene_eval::{
    evaluate_run, CloseAccuracyConfig, CurveConfig, EvalOptions, EvalPlan, GenerationConfig,
    LongLengthConfig, RegbenchPlan, Report, RunInfo, RunResult, Scoring,
};
use kleene_langs::{ReportedAccuracy, Task};
use kleene_zoo::SequenceModel;
use serde::{Deserialize, Serialize};

use crate::config::{EvalConfig, EvalProtocol, RunConfig};
use crate::loss::LossKind;
use crate::TrainError;

/// The run's [`RunResult`] in its run directory (read by `kleene report`).
pub const RESULT_FILE: &str = "result.json";
/// The per-split / per-length table of a run ([`EvalReport::to_markdown`]).
pub const TABLE_FILE: &str = "eval.md";

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
    /// Splits: mean over sequences of the fraction of scored positions right
    /// ("relaxed"); lengths: correct scored positions / scored positions.
    pub pos_acc: f64,
    /// Correct scored positions / scored positions (DM's per-token accuracy over the
    /// positions the task's accuracy mask scores).
    #[serde(default)]
    pub token_acc: f64,
}

impl EvalRow {
    /// The accuracy a task reporting `which` shows for this row.
    pub fn reported(&self, which: ReportedAccuracy) -> f64 {
        match which {
            ReportedAccuracy::Sequence => self.seq_acc,
            ReportedAccuracy::Token => self.token_acc,
        }
    }
}

/// A run's evaluation: the kleene-eval [`RunResult`] and, for the terminal, its rows with
/// the training window (the in/out-of-distribution split).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub task: String,
    pub protocol: EvalProtocol,
    pub train_min_len: usize,
    pub train_max_len: usize,
    pub step: u64,
    /// Splits first, then the curve's lengths (shortest first).
    pub rows: Vec<EvalRow>,
    /// Everything measured, as written to `result.json`.
    pub result: RunResult,
}

impl EvalReport {
    /// The terminal view of `result`.
    pub fn from_result(
        result: RunResult,
        task: &str,
        protocol: EvalProtocol,
        train_window: (usize, usize),
        step: u64,
    ) -> Self {
        let mut rows: Vec<EvalRow> = result
            .splits
            .iter()
            .map(|s| EvalRow {
                name: s.split.clone(),
                min_len: s.min_len,
                max_len: s.max_len,
                examples: (s.counts.sequences + s.counts.empty_sequences) as usize,
                seq_acc: s.strict_accuracy,
                pos_acc: s.relaxed_accuracy,
                token_acc: s.token_accuracy,
            })
            .collect();
        if let Some(curve) = &result.curve {
            rows.extend(curve.points.iter().map(|p| EvalRow {
                name: format!("len-{}", p.length),
                min_len: p.length,
                max_len: p.length,
                examples: p.n,
                seq_acc: p.accuracy,
                pos_acc: p.token_accuracy,
                token_acc: p.token_accuracy,
            }));
        }
        EvalReport {
            task: task.to_string(),
            protocol,
            train_min_len: train_window.0,
            train_max_len: train_window.1,
            step,
            rows,
            result,
        }
    }

    /// Mean of the task's reported accuracy ([`RunResult::reported_accuracy`]: sequence
    /// accuracy, or DM's per-token accuracy) over rows inside / beyond the training window.
    pub fn in_out_means(&self) -> (Option<f64>, Option<f64>) {
        let which = self.result.reported_accuracy;
        let mean = |f: &dyn Fn(&EvalRow) -> bool| {
            let v: Vec<f64> = self
                .rows
                .iter()
                .filter(|r| f(r))
                .map(|r| r.reported(which))
                .collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        (
            mean(&|r| r.max_len <= self.train_max_len),
            mean(&|r| r.min_len > self.train_max_len),
        )
    }

    /// The length-generalization table: one row per split / length, then the
    /// protocol-specific numbers and the in/out-of-distribution means.
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
        if !self.result.scalars.is_empty() {
            s.push('\n');
            for (name, v) in &self.result.scalars {
                if v.percent {
                    s.push_str(&format!("{name}: {:.2}%\n", 100.0 * v.value));
                } else {
                    s.push_str(&format!("{name}: {:.4}\n", v.value));
                }
            }
        }
        let (inside, beyond) = self.in_out_means();
        let which = match self.result.reported_accuracy {
            ReportedAccuracy::Sequence => "sequence",
            ReportedAccuracy::Token => "token",
        };
        if let Some(i) = inside {
            s.push_str(&format!(
                "\nmean {which} accuracy, training lengths: {:.1}%\n",
                100.0 * i
            ));
        }
        if let Some(o) = beyond {
            s.push_str(&format!(
                "mean {which} accuracy, longer lengths:   {:.1}%\n",
                100.0 * o
            ));
        }
        s
    }

    /// Writes `result.json`, `eval.md` ([`EvalReport::to_markdown`], the table `kleene
    /// train` prints) and kleene-eval's report of this one run (`report.md`,
    /// `report.json`, `<experiment>.svg` when there is a curve) into the run directory,
    /// each atomically; returns every path written.
    pub fn write(&self, run_dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
        let path = run_dir.join(RESULT_FILE);
        self.result.write_json(&path)?;
        let table = run_dir.join(TABLE_FILE);
        kleene_langs::io::write_atomic(&table, self.to_markdown().as_bytes())
            .map_err(TrainError::from_lang)?;
        let mut paths = vec![path, table];
        paths.extend(Report::from_runs(std::slice::from_ref(&self.result))?.write_all(run_dir)?);
        Ok(paths)
    }
}

/// `[eval]` keys that still apply next to `[eval.paper]`; every other key would be ignored.
const KEYS_BESIDE_PAPER: [&str; 4] = ["experiment", "model_label", "seed", "paper"];

/// With `[eval.paper]`, an `[eval]` key set to anything but its default would be silently
/// ignored (the paper plan replaces the derived one): refused, naming the key.
fn refuse_keys_beside_paper(eval: &EvalConfig) -> Result<(), TrainError> {
    let as_map = |c: &EvalConfig| match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (set, default) = (as_map(eval), as_map(&EvalConfig::default()));
    for (key, value) in &set {
        if !KEYS_BESIDE_PAPER.contains(&key.as_str()) && default.get(key) != Some(value) {
            return Err(TrainError::InvalidConfig {
                field: format!("eval.{key}"),
                reason: "has no effect next to [eval.paper], whose plan replaces the one \
                         derived from [eval]: set it inside [eval.paper] or remove it"
                    .into(),
            });
        }
    }
    Ok(())
}

/// The kleene-eval plan of an `[eval]` section: `[eval.paper]` as is when given, else
/// derived from the keys. Scoring follows the training loss (`bce`: multi-label sets,
/// otherwise argmax); padding uses the training pad id.
pub fn eval_plan(
    eval: &EvalConfig,
    task: &dyn Task,
    loss: LossKind,
    train_window: (usize, usize),
) -> Result<EvalPlan, TrainError> {
    if let Some(plan) = &eval.paper {
        refuse_keys_beside_paper(eval)?;
        return Ok(plan.clone());
    }
    let options = EvalOptions {
        batch_size: eval.batch_size,
        scoring: match loss {
            LossKind::Bce => Scoring::MultiLabel,
            LossKind::CrossEntropy | LossKind::Mse => Scoring::Argmax,
        },
        pad_token: task.vocab().len() as u32,
    };
    let splits = if !eval.protocol.has_splits() {
        Some(Vec::new())
    } else if eval.splits.is_empty() {
        None
    } else {
        Some(eval.splits.clone())
    };
    let curve = eval.protocol.has_curve().then(|| CurveConfig {
        min_len: eval.min_len,
        max_len: eval.max_len,
        step: eval.len_step,
        per_length: eval.samples_per_len,
        seed: eval.seed,
        train_max_len: Some(train_window.1),
        skip_unsampleable: true,
        options: options.clone(),
    });
    let long_lengths = (!eval.long_lengths.is_empty()).then(|| LongLengthConfig {
        lengths: eval.long_lengths.clone(),
        per_length: eval.long_samples_per_len,
        seed: eval.seed,
        options: options.clone(),
    });
    // The task declares its protocol-specific metrics (`Task::protocol`); the config
    // may turn them on or off.
    let protocol = task.protocol();
    let close = eval.close_accuracy.unwrap_or(protocol.close_accuracy);
    let bounded_dyck = close.then(|| CloseAccuracyConfig {
        threshold: eval.close_threshold,
        ..Default::default()
    });
    let regbench = match (eval.regbench, protocol.regbench) {
        (Some(false), _) => None,
        (None, None) => None,
        (Some(true), None) => {
            return Err(TrainError::invalid(
                "eval.regbench",
                format!("task `{}` is not a REGBENCH task", task.name()),
            ))
        }
        (_, Some(config)) => Some(RegbenchPlan {
            config,
            generation: eval.generation.then(|| GenerationConfig {
                batch_size: eval.batch_size,
                ..Default::default()
            }),
        }),
    };
    Ok(EvalPlan {
        options,
        splits,
        max_examples: (eval.max_examples > 0).then_some(eval.max_examples),
        curve,
        long_lengths,
        bounded_dyck,
        regbench,
    })
}

/// A loss as its config spells it (`cross_entropy`, `mse`, `bce`), as recorded in
/// `RunResult::loss`.
pub fn loss_name(loss: LossKind) -> String {
    serde_json::to_value(loss)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| format!("{loss:?}"))
}

/// The model's row / plot-line label: `eval.model_label` ([`RunConfig::parse`] sets it to
/// the `[model]` table as written), else every field of `cfg.model` as `kind key=value ...`
/// (keys sorted), so the seeds of one config share a row.
pub fn model_label(cfg: &RunConfig) -> String {
    if let Some(l) = &cfg.eval.model_label {
        return l.clone();
    }
    toml::Table::try_from(&cfg.model)
        .map(|t| table_label(&t))
        .unwrap_or_else(|_| cfg.model.kind().to_string())
}

/// A `[model]` table as a label: `kind key=value ...`, the other keys sorted.
pub(crate) fn table_label(model: &toml::Table) -> String {
    let show = |v: &toml::Value| match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // A registered kind (`kind = "custom"`) is labelled by its registered name.
    let custom =
        model.get("kind").and_then(|k| k.as_str()) == Some("custom") && model.contains_key("name");
    let head = if custom { "name" } else { "kind" };
    let mut parts: Vec<String> = model.get(head).map(show).into_iter().collect();
    let mut keys: Vec<&String> = model
        .keys()
        .filter(|k| *k != "kind" && *k != head)
        .collect();
    keys.sort();
    parts.extend(keys.into_iter().map(|k| format!("{k}={}", show(&model[k]))));
    parts.join(" ")
}

/// Names of a run in its results: the run directory's name, the experiment (task name
/// unless `eval.experiment`), the model label and the *training* seed.
pub fn run_info(cfg: &RunConfig, task: &dyn Task, run_dir: &Path) -> RunInfo {
    RunInfo {
        run: run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| task.name().to_string()),
        experiment: cfg
            .eval
            .experiment
            .clone()
            .unwrap_or_else(|| task.name().to_string()),
        model: model_label(cfg),
        seed: cfg.training.seed,
    }
}

/// Evaluates `model` as `eval` asks, naming the run with `info`. The evaluation data is
/// drawn from `eval.seed` (the same for every training seed); the result carries
/// `info.seed`. `on_row` sees every row once the evaluation is done.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_with_info<B: Backend, M: SequenceModel<B>>(
    model: &M,
    task: &dyn Task,
    eval: &EvalConfig,
    loss: LossKind,
    train_window: (usize, usize),
    step: u64,
    info: &RunInfo,
    device: &B::Device,
    mut on_row: impl FnMut(&EvalRow),
) -> Result<EvalReport, TrainError> {
    let plan = eval_plan(eval, task, loss, train_window)?;
    let data_info = RunInfo {
        seed: eval.seed,
        ..info.clone()
    };
    let mut result = evaluate_run(model, task, &plan, &data_info, device)?;
    result.seed = info.seed;
    result.loss = Some(loss_name(loss));
    if let Some(curve) = &mut result.curve {
        // Long lengths alone leave the curve without its training length.
        curve.train_max_len.get_or_insert(train_window.1);
    }
    let report = EvalReport::from_result(result, task.name(), eval.protocol, train_window, step);
    report.rows.iter().for_each(&mut on_row);
    Ok(report)
}

/// What [`evaluate`] needs besides the model and the task: the evaluation settings, the
/// training loss (it decides how outputs are read), the training lengths (the report marks
/// longer lengths) and the training step (recorded in the report).
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluateOptions {
    /// The `[eval]` settings. Default: [`EvalConfig::default`].
    pub eval: EvalConfig,
    /// The loss the model was trained with. Default: cross-entropy.
    pub loss: LossKind,
    /// Shortest and longest training length. Default `(1, 40)`.
    pub train_window: (usize, usize),
    /// Training steps done, for the report. Default 0.
    pub step: u64,
}

impl Default for EvaluateOptions {
    fn default() -> Self {
        Self {
            eval: EvalConfig::default(),
            loss: LossKind::CrossEntropy,
            train_window: (1, 40),
            step: 0,
        }
    }
}

impl EvaluateOptions {
    /// The options of a run: its `[eval]`, its loss and its training window on `task`.
    pub fn for_run(cfg: &RunConfig, task: &dyn Task, step: u64) -> Result<Self, TrainError> {
        Ok(Self {
            eval: cfg.eval.clone(),
            loss: cfg.training.loss,
            train_window: crate::trainer::train_window(task, cfg)?,
            step,
        })
    }
}

/// Evaluates `model` on `task` as `opts` say (the task as experiment, `model` as label, the
/// evaluation seed as the run's seed); `on_row` sees every row. See [`evaluate_with_info`]
/// to name the run.
///
/// ```
/// use burn_ndarray::NdArray;
/// use kleene_train::config::{EvalConfig, EvalProtocol};
/// use kleene_train::trainer::{input_vocab, output_dim};
/// use kleene_train::{evaluate, EvaluateOptions, LossKind};
/// use kleene_zoo::{MambaConfig, ModelConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let task = kleene_langs::task_by_name("parity-check")?;
/// let (vocab, out) = (input_vocab(task.as_ref()), output_dim(task.as_ref(), LossKind::CrossEntropy)?);
/// let device = Default::default();
/// let config = ModelConfig::Mamba(MambaConfig { d_model: 8, n_layers: 1, d_state: 4, ..Default::default() });
/// let model = config.init::<NdArray<f32>>(vocab, out, &device)?; // untrained: near chance
/// let opts = EvaluateOptions {
///     eval: EvalConfig {
///         protocol: EvalProtocol::Lengths,
///         max_len: 12,
///         samples_per_len: 4,
///         ..EvalConfig::default()
///     },
///     train_window: (1, 6),
///     ..EvaluateOptions::default()
/// };
/// let report = evaluate(&model, task.as_ref(), &opts, &device, |row| {
///     println!("{} {:.0}%", row.name, 100.0 * row.seq_acc)
/// })?;
/// assert!(report.rows.iter().all(|row| (0.0..=1.0).contains(&row.seq_acc)));
/// # Ok(())
/// # }
/// ```
pub fn evaluate<B: Backend, M: SequenceModel<B>>(
    model: &M,
    task: &dyn Task,
    opts: &EvaluateOptions,
    device: &B::Device,
    on_row: impl FnMut(&EvalRow),
) -> Result<EvalReport, TrainError> {
    let info = RunInfo {
        run: task.name().to_string(),
        experiment: task.name().to_string(),
        model: "model".to_string(),
        seed: opts.eval.seed,
    };
    evaluate_with_info(
        model,
        task,
        &opts.eval,
        opts.loss,
        opts.train_window,
        opts.step,
        &info,
        device,
        on_row,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kleene_langs::regbench::Regbench;

    fn cfg(task: &str, eval: &str, training: &str) -> RunConfig {
        let text = format!(
            "[task]\nname = \"{task}\"\n[model]\nkind = \"mamba\"\nn_layers = 1\nd_model = 32\n[training]\n{training}\n[eval]\n{eval}\n"
        );
        RunConfig::parse(&text, Path::new("t.toml")).unwrap()
    }

    fn plan(task: &str, eval: &str, training: &str) -> Result<EvalPlan, TrainError> {
        let c = cfg(task, eval, training);
        let t = kleene_langs::task_by_name(task).unwrap();
        eval_plan(&c.eval, t.as_ref(), c.training.loss, (1, 40))
    }

    #[test]
    fn default_eval_is_every_split_capped() {
        let p = plan("tomita-4", "", "").unwrap();
        let t = kleene_langs::task_by_name("tomita-4").unwrap();
        assert_eq!(p.splits, None);
        assert_eq!(p.max_examples, Some(512));
        assert_eq!(p.curve, None);
        assert_eq!(p.long_lengths, None);
        assert_eq!(p.bounded_dyck, None);
        assert_eq!(p.regbench, None);
        assert_eq!(p.options.batch_size, 128);
        assert_eq!(p.options.scoring, Scoring::Argmax);
        assert_eq!(p.options.pad_token as usize, t.vocab().len());
        let p = plan(
            "tomita-4",
            "max_examples = 0\nsplits = [\"bin1\"]",
            "loss = \"bce\"",
        )
        .unwrap();
        assert_eq!(p.max_examples, None);
        assert_eq!(p.splits, Some(vec!["bin1".to_string()]));
        assert_eq!(p.options.scoring, Scoring::MultiLabel);
    }

    #[test]
    fn lengths_protocol_becomes_a_curve() {
        let p = plan(
            "parity-check",
            "protocol = \"lengths\"\nmin_len = 3\nmax_len = 90\nlen_step = 7\nsamples_per_len = 33\nseed = 5\nlong_lengths = [1000, 20000]\nlong_samples_per_len = 3",
            "",
        )
        .unwrap();
        assert_eq!(p.splits, Some(Vec::new()));
        let c = p.curve.unwrap();
        assert_eq!(
            (
                c.min_len,
                c.max_len,
                c.step,
                c.per_length,
                c.seed,
                c.train_max_len
            ),
            (3, 90, 7, 33, 5, Some(40))
        );
        let l = p.long_lengths.unwrap();
        assert_eq!((l.lengths, l.per_length, l.seed), (vec![1000, 20000], 3, 5));
        let p = plan("parity-check", "protocol = \"splits_and_lengths\"", "").unwrap();
        assert_eq!(p.splits, None);
        assert_eq!(p.curve.unwrap().max_len, 100);
    }

    #[test]
    fn protocol_metrics_follow_the_task() {
        let p = plan("bounded-dyck", "close_threshold = 0.9", "").unwrap();
        assert_eq!(p.bounded_dyck.unwrap().threshold, 0.9);
        assert!(plan("bounded-dyck", "close_accuracy = false", "")
            .unwrap()
            .bounded_dyck
            .is_none());
        assert!(plan("tomita-4", "close_accuracy = true", "")
            .unwrap()
            .bounded_dyck
            .is_some());

        let small = Regbench::with_train_size(1000);
        let p = plan(small.name(), "generation = true", "").unwrap();
        let rb = p.regbench.unwrap();
        assert_eq!(&rb.config, small.config());
        assert!(rb.generation.is_some());
        let p = plan("regbench", "", "").unwrap();
        let rb = p.regbench.unwrap();
        assert_eq!(&rb.config, Regbench::default().config());
        assert!(rb.generation.is_none());
        assert!(plan("regbench", "regbench = false", "")
            .unwrap()
            .regbench
            .is_none());
        let err = plan("tomita-4", "regbench = true", "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("eval.regbench"), "{err}");
    }

    #[test]
    fn paper_plan_is_used_as_is() {
        let p = plan(
            "regbench",
            "[eval.paper]\nsplits = [\"test\"]\n[eval.paper.regbench]\ngeneration = { separator = 3 }\n[eval.paper.regbench.config]\nnum_examples = 10",
            "",
        )
        .unwrap();
        assert_eq!(p.splits, Some(vec!["test".to_string()]));
        assert_eq!(p.max_examples, None);
        let rb = p.regbench.unwrap();
        assert_eq!(rb.config.num_examples, 10);
        assert_eq!(rb.generation.unwrap().separator, 3);
    }

    #[test]
    fn keys_that_eval_paper_would_ignore_are_refused() {
        let paper = "[eval.paper]\nsplits = [\"test\"]";
        let err = plan("tomita-4", &format!("max_examples = 7\n{paper}"), "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("eval.max_examples"), "{err}");
        // a default written out, and the keys that still apply, are fine
        for ok in ["max_examples = 512", "seed = 3\nexperiment = \"e\""] {
            plan("tomita-4", &format!("{ok}\n{paper}"), "").unwrap();
        }
    }

    #[test]
    fn bad_eval_fields_are_named() {
        for (eval, field) in [
            ("long_lengths = [0]", "eval.long_lengths"),
            (
                "long_lengths = [10]\nlong_samples_per_len = 0",
                "eval.long_samples_per_len",
            ),
            ("close_threshold = 1.5", "eval.close_threshold"),
            ("protocol = \"lengths\"\nlen_step = 0", "eval.len_step"),
            ("batch_size = 0", "eval.batch_size"),
            ("long_lenghts = [10]", "long_lenghts"),
            ("protocol = \"curves\"", "curves"),
        ] {
            let text = format!("[task]\nname = \"x\"\n[model]\nkind = \"mamba\"\n[eval]\n{eval}\n");
            let err = RunConfig::parse(&text, Path::new("t.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{eval}: {err}");
        }
    }

    #[test]
    fn labels_and_names() {
        let c = cfg("tomita-4", "", "seed = 7");
        let t = kleene_langs::task_by_name("tomita-4").unwrap();
        let info = run_info(&c, t.as_ref(), Path::new("runs/q-s7"));
        assert_eq!(info.run, "q-s7");
        assert_eq!(info.experiment, "tomita-4");
        assert_eq!(info.model, "mamba d_model=32 n_layers=1");
        assert_eq!(info.seed, 7);
        let c = cfg(
            "tomita-4",
            "experiment = \"star-free\"\nmodel_label = \"M\"",
            "",
        );
        let info = run_info(&c, t.as_ref(), Path::new("r"));
        assert_eq!(
            (info.experiment.as_str(), info.model.as_str()),
            ("star-free", "M")
        );
    }
}
