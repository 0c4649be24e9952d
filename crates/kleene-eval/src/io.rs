//! Atomic file writes: a crash never leaves a half-written report or results file.

use std::path::Path;

use crate::EvalError;

/// Writes `bytes` to `path` atomically with the workspace's one atomic write,
/// [`kleene_langs::io::write_atomic`] (temporary file in the same directory, synced, then
/// renamed over `path`; creates the parent directory); its error names the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EvalError> {
    kleene_langs::io::write_atomic(path, bytes).map_err(EvalError::from_lang)
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), EvalError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| EvalError::Parse {
        path: path.to_path_buf(),
        reason: format!("serialising: {e}"),
    })?;
    write_atomic(path, text.as_bytes())
}

/// Reads a JSON file, naming the file (and line/column) in any error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| EvalError::Parse {
        path: path.to_path_buf(),
        reason: format!("line {}, column {}: {e}", e.line(), e.column()),
    })
}
