//! The TOML run config: `[task]`, `[model]`, `[training]`, `[eval]`.
//!
//! Every field has a documented default (see docs/training.md); unknown fields are
//! rejected so a typo never silently falls back to a default. Syntax and type errors
//! carry the line/column; range errors name the field (`training.lr`, `model.d_model`,
//! ...) and, when the config came from text, its line. `[model]` is a typed
//! [`kleene_zoo::ModelConfig`], checked when the config is loaded.

mod position;

use std::path::{Path, PathBuf};

use kleene_zoo::{ModelConfig, ZooError};
use serde::{Deserialize, Serialize};

use crate::loss::LossKind;
use crate::schedule::Schedule;
use crate::TrainError;

/// A whole training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Where the run writes `config.toml`, `metrics.jsonl`, `checkpoint/`, `result.json`, `eval.md`, `report.md`,
    /// `report.json`, `<task>.svg`.
    /// Default: `runs/<config file stem>` (relative to the working directory).
    #[serde(default)]
    pub out_dir: Option<PathBuf>,
    pub task: TaskConfig,
    /// The model zoo's config (`kind = "mamba"`, `d_model`, `n_layers`, ...; every field
    /// but `kind` has a default). Replacing it in code after [`RunConfig::parse`] leaves
    /// `eval.model_label` at the parsed file's label: reset that too.
    pub model: ModelConfig,
    #[serde(default)]
    pub training: TrainingConfig,
    #[serde(default)]
    pub eval: EvalConfig,
}

/// Which task, and the training length window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// A name or alias from `kleene data list` (e.g. `parity-check`, `tomita-2`).
    pub name: String,
    /// Shortest training length; default: the task's `train` split minimum.
    #[serde(default)]
    pub train_min_len: Option<usize>,
    /// Longest training length; default: the task's `train` split maximum.
    #[serde(default)]
    pub train_max_len: Option<usize>,
}

/// How training batches are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Curriculum {
    /// One length per batch, drawn uniformly from the window (SD-SSM's `UniformCurriculum`);
    /// no padding at all.
    #[default]
    Uniform,
    /// Every example draws its own length in the window; batches are padded on the right
    /// and the padding is masked out of the loss.
    Mixed,
}

/// Where training examples come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// Fresh examples every step, seeded by (seed, step): infinite data (SD-SSM, flip-flop).
    #[default]
    Stream,
    /// The task's fixed `train` split, reshuffled every epoch from (seed, epoch) and grouped
    /// into batches of similar length (Bhattamishra's fixed training files).
    Split,
}

/// Which optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam with coupled L2 weight decay (PyTorch `Adam(weight_decay=..)`; SD-SSM).
    Adam,
    /// AdamW, decoupled weight decay (Sarrof et al., REGBENCH). Default.
    #[default]
    AdamW,
}

/// `[training]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// Optimiser steps. Default 1000.
    pub steps: u64,
    /// Sequences per batch. Default 32.
    pub batch_size: usize,
    /// Base learning rate. Default 1e-3.
    pub lr: f64,
    /// Default `adam_w`.
    pub optimizer: OptimizerKind,
    /// Default 0.0.
    pub weight_decay: f64,
    /// Default 0.9.
    pub beta1: f64,
    /// Default 0.999.
    pub beta2: f64,
    /// Default 1e-8 (PyTorch's; Burn's own default is 1e-5).
    pub eps: f64,
    /// Parameters whose dotted path matches one of these get no weight decay (see
    /// [`crate::optim::is_excluded`]). Default: `bias`, `beta`, `gamma`, `norm`, `a_log`, `d`
    /// (biases, norms and the SSM's `A_log` / `D`); `[]` decays everything, as the REGBENCH
    /// and Sarrof et al. code do.
    pub no_decay: Vec<String>,
    /// Learning-rate schedule, default constant.
    pub schedule: Schedule,
    /// Global L2 gradient-norm clipping (PyTorch `clip_grad_norm_`); default none.
    pub grad_clip: Option<f64>,
    /// Default `cross_entropy`.
    pub loss: LossKind,
    /// Default `uniform`.
    pub curriculum: Curriculum,
    /// Default `stream`.
    pub data: DataSource,
    /// Seed of model init and data order. Default 0.
    pub seed: u64,
    /// Checkpoint every N steps (and at the end). Default 500; 0 = only at the end.
    pub checkpoint_every: u64,
    /// Log a metrics line every N steps. Default 50.
    pub log_every: u64,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            steps: 1000,
            batch_size: 32,
            lr: 1e-3,
            optimizer: OptimizerKind::AdamW,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            no_decay: default_no_decay(),
            schedule: Schedule::Constant,
            grad_clip: None,
            loss: LossKind::CrossEntropy,
            curriculum: Curriculum::Uniform,
            data: DataSource::Stream,
            seed: 0,
            checkpoint_every: 500,
            log_every: 50,
        }
    }
}

