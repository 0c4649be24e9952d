//! End-to-end on NdArray with the zoo's models and the registry's tasks, tiny configs.

mod common;

use kleene_train::{run, BackendKind, RunConfig, TrainOptions};

/// Burn's NdArray RNG (used for weight init after `B::seed`) is process-global: two training
/// tests running on parallel test threads would interleave their draws and make each other's
/// initial weights depend on timing. Every test that trains holds this lock.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn training_lock() -> std::sync::MutexGuard<'static, ()> {
    TRAINING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn cfg(text: &str) -> RunConfig {
    RunConfig::parse(text, std::path::Path::new("test.toml")).unwrap()
}

/// SD-SSM on the SD-SSM parity task, lengths 1..=12, evaluated at every training length.
#[test]
fn sdssm_learns_parity_in_distribution() {
    let _serial = training_lock();
    let c = cfg(r#"
[task]
name = "parity-check"
train_min_len = 1
train_max_len = 12
[model]
kind = "sdssm"
state_size = 8
num_transition_matrices = 4
[training]
steps = 600
batch_size = 32
lr = 0.02
optimizer = "adam"
grad_clip = 1.0
log_every = 50
checkpoint_every = 0
[eval]
protocol = "lengths"
min_len = 1
max_len = 12
samples_per_len = 64
"#);
    let dir = tempfile::tempdir().unwrap();
    let s = run(
        BackendKind::Ndarray,
        &c,
        dir.path(),
        &TrainOptions::default(),
        |_| {},
    )
    .unwrap();
    let (inside, _) = s.report.in_out_means();
    assert!(inside.unwrap() >= 0.99, "{}", s.report.to_markdown());
}

/// Mamba on Tomita-2 = (10)*, star-free, per-position next-symbol classes.
#[test]
fn mamba_learns_a_star_free_language() {
    let _serial = training_lock();
    let c = cfg(common::MAMBA_TOMITA2);
    let dir = tempfile::tempdir().unwrap();
    let s = run(
        BackendKind::Ndarray,
        &c,
        dir.path(),
        &TrainOptions::default(),
        |_| {},
    )
    .unwrap();
    assert!(s.final_train_acc.unwrap() >= 0.99, "{s:?}");
    let (inside, _) = s.report.in_out_means();
    assert!(inside.unwrap() >= 0.99, "{}", s.report.to_markdown());
    let lines = kleene_train::metrics::read_metrics(&dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(lines.len(), 4);
}

#[test]
fn unknown_task_and_bad_model_fields_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let c = cfg("[task]\nname = \"no-such-task\"\n[model]\nkind = \"mamba\"\n");
    let err = run(
        BackendKind::Ndarray,
        &c,
        dir.path(),
        &TrainOptions::default(),
        |_| {},
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("no-such-task"), "{err}");
    // A misspelled model key stops the config load (typed `[model]`), before any run.
    let err = RunConfig::parse(
        "[task]\nname = \"parity-check\"\n[model]\nkind = \"mamba\"\nd_modle = 3\n",
        std::path::Path::new("test.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("d_modle"), "{err}");
    assert!(err.contains("line 5"), "{err}");
    // A model that does not fit its task (Mamba without a head has d_model outputs; Tomita
    // per-position classification needs more) stops the run before anything is written.
    let c =
        cfg("[task]\nname = \"tomita-2\"\n[model]\nkind = \"mamba\"\nd_model = 1\nhead = false\n");
    let run_dir = dir.path().join("run");
    let err = run(
        BackendKind::Ndarray,
        &c,
        &run_dir,
        &TrainOptions::default(),
        |_| {},
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("model.head"), "{err}");
    assert!(
        !run_dir.exists(),
        "the failed run wrote {}",
        run_dir.display()
    );
    let err = kleene_train::run::model_config(&c).unwrap_err().to_string();
    assert!(err.contains("model.head"), "{err}");
    let err = "vulkan".parse::<BackendKind>().unwrap_err().to_string();
    assert!(err.contains("ndarray, flex, wgpu, cuda"), "{err}");
}
