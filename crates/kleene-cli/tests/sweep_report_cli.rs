//! Sweeps and reports under runs that go wrong (issue 17): a diverged (NaN) run is recorded
//! as diverged in its `result.json` and in the combined report while the sweep goes on, and a
//! re-run skips it; `kleene report` refuses to average a cross-entropy and an MSE run as
//! seeds, and counts a run directory given twice once.

mod common;

use common::kleene_in;
use std::path::Path;

const BASE: &str = "[task]\nname = \"tomita-2\"\ntrain_min_len = 2\ntrain_max_len = 8\n\n[model]\nkind = \"mamba\"\nd_model = 8\nn_layers = 1\nd_state = 4\n\n[training]\nsteps = 6\nbatch_size = 4\nloss = \"mse\"\nlog_every = 1\ncheckpoint_every = 1\n\n[eval]\nmax_examples = 4\n";

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_diverged_run_is_recorded_and_the_sweep_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.toml"), BASE).unwrap();
    // lr 1e30: the first Adam step moves every weight by ~1e30 and the next loss overflows.
    std::fs::write(
        dir.path().join("s.toml"),
        "base = \"base.toml\"\nout_dir = \"out\"\n[grid]\n\"training.lr\" = [1e30, 0.01]\n",
    )
    .unwrap();
    let (out, stderr) = kleene_in(dir.path(), &["sweep", "s.toml"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("diverged"), "{stderr}");
    let bad = dir.path().join("out/lr=1000000000000000000000000000000.0");
    let result = json(&bad.join("result.json"));
    let reason = result["diverged"].as_str().expect("recorded as diverged");
    assert!(reason.contains("loss is"), "{reason}");
    // The step named is the one whose loss was not finite: one past the last checkpoint
    // and past every metric line (all finite).
    let step: u64 = reason
        .split("at step ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("a step in the message");
    let state = json(&bad.join("checkpoint/state.json"));
    assert_eq!(state["step"].as_u64().unwrap() + 1, step, "{reason}");
    let metrics = std::fs::read_to_string(bad.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    assert_eq!(last["step"].as_u64().unwrap() + 1, step);
    // The other run ran, and the combined report lists the diverged one apart.
    assert!(dir.path().join("out/lr=0.01/result.json").is_file());
    let report = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
    assert!(
        report.contains("Diverged runs") && report.contains("lr=1000000000000000000000000000000.0"),
        "{report}"
    );
    assert_eq!(
        json(&dir.path().join("out/report.json"))["diverged"][0]["run"],
        "lr=1000000000000000000000000000000.0"
    );
    // A re-run skips both.
    let (out, stderr) = kleene_in(dir.path(), &["sweep", "s.toml"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("finished, skipped").count(), 2, "{stderr}");
}

#[test]
fn report_refuses_mixed_losses_and_counts_a_run_given_twice_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("mse.toml"), BASE.replace("steps = 6", "steps = 2")).unwrap();
    std::fs::write(
        p.join("ce.toml"),
        BASE.replace("steps = 6", "steps = 2")
            .replace("loss = \"mse\"", "loss = \"cross_entropy\"\nseed = 1"),
    )
    .unwrap();
    for name in ["mse", "ce"] {
        let file = format!("{name}.toml");
        let (out, stderr) = kleene_in(p, &["train", &file, "--quiet", "--out-dir", name]);
        assert!(out.status.success(), "{stderr}");
    }
    let (out, stderr) = kleene_in(p, &["report", "mse", "ce", "--out", "rep"]);
    assert!(!out.status.success(), "mixed losses reported:\n{stderr}");
    assert!(
        stderr.contains("different losses")
            && stderr.contains("mse")
            && stderr.contains("cross_entropy"),
        "{stderr}"
    );
    let (out, stderr) = kleene_in(
        p,
        &["report", "mse", "mse/", "./mse/result.json", "--out", "rep"],
    );
    assert!(out.status.success(), "{stderr}");
    let report = json(&p.join("rep/report.json"));
    let seeds = &report["experiments"][0]["rows"][0]["seeds"];
    assert_eq!(seeds.as_array().unwrap().len(), 1, "{report}");
}