/// The default weight-decay exclusions: biases, norms, and the SSM parameters that are
/// not weights (`A_log`, `D`).
pub fn default_no_decay() -> Vec<String> {
    ["bias", "beta", "gamma", "norm", "a_log", "d"]
        .into_iter()
        .map(String::from)
        .collect()
}

/// `[eval]`: what to measure after training (with kleene-eval's protocols; see
/// docs/evaluation.md). The run directory gets `result.json` (a `kleene_eval::RunResult`),
/// `report.md`, `report.json` and, when there is a per-length curve, `<task>.svg`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// `splits`: accuracy on each of the task's published splits (bins);
    /// `lengths`: accuracy at every length in `min_len..=max_len` (SD-SSM curves);
    /// `splits_and_lengths`: both. Default `splits`.
    pub protocol: EvalProtocol,
    /// Splits to evaluate (protocol `splits`); default: every split except `train`.
    pub splits: Vec<String>,
    /// Cap on examples per split (0 = the split's full size). Default 512.
    pub max_examples: usize,
    /// Length range of protocol `lengths`. Defaults 1 and 100.
    pub min_len: usize,
    pub max_len: usize,
    /// Stride between evaluated lengths. Default 1.
    pub len_step: usize,
    /// Sequences per length (protocol `lengths`). Default 128 (the paper uses 512).
    pub samples_per_len: usize,
    /// Lengths evaluated through the recurrent `step` (constant memory) and appended to
    /// the curve, e.g. `[10000, 100000]`. Default none.
    pub long_lengths: Vec<usize>,
    /// Sequences per long length. Default 64.
    pub long_samples_per_len: usize,
    /// Bounded-Dyck close accuracy (80% rule) per split: `true`, `false`, or unset = the
    /// task's default (`Task::protocol`, on for `bounded-dyck`). Default unset.
    pub close_accuracy: Option<bool>,
    /// Probability-mass threshold of close accuracy. Default 0.8.
    pub close_threshold: f64,
    /// REGBENCH DFA accuracy and TVD per split: unset = the task's default (on for the
    /// tasks whose `Task::protocol` gives a REGBENCH config, the `regbench*` tasks).
    pub regbench: Option<bool>,
    /// REGBENCH greedy-generation acceptance per split (slower). Default false.
    pub generation: bool,
    /// Evaluation seed (independent of the training seed, so every seed of a sweep is
    /// tested on the same data). Default 1, as SD-SSM reseeds to 1.
    pub seed: u64,
    /// Batch size for evaluation. Default 128.
    pub batch_size: usize,
    /// Report table / plot this run belongs to. Default: the task name.
    pub experiment: Option<String>,
    /// Row / plot-line label of the model (seeds of one label are aggregated). Default:
    /// the `[model]` table as written, e.g. `mamba d_model=32 n_layers=1` (set by
    /// [`RunConfig::parse`], so it is written into the run's `config.toml`; without a
    /// parse, every field of `model`).
    pub model_label: Option<String>,
    /// `[eval.paper]`: a whole `kleene_eval::EvalPlan` (every protocol option, e.g. the
    /// generation separator) used as is instead of the plan derived from the keys above;
    /// `experiment`, `model_label` and `seed` still apply. Default none.
    pub paper: Option<kleene_eval::EvalPlan>,
}

