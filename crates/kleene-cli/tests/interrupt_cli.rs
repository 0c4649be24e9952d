//! SIGTERM (what Slurm sends before its kill) and SIGINT (Ctrl-C) during `kleene train`
//! (issue 17): the run finishes its step, writes a checkpoint, says so, and exits non-zero
//! (128 + the signal); `--resume` then ends with exactly the metric lines of an
//! uninterrupted run (timings aside).

// The handlers are installed where kleene-train has libc (Linux, glibc); the test sends the
// signals with kill(1).
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = "[task]\nname = \"tomita-2\"\ntrain_min_len = 2\ntrain_max_len = 10\n\n[model]\nkind = \"mamba\"\nd_model = 8\nn_layers = 1\nd_state = 4\n\n[training]\nsteps = 400\nbatch_size = 8\nlr = 0.01\nlog_every = 10\ncheckpoint_every = 1000\n\n[eval]\nprotocol = \"lengths\"\nmin_len = 2\nmax_len = 12\nlen_step = 5\nsamples_per_len = 4\n";

fn train(dir: &Path, run: &str, resume: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kleene"));
    cmd.current_dir(dir)
        .args(["train", "run.toml", "--quiet", "--out-dir", run]);
    if resume {
        cmd.arg("--resume");
    }
    cmd.output().expect("run kleene")
}

/// The metric lines without their timings (`tokens_per_s`, `elapsed_s`).
fn metric_lines(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("tokens_per_s");
            o.remove("elapsed_s");
            v
        })
        .collect()
}

fn checkpoint_step(run: &Path) -> u64 {
    let text = std::fs::read_to_string(run.join("checkpoint/state.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["step"].as_u64().unwrap()
}

/// Starts a run, sends `signal` once its first metric line is written, and returns the
/// finished process's output.
fn interrupted(dir: &Path, run: &str, signal: &str) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_kleene"))
        .current_dir(dir)
        .args(["train", "run.toml", "--quiet", "--out-dir", run])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kleene");
    let metrics = dir.join(run).join("metrics.jsonl");
    let started = Instant::now();
    while !std::fs::read_to_string(&metrics).is_ok_and(|t| t.contains('\n')) {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no metric line after 300 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    child.wait_with_output().unwrap()
}

#[test]
fn sigterm_checkpoints_says_so_exits_non_zero_and_resume_continues_exactly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("run.toml"), CONFIG).unwrap();
    let out = interrupted(dir.path(), "stopped", "-TERM");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGTERM") && stderr.contains("checkpoint written"),
        "{stderr}"
    );
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let run = dir.path().join("stopped");
    let step = checkpoint_step(&run);
    assert!(
        (10..400).contains(&step),
        "stopped at step {step} (the signal came after step 10's metric line)"
    );
    assert!(stderr.contains(&format!("after step {step}")), "{stderr}");
    // Nothing half done: no evaluation, no lock left.
    assert!(!run.join("result.json").exists());
    assert!(!run.join(".lock").exists());

    let resumed = train(dir.path(), "stopped", true);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let full = train(dir.path(), "full", false);
    assert!(full.status.success());
    let (a, b) = (metric_lines(&run), metric_lines(&dir.path().join("full")));
    assert_eq!(a.len(), 40);
    assert_eq!(
        a, b,
        "the resumed run's metric lines differ from an uninterrupted run's"
    );
    assert_eq!(checkpoint_step(&run), 400);
}

#[test]
fn sigint_stops_the_same_way_with_exit_code_130() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("run.toml"), CONFIG).unwrap();
    let out = interrupted(dir.path(), "run", "-INT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    assert!(checkpoint_step(&dir.path().join("run")) >= 10);
}

/// A signal while no run is training (here: during the first run's evaluation) lets that run
/// finish and stops the sweep before the next run starts, with the same exit code.
#[test]
fn sigterm_between_sweep_runs_stops_before_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    // 20 steps, then an evaluation through the recurrent step at length 4000 (seconds).
    let base = "[task]\nname = \"tomita-2\"\ntrain_min_len = 2\ntrain_max_len = 10\n\n[model]\nkind = \"mamba\"\nd_model = 8\nn_layers = 1\nd_state = 4\n\n[training]\nsteps = 20\nbatch_size = 8\nlog_every = 10\ncheckpoint_every = 1000\n\n[eval]\nprotocol = \"lengths\"\nmin_len = 2\nmax_len = 4\nsamples_per_len = 2\nlong_lengths = [4000]\nlong_samples_per_len = 32\n";
    std::fs::write(dir.path().join("base.toml"), base).unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "base = \"base.toml\"\nout_dir = \"sw\"\n\n[grid]\n\"training.seed\" = [0, 1]\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kleene"))
        .current_dir(dir.path())
        .args(["sweep", "s.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kleene");
    // The first run's final checkpoint (step 20) marks the end of its training; the trainer's
    // last look at the signal follows it within microseconds, the evaluation takes seconds.
    let first = dir.path().join("sw/seed=0");
    let started = Instant::now();
    while !std::fs::read_to_string(first.join("checkpoint/state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["step"] == 20)
    {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("no step-20 line after 120 s");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !first.join("result.json").exists(),
        "evaluation ended before the signal"
    );
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("before run `seed=1`"), "{stderr}");
    assert!(
        first.join("result.json").exists(),
        "the first run was not finished"
    );
    assert!(
        !dir.path().join("sw/seed=1/checkpoint").exists(),
        "the second run started"
    );
}
