//! What a run directory must be before a run writes into it, and what a checkpoint must
//! match before a run resumes from it (issue 17: a run never overwrites someone else's
//! files, and never continues a checkpoint on another task, model or training setup).

use std::path::Path;

use kleene_langs::Task;
use kleene_zoo::ModelConfig;

use crate::checkpoint::{Checkpoint, CheckpointState};
use crate::config::{RunConfig, TrainingConfig};
use crate::trainer::train_window;
use crate::TrainError;

/// The `[model]` a checkpoint records (`CheckpointState::model_toml`): every field, as TOML.
pub(crate) fn model_fingerprint(cfg: &RunConfig) -> String {
    toml::to_string(&cfg.model).unwrap_or_default()
}

/// One line for a model in a message: `kind key=value ...` with every field.
fn model_line(model: &ModelConfig) -> String {
    toml::Table::try_from(model)
        .map(|t| crate::evaluate::table_label(&t))
        .unwrap_or_else(|_| format!("{model:?}"))
}

/// Refuses a checkpoint whose model record the current zoo cannot read (its record format,
/// for the model its `model_toml` names); an unreadable `model_toml` is left to the caller.
pub fn check_record_format(state: &CheckpointState, dir: &Path) -> Result<(), TrainError> {
    match toml::from_str::<ModelConfig>(&state.model_toml) {
        Ok(model) => model
            .check_record_format(state.record_format)
            .map_err(|why| TrainError::checkpoint(dir.join("model.bin"), why)),
        Err(_) => Ok(()),
    }
}

/// Settings of `[training]` a resume may change: the run's length (never below the
/// checkpoint's step) and how often it logs and checkpoints. Every other setting shapes the
/// trajectory (data, loss, optimiser, schedule, seed), so changing it mid-run would silently
/// train the checkpoint on something else.
pub const MAY_CHANGE_ON_RESUME: [&str; 3] = ["steps", "checkpoint_every", "log_every"];