/// Evaluation protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EvalProtocol {
    #[default]
    Splits,
    Lengths,
    /// The splits and the per-length curve.
    SplitsAndLengths,
}

impl EvalProtocol {
    /// Whether the task's splits are evaluated.
    pub fn has_splits(self) -> bool {
        matches!(self, EvalProtocol::Splits | EvalProtocol::SplitsAndLengths)
    }

    /// Whether the per-length curve is evaluated.
    pub fn has_curve(self) -> bool {
        matches!(self, EvalProtocol::Lengths | EvalProtocol::SplitsAndLengths)
    }
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            protocol: EvalProtocol::Splits,
            splits: Vec::new(),
            max_examples: 512,
            min_len: 1,
            max_len: 100,
            len_step: 1,
            samples_per_len: 128,
            long_lengths: Vec::new(),
            long_samples_per_len: 64,
            close_accuracy: None,
            close_threshold: 0.8,
            regbench: None,
            generation: false,
            seed: 1,
            batch_size: 128,
            experiment: None,
            model_label: None,
            paper: None,
        }
    }
}

impl RunConfig {
    /// A run of `model` on `task` (a name from `kleene data list`) with every other setting
    /// at its default: the task's training window, [`TrainingConfig::default`],
    /// [`EvalConfig::default`], no `out_dir`. Set fields directly to change them; call
    /// [`RunConfig::validate`] (or let [`crate::run()`] do it) before training.
    pub fn new(task: impl Into<String>, model: ModelConfig) -> Self {
        Self {
            out_dir: None,
            task: TaskConfig {
                name: task.into(),
                train_min_len: None,
                train_max_len: None,
            },
            model,
            training: TrainingConfig::default(),
            eval: EvalConfig::default(),
        }
    }

    /// The run directory the config names: `out_dir` (which [`RunConfig::load`] defaults to
    /// `runs/<file stem>`). For [`crate::run()`]'s `run_dir` when the config should decide it;
    /// an error naming `out_dir` when it is unset (a config built with [`RunConfig::new`]).
    pub fn run_dir(&self) -> Result<PathBuf, TrainError> {
        self.out_dir.clone().ok_or_else(|| {
            TrainError::invalid(
                "out_dir",
                "unset: set it (e.g. runs/NAME), or pass the run directory to run() directly",
            )
        })
    }

