//! Atomic file writes: a crash never leaves a half-written report or results file.

use std::io::Write;
use std::path::Path;

use crate::EvalError;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory,
/// flushed and synced, then renamed over `path`. Creates the parent directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EvalError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| EvalError::io(&dir, e))?;
    let file_name = path.file_name().ok_or_else(|| {
        EvalError::option("path", format!("`{}` has no file name", path.display()))
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| EvalError::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| EvalError::io(&tmp, e))?;
        f.sync_all().map_err(|e| EvalError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| EvalError::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
