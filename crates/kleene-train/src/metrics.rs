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
    pub fn open(run_dir: &Path, keep_until: Option<u64>) -> Result<Self, TrainError> {
        let path = run_dir.join("metrics.jsonl");
        match keep_until {
            None => write_atomic(&path, b"").map_err(TrainError::from_lang)?,
            Some(step) => {
                let kept: Vec<MetricsLine> = read_metrics(&path)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|l| l.step <= step)
                    .collect();
                let mut text = String::new();
                for l in &kept {
                    text.push_str(&serde_json::to_string(l).expect("metrics serialise"));
                    text.push('\n');
                }
                write_atomic(&path, text.as_bytes()).map_err(TrainError::from_lang)?;
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
