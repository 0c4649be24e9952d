//! Errors of the languages crate.

use std::path::PathBuf;

/// Everything that can go wrong when building a task or reading/writing data.
#[derive(Debug, thiserror::Error)]
pub enum LangError {
    /// No task of this name or alias exists.
    #[error("unknown task `{0}` (run `kleene data list` for the names)")]
    UnknownTask(String),
    /// A configuration value is out of its valid range.
    #[error("invalid config for `{task}`: field `{field}`: {reason}")]
    InvalidConfig {
        task: String,
        field: String,
        reason: String,
    },
    /// The split name is not one of the task's splits.
    #[error("task `{task}` has no split `{split}` (it has: {available})")]
    UnknownSplit {
        task: String,
        split: String,
        available: String,
    },
    /// A data file is malformed; `line` is 1-based.
    #[error("{}:{line}: {reason}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A data file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LangError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LangError::Io {
            path: path.into(),
            source,
        }
    }

    /// A parse error at a 1-based line of a file.
    pub fn parse(path: impl Into<PathBuf>, line: usize, reason: impl Into<String>) -> Self {
        LangError::Parse {
            path: path.into(),
            line,
            reason: reason.into(),
        }
    }
}