/// Refuses a resume whose config trains something else than the checkpoint `dir`.
///
/// Everything is compared parsed, with defaults filled in, never as text (writing a
/// default out, `d_state = 16`, is the same config): the model (`model_toml`, read as a
/// [`ModelConfig`]: checkpoints written before `[model]` was typed hold the table as written),
/// the task, the training window as resolved against `task`, and every `[training]` setting
/// but [`MAY_CHANGE_ON_RESUME`], naming the first field that differs. The recorded config is
/// the checkpoint's own (`config`); checkpoints written before it was recorded fall back to
/// the run's `config.toml`, which a resume only rewrites after this check. `training.steps`
/// below the checkpoint's step is refused: the steps are done.
pub fn check_resume(
    state: &CheckpointState,
    cfg: &RunConfig,
    task: &dyn Task,
    dir: &Path,
) -> Result<(), TrainError> {
    match toml::from_str::<ModelConfig>(&state.model_toml) {
        Ok(stored) if stored == cfg.model => {}
        Ok(stored) => {
            return Err(TrainError::checkpoint(
                dir,
                format!(
                    "it was written with a different [model] than this config: the checkpoint has `{}`, this config `{}`",
                    model_line(&stored),
                    model_line(&cfg.model)
                ),
            ))
        }
        Err(e) => {
            return Err(TrainError::checkpoint(
                dir,
                format!(
                    "its [model] `{}` is not a model config of this version ({}): it cannot be compared with this config's `{}`, so it is not resumed; choose another out_dir",
                    state.model_toml.trim().replace('\n', "; "),
                    e.message().trim(),
                    model_line(&cfg.model)
                ),
            ))
        }
    }
    let stored = stored_config(state, dir)?;
    // The task: a checkpoint trained on another one would be trained on (or, with another
    // vocabulary, fail in the loss on) data it was not made for.
    let trained_on = state
        .task
        .clone()
        .or_else(|| stored.as_ref().map(|c| c.task.name.clone()));
    if let Some(task) = trained_on {
        if task != cfg.task.name {
            return Err(TrainError::checkpoint(
                dir,
                format!(
                    "it was trained on task `{task}`, this config has task.name = `{}`; choose another out_dir",
                    cfg.task.name
                ),
            ));
        }
    }
    if state.seed != cfg.training.seed {
        return Err(TrainError::checkpoint(
            dir,
            format!(
                "it was written with training.seed = {}, this config has {}",
                state.seed, cfg.training.seed
            ),
        ));
    }
    if let Some(stored) = &stored {
        let changed = |field: &str, was: String, now: String| {
            TrainError::checkpoint(
                dir,
                format!(
                    "it was trained with {field} = {was}, this config has {field} = {now}: a resume must continue the same training (only training.{} may change); restore {field}, or start a new run in another out_dir",
                    MAY_CHANGE_ON_RESUME.join(", training.")
                ),
            )
        };
        // The window as resolved (an unset bound is the task's own), so writing the
        // task's default out is no change.
        let (was, now) = (train_window(task, stored)?, train_window(task, cfg)?);
        if was.0 != now.0 {
            return Err(changed(
                "task.train_min_len",
                was.0.to_string(),
                now.0.to_string(),
            ));
        }
        if was.1 != now.1 {
            return Err(changed(
                "task.train_max_len",
                was.1.to_string(),
                now.1.to_string(),
            ));
        }
        if let Some((field, was, now)) = first_difference(&stored.training, &cfg.training) {
            return Err(changed(&format!("training.{field}"), was, now));
        }
    }
    if state.step > cfg.training.steps {
        return Err(TrainError::checkpoint(
            dir,
            format!(
                "it has done {} steps, more than this config's training.steps = {}: set training.steps to at least {} (a run cannot be shortened after the fact)",
                state.step, cfg.training.steps, state.step
            ),
        ));
    }
    Ok(())
}

/// The run config a checkpoint was trained with: the one it records, else (older
/// checkpoints) the run directory's `config.toml`, if it still parses.
fn stored_config(state: &CheckpointState, dir: &Path) -> Result<Option<RunConfig>, TrainError> {
    let state_path = dir.join("state.json");
    match &state.config {
        Some(text) => RunConfig::parse(text, &state_path).map(Some).map_err(|e| {
            TrainError::checkpoint(
                &state_path,
                format!("its recorded run config is not a config of this version ({e}): it cannot be compared with this config, so it is not resumed; choose another out_dir"),
            )
        }),
        None => Ok(dir
            .parent()
            .and_then(|run_dir| RunConfig::load(&run_dir.join("config.toml")).ok())),
    }
}

/// The first `[training]` field (sorted by name) other than [`MAY_CHANGE_ON_RESUME`] whose
/// parsed value differs: `(field, stored value, new value)`, values as TOML.
fn first_difference(
    stored: &TrainingConfig,
    now: &TrainingConfig,
) -> Option<(String, String, String)> {
    let table = |t: &TrainingConfig| toml::Table::try_from(t).unwrap_or_default();
    let (a, b) = (table(stored), table(now));
    let keys: std::collections::BTreeSet<String> = a.keys().chain(b.keys()).cloned().collect();
    let show = |v: Option<&toml::Value>| v.map_or_else(|| "(unset)".to_string(), |v| v.to_string());
    keys.into_iter()
        .filter(|k| !MAY_CHANGE_ON_RESUME.contains(&k.as_str()))
        .find(|k| a.get(k) != b.get(k))
        .map(|k| {
            let (was, now) = (show(a.get(&k)), show(b.get(&k)));
            (k, was, now)
        })
}

