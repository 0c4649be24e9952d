//! Metrics as JSON lines (`RUN_DIR/metrics.jsonl`, one object per logged step).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use kleene_langs::io::write_atomic;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// One logged line: means over the steps since the previous line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsLine {
    /// Optimiser steps completed.
    pub step: u64,
    /// Mean training loss over the interval.
    pub loss: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Fraction of scored positions predicted correctly.
    pub acc: f64,
    /// Fraction of sequences with every scored position correct.
    pub seq_acc: f64,
    /// Global gradient norm before clipping (only when clipping is on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    /// Real (non-padding) training tokens per second over the interval.
    pub tokens_per_s: f64,
    /// Wall seconds since the (re)start of the process.
    pub elapsed_s: f64,
}

/// Sums over the steps since the last metrics line; saved in checkpoints so a resumed
/// run logs exactly the lines an uninterrupted one does.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalAccum {
    pub loss_sum: f64,
    pub steps: u64,
    pub rows_ok: u64,
    pub rows: u64,
    pub seqs_ok: u64,
    pub seqs: u64,
    pub tokens: u64,
}

/// Appends lines to `metrics.jsonl`, flushing each one.
pub struct MetricsWriter {
    path: PathBuf,
    file: fs::File,
}

impl MetricsWriter {
    /// Opens `RUN_DIR/metrics.jsonl`. With `keep_until = Some(step)` (a resume), lines
    /// logged after the checkpoint's step are dropped first, so the file reads as if the
    /// run had never been interrupted; with `None` the file starts empty.
    ///
    /// On resume the kept lines are copied as they were written, byte for byte
    /// ([`kept_on_resume`]): an unreadable last line (a write torn by a kill) is moved to
    /// `RUN_DIR/metrics.jsonl.torn` ([`TORN_FILE`]) with a warning on stderr, and an unreadable line before it is an error naming the
    /// file and line, leaving the file untouched.
    pub fn open(run_dir: &Path, keep_until: Option<u64>) -> Result<Self, TrainError> {
        let path = run_dir.join("metrics.jsonl");
        match keep_until {
            None => write_atomic(&path, b"").map_err(TrainError::from_lang)?,
            Some(step) => {
                let bytes = match fs::read(&path) {
                    Ok(b) => b,
                    // A run killed before it logged anything has no file yet.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => return Err(TrainError::io(&path, e)),
                };
                let kept = kept_on_resume(&path, &bytes, step)?;
                if let Some(torn) = &kept.torn {
                    // Moved aside, not lost: it may be a line a user wants to look at.
                    let aside = run_dir.join(TORN_FILE);
                    write_atomic(&aside, &torn.text).map_err(TrainError::from_lang)?;
                    eprintln!(
                        "warning: {}: line {}: an unreadable last line ({} bytes, a write cut off by an interruption) was moved to {}: {}",
                        path.display(),
                        torn.line,
                        torn.bytes,
                        aside.display(),
                        torn.reason
                    );
                }
                write_atomic(&path, &kept.text).map_err(TrainError::from_lang)?;
            }
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| TrainError::io(&path, e))?;
        Ok(MetricsWriter { path, file })
    }

    pub fn write(&mut self, line: &MetricsLine) -> Result<(), TrainError> {
        let mut s = serde_json::to_string(line).expect("metrics serialise");
        s.push('\n');
        self.file
            .write_all(s.as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|e| TrainError::io(&self.path, e))
    }
}

/// Parses a metrics file; errors name the 1-based line.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricsLine>, TrainError> {
    let text = fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| TrainError::ConfigSyntax {
                path: path.to_path_buf(),
                message: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}

/// Where a resume moves the unreadable last line of `metrics.jsonl` (replacing an earlier
/// one).
pub const TORN_FILE: &str = "metrics.jsonl.torn";

/// What a resume keeps of a metrics file: see [`kept_on_resume`].
#[derive(Clone, Debug, PartialEq)]
pub struct KeptMetrics {
    /// The kept lines, each exactly as it was written, each ending in `\n`.
    pub text: Vec<u8>,
    /// The unreadable last line that was dropped, if any.
    pub torn: Option<TornLine>,
}

/// An unreadable last line of a metrics file.
#[derive(Clone, Debug, PartialEq)]
pub struct TornLine {
    /// 1-based line number.
    pub line: usize,
    /// Its length in bytes.
    pub bytes: usize,
    /// The line itself, as it was (without its newline).
    pub text: Vec<u8>,
    /// Why it does not parse.
    pub reason: String,
}

/// The lines of metrics file `bytes` (read from `path`, named in errors) that a run resumed
/// at `step` keeps: every line whose step is at most `step`.
///
/// Kept lines are copied, not re-serialised: serde_json's float parsing is not ulp-exact, so
/// a parse/print round trip would change digits (0.9255952380952381 -> 0.925595238095238)
/// and a resumed run's file would differ from an uninterrupted one's. Only the last line may
/// be unreadable (a kill cuts at most the line being written): it is reported in
/// [`KeptMetrics::torn`] and dropped. An unreadable line anywhere else means the file was
/// damaged some other way; dropping it would silently lose data, so it is an error naming
/// the file and line. Blank lines are skipped.
pub fn kept_on_resume(path: &Path, bytes: &[u8], step: u64) -> Result<KeptMetrics, TrainError> {
    // Byte lines, not `str::lines`: a torn write may end inside a UTF-8 sequence.
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if bytes.ends_with(b"\n") || bytes.is_empty() {
        // `split` yields an empty piece after the final newline.
        lines.pop();
    }
    let last = lines.iter().rposition(|l| !is_blank(l));
    let mut text = Vec::with_capacity(bytes.len());
    let mut torn = None;
    for (i, raw) in lines.iter().enumerate() {
        if is_blank(raw) {
            continue;
        }
        let parsed = std::str::from_utf8(raw)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str::<MetricsLine>(s).map_err(|e| e.to_string()));
        match parsed {
            Ok(line) => {
                if line.step <= step {
                    text.extend_from_slice(raw);
                    text.push(b'\n');
                }
            }
            Err(reason) if Some(i) == last => {
                torn = Some(TornLine {
                    line: i + 1,
                    bytes: raw.len(),
                    text: raw.to_vec(),
                    reason,
                });
            }
            Err(reason) => {
                return Err(TrainError::Metrics {
                    path: path.to_path_buf(),
                    line: i + 1,
                    reason: format!(
                        "{reason}: only the last line may be unreadable (a write cut off by an interruption); repair or remove this line to resume"
                    ),
                })
            }
        }
    }
    Ok(KeptMetrics { text, torn })
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}
