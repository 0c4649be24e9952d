//! `kleene_train::run` on the backends behind cargo features: burn-flex (the second CPU
//! backend) and burn-wgpu (CubeCL kernels; Mesa's lavapipe in CI).
//!
//!     cargo test -p kleene-train --features flex --test backends
//!     RUST_MIN_STACK=16777216 XDG_RUNTIME_DIR=/tmp CUBECL_AUTOTUNE_LEVEL=minimal \
//!         cargo test -p kleene-train --features wgpu --test backends
//!
//! The zoo's tests check every model on these backends against NdArray op by op; these check
//! that a whole run (data, loss, optimiser, checkpoints, metrics, evaluation) works there.
#![cfg(any(feature = "flex", feature = "wgpu"))]

mod common;

use common::MAMBA_TOMITA2;
use kleene_train::{run, BackendKind, RunConfig, RunSummary, TrainOptions};
use std::path::Path;

/// Weight init draws from a process-global backend RNG; runs in one process take turns.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn train(kind: BackendKind, text: &str, dir: &Path, opts: TrainOptions) -> RunSummary {
    let _serial = TRAINING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let cfg = RunConfig::parse(text, Path::new("test.toml")).unwrap();
    run(kind, &cfg, dir, &opts, |_| {}).unwrap_or_else(|e| panic!("{kind:?}: {e}"))
}

/// The run learns the language, evaluates it, and writes parseable metrics and a checkpoint.
fn learns_a_star_free_language(kind: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    let s = train(kind, MAMBA_TOMITA2, dir.path(), TrainOptions::default());
    assert_eq!(s.steps, 40);
    assert!(s.final_train_acc.unwrap() >= 0.99, "{kind:?}: {s:?}");
    let (inside, _) = s.report.in_out_means();
    assert!(
        inside.unwrap() >= 0.99,
        "{kind:?}: {}",
        s.report.to_markdown()
    );
    let lines = kleene_train::metrics::read_metrics(&dir.path().join("metrics.jsonl")).unwrap();
    assert_eq!(
        lines.iter().map(|l| l.step).collect::<Vec<_>>(),
        [10, 20, 30, 40]
    );
    assert!(lines
        .iter()
        .all(|l| l.loss.is_finite() && l.tokens_per_s > 0.0));
}

#[cfg(feature = "flex")]
#[test]
fn flex_run_learns_a_star_free_language() {
    learns_a_star_free_language(BackendKind::Flex);
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_run_learns_a_star_free_language() {
    learns_a_star_free_language(BackendKind::Wgpu);
}

/// A run stopped at step 23 and resumed ends with the uninterrupted run's metric lines.
#[cfg(feature = "flex")]
#[test]
fn flex_resumed_run_equals_uninterrupted_run() {
    let full = tempfile::tempdir().unwrap();
    train(
        BackendKind::Flex,
        MAMBA_TOMITA2,
        full.path(),
        TrainOptions::default(),
    );
    let part = tempfile::tempdir().unwrap();
    let stop = TrainOptions {
        stop_after: Some(23),
        ..Default::default()
    };
    train(BackendKind::Flex, MAMBA_TOMITA2, part.path(), stop);
    let resume = TrainOptions {
        resume: true,
        ..Default::default()
    };
    train(BackendKind::Flex, MAMBA_TOMITA2, part.path(), resume);
    let losses = |dir: &Path| -> Vec<(u64, u64)> {
        kleene_train::metrics::read_metrics(&dir.join("metrics.jsonl"))
            .unwrap()
            .iter()
            .map(|l| (l.step, l.loss.to_bits()))
            .collect()
    };
    assert_eq!(losses(full.path()), losses(part.path()));
}