/// Checks that `run_dir` may receive a run, before anything is written there.
///
/// A run writes fixed names (`config.toml`, `report.md`, ...) into its directory, so a
/// directory that holds anything else than a kleene run would lose files: the working
/// directory with a user's own `config.toml` and `report.md` (`--out-dir .`) is the case
/// that happened. Accepted: a path that does not exist yet, an empty directory, or a
/// kleene run directory, i.e. one with a checkpoint, or with a `config.toml` that parses as
/// a run config and either a `metrics.jsonl` next to it or the exact text kleene writes
/// (a run stopped before its first metrics line) -- and then only a run of `cfg`'s task and
/// model: a new run would replace another experiment's files. An empty path is refused
/// naming `out_dir`: it would resolve to the working directory. With `resume` the checkpoint
/// itself is checked later, by [`crate::train`].
pub fn check_run_dir(run_dir: &Path, cfg: &RunConfig, resume: bool) -> Result<(), TrainError> {
    let refuse = |reason: String| TrainError::RunDir {
        path: run_dir.to_path_buf(),
        reason,
    };
    if run_dir.as_os_str().is_empty() {
        return Err(refuse(
            "out_dir is empty, which would write the run into the working directory: set `out_dir` (or --out-dir) to a directory of its own, e.g. runs/NAME".into(),
        ));
    }
    let entries = match std::fs::read_dir(run_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if run_dir.exists() && !run_dir.is_dir() => {
            return Err(refuse(format!("exists and is not a directory ({e})")))
        }
        Err(e) => return Err(TrainError::io(run_dir, e)),
    };
    let mut names: Vec<String> = entries
        .map(|e| {
            e.map(|e| e.file_name().to_string_lossy().into_owned())
                .map_err(|e| TrainError::io(run_dir, e))
        })
        .collect::<Result<_, _>>()?;
    // A run's own lock file (left by a killed run that had written nothing else).
    names.retain(|n| n != ".lock");
    if names.is_empty() {
        return Ok(());
    }
    if is_kleene_run_dir(run_dir) {
        // With a checkpoint, the checkpoint's own record decides (a fresh run is refused, a
        // resume compared by `check_resume`); without one, the run's config.toml.
        if Checkpoint::find(run_dir).is_some() {
            return Ok(());
        }
        let Ok(old) = RunConfig::load(&run_dir.join("config.toml")) else {
            return Ok(());
        };
        let other = if old.task.name != cfg.task.name {
            Some(format!(
                "task `{}`; this config trains task `{}`",
                old.task.name, cfg.task.name
            ))
        } else if old.model != cfg.model {
            Some(format!(
                "model `{}`; this config trains `{}`",
                model_line(&old.model),
                model_line(&cfg.model)
            ))
        } else {
            None
        };
        if let Some(other) = other {
            return Err(refuse(format!(
                "it holds a kleene run of {other}: the run would replace that run's files; choose another out_dir"
            )));
        }
        return Ok(());
    }
    names.sort();
    let shown = if names.len() > 6 {
        format!("{}, ... ({} entries)", names[..6].join(", "), names.len())
    } else {
        names.join(", ")
    };
    let what = if resume { "resumed" } else { "written" };
    Err(refuse(format!(
        "not a kleene run directory (it holds {shown}; no checkpoint, and no config.toml written by kleene): a run {what} here would overwrite files such as config.toml and report.md; choose a new or empty out_dir"
    )))
}

