//! Where every run of a sweep stands (`kleene sweep status SWEEP.toml`), read from the run
//! directories alone, so it works from any node of a cluster that sees the shared file system.
//!
//! | state | what the run directory holds |
//! |---|---|
//! | finished | `result.json` with an evaluation |
//! | diverged | `result.json` recording a NaN/Inf loss ([`SweepRun::record_diverged`]) |
//! | running | `.lock` held by a live process ([`RunLock::holder`]): owner pid and host |
//! | failed | `failure.txt`: the error that stopped the run ([`SweepRun::record_failure`]) |
//! | interrupted | a checkpoint and nobody training it: a signal, a kill or a preemption stopped it; the next sweep resumes it |
//! | not started | nothing of the above |
//!
//! The first matching row wins, so a failed run that a requeued task trains again shows as
//! running, and one that finishes later as finished.

use std::path::{Path, PathBuf};

use kleene_eval::RunResult;
use serde::Serialize;

use crate::checkpoint::{Checkpoint, CheckpointState};
use crate::run_lock::RunLock;
use crate::sweep::{Sweep, SweepRun};
use crate::TrainError;

/// File in a run directory holding the error that stopped it in a sweep.
pub const FAILURE_FILE: &str = "failure.txt";

/// The state of one run of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum RunState {
    /// Trained and evaluated.
    Finished,
    /// Training stopped on a non-finite loss; recorded, not retried.
    Diverged { reason: String },
    /// A live process holds the run's lock.
    Running { owner: String },
    /// The error recorded when the run failed; the next sweep tries it again.
    Failed { error: String },
    /// A checkpoint at `step` and nobody training: the next sweep resumes it.
    Interrupted { step: u64 },
    /// No trace of the run yet.
    NotStarted,
}

impl RunState {
    /// The state's name as the status table prints it.
    pub fn label(&self) -> &'static str {
        match self {
            RunState::Finished => "finished",
            RunState::Diverged { .. } => "diverged",
            RunState::Running { .. } => "running",
            RunState::Failed { .. } => "failed",
            RunState::Interrupted { .. } => "interrupted",
            RunState::NotStarted => "not started",
        }
    }

    /// The detail shown after the state: owner, step, error or reason.
    pub fn detail(&self) -> String {
        match self {
            RunState::Finished | RunState::NotStarted => String::new(),
            RunState::Diverged { reason } => reason.clone(),
            RunState::Running { owner } => owner.clone(),
            RunState::Failed { error } => error.clone(),
            RunState::Interrupted { step } => format!("checkpoint at step {step}; resumes"),
        }
    }
}

/// One run of a sweep and its state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunStatus {
    pub index: usize,
    pub name: String,
    pub run_dir: PathBuf,
    #[serde(flatten)]
    pub state: RunState,
}

/// The state of one run directory (see the module's table).
pub fn run_state(run_dir: &Path) -> RunState {
    let result = run_dir.join("result.json");
    if result.is_file() {
        return match RunResult::read_json(&result) {
            Ok(r) => match r.diverged {
                Some(reason) => RunState::Diverged { reason },
                None => RunState::Finished,
            },
            // A run that cannot be reported is not finished for the user.
            Err(e) => RunState::Failed {
                error: format!("result.json unreadable: {e}"),
            },
        };
    }
    if let Some(owner) = RunLock::holder(run_dir) {
        return RunState::Running { owner };
    }
    if let Ok(error) = std::fs::read_to_string(run_dir.join(FAILURE_FILE)) {
        return RunState::Failed {
            error: error.trim().to_string(),
        };
    }
    if let Some(dir) = Checkpoint::find(run_dir) {
        let step = std::fs::read_to_string(dir.join("state.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<CheckpointState>(&text).ok())
            .map(|s| s.step);
        return match step {
            Some(step) => RunState::Interrupted { step },
            None => RunState::Failed {
                error: format!("{}: unreadable checkpoint state", dir.display()),
            },
        };
    }
    RunState::NotStarted
}

/// Every run of `sweep` with its state, in grid order.
pub fn sweep_status(sweep: &Sweep) -> Vec<RunStatus> {
    sweep
        .runs
        .iter()
        .map(|r| RunStatus {
            index: r.index,
            name: r.name.clone(),
            run_dir: r.run_dir.clone(),
            state: run_state(&r.run_dir),
        })
        .collect()
}

/// The status table: one line per run, then the count of each state.
pub fn status_table(statuses: &[RunStatus]) -> String {
    let width = statuses.iter().map(|s| s.name.len()).max().unwrap_or(3);
    let mut out = String::new();
    for s in statuses {
        let detail = s.state.detail();
        let line = format!(
            "{:>4}  {:<width$}  {:<11}  {}",
            s.index,
            s.name,
            s.state.label(),
            detail.lines().next().unwrap_or(""),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let order = [
        "finished",
        "diverged",
        "running",
        "failed",
        "interrupted",
        "not started",
    ];
    let counts: Vec<String> = order
        .iter()
        .filter_map(|label| {
            let n = statuses
                .iter()
                .filter(|s| s.state.label() == *label)
                .count();
            (n > 0).then(|| format!("{n} {label}"))
        })
        .collect();
    out.push_str(&format!("{} runs: {}\n", statuses.len(), counts.join(", ")));
    out
}

impl SweepRun {
    /// Records the error that stopped this run (`RUN_DIR/failure.txt`, atomically), so that
    /// `kleene sweep status` shows it from any machine; the next attempt removes it.
    pub fn record_failure(&self, error: &str) -> Result<PathBuf, TrainError> {
        std::fs::create_dir_all(&self.run_dir).map_err(|e| TrainError::io(&self.run_dir, e))?;
        let path = self.run_dir.join(FAILURE_FILE);
        kleene_langs::io::write_atomic(&path, format!("{error}\n").as_bytes())
            .map_err(TrainError::from_lang)?;
        Ok(path)
    }

    /// Removes a failure recorded by an earlier attempt (before this one starts).
    pub fn clear_failure(&self) -> Result<(), TrainError> {
        let path = self.run_dir.join(FAILURE_FILE);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrainError::io(&path, e)),
            _ => Ok(()),
        }
    }
}
