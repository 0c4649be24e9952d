//! What a task declares about its own evaluation, so that training, evaluation and the
//! CLI need no special case per task name.
//!
//! The model is DeepMind's `tasks/task.py` (Delétang et al. 2023), where each task owns
//! its loss, its accuracy function and its accuracy mask. In kleene the [`crate::Task`]
//! trait carries the per-example parts (`input_len`, `accuracy_mask`) and returns a
//! [`TaskProtocol`] for the per-task parts: which accuracy its paper reports and which
//! protocol-specific metrics run by default. [`PublishedLayout`] says which published
//! file layout `kleene data` writes and reads for the task.

use serde::{Deserialize, Serialize};

use crate::bounded_dyck::BoundedDyckConfig;
use crate::flipflop::FlipFlopConfig;
use crate::regbench::RegbenchConfig;

/// The accuracy a task's paper reports as its headline number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportedAccuracy {
    /// Fraction of sequences whose every scored position is right (Bhattamishra et al.,
    /// SD-SSM's final-class accuracy).
    #[default]
    Sequence,
    /// Correct scored positions over all scored positions, pooled over the sequences of a
    /// length (DM's per-token accuracy over the output positions, after its accuracy mask).
    Token,
}

/// A task's evaluation protocol: the defaults kleene-train and kleene-eval use for it.
/// [`TaskProtocol::default`] is the plain protocol of most tasks (sequence accuracy, no
/// protocol-specific metric).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskProtocol {
    /// The accuracy the task's paper reports.
    pub reported_accuracy: ReportedAccuracy,
    /// Whether the bounded-Dyck close accuracy (Yao et al. 2021's 80% rule) runs by
    /// default.
    pub close_accuracy: bool,
    /// The REGBENCH config whose problems (each with its DFA) the DFA-aware metrics
    /// re-draw; `None` for tasks that are not REGBENCH.
    pub regbench: Option<RegbenchConfig>,
}

/// A published text layout that `kleene data gen --format published` writes and
/// `kleene data check` reads, beside the JSONL every task has. The Bhattamishra suite's
/// layout is found through [`crate::bhattamishra::by_name`], which needs the suite's own
/// task type.
#[derive(Clone, Debug, PartialEq)]
pub enum PublishedLayout {
    /// `flipflop/<split>.txt`, one `w0i1r0…` line per sequence (Liu et al. 2023).
    FlipFlop(FlipFlopConfig),
    /// `k<k>_m<m>_tr<n>.<split>`, one `(a (b b) a) END` line per sample (Yao et al. 2021).
    BoundedDyck(BoundedDyckConfig),
}
