//! Settings checked before training, not after it or never (issue 17): a bad `eval.splits`
//! name, unknown `[eval.paper]` keys and `[eval]` keys it would ignore, `eval.min_len = 0`, sizes that used to hang or abort on
//! allocation, and every grid point of a sweep (with `--dry-run` too). Each fails at once,
//! naming the field, before the banner and before anything is written.

mod common;

use common::kleene_in;
use std::time::{Duration, Instant};

const CONFIG: &str = "[task]\nname = \"tomita-2\"\n\n[model]\nkind = \"mamba\"\nd_model = 8\nn_layers = 1\n\n[training]\nsteps = 2\nbatch_size = 4\n\n[eval]\nmax_examples = 4\n";

/// `CONFIG` with `from` replaced by `to`, trained into `run/`: asserts it fails within a few
/// seconds naming `field`, with nothing written.
fn refused(from: &str, to: &str, field: &str) {
    let dir = tempfile::tempdir().unwrap();
    assert!(CONFIG.contains(from), "{from}");
    std::fs::write(dir.path().join("c.toml"), CONFIG.replacen(from, to, 1)).unwrap();
    let started = Instant::now();
    let (out, stderr) = kleene_in(
        dir.path(),
        &["train", "c.toml", "--quiet", "--out-dir", "run"],
    );
    assert!(!out.status.success(), "{to}: succeeded:\n{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{to}: took {:?}",
        started.elapsed()
    );
    assert!(stderr.contains(field), "{to}: no `{field}`:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{to}:\n{stderr}");
    assert!(!stderr.contains("training `"), "{to}: banner:\n{stderr}");
    assert!(
        !dir.path().join("run").exists(),
        "{to}: run directory created"
    );
}

#[test]
fn bad_eval_settings_fail_before_training() {
    refused(
        "max_examples = 4",
        "max_examples = 4\nsplits = [\"tset\"]",
        "eval.splits",
    );
    refused(
        "max_examples = 4",
        "max_examples = 4\nmin_len = 0",
        "eval.min_len",
    );
    refused(
        "max_examples = 4",
        "[eval.paper]\nsplits = [\"test\"]\nmax_exampels = 3",
        "max_exampels",
    );
    refused(
        "max_examples = 4",
        "[eval.paper]\nsplits = [\"nope\"]",
        "eval.paper.splits",
    );
    // a key [eval.paper] would silently override
    refused(
        "max_examples = 4",
        "max_examples = 5\n[eval.paper]\nsplits = [\"test\"]",
        "eval.max_examples",
    );
    refused(
        "max_examples = 4",
        "[eval.paper.curve]\nmax_len = 10\nper_len = 3",
        "per_len",
    );
}

#[test]
fn sizes_that_hang_or_exhaust_memory_are_refused_naming_the_field() {
    refused("steps = 2", "steps = 9223372036854775807", "training.steps");
    refused("n_layers = 1", "n_layers = 100000", "model.n_layers");
    refused("d_model = 8", "d_model = 1000000", "model.d_model");
    refused(
        "batch_size = 4",
        "batch_size = 100000000",
        "training.batch_size",
    );
    refused(
        "name = \"tomita-2\"",
        "name = \"tomita-2\"\ntrain_min_len = 1000000000\ntrain_max_len = 1000000000",
        "task.train_max_len",
    );
    refused(
        "max_examples = 4",
        "max_examples = 4\nprotocol = \"lengths\"\nmax_len = 1000000000\nlen_step = 100000000",
        "eval.max_len",
    );
    // Fits in memory, but a curve to 10^6 by 1 (6e13 tokens) would run for weeks.
    refused(
        "max_examples = 4",
        "max_examples = 4\nprotocol = \"lengths\"\nmax_len = 1000000",
        "eval.max_len",
    );
    refused(
        "max_examples = 4",
        "max_examples = 4\nlong_lengths = [1000000000000]",
        "eval.long_lengths",
    );
}

/// A sweep whose base is `CONFIG` and whose grid is `grid`.
fn sweep(grid: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.toml"), CONFIG).unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        format!("base = \"base.toml\"\nout_dir = \"out\"\n[grid]\n{grid}\n"),
    )
    .unwrap();
    dir
}

#[test]
fn sweep_dry_run_validates_every_grid_point() {
    for (grid, what) in [
        ("\"task.name\" = [\"tomita-2\", \"tomita-99\"]", "tomita-99"),
        ("\"model.d_modle\" = [8, 16]", "d_modle"),
        ("\"eval.splits\" = [[\"test\"], [\"tset\"]]", "eval.splits"),
        ("\"model.n_layers\" = [1, 100000]", "model.n_layers"),
        ("\"training.seed\" = [0, 1, 0]", "twice"),
    ] {
        let dir = sweep(grid);
        for dry in [true, false] {
            let mut args = vec!["sweep", "s.toml"];
            if dry {
                args.push("--dry-run");
            }
            let (out, stderr) = kleene_in(dir.path(), &args);
            assert!(
                !out.status.success(),
                "{grid} (dry {dry}): succeeded:\n{stderr}"
            );
            assert!(stderr.contains(what), "{grid}: no `{what}`:\n{stderr}");
            assert!(!stderr.contains("panicked"), "{grid}:\n{stderr}");
            assert!(
                !dir.path().join("out").exists(),
                "{grid}: wrote the sweep directory"
            );
        }
    }
    let dir = sweep("\"training.seed\" = [0, 1]");
    let (out, stderr) = kleene_in(dir.path(), &["sweep", "s.toml", "--dry-run"]);
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn a_custom_model_kind_is_refused_by_the_command_line_naming_the_field() {
    // Custom kinds are registered by the program that runs them; this binary has none.
    refused(
        "kind = \"mamba\"\nd_model = 8\nn_layers = 1",
        "kind = \"custom\"\nname = \"gated_rnn\"\nd_model = 8",
        "model.name",
    );
}
