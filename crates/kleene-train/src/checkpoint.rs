//! Atomic checkpoints: `RUN_DIR/checkpoint/{model.bin, optim_decay.bin, optim_no_decay.bin, state.json}`.
//!
//! A checkpoint is written into `checkpoint.tmp/`, every file synced, then swapped in by
//! renames (`checkpoint` -> `checkpoint.old`, `checkpoint.tmp` -> `checkpoint`, remove the old
//! one). A crash at any point leaves either the previous or the new checkpoint complete;
//! [`Checkpoint::find`] falls back to `checkpoint.old` when the swap was cut between the two
//! renames. `state.json` holds the step, the schedule state, the run config, and a checksum
//! of every binary file, so a truncated or altered file is reported instead of being decoded;
//! it carries a checksum of its own text too (`state_checksum`), so a hand-edited step or
//! Burn version is refused rather than trusted.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::metrics::IntervalAccum;
use crate::schedule::PlateauState;
use crate::TrainError;

/// Everything besides the tensors that a resume needs.
///
/// Unknown keys are refused: every older `state.json` holds a subset of these keys, so an
/// unknown one is a damaged or edited file (a renamed `state_checksum` would otherwise pass
/// as an unsealed older file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointState {
    /// FNV-1a 64 of the file's own text with these 16 digits written as zeros (see
    /// [`seal`]); first, so that it is the first `"state_checksum"` in the text. Set by
    /// [`Checkpoint::save`]; absent in checkpoints written before it existed (not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_checksum: Option<String>,
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
    /// The whole run config the checkpoint was trained with, as kleene writes it (every
    /// default filled in), so a resume can compare the settings that shape training; absent
    /// in checkpoints written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

/// The Burn version whose record format this build writes and reads.
pub const BURN_VERSION: &str = "0.21.0";

/// The key of [`CheckpointState::state_checksum`] as it appears in the JSON text.
const STATE_SUM_KEY: &[u8] = b"\"state_checksum\": \"";

/// The byte range of the `state_checksum` digits in a `state.json` text, if it has one.
fn state_sum_range(json: &[u8]) -> Option<std::ops::Range<usize>> {
    let at = json
        .windows(STATE_SUM_KEY.len())
        .position(|w| w == STATE_SUM_KEY)?;
    let start = at + STATE_SUM_KEY.len();
    (json.len() >= start + 16).then_some(start..start + 16)
}

/// Serialises `state` with its own checksum: the text is written with 16 zeros in place of
/// the digits, checksummed, and the digits filled in. Raw bytes are checksummed, not the
/// re-serialised value, because serde_json's default float parsing is not exact to the ulp.
pub fn seal(state: &CheckpointState) -> Vec<u8> {
    let mut state = state.clone();
    state.state_checksum = Some("0".repeat(16));
    let mut json = serde_json::to_vec_pretty(&state).expect("state serialises");
    let range = state_sum_range(&json).expect("state_checksum is serialised first");
    let sum = checksum(&json);
    json[range].copy_from_slice(sum.as_bytes());
    json
}