/// Whether `dir` holds a kleene run (see [`check_run_dir`]).
fn is_kleene_run_dir(dir: &Path) -> bool {
    if Checkpoint::find(dir).is_some() {
        return true;
    }
    let config = dir.join("config.toml");
    let Ok(text) = std::fs::read_to_string(&config) else {
        return false;
    };
    let Ok(parsed) = RunConfig::parse(&text, &config) else {
        return false;
    };
    // A user's own config parses too; only kleene writes it fully resolved, so the text
    // must round-trip unless the run's metrics are there as well.
    dir.join("metrics.jsonl").is_file() || parsed.to_toml() == text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::IntervalAccum;
    use crate::schedule::PlateauState;

    /// Resuming with another task (`--resume` after editing task.name) is refused before
    /// anything is loaded or written: from the task the checkpoint records, and for older
    /// checkpoints from the run's config.toml.
    #[test]
    fn check_resume_refuses_another_task() {
        let tmp = tempfile::tempdir().unwrap();
        let ckpt = tmp.path().join("checkpoint");
        std::fs::create_dir_all(&ckpt).unwrap();
        let model = "kind = \"mamba\"\nd_model = 8";
        let trained = cfg(model, 3);
        let mut other = trained.clone();
        other.task.name = "parity-check".into();
        let mut st = state(&model_fingerprint(&trained), 3);
        check(&st, &trained, &ckpt).unwrap();
        let err = check(&st, &other, &ckpt).unwrap_err().to_string();
        assert!(
            err.contains("tomita-2") && err.contains("parity-check"),
            "{err}"
        );
        // A checkpoint from before `task` was recorded: the run's config.toml tells.
        st.task = None;
        check(&st, &other, &ckpt).unwrap(); // nothing to compare with
        std::fs::write(tmp.path().join("config.toml"), trained.to_toml()).unwrap();
        let err = check(&st, &other, &ckpt).unwrap_err().to_string();
        assert!(
            err.contains("tomita-2") && err.contains("parity-check"),
            "{err}"
        );
        check(&st, &trained, &ckpt).unwrap();
    }

    /// [`check_resume`] on tomita-2, the task of [`cfg`].
    fn check(st: &CheckpointState, c: &RunConfig, dir: &Path) -> Result<(), TrainError> {
        let task = kleene_langs::task_by_name("tomita-2").unwrap();
        check_resume(st, c, task.as_ref(), dir)
    }

    fn cfg(model: &str, seed: u64) -> RunConfig {
        let text =
            format!("[task]\nname = \"tomita-2\"\n[model]\n{model}\n[training]\nseed = {seed}\n");
        RunConfig::parse(&text, Path::new("t.toml")).unwrap()
    }

    fn state(model_toml: &str, seed: u64) -> CheckpointState {
        CheckpointState {
            step: 10,
            plateau: PlateauState::default(),
            accum: IntervalAccum::default(),
            model_toml: model_toml.into(),
            seed,
            checksums: vec![],
            burn_version: "0.21.0".into(),
            record_format: kleene_zoo::RECORD_FORMAT,
            task: Some("tomita-2".into()),
            config: None,
            state_checksum: None,
        }
    }

    /// The `model_toml` of a checkpoint written before `[model]` was typed: the table as
    /// the file wrote it.
    const OLD_STYLE: &str = "kind = \"mamba\"\nd_model = 32\nn_layers = 1\n";

    #[test]
    fn resume_accepts_an_old_style_model_table_of_the_same_model() {
        let dir = Path::new("run/checkpoint");
        // Keys in another order, a default written out: the same model.
        let c = cfg(
            "n_layers = 1\nkind = \"mamba\"\nd_state = 16\nd_model = 32",
            3,
        );
        // The typed fingerprint is not the old text (so a text comparison would refuse) ...
        assert_ne!(model_fingerprint(&c), OLD_STYLE);
        // ... but it means the same model.
        check(&state(OLD_STYLE, 3), &c, dir).unwrap();
        // And a checkpoint written now resumes too.
        check(&state(&model_fingerprint(&c), 3), &c, dir).unwrap();
    }

    #[test]
    fn resume_refuses_another_model_naming_both() {
        let dir = Path::new("run/checkpoint");
        let c = cfg("kind = \"mamba\"\nd_model = 64\nn_layers = 1", 3);
        let err = check(&state(OLD_STYLE, 3), &c, dir)
            .unwrap_err()
            .to_string();
        assert!(err.contains("different [model]"), "{err}");
        assert!(
            err.contains("d_model=32") && err.contains("d_model=64"),
            "{err}"
        );
        assert!(err.contains("run/checkpoint"), "{err}");
        // A default that changes the model: the stored one has d_state = 16.
        let c = cfg("kind = \"mamba\"\nd_model = 32\nd_state = 8", 3);
        assert!(check(&state(OLD_STYLE, 3), &c, dir).is_err());
    }

    #[test]
    fn resume_refuses_an_unreadable_model_or_another_seed() {
        let dir = Path::new("run/checkpoint");
        let c = cfg("kind = \"mamba\"\nd_model = 32", 3);
        for stored in ["kind = \"tiny\"\nd = 8\n", "not toml = = 1", ""] {
            let err = check(&state(stored, 3), &c, dir).unwrap_err().to_string();
            assert!(
                err.contains("cannot be compared") && err.contains("mamba"),
                "{err}"
            );
        }
        let err = check(&state(&model_fingerprint(&c), 4), &c, dir)
            .unwrap_err()
            .to_string();
        assert!(err.contains("training.seed = 4"), "{err}");
    }

    #[test]
    fn check_run_dir_refuses_an_empty_path_and_foreign_files_and_accepts_kleene_runs() {
        let c = cfg("kind = \"rnn\"", 0);
        let err = check_run_dir(Path::new(""), &c, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("out_dir is empty"), "{err}");
        let tmp = tempfile::tempdir().unwrap();
        check_run_dir(&tmp.path().join("new"), &c, false).unwrap();
        check_run_dir(tmp.path(), &c, false).unwrap();
        let file = tmp.path().join("notes.txt");
        std::fs::write(&file, "mine").unwrap();
        let err = check_run_dir(&file, &c, false).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
        let err = check_run_dir(tmp.path(), &c, true).unwrap_err().to_string();
        assert!(err.contains("not a kleene run directory"), "{err}");
        assert!(err.contains("notes.txt"), "{err}");
        // A user's own (hand-written) kleene config is not kleene's run config ...
        std::fs::write(
            tmp.path().join("config.toml"),
            "[task]\nname = \"tomita-2\"\n",
        )
        .unwrap();
        assert!(check_run_dir(tmp.path(), &c, false).is_err());
        // ... the text kleene writes is, and so is any run config with its metrics.
        std::fs::write(tmp.path().join("config.toml"), c.to_toml()).unwrap();
        check_run_dir(tmp.path(), &c, false).unwrap();
        std::fs::write(
            tmp.path().join("config.toml"),
            "[task]\nname = \"tomita-2\"\n[model]\nkind = \"rnn\"\n",
        )
        .unwrap();
        assert!(check_run_dir(tmp.path(), &c, false).is_err());
        std::fs::write(tmp.path().join("metrics.jsonl"), "").unwrap();
        check_run_dir(tmp.path(), &c, false).unwrap();
    }

    /// Issue 17: a run directory is new, empty, or a kleene run of the same task and model.
    #[test]
    fn check_run_dir_refuses_a_run_of_another_task_or_model() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cfg("kind = \"rnn\"", 0);
        std::fs::write(tmp.path().join("config.toml"), c.to_toml()).unwrap();
        std::fs::write(tmp.path().join("metrics.jsonl"), "").unwrap();
        check_run_dir(tmp.path(), &c, false).unwrap();
        // Another seed or lr: the same experiment, retrained.
        check_run_dir(tmp.path(), &cfg("kind = \"rnn\"", 5), false).unwrap();
        let mut other_task = c.clone();
        other_task.task.name = "parity".into();
        let err = check_run_dir(tmp.path(), &other_task, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("tomita-2") && err.contains("parity"), "{err}");
        let other_model = cfg("kind = \"lstm\"", 0);
        let err = check_run_dir(tmp.path(), &other_model, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("rnn") && err.contains("lstm"), "{err}");
    }
}
