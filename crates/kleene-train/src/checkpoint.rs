//! Atomic checkpoints: `RUN_DIR/checkpoint/{model.bin, optim_decay.bin, optim_no_decay.bin, state.json}`.
//!
//! A checkpoint is written into `checkpoint.tmp/`, every file synced, then swapped in by
//! renames (`checkpoint` -> `checkpoint.old`, `checkpoint.tmp` -> `checkpoint`, remove the old
//! one). A crash at any point leaves either the previous or the new checkpoint complete;
//! [`Checkpoint::find`] falls back to `checkpoint.old` when the swap was cut between the two
//! renames. `state.json` holds the step, the schedule state, and a checksum of every binary
//! file, so a truncated or altered file is reported instead of being decoded.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::metrics::IntervalAccum;
use crate::schedule::PlateauState;
use crate::TrainError;

/// Everything besides the tensors that a resume needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Optimiser steps completed.
    pub step: u64,
    /// Plateau-schedule state.
    pub plateau: PlateauState,
    /// Metric sums of the interval in progress.
    #[serde(default)]
    pub accum: IntervalAccum,
    /// The `[model]` and `[training]` sections the checkpoint was trained with, as TOML:
    /// a resume with a different architecture or seed is refused.
    pub model_toml: String,
    pub seed: u64,
    /// FNV-1a 64 checksums of the binary parts, by file name.
    pub checksums: Vec<(String, String)>,
    /// Burn version that wrote the records.
    pub burn_version: String,
    /// Layout version of the model record ([`kleene_zoo::RECORD_FORMAT`]); absent in
    /// checkpoints written before it existed, which are format 1.
    #[serde(default = "record_format_1")]
    pub record_format: u32,
    /// The task the checkpoint was trained on (`task.name`); absent in checkpoints written
    /// before it was recorded (then the run directory's config.toml tells).
    #[serde(default)]
    pub task: Option<String>,
}

fn record_format_1() -> u32 {
    1
}

/// The binary parts of a checkpoint.
pub struct CheckpointFiles {
    pub model: Vec<u8>,
    pub optim_decay: Vec<u8>,
    pub optim_no_decay: Vec<u8>,
}

const PARTS: [&str; 3] = ["model.bin", "optim_decay.bin", "optim_no_decay.bin"];