/// Checks the `state_checksum` of a `state.json` text (see [`seal`]): `Err(reason)` when the
/// text was altered after kleene wrote it.
fn verify_seal(state: &CheckpointState, json: &[u8]) -> Result<(), String> {
    let Some(want) = &state.state_checksum else {
        // Files from before the seal have no `config` either: this version writes both.
        return match state.config {
            None => Ok(()),
            Some(_) => Err("it has no state_checksum, which kleene writes with every checkpoint that records its config: it was altered after kleene wrote it; restore the file or start a new run".into()),
        };
    };
    let altered = || {
        "it was altered after kleene wrote it (its state_checksum does not match its text): \
         a checkpoint's step, schedule and settings cannot be edited by hand; restore the file \
         or start a new run"
            .to_string()
    };
    let range = state_sum_range(json).ok_or_else(altered)?;
    let mut zeroed = json.to_vec();
    if zeroed[range.clone()] != *want.as_bytes() {
        return Err(altered());
    }
    zeroed[range].copy_from_slice(b"0000000000000000");
    if checksum(&zeroed) != *want {
        return Err(altered());
    }
    Ok(())
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
        let json = seal(&state);
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
        verify_seal(&state, &text).map_err(|why| TrainError::checkpoint(&state_path, why))?;
        if state.burn_version != BURN_VERSION {
            return Err(TrainError::checkpoint(
                &state_path,
                format!(
                    "it was written by Burn {}, this build reads Burn {BURN_VERSION}'s records: train a new run, or use the kleene version that wrote it",
                    state.burn_version
                ),
            ));
        }
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
            burn_version: BURN_VERSION.into(),
            record_format: kleene_zoo::RECORD_FORMAT,
            task: Some("tomita-2".into()),
            config: None,
            state_checksum: None,
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

    /// A hand-edited `state.json` (issue 17: `"step": 999` and another `burn_version` were
    /// accepted) is refused naming the file; a checkpoint really written by another Burn
    /// version is refused naming the version.
    #[test]
    fn an_edited_state_or_another_burn_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ck = Checkpoint::save(dir.path(), state(10), &files(1)).unwrap();
        let path = ck.join("state.json");
        let good = fs::read_to_string(&path).unwrap();
        assert!(
            good.trim_start().starts_with("{\n  \"state_checksum\": \""),
            "{good}"
        );
        for (from, to) in [
            ("\"step\": 10", "\"step\": 999"),
            (
                "\"burn_version\": \"0.21.0\"",
                "\"burn_version\": \"0.20.1\"",
            ),
            ("\"seed\": 3", "\"seed\": 4"),
        ] {
            assert!(good.contains(from), "{from}: {good}");
            fs::write(&path, good.replace(from, to)).unwrap();
            let err = Checkpoint::load(&ck).err().unwrap().to_string();
            assert!(
                err.contains("state.json") && err.contains("altered"),
                "{to}: {err}"
            );
        }
        // A renamed seal is not an older, unsealed file (found by the fuzz test).
        fs::write(
            &path,
            good.replace("\"state_checksum\"", "\"state_checksux\""),
        )
        .unwrap();
        let err = Checkpoint::load(&ck).err().unwrap().to_string();
        assert!(
            err.contains("state.json") && err.contains("unknown field"),
            "{err}"
        );
        fs::write(&path, &good).unwrap();
        Checkpoint::load(&ck).unwrap();
        // A state that records its config (written by this version) must be sealed.
        let mut with_config = state(10);
        with_config.config = Some("[task]".into());
        with_config.checksums = Checkpoint::load(&ck).unwrap().0.checksums;
        fs::write(&path, serde_json::to_vec_pretty(&with_config).unwrap()).unwrap();
        let err = Checkpoint::load(&ck).err().unwrap().to_string();
        assert!(err.contains("no state_checksum"), "{err}");
        fs::write(&path, &good).unwrap();
        let mut old = state(10);
        old.burn_version = "0.20.1".into();
        let ck = Checkpoint::save(dir.path(), old, &files(1)).unwrap();
        let err = Checkpoint::load(&ck).err().unwrap().to_string();
        assert!(
            err.contains("Burn 0.20.1") && err.contains(BURN_VERSION),
            "{err}"
        );
        // A state.json from before the seal (no state_checksum) still loads.
        let mut unsealed = state(10);
        unsealed.checksums =
            Checkpoint::load(&Checkpoint::save(dir.path(), state(10), &files(1)).unwrap())
                .unwrap()
                .0
                .checksums;
        fs::write(&path, serde_json::to_vec_pretty(&unsealed).unwrap()).unwrap();
        assert_eq!(Checkpoint::load(&ck).unwrap().0.step, 10);
    }

    #[test]
    fn checksum_is_fnv1a() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(checksum(b""), "cbf29ce484222325");
        assert_eq!(checksum(b"a"), "af63dc4c8601ec8c");
    }
}