    /// Parses and validates a config file; `out_dir` defaults to `runs/<stem>`.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let mut cfg = Self::parse(&text, path)?;
        if cfg.out_dir.is_none() {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into());
            cfg.out_dir = Some(PathBuf::from("runs").join(stem));
        }
        Ok(cfg)
    }

    /// Parses and validates TOML text; `origin` only names the source in errors.
    ///
    /// Syntax errors, unknown keys and wrong types (`[model]`'s included) give
    /// [`TrainError::ConfigSyntax`] with the line and column; range errors give
    /// [`TrainError::InvalidConfig`] naming the field, with its line. Sets
    /// `eval.model_label` from `[model]` as written when the file has none.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, TrainError> {
        let mut cfg: RunConfig = toml::from_str(text).map_err(|e| TrainError::ConfigSyntax {
            path: origin.to_path_buf(),
            // toml places errors inside `[model]` at its header: find the key at fault.
            message: position::model_error(text).unwrap_or_else(|| e.to_string()),
        })?;
        if cfg.eval.model_label.is_none() {
            let written: Option<toml::Table> = toml::from_str::<toml::Table>(text)
                .ok()
                .and_then(|t| t.get("model")?.as_table().cloned());
            cfg.eval.model_label = written.as_ref().map(crate::evaluate::table_label);
        }
        cfg.validate().map_err(|e| match e {
            TrainError::InvalidConfig { field, reason } => {
                match position::field_position(text, &field) {
                    Some((field, line, column)) => TrainError::InvalidConfig {
                        field,
                        reason: format!(
                            "{reason} ({}: line {line}, column {column})",
                            origin.display()
                        ),
                    },
                    None => TrainError::InvalidConfig { field, reason },
                }
            }
            other => other,
        })?;
        Ok(cfg)
    }

    /// Range checks that serde cannot express.
    pub fn validate(&self) -> Result<(), TrainError> {
        let t = &self.training;
        if t.steps == 0 {
            return Err(TrainError::invalid("training.steps", "must be >= 1"));
        }
        if t.batch_size == 0 {
            return Err(TrainError::invalid("training.batch_size", "must be >= 1"));
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return Err(TrainError::invalid(
                "training.lr",
                format!("{} is not a positive finite number", t.lr),
            ));
        }
        if !(t.weight_decay >= 0.0 && t.weight_decay.is_finite()) {
            return Err(TrainError::invalid("training.weight_decay", "must be >= 0"));
        }
        for (name, v) in [("training.beta1", t.beta1), ("training.beta2", t.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return Err(TrainError::invalid(name, format!("{v} is not in [0, 1)")));
            }
        }
        if t.eps.is_nan() || t.eps <= 0.0 {
            return Err(TrainError::invalid("training.eps", "must be > 0"));
        }
        if let Some(c) = t.grad_clip {
            if !(c > 0.0 && c.is_finite()) {
                return Err(TrainError::invalid(
                    "training.grad_clip",
                    format!("{c} is not a positive finite number"),
                ));
            }
        }
        if t.log_every == 0 {
            return Err(TrainError::invalid("training.log_every", "must be >= 1"));
        }
        t.schedule.validate(t.steps)?;
        if self
            .out_dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            return Err(TrainError::invalid(
                "out_dir",
                "is empty, which would write the run into the working directory: omit it (default runs/<config stem>) or name a directory of its own",
            ));
        }
        // Length 0 has no tokens: an explicit 0 used to reach the sampler as an empty
        // length range and panic mid-run.
        for (name, v) in [
            ("task.train_min_len", self.task.train_min_len),
            ("task.train_max_len", self.task.train_max_len),
        ] {
            if v == Some(0) {
                return Err(TrainError::invalid(name, "must be >= 1"));
            }
        }
        if let (Some(a), Some(b)) = (self.task.train_min_len, self.task.train_max_len) {
            if a > b {
                return Err(TrainError::invalid(
                    "task.train_min_len",
                    format!("{a} is above task.train_max_len = {b}"),
                ));
            }
        }
        let e = &self.eval;
        // Length 0 has no tokens; it used to become 1 silently.
        if e.min_len == 0 {
            return Err(TrainError::invalid(
                "eval.min_len",
                "must be >= 1 (length 0 has no tokens)",
            ));
        }
        if e.protocol.has_curve() {
            if e.min_len > e.max_len {
                return Err(TrainError::invalid(
                    "eval.min_len",
                    format!("{} is above eval.max_len = {}", e.min_len, e.max_len),
                ));
            }
            if e.len_step == 0 {
                return Err(TrainError::invalid("eval.len_step", "must be >= 1"));
            }
            if e.samples_per_len == 0 {
                return Err(TrainError::invalid("eval.samples_per_len", "must be >= 1"));
            }
        }
        if e.batch_size == 0 {
            return Err(TrainError::invalid("eval.batch_size", "must be >= 1"));
        }
        if e.long_lengths.contains(&0) {
            return Err(TrainError::invalid(
                "eval.long_lengths",
                "lengths must be >= 1",
            ));
        }
        if !e.long_lengths.is_empty() && e.long_samples_per_len == 0 {
            return Err(TrainError::invalid(
                "eval.long_samples_per_len",
                "must be >= 1",
            ));
        }
        if !(e.close_threshold > 0.0 && e.close_threshold <= 1.0) {
            return Err(TrainError::invalid(
                "eval.close_threshold",
                format!("{} is not in (0, 1]", e.close_threshold),
            ));
        }
        // The task-independent model checks: the vocabulary as large and the outputs as few
        // as can be, so that only the model's own fields can fail here; the checks against
        // the task's vocabulary and outputs run in `run::model_config`.
        self.model
            .validate(usize::MAX, 1)
            .map_err(|e| model_field_error(&self.model, e))
    }

    /// The config as TOML text (written next to every run).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a RunConfig always serialises")
    }
}