/// FNV-1a over the bytes, as 16 hex digits.
pub fn checksum(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A checkpoint directory on disk.
pub struct Checkpoint;

impl Checkpoint {
    /// `RUN_DIR/checkpoint`.
    pub fn dir(run_dir: &Path) -> PathBuf {
        run_dir.join("checkpoint")
    }

    /// The complete checkpoint of a run, if any (`checkpoint`, else `checkpoint.old`).
    pub fn find(run_dir: &Path) -> Option<PathBuf> {
        let main = Self::dir(run_dir);
        if main.join("state.json").is_file() {
            return Some(main);
        }
        let old = run_dir.join("checkpoint.old");
        old.join("state.json").is_file().then_some(old)
    }

    /// Writes a checkpoint atomically and returns its directory.
    pub fn save(
        run_dir: &Path,
        mut state: CheckpointState,
        files: &CheckpointFiles,
    ) -> Result<PathBuf, TrainError> {
        let tmp = run_dir.join("checkpoint.tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        }
        fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        let parts = [&files.model, &files.optim_decay, &files.optim_no_decay];
        state.checksums.clear();
        for (name, bytes) in PARTS.iter().zip(parts) {
            let p = tmp.join(name);
            let mut f = fs::File::create(&p).map_err(|e| TrainError::io(&p, e))?;
            f.write_all(bytes).map_err(|e| TrainError::io(&p, e))?;
            f.sync_all().map_err(|e| TrainError::io(&p, e))?;
            state.checksums.push((name.to_string(), checksum(bytes)));
        }
        let json = serde_json::to_vec_pretty(&state).expect("state serialises");
        kleene_langs::io::write_atomic(&tmp.join("state.json"), &json)
            .map_err(TrainError::from_lang)?;
        let main = Self::dir(run_dir);
        let old = run_dir.join("checkpoint.old");
        if main.exists() {
            // `main` is complete, so a stale `old` may go before `main` takes its place.
            if old.exists() {
                fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
            }
            fs::rename(&main, &old).map_err(|e| TrainError::io(&main, e))?;
        }
        // (If `main` is missing, `old` is the only good checkpoint: keep it until `tmp` is in place.)
        fs::rename(&tmp, &main).map_err(|e| TrainError::io(&main, e))?;
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
        }
        Ok(main)
    }

    /// Reads and verifies a checkpoint directory.
    pub fn load(dir: &Path) -> Result<(CheckpointState, CheckpointFiles), TrainError> {
        let state_path = dir.join("state.json");
        let text = fs::read(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
        let state: CheckpointState = serde_json::from_slice(&text).map_err(|e| {
            TrainError::checkpoint(&state_path, format!("state.json does not parse: {e}"))
        })?;
        let mut parts = Vec::new();
        for name in PARTS {
            let p = dir.join(name);
            let bytes = fs::read(&p).map_err(|e| TrainError::io(&p, e))?;
            let want = state
                .checksums
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, c)| c.as_str())
                .ok_or_else(|| {
                    TrainError::checkpoint(&state_path, format!("no checksum for {name}"))
                })?;
            let got = checksum(&bytes);
            if got != want {
                return Err(TrainError::checkpoint(
                    &p,
                    format!("checksum mismatch (file is corrupt or truncated): expected {want}, found {got}"),
                ));
            }
            parts.push(bytes);
        }
        let optim_no_decay = parts.pop().unwrap();
        let optim_decay = parts.pop().unwrap();
        let model = parts.pop().unwrap();
        Ok((
            state,
            CheckpointFiles {
                model,
                optim_decay,
                optim_no_decay,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(step: u64) -> CheckpointState {
        CheckpointState {
            step,
            plateau: PlateauState::default(),
            accum: IntervalAccum::default(),
            model_toml: "kind = \"x\"".into(),
            seed: 3,
            checksums: vec![],
            burn_version: "0.21.0".into(),
            record_format: kleene_zoo::RECORD_FORMAT,
            task: Some("tomita-2".into()),
        }
    }

    fn files(tag: u8) -> CheckpointFiles {
        CheckpointFiles {
            model: vec![tag; 100],
            optim_decay: vec![tag.wrapping_add(1); 50],
            optim_no_decay: vec![],
        }
    }

    #[test]
    fn save_replace_and_load() {
        let dir = tempfile::tempdir().unwrap();
        Checkpoint::save(dir.path(), state(10), &files(1)).unwrap();
        Checkpoint::save(dir.path(), state(20), &files(2)).unwrap();
        let found = Checkpoint::find(dir.path()).unwrap();
        let (st, f) = Checkpoint::load(&found).unwrap();
        assert_eq!(st.step, 20);
        assert_eq!(f.model, vec![2; 100]);
        assert!(!dir.path().join("checkpoint.tmp").exists());
        assert!(!dir.path().join("checkpoint.old").exists());
    }

    #[test]
    fn corrupt_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let ck = Checkpoint::save(dir.path(), state(10), &files(1)).unwrap();
        let mut bytes = fs::read(ck.join("model.bin")).unwrap();
        bytes[17] ^= 0x40;
        fs::write(ck.join("model.bin"), &bytes).unwrap();
        let err = Checkpoint::load(&ck).err().unwrap().to_string();
        assert!(
            err.contains("model.bin") && err.contains("checksum"),
            "{err}"
        );

        fs::write(ck.join("state.json"), b"{ not json").unwrap();
        let err = Checkpoint::load(&ck).err().unwrap().to_string();
        assert!(err.contains("state.json"), "{err}");
    }

    #[test]
    fn interrupted_swap_falls_back_to_old() {
        let dir = tempfile::tempdir().unwrap();
        Checkpoint::save(dir.path(), state(10), &files(1)).unwrap();
        // Simulate a crash between the two renames.
        fs::rename(
            Checkpoint::dir(dir.path()),
            dir.path().join("checkpoint.old"),
        )
        .unwrap();
        let found = Checkpoint::find(dir.path()).unwrap();
        assert!(found.ends_with("checkpoint.old"));
        assert_eq!(Checkpoint::load(&found).unwrap().0.step, 10);
    }

    #[test]
    fn checksum_is_fnv1a() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(checksum(b""), "cbf29ce484222325");
        assert_eq!(checksum(b"a"), "af63dc4c8601ec8c");
    }
}
