//! A resume continues the same training or is refused (issue 17): the run config is compared
//! with the one the checkpoint recorded, parsed and with every default filled in. A changed
//! task, window, model, data, loss, optimiser or schedule setting is refused naming the field,
//! as are fewer steps than done and a hand-edited `state.json`; writing a default out is the
//! same config. Real runs (Mamba on Tomita-2) on NdArray in temporary directories.

mod common;

use std::path::Path;

use common::MAMBA_TOMITA2;
use kleene_train::checkpoint::Checkpoint;
use kleene_train::{run, BackendKind, RunConfig, RunSummary, TrainError, TrainOptions};

fn parse(text: &str) -> RunConfig {
    RunConfig::parse(text, Path::new("t.toml")).unwrap()
}

fn train(
    text: &str,
    dir: &Path,
    resume: bool,
    stop_after: Option<u64>,
) -> Result<RunSummary, TrainError> {
    let opts = TrainOptions {
        resume,
        progress: false,
        stop_after,
    };
    run(BackendKind::Ndarray, &parse(text), dir, &opts, |_| {})
}

/// A run of MAMBA_TOMITA2 stopped after 20 of its 40 steps (checkpoint at 20).
fn stopped_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    train(MAMBA_TOMITA2, dir.path(), false, Some(20)).unwrap();
    dir
}

fn checkpoint_step(dir: &Path) -> u64 {
    Checkpoint::load(&Checkpoint::find(dir).unwrap())
        .unwrap()
        .0
        .step
}

#[test]
fn resume_refuses_changed_settings_naming_the_field_and_leaves_the_run_as_it_was() {
    let dir = stopped_run();
    let config_before = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    let metrics_before = std::fs::read(dir.path().join("metrics.jsonl")).unwrap();
    let add = |line: &str| MAMBA_TOMITA2.replace("[training]\n", &format!("[training]\n{line}\n"));
    for (text, field) in [
        (
            MAMBA_TOMITA2.replace("lr = 0.01", "lr = 0.02"),
            "training.lr",
        ),
        (
            MAMBA_TOMITA2.replace("batch_size = 8", "batch_size = 9"),
            "training.batch_size",
        ),
        (add("optimizer = \"adam\""), "training.optimizer"),
        (add("weight_decay = 0.1"), "training.weight_decay"),
        (add("loss = \"mse\""), "training.loss"),
        (add("data = \"split\""), "training.data"),
        (add("curriculum = \"mixed\""), "training.curriculum"),
        (add("grad_clip = 1.0"), "training.grad_clip"),
        (
            add("schedule = { kind = \"cosine\", warmup_steps = 2 }"),
            "training.schedule",
        ),
        (
            MAMBA_TOMITA2.replace("train_max_len = 10", "train_max_len = 12"),
            "task.train_max_len",
        ),
        (
            MAMBA_TOMITA2.replace("train_min_len = 2", "train_min_len = 3"),
            "task.train_min_len",
        ),
        (MAMBA_TOMITA2.replace("tomita-2", "tomita-4"), "tomita-4"),
        (
            MAMBA_TOMITA2.replace("d_state = 4", "d_state = 8"),
            "different [model]",
        ),
        (
            MAMBA_TOMITA2.replace("steps = 40", "steps = 10"),
            "training.steps = 10",
        ),
    ] {
        let err = train(&text, dir.path(), true, None)
            .err()
            .unwrap_or_else(|| panic!("{field}: the changed config was resumed"))
            .to_string();
        assert!(err.contains(field), "{field}: {err}");
        assert!(err.contains("checkpoint"), "{field}: {err}");
    }
    assert_eq!(checkpoint_step(dir.path()), 20);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("config.toml")).unwrap(),
        config_before,
        "a refused resume rewrote config.toml"
    );
    assert_eq!(
        std::fs::read(dir.path().join("metrics.jsonl")).unwrap(),
        metrics_before
    );

    // Defaults written out, more steps, other log and checkpoint intervals: the same training.
    let same = MAMBA_TOMITA2
        .replace(
            "[training]\n",
            "[training]\noptimizer = \"adam_w\"\nbeta1 = 0.9\nweight_decay = 0.0\ncurriculum = \"uniform\"\n",
        )
        .replace("d_state = 4", "d_state = 4\nexpand = 2\nd_conv = 4")
        .replace("steps = 40", "steps = 50")
        .replace("checkpoint_every = 20", "checkpoint_every = 25");
    let summary = train(&same, dir.path(), true, None).unwrap();
    assert_eq!(summary.steps, 50);
    assert_eq!(checkpoint_step(dir.path()), 50);
}

#[test]
fn a_hand_edited_state_json_is_refused() {
    let dir = stopped_run();
    let state = Checkpoint::find(dir.path()).unwrap().join("state.json");
    let good = std::fs::read_to_string(&state).unwrap();
    for (from, to) in [
        ("\"step\": 20", "\"step\": 999"),
        (
            "\"burn_version\": \"0.21.0\"",
            "\"burn_version\": \"0.22.0\"",
        ),
    ] {
        assert!(good.contains(from), "{from}: {good}");
        std::fs::write(&state, good.replace(from, to)).unwrap();
        let err = train(MAMBA_TOMITA2, dir.path(), true, None)
            .err()
            .unwrap_or_else(|| panic!("{to}: resumed"))
            .to_string();
        assert!(
            err.contains("state.json") && err.contains("altered"),
            "{to}: {err}"
        );
    }
    std::fs::write(&state, &good).unwrap();
    assert_eq!(
        train(MAMBA_TOMITA2, dir.path(), true, None).unwrap().steps,
        40
    );
}
