//! Results of one run, as written to `RUN_DIR/result.json` and read back by `kleene report`.

use std::collections::BTreeMap;
use std::path::Path;

use kleene_langs::{ReportedAccuracy, TargetKind};
use serde::{Deserialize, Serialize};

use crate::metrics::accuracy::{AccuracyCounts, Scoring};
use crate::metrics::curve::LengthCurve;
use crate::metrics::dyck::CloseAccuracy;
use crate::metrics::regbench::{GenerationCounts, RegbenchCounts};
use crate::EvalError;

/// Accuracies of a model on one split (e.g. a Bhattamishra bin, flip-flop `sparse`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitMetrics {
    /// Split name (`bin0`, `test`, ...).
    pub split: String,
    pub target_kind: TargetKind,
    pub scoring: Scoring,
    /// Shortest and longest input seen.
    pub min_len: usize,
    pub max_len: usize,
    /// Fraction of sequences whose every scored position is correct (whole-string accuracy).
    pub strict_accuracy: f64,
    /// Mean per-sequence fraction of correct scored positions.
    pub relaxed_accuracy: f64,
    /// Correct scored positions / scored positions.
    pub token_accuracy: f64,
    /// Fraction of sequences whose last position is correct (AR/IH, SD-SSM).
    pub final_token_accuracy: f64,
    /// The raw counts behind the accuracies.
    pub counts: AccuracyCounts,
}

impl SplitMetrics {
    /// The number a results table shows for this split: strict accuracy for per-position
    /// and final targets (Bhattamishra bins, SD-SSM), token accuracy for masked targets
    /// (next-token / read positions).
    pub fn headline(&self) -> f64 {
        match self.target_kind {
            TargetKind::Masked => self.token_accuracy,
            TargetKind::PerPosition | TargetKind::Final => self.strict_accuracy,
        }
    }
}

fn is_sequence_accuracy(r: &ReportedAccuracy) -> bool {
    *r == ReportedAccuracy::Sequence
}

/// A single named number of a run (close accuracy, TVD, acceptance, ...).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scalar {
    pub value: f64,
    /// Whether the value is a fraction to be shown as a percentage.
    pub percent: bool,
}

/// Everything `kleene eval` measured for one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Run identifier (usually the run directory name).
    pub run: String,
    /// Experiment the run belongs to (usually the task name); one report table each.
    pub experiment: String,
    /// Model label; one table row / plot line each, aggregated over seeds.
    pub model: String,
    pub seed: u64,
    #[serde(default)]
    pub splits: Vec<SplitMetrics>,
    #[serde(default)]
    pub curve: Option<LengthCurve>,
    /// Protocol-specific numbers, e.g. `test/close_accuracy`, `test/tvd`.
    #[serde(default)]
    pub scalars: BTreeMap<String, Scalar>,
    /// The training loss (`cross_entropy`, `mse`, `bce`), where the trainer recorded it: runs
    /// trained with different losses are not seeds of one model ([`check_comparable`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<String>,
    /// The accuracy the task's paper reports (`Task::protocol`): the one report tables and
    /// plots show for the curve. Omitted from the JSON when it is sequence accuracy.
    #[serde(default, skip_serializing_if = "is_sequence_accuracy")]
    pub reported_accuracy: ReportedAccuracy,
    /// Why the run has no evaluation: it diverged in training (the trainer's message, e.g.
    /// `loss is NaN at step 12 ...`). A sweep records such a run so that it goes on and a
    /// re-run skips it; a report lists it apart instead of averaging it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<String>,
}

/// Refuses runs a report would average as seeds of one row although they are not: two runs
/// of one experiment and model label trained with different losses (a cross-entropy and an
/// MSE run), naming both.
pub fn check_comparable(runs: &[&RunResult]) -> Result<(), EvalError> {
    for (i, a) in runs.iter().enumerate() {
        for b in &runs[..i] {
            if let (Some(la), Some(lb)) = (&a.loss, &b.loss) {
                if a.experiment == b.experiment && a.model == b.model && la != lb {
                    return Err(EvalError::Incomparable(format!(
                        "runs `{}` (loss {lb}) and `{}` (loss {la}) are both `{}` on `{}`, trained with different losses; report them separately",
                        b.run, a.run, a.model, a.experiment
                    )));
                }
            }
        }
    }
    Ok(())
}

impl RunResult {
    /// An empty result for a run.
    pub fn new(
        run: impl Into<String>,
        experiment: impl Into<String>,
        model: impl Into<String>,
        seed: u64,
    ) -> Self {
        RunResult {
            run: run.into(),
            experiment: experiment.into(),
            model: model.into(),
            seed,
            ..Default::default()
        }
    }

    /// Records a named fraction (shown as a percentage).
    pub fn set_fraction(&mut self, name: impl Into<String>, value: f64) {
        self.scalars.insert(
            name.into(),
            Scalar {
                value,
                percent: true,
            },
        );
    }

    /// Records a named plain number (e.g. a TVD).
    pub fn set_value(&mut self, name: impl Into<String>, value: f64) {
        self.scalars.insert(
            name.into(),
            Scalar {
                value,
                percent: false,
            },
        );
    }

    /// Records bounded-Dyck close accuracy of a split as `{split}/close_accuracy`.
    pub fn add_close_accuracy(&mut self, split: &str, acc: &CloseAccuracy) {
        self.set_fraction(format!("{split}/close_accuracy"), acc.accuracy());
    }

    /// Records REGBENCH accuracy and TVD of a split.
    pub fn add_regbench(&mut self, split: &str, counts: &RegbenchCounts) {
        self.set_fraction(format!("{split}/dfa_accuracy"), counts.accuracy());
        self.set_value(format!("{split}/tvd"), counts.tvd());
    }

    /// Records greedy-generation acceptance of a split.
    pub fn add_generation(&mut self, split: &str, counts: &GenerationCounts) {
        self.set_fraction(
            format!("{split}/generation_acceptance"),
            counts.acceptance(),
        );
    }

    /// Writes the result as pretty JSON, atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        crate::io::write_json_atomic(path, self)
    }

    /// Reads a result written by [`RunResult::write_json`]; errors name the file and line.
    pub fn read_json(path: &Path) -> Result<Self, EvalError> {
        crate::io::read_json(path)
    }
}