/// A zoo error of `model` as a [`TrainError`]: a field error names the field as
/// `model.<field>` (the zoo names it `<kind>.<field>`).
pub fn model_field_error(model: &ModelConfig, e: ZooError) -> TrainError {
    match e {
        ZooError::InvalidConfig { field, reason } => {
            let rest = field
                .strip_prefix(model.kind())
                .and_then(|r| r.strip_prefix('.'))
                .unwrap_or(&field);
            TrainError::invalid(format!("model.{rest}"), reason)
        }
        other => TrainError::Model(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[task]
name = "parity-check"
train_max_len = 40

[model]
kind = "sdssm"
state_size = 8

[training]
steps = 100
lr = 1e-3
schedule = { kind = "cosine", warmup_steps = 10 }
grad_clip = 1.0
"#;

    #[test]
    fn parses_with_defaults() {
        let cfg = RunConfig::parse(GOOD, Path::new("x.toml")).unwrap();
        assert_eq!(cfg.training.steps, 100);
        assert_eq!(cfg.training.batch_size, 32);
        assert_eq!(cfg.training.eps, 1e-8);
        assert_eq!(
            cfg.training.schedule,
            Schedule::Cosine {
                warmup_steps: 10,
                warmup_lr_init: 1e-6,
                min_lr_ratio: 0.1
            }
        );
        assert_eq!(cfg.eval.protocol, EvalProtocol::Splits);
        // Round trip through the written form.
        let again = RunConfig::parse(&cfg.to_toml(), Path::new("y.toml")).unwrap();
        assert_eq!(again, cfg);
    }

    #[test]
    fn typo_gives_line_and_field() {
        let bad = GOOD.replace("lr = 1e-3", "lr = 1e-3\nlearning_rate = 3");
        let err = RunConfig::parse(&bad, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("learning_rate"), "{err}");
        assert!(err.contains("line 13"), "{err}");
    }

    #[test]
    fn wrong_type_gives_line() {
        let bad = GOOD.replace("steps = 100", "steps = \"many\"");
        let err = RunConfig::parse(&bad, Path::new("bad.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 11"), "{err}");
    }

    #[test]
    fn range_errors_name_the_field() {
        for (from, to, field) in [
            ("lr = 1e-3", "lr = -1.0", "training.lr"),
            ("grad_clip = 1.0", "grad_clip = 0.0", "training.grad_clip"),
            ("steps = 100", "steps = 0", "training.steps"),
            ("warmup_steps = 10", "warmup_steps = 100", "warmup_steps"),
            ("kind = \"sdssm\"", "size = 1", "model.kind"),
        ] {
            let bad = GOOD.replace(from, to);
            let err = RunConfig::parse(&bad, Path::new("b.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{from} -> {err}");
        }
    }

    /// A Mamba config: `[model]` on line 4, `kind` on 5, `d_model` on 6, `n_layers` on 7.
    const MAMBA: &str = "[task]\nname = \"tomita-2\"\n\n[model]\nkind = \"mamba\"\nd_model = 32\nn_layers = 1\n\n[training]\nsteps = 10\n";

    fn error(text: &str) -> TrainError {
        RunConfig::parse(text, Path::new("m.toml")).unwrap_err()
    }

    #[test]
    fn model_key_and_type_errors_give_the_key_line_and_field() {
        for (from, to, field, at) in [
            // A misspelled key: at the key (toml alone says line 4, the `[model]` header).
            ("d_model", "d_modle", "model.d_modle", "line 6, column 1"),
            // Wrong types and values serde rejects: at the value.
            (
                "d_model = 32",
                "d_model = \"32\"",
                "model.d_model",
                "line 6, column 11",
            ),
            (
                "n_layers = 1",
                "n_layers = -1",
                "model.n_layers",
                "line 7, column 12",
            ),
            (
                "n_layers = 1",
                "n_layers = 1\nnorm = \"batch\"",
                "model.norm",
                "line 8, column 8",
            ),
            // Two alike: the first.
            (
                "d_model = 32\nn_layers = 1",
                "d_model = \"x\"\nn_layers = \"x\"",
                "model.d_model",
                "line 6, column 11",
            ),
            // An unknown kind.
            ("\"mamba\"", "\"mambo\"", "model.kind", "line 5, column 8"),
            // No kind: at the header.
            ("kind = \"mamba\"\n", "", "model.kind", "line 4, column 1"),
        ] {
            let text = MAMBA.replace(from, to);
            let TrainError::ConfigSyntax { path, message } = error(&text) else {
                panic!("{to}: not a syntax error");
            };
            assert_eq!(path, Path::new("m.toml"));
            assert!(
                message.contains(&format!("field `{field}`")),
                "{to}: {message}"
            );
            assert!(message.contains(at), "{to}: {message}");
            let shown = error(&text).to_string();
            assert!(shown.starts_with("m.toml: "), "{shown}");
        }
    }

    #[test]
    fn nested_and_inline_model_errors_give_the_key_line() {
        let icl = "[task]\nname = \"x\"\n[model]\nkind = \"icl\"\nd_model = 32\n[model.mixer]\nlayer = \"s4d\"\nd_state = 8\n";
        for (from, to, field, at) in [
            (
                "d_state = 8",
                "d_stat = 8",
                "model.mixer.d_stat",
                "line 8, column 1",
            ),
            (
                "d_state = 8",
                "d_state = 8.5",
                "model.mixer.d_state",
                "line 8, column 11",
            ),
            ("\"s4d\"", "\"s5\"", "model.mixer.layer", "line 7, column 9"),
        ] {
            let message = error(&icl.replace(from, to)).to_string();
            assert!(
                message.contains(&format!("field `{field}`")),
                "{to}: {message}"
            );
            assert!(message.contains(at), "{to}: {message}");
        }
        RunConfig::parse(icl, Path::new("m.toml")).unwrap();
        let inline = "model = { kind = \"mamba\", d_modle = 3 }\n[task]\nname = \"x\"\n";
        let message = error(inline).to_string();
        assert!(message.contains("field `model.d_modle`"), "{message}");
        assert!(message.contains("line 1, column 27"), "{message}");
    }

    #[test]
    fn model_range_errors_name_the_field_and_line() {
        let TrainError::InvalidConfig { field, reason } =
            error(&MAMBA.replace("d_model = 32", "d_model = 0"))
        else {
            panic!("not a range error");
        };
        assert_eq!(field, "model.d_model");
        assert!(reason.contains("m.toml: line 6, column 11"), "{reason}");
        // A default that is not in the file: the field, without a line.
        let text = MAMBA.replace("kind = \"mamba\"", "kind = \"transformer\"");
        let text = text.replace("d_model = 32", "d_model = 31");
        let TrainError::InvalidConfig { field, reason } = error(&text) else {
            panic!("not a range error");
        };
        assert_eq!(field, "model.n_heads", "{reason}");
        // The zoo's name of a mixer field is found in the file as written.
        let icl = "[task]\nname = \"x\"\n[model]\nkind = \"icl\"\n[model.mixer]\nlayer = \"s4d\"\nd_state = 0\n";
        let TrainError::InvalidConfig { field, reason } = error(icl) else {
            panic!("not a range error");
        };
        assert_eq!(field, "model.mixer.d_state", "{reason}");
        assert!(reason.contains("line 7, column 11"), "{reason}");
        // Other sections get their line too.
        let err = error(&MAMBA.replace("steps = 10", "steps = 0")).to_string();
        assert!(
            err.contains("training.steps") && err.contains("line 10, column 9"),
            "{err}"
        );
    }

    #[test]
    fn model_is_typed_and_labelled_as_written() {
        let cfg = RunConfig::parse(MAMBA, Path::new("m.toml")).unwrap();
        let ModelConfig::Mamba(m) = &cfg.model else {
            panic!("{:?}", cfg.model);
        };
        assert_eq!((m.d_model, m.n_layers), (32, 1));
        assert_eq!(
            cfg.eval.model_label.as_deref(),
            Some("mamba d_model=32 n_layers=1")
        );
        // The written config (every model field) parses back to the same config.
        let written = cfg.to_toml();
        assert!(written.contains("d_state = 16"), "{written}");
        assert_eq!(
            RunConfig::parse(&written, Path::new("w.toml")).unwrap(),
            cfg
        );
    }
}
