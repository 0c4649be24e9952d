//! Errors of the training crate. Every variant names the file, line or field at fault.

use std::path::PathBuf;

/// Everything that can stop a training run, a config load or a checkpoint load.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The TOML file does not parse or does not match the schema; toml's message
    /// already carries the line and column.
    #[error("{}: {message}", path.display())]
    ConfigSyntax { path: PathBuf, message: String },
    /// A config value parsed but is out of range.
    #[error("invalid config: field `{field}`: {reason}")]
    InvalidConfig { field: String, reason: String },
    /// The task could not be built or sampled.
    #[error(transparent)]
    Task(#[from] kleene_langs::LangError),
    /// The model could not be built.
    #[error(transparent)]
    Model(#[from] kleene_zoo::ZooError),
    /// Evaluation (kleene-eval) failed or could not write its results.
    #[error(transparent)]
    Eval(#[from] kleene_eval::EvalError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of a metrics file does not parse (and is not a torn last line).
    #[error("{}: line {line}: {reason}", path.display())]
    Metrics {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// The run directory cannot be used: an empty path, or a directory that is neither
    /// empty nor a kleene run.
    #[error("run directory `{}`: {reason}", path.display())]
    RunDir { path: PathBuf, reason: String },
    /// Another live process holds the run directory's lock ([`crate::run_lock`]).
    #[error("run directory `{}`: another kleene process is writing this run ({owner}); wait for it to end, or choose another out_dir", path.display())]
    RunLocked { path: PathBuf, owner: String },
    /// A checkpoint is missing a part, fails its checksum or does not match the model.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint { path: PathBuf, reason: String },
    /// The loss became NaN or infinite; the last good checkpoint is kept.
    #[error("loss is {value} at step {step}: stopping; the last good checkpoint is {}", last_good.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(none written yet)".to_string()))]
    NonFiniteLoss {
        step: u64,
        value: f64,
        last_good: Option<PathBuf>,
    },
    /// SIGINT or SIGTERM stopped training (see [`crate::interrupt`]); the checkpoint of the
    /// step reached is written, and `--resume` continues from it.
    #[error("interrupted by {} after step {step}: checkpoint written to {}; resume it to continue (`kleene train --resume`, `TrainOptions::resume`)", crate::interrupt::signal_name(*signal), checkpoint.display())]
    Interrupted {
        signal: i32,
        step: u64,
        checkpoint: PathBuf,
    },
    /// SIGINT or SIGTERM arrived while no run was training (between two runs of a sweep, e.g.
    /// during the previous run's evaluation): the next run is not started.
    #[error("interrupted by {} before run `{run}` started (the runs before it are finished); run the sweep again to continue", crate::interrupt::signal_name(*signal))]
    InterruptedBeforeRun { signal: i32, run: String },
    /// A Slurm command (`sbatch`) failed or printed no job id.
    #[error("`{command}` failed: {reason}")]
    Slurm { command: String, reason: String },
    /// The requested backend was not compiled in.
    #[error("backend `{name}` is not available: {reason}")]
    Backend { name: String, reason: String },
}

impl TrainError {
    /// A kleene-langs error; its file errors (e.g. from [`kleene_langs::io::write_atomic`],
    /// the workspace's one atomic write) become [`TrainError::Io`] with their path.
    pub fn from_lang(e: kleene_langs::LangError) -> Self {
        match e {
            kleene_langs::LangError::Io { path, source } => TrainError::Io { path, source },
            other => TrainError::Task(other),
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }

    /// A field-level validation error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        TrainError::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A checkpoint problem.
    pub fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        TrainError::Checkpoint {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
