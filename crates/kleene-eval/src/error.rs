//! Errors of the evaluation crate.

use std::path::PathBuf;

/// Everything that can go wrong while evaluating a model or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Model outputs or targets do not have the shape the metric needs.
    /// `what` names the offending value (e.g. `logits of sequence 3`).
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        what: String,
        expected: String,
        got: String,
    },
    /// The metric does not apply to this target kind (e.g. final-token accuracy on a
    /// per-position target).
    #[error("metric `{metric}` needs {needs} targets, but task `{task}` has {got:?} targets")]
    WrongTargetKind {
        metric: String,
        task: String,
        needs: String,
        got: kleene_langs::TargetKind,
    },
    /// The task has no oracle the metric needs (e.g. `next_symbol_sets` for REGBENCH).
    #[error("task `{task}` provides no {what}, which metric `{metric}` needs")]
    MissingOracle {
        task: String,
        what: String,
        metric: String,
    },
    /// An oracle said that no symbol may follow a prefix, so the reference
    /// distribution is undefined.
    #[error("sequence {sequence}, position {position}: the task allows no next symbol")]
    EmptyAllowedSet { sequence: usize, position: usize },
    /// An input is not a prefix of the language the metric walks (e.g. an unmatched
    /// closing bracket for bounded-Dyck close accuracy).
    #[error("sequence {sequence}, position {position}: {reason}")]
    NotInLanguage {
        sequence: usize,
        position: usize,
        reason: String,
    },
    /// An evaluation or report option is out of range; names the field.
    #[error("invalid evaluation option `{field}`: {reason}")]
    InvalidOption { field: String, reason: String },
    /// The task could not produce data.
    #[error("task data: {0}")]
    Task(#[from] kleene_langs::LangError),
    /// A tensor could not be read back from the device.
    #[error("reading model outputs from the device: {0}")]
    Device(String),
    /// A results file is not valid JSON of the expected shape.
    #[error("{}: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `Report::from_runs` got nothing to report.
    #[error("no runs to report")]
    NoRuns,
    /// Runs that a report would wrongly aggregate as seeds of one model.
    #[error("these runs cannot be reported together: {0}")]
    Incomparable(String),
}

impl EvalError {
    /// A kleene-langs error; its file errors (e.g. from [`kleene_langs::io::write_atomic`])
    /// become [`EvalError::Io`] with their path.
    pub fn from_lang(e: kleene_langs::LangError) -> Self {
        match e {
            kleene_langs::LangError::Io { path, source } => EvalError::Io { path, source },
            other => EvalError::Task(other),
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EvalError::Io {
            path: path.into(),
            source,
        }
    }

    /// A shape mismatch.
    pub fn shape(
        what: impl Into<String>,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Self {
        EvalError::Shape {
            what: what.into(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    /// Adds "sequence i" to a shape error so the user can find the offending example.
    pub fn in_sequence(self, index: usize) -> Self {
        match self {
            EvalError::Shape {
                what,
                expected,
                got,
            } => EvalError::Shape {
                what: format!("sequence {index}: {what}"),
                expected,
                got,
            },
            other => other,
        }
    }

    /// An option out of range.
    pub fn option(field: impl Into<String>, reason: impl Into<String>) -> Self {
        EvalError::InvalidOption {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
