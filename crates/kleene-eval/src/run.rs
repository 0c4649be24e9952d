//! One call for `kleene eval RUN_DIR`: every protocol a run's config asks for, collected
//! into a [`RunResult`].

use burn::prelude::*;
use kleene_langs::regbench::{Regbench, RegbenchConfig};
use kleene_langs::{SplitSpec, Task};
use kleene_zoo::SequenceModel;
use serde::{Deserialize, Serialize};

use crate::driver::{
    close_accuracy, evaluate_examples, length_curve, long_length_curve, regbench_generation,
    regbench_problems, CurveConfig, EvalOptions, GenerationConfig, LongLengthConfig,
    RegbenchPositions,
};
use crate::metrics::dyck::{CloseAccuracyConfig, DyckVocab};
use crate::results::RunResult;
use crate::EvalError;

/// REGBENCH part of a plan: the task's config (the DFAs are re-drawn from it and the run
/// seed, exactly as `Task::generate_split` does) and optional greedy generation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegbenchPlan {
    pub config: RegbenchConfig,
    /// Greedy-generation acceptance per split; none by default.
    #[serde(default)]
    pub generation: Option<GenerationConfig>,
}

/// What to evaluate. Every field has a default: all non-train splits, nothing else.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalPlan {
    /// Batch size, scoring, padding.
    pub options: EvalOptions,
    /// Splits to evaluate by name; `None` = every split except `train`.
    pub splits: Option<Vec<String>>,
    /// Cap on examples per evaluated split (the split's first `n`); `None` = full size.
    pub max_examples: Option<usize>,
    /// Per-length curve (SD-SSM protocol). Its `options` are replaced by `self.options`.
    pub curve: Option<CurveConfig>,
    /// Long lengths through `step`, appended to the curve. Its `options` are replaced
    /// by `self.options`.
    pub long_lengths: Option<LongLengthConfig>,
    /// Bounded-Dyck close accuracy on every evaluated split (Sarrof token layout, `k`
    /// from the vocabulary size `2k + 2`): scalar `{split}/close_accuracy`.
    pub bounded_dyck: Option<CloseAccuracyConfig>,
    /// REGBENCH accuracy / TVD (and generation) on the evaluated splits:
    /// `{split}/dfa_accuracy`, `{split}/tvd`, `{split}/dfa_accuracy_masked`,
    /// `{split}/generation_acceptance`.
    pub regbench: Option<RegbenchPlan>,
}

/// Names of a run in its results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Run identifier (e.g. the run directory name).
    pub run: String,
    /// Experiment (table) the run belongs to; usually the task name.
    pub experiment: String,
    /// Model label (row / plot line).
    pub model: String,
    /// Seed of the run; also the seed the evaluation data is generated from.
    pub seed: u64,
}

/// The task's splits a plan evaluates, in the plan's order: every split but `train` when
/// the plan names none. A name the task does not have is an error naming the option and the
/// task's splits; callers check a plan with it before training, not after.
pub fn plan_splits(plan: &EvalPlan, task: &dyn Task) -> Result<Vec<SplitSpec>, EvalError> {
    let all = task.splits();
    match &plan.splits {
        None => Ok(all.into_iter().filter(|s| s.name != "train").collect()),
        Some(names) => names
            .iter()
            .map(|n| {
                all.iter().find(|s| &s.name == n).cloned().ok_or_else(|| {
                    EvalError::option(
                        "splits",
                        format!(
                            "task `{}` has no split `{n}` (it has: {})",
                            task.name(),
                            all.iter()
                                .map(|s| s.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })
            })
            .collect(),
    }
}

/// Runs the plan on `model` and returns the [`RunResult`] to write to `RUN_DIR/result.json`.
pub fn evaluate_run<B, M>(
    model: &M,
    task: &dyn Task,
    plan: &EvalPlan,
    info: &RunInfo,
    device: &B::Device,
) -> Result<RunResult, EvalError>
where
    B: Backend,
    M: SequenceModel<B>,
{
    let mut result = RunResult::new(&info.run, &info.experiment, &info.model, info.seed);
    result.reported_accuracy = task.protocol().reported_accuracy;
    let specs = plan_splits(plan, task)?;
    let regbench = match &plan.regbench {
        Some(p) => Some(Regbench::new(p.config.clone())?),
        None => None,
    };
    for spec in &specs {
        let mut spec = spec.clone();
        if let Some(n) = plan.max_examples {
            spec.size = spec.size.min(n);
        }
        let spec = &spec;
        let examples = task.generate_split(spec, info.seed)?;
        result.splits.push(evaluate_examples(
            model,
            task,
            &spec.name,
            &examples,
            &plan.options,
            device,
        )?);
        if let Some(cfg) = &plan.bounded_dyck {
            let n = task.vocab().len();
            if n < 4 || !n.is_multiple_of(2) {
                return Err(EvalError::option(
                    "bounded_dyck",
                    format!(
                        "task `{}` has {n} tokens, not the 2k + 2 of a bounded-Dyck task",
                        task.name()
                    ),
                ));
            }
            let vocab = DyckVocab::sarrof((n - 2) / 2);
            let acc = close_accuracy(model, &examples, &vocab, cfg, &plan.options, device)?;
            result.add_close_accuracy(&spec.name, &acc);
        }
        if let (Some(rb), Some(p)) = (&regbench, &plan.regbench) {
            let problems = rb.problems(spec, info.seed)?;
            let all = regbench_problems(
                model,
                &problems,
                RegbenchPositions::All,
                &plan.options,
                device,
            )?;
            result.add_regbench(&spec.name, &all);
            let masked = regbench_problems(
                model,
                &problems,
                RegbenchPositions::TargetMask,
                &plan.options,
                device,
            )?;
            result.set_fraction(
                format!("{}/dfa_accuracy_masked", spec.name),
                masked.accuracy(),
            );
            if let Some(g) = &p.generation {
                let counts = regbench_generation(model, &problems, g, device)?;
                result.add_generation(&spec.name, &counts);
            }
        }
    }
    if let Some(cfg) = &plan.curve {
        let cfg = CurveConfig {
            options: plan.options.clone(),
            ..cfg.clone()
        };
        result.curve = Some(length_curve(model, task, &cfg, device)?);
    }
    if let Some(cfg) = &plan.long_lengths {
        let cfg = LongLengthConfig {
            options: plan.options.clone(),
            ..cfg.clone()
        };
        let points = long_length_curve(model, task, &cfg, device)?;
        let curve = result.curve.get_or_insert_with(Default::default);
        curve.points.extend(points);
        curve.points.sort_by_key(|p| p.length);
    }
    Ok(result)
}
