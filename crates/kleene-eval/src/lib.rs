//! Evaluation protocols of the SSM expressivity papers, generic over Burn backends,
//! models ([`kleene_zoo::SequenceModel`]) and tasks ([`kleene_langs::Task`]).
//!
//! Three layers:
//! - [`metrics`]: pure functions over plain data (per-sequence logits as `&[f32]` of shape
//!   `(len, out_dim)`, targets as [`kleene_langs::Target`]): strict / relaxed / token
//!   accuracy (argmax, one-hot regression, multi-label sigmoid > 0.5), per-length curves,
//!   bounded-Dyck close accuracy, REGBENCH accuracy / TVD / generation acceptance,
//!   flip-flop summaries. No Burn.
//! - [`driver`]: runs a model on a task and feeds the metrics: one runner (parallel
//!   `forward` batched by length, or recurrent `step` in constant device memory) and one
//!   file per protocol (splits, lengths, bounded-Dyck close accuracy, REGBENCH).
//! - [`results`] and [`report`]: serde types written to a run directory and aggregated
//!   into markdown tables and SVG plots (mean, min, max over seeds).
//!
//! # Usage (what `kleene eval RUN_DIR` / `kleene report RUN_DIR...` do)
//!
//! The one-call form: [`evaluate_run`] runs an [`EvalPlan`] (serde; defaults: every
//! non-train split) and returns the [`RunResult`]:
//!
//! ```ignore
//! let plan = EvalPlan { curve: Some(CurveConfig { train_max_len: Some(40), ..Default::default() }), ..Default::default() };
//! let info = RunInfo { run: "run-0".into(), experiment: task.name().into(), model: "sdssm".into(), seed };
//! evaluate_run(&model, task.as_ref(), &plan, &info, &device)?.write_json(&run_dir.join("result.json"))?;
//! ```
//!
//! Or protocol by protocol:
//!
//! ```ignore
//! use kleene_eval::*;
//! let opts = EvalOptions::default(); // batch 64, argmax scoring
//! // Every non-train split (Bhattamishra bins, flip-flop sets, dev/test):
//! let splits: Vec<SplitMetrics> = evaluate_splits(&model, task.as_ref(), seed, &opts, &device)?;
//! // Per-length curve (SD-SSM protocol: lengths 1..=500, 512 sequences each):
//! let cfg = CurveConfig { max_len: 500, train_max_len: Some(40), ..Default::default() };
//! let mut curve: LengthCurve = length_curve(&model, task.as_ref(), &cfg, &device)?;
//! // Far beyond, through `step` (10^4, 10^5):
//! curve.points.extend(long_length_curve(&model, task.as_ref(), &LongLengthConfig::default(), &device)?);
//! let mut result = RunResult::new("run-0", task.name(), "sdssm", seed);
//! result.splits = splits;
//! result.curve = Some(curve);
//! result.write_json(&run_dir.join("result.json"))?;
//! // Later, over many runs:
//! let runs: Vec<RunResult> = paths.iter().map(|p| RunResult::read_json(p)).collect::<Result<_, _>>()?;
//! let report = Report::from_runs(&runs)?;
//! report.write_all(&out_dir)?; // report.md, report.json, <experiment>.svg
//! ```
//!
//! Protocol-specific drivers: [`close_accuracy`] (bounded Dyck, 80% rule),
//! [`regbench_problems`] and [`regbench_generation`] (REGBENCH problems, each with its
//! DFA; [`regbench_metrics`] / [`greedy_generation`] for a task with one fixed language),
//! [`flip_flop`]. Their
//! numbers go into [`RunResult::scalars`] via [`RunResult::add_close_accuracy`],
//! [`RunResult::add_regbench`], [`RunResult::add_generation`].
//!
//! Every definition, with the paper it comes from, is in `docs/evaluation.md`.

pub mod driver;
pub mod error;
pub mod io;
pub mod metrics;
pub mod report;
pub mod results;
pub mod run;

pub use driver::{
    close_accuracy, evaluate_examples, evaluate_examples_recurrent, evaluate_split,
    evaluate_splits, flip_flop, for_each_output, greedy_generation, greedy_generation_with,
    length_curve, length_rng, long_length_curve, regbench_generation, regbench_metrics,
    regbench_metrics_with, regbench_problems, CurveConfig, EvalOptions, GenerationConfig,
    LongLengthConfig, RegbenchPositions,
};
pub use error::EvalError;
pub use metrics::accuracy::{AccuracyCounts, Scoring};
pub use metrics::curve::{CurveSummary, LengthCurve, LengthPoint, SkippedLength};
pub use metrics::dyck::{CloseAccuracy, CloseAccuracyConfig, DyckVocab};
pub use metrics::flipflop::{FlipFlopMetrics, FlipFlopSet, FlipFlopSetMetrics};
pub use metrics::regbench::{GenerationCounts, NextTokenOracle, RegbenchCounts, TaskOracle};
pub use report::{DivergedRun, ExperimentReport, Report, Stat};
pub use results::{check_comparable, RunResult, Scalar, SplitMetrics};
pub use run::{evaluate_run, plan_splits, EvalPlan, RegbenchPlan, RunInfo};
