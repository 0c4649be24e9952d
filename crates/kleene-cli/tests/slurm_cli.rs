//! Sweeps on Slurm (issue 19) without a Slurm installation: the sbatch scripts `--slurm`
//! writes, `--submit` through a stand-in sbatch, the shard taken from a job array's
//! environment, `kleene sweep status` over every state, a locked run left to its owner, a
//! failed run recorded while the shard goes on, and the array script's own shell: the
//! time-limit warning (SIGUSR1) checkpoints and requeues, SIGTERM checkpoints and does not.
//! `.ci/slurm-sweep` runs the same against a real one-node Slurm.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::kleene_in;

const BASE: &str = "[task]\nname = \"tomita-2\"\ntrain_min_len = 2\ntrain_max_len = 10\n\n[model]\nkind = \"mamba\"\nd_model = 8\nn_layers = 1\nd_state = 4\n\n[training]\nsteps = 20\nbatch_size = 8\nlr = 0.01\nlog_every = 10\ncheckpoint_every = 1000\n\n[eval]\nprotocol = \"lengths\"\nmin_len = 2\nmax_len = 8\nlen_step = 3\nsamples_per_len = 4\n";

/// A sweep `s.toml` over `BASE` (with `steps`) and the `grid` lines, into `out`.
fn sweep_dir(steps: u32, grid: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.toml"),
        BASE.replace("steps = 20", &format!("steps = {steps}")),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        format!("base = \"base.toml\"\nout_dir = \"out\"\n[grid]\n{grid}\n"),
    )
    .unwrap();
    dir
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

#[test]
fn slurm_scripts_carry_every_option_and_run_this_binary() {
    let dir = sweep_dir(
        20,
        "\"training.lr\" = [0.01, 0.001]\n\"training.seed\" = [0, 1]",
    );
    let (out, stderr) = kleene_in(
        dir.path(),
        &[
            "sweep",
            "s.toml",
            "--slurm",
            "--partition",
            "gpu",
            "--time",
            "01:30:00",
            "--cpus-per-task",
            "2",
            "--mem",
            "4G",
            "--gpus",
            "1",
            "--max-parallel",
            "3",
            "--array-tasks",
            "2",
            "--signal-grace",
            "120",
            "--sbatch-line=--account=lab",
            "--sbatch-line",
            "#SBATCH --qos=low",
            "--backend",
            "cuda",
        ],
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2 array task(s) over 4 runs"), "{stderr}");
    let root = dir.path().canonicalize().unwrap();
    let array = read(dir.path().join("out/slurm/array.sbatch"));
    for line in [
        "#SBATCH --array=0-1%3",
        "#SBATCH --requeue",
        "#SBATCH --open-mode=append",
        "#SBATCH --signal=B:USR1@120",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=01:30:00",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --mem=4G",
        "#SBATCH --gpus=1",
        "#SBATCH --account=lab",
        "#SBATCH --qos=low",
        "#SBATCH --job-name=kleene-s",
    ] {
        assert!(
            array.lines().any(|l| l == line),
            "missing `{line}` in:\n{array}"
        );
    }
    let bin = env!("CARGO_BIN_EXE_kleene");
    assert!(
        array.contains(&format!(
            "'{bin}' sweep '{}' --backend cuda &",
            root.join("s.toml").display()
        )),
        "{array}"
    );
    assert!(
        array.contains(&format!(
            "#SBATCH --output={}/%A_%a.out",
            root.join("out/slurm/logs").display()
        )),
        "{array}"
    );
    assert!(root.join("out/slurm/logs").is_dir());
    let report = read(dir.path().join("out/slurm/report.sbatch"));
    assert!(
        report.contains(&format!(
            "exec '{bin}' report '{}'",
            root.join("out").display()
        )),
        "{report}"
    );
    assert!(report.contains("#SBATCH --account=lab"), "{report}");
    assert!(!report.contains("--array"), "{report}");
    // Both are valid bash, and executable.
    for script in ["array.sbatch", "report.sbatch"] {
        let path = dir.path().join("out/slurm").join(script);
        let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
        assert!(
            check.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o111,
            0o111
        );
    }
    // The manifest is written (the report job and `sweep status` read it); nothing trained.
    assert!(dir.path().join("out/sweep.json").is_file());
    assert!(!dir.path().join("out/lr=0.01,seed=0").exists());
}

#[test]
fn bad_slurm_options_are_refused_naming_the_flag() {
    let dir = sweep_dir(20, "\"training.seed\" = [0, 1]");
    for (args, expected) in [
        (vec!["--array-tasks", "3"], "--array-tasks"),
        (vec!["--array-tasks", "0"], "--array-tasks"),
        (vec!["--partition", "a b"], "--partition"),
        (vec!["--max-parallel", "0"], "--max-parallel"),
        (vec!["--cpus-per-task", "0"], "--cpus-per-task"),
        (vec!["--sbatch-line", " "], "--sbatch-line"),
        (vec!["--shard", "0/2"], "--shard"),
    ] {
        let mut all = vec!["sweep", "s.toml", "--slurm"];
        all.extend(&args);
        let (out, stderr) = kleene_in(dir.path(), &all);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !dir.path().join("out/slurm/array.sbatch").exists(),
            "{args:?}"
        );
    }
}

/// A stand-in `sbatch` in `dir` that logs its arguments to `dir/sbatch.log` and prints
/// `first;cluster` on its first call and `second` after; exits 1 with `fail` on stderr
/// when `fail` is given.
fn fake_sbatch(dir: &Path, fail: Option<&str>) -> std::path::PathBuf {
    let path = dir.join("fake-sbatch");
    let log = dir.join("sbatch.log");
    let body = match fail {
        Some(msg) => format!("echo \"$@\" >> '{}'\necho '{msg}' >&2\nexit 1\n", log.display()),
        None => format!(
            "echo \"$@\" >> '{log}'\nif [ \"$(wc -l < '{log}')\" = 1 ]; then echo '4242;cluster'; else echo 4243; fi\n",
            log = log.display()
        ),
    };
    std::fs::write(&path, format!("#!/bin/bash\n{body}")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn submit_sends_the_array_then_the_report_after_it() {
    let dir = sweep_dir(20, "\"training.seed\" = [0, 1, 2]");
    let sbatch = fake_sbatch(dir.path(), None);
    let out = Command::new(env!("CARGO_BIN_EXE_kleene"))
        .current_dir(dir.path())
        .env("KLEENE_SBATCH", &sbatch)
        .args(["sweep", "s.toml", "--submit"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("array job 4242 (3 tasks)"), "{stdout}");
    assert!(stdout.contains("report job 4243"), "{stdout}");
    let root = dir.path().canonicalize().unwrap();
    let calls: Vec<String> = read(dir.path().join("sbatch.log"))
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        calls,
        [
            format!(
                "--parsable {}",
                root.join("out/slurm/array.sbatch").display()
            ),
            format!(
                "--parsable --dependency=afterany:4242 {}",
                root.join("out/slurm/report.sbatch").display()
            ),
        ]
    );

    // sbatch's own refusal is passed on, naming the command.
    let dir = sweep_dir(20, "\"training.seed\" = [0, 1]");
    let sbatch = fake_sbatch(
        dir.path(),
        Some("sbatch: error: invalid partition specified: nope"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_kleene"))
        .current_dir(dir.path())
        .env("KLEENE_SBATCH", &sbatch)
        .args(["sweep", "s.toml", "--submit", "--partition", "nope"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("invalid partition specified: nope") && stderr.contains("--parsable"),
        "{stderr}"
    );
}

/// `kleene sweep s.toml` inside array task `id` of an array `0..=max`.
fn array_task(dir: &Path, id: &str, max: &str, count: &str) -> (std::process::Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kleene"))
        .current_dir(dir)
        .env("SLURM_ARRAY_TASK_ID", id)
        .env("SLURM_ARRAY_TASK_COUNT", count)
        .env("SLURM_ARRAY_TASK_MIN", "0")
        .env("SLURM_ARRAY_TASK_MAX", max)
        .args(["sweep", "s.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

#[test]
fn an_array_task_trains_only_its_shard() {
    let dir = sweep_dir(20, "\"training.seed\" = [0, 1, 2]");
    let (out, stderr) = array_task(dir.path(), "1", "2", "3");
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("shard 1/3 (from SLURM_ARRAY_TASK_ID)"),
        "{stderr}"
    );
    let finished = |seed: u32| {
        dir.path()
            .join(format!("out/seed={seed}/result.json"))
            .is_file()
    };
    assert_eq!(
        [finished(0), finished(1), finished(2)],
        [false, true, false]
    );
    // An array that does not number shards (here 3 tasks over 0..=4) is refused.
    let (out, stderr) = array_task(dir.path(), "2", "4", "3");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--shard i/n"), "{stderr}");
}

#[test]
fn status_names_every_state_and_the_sweep_leaves_locked_runs_to_their_owner() {
    let dir = sweep_dir(20, "\"training.seed\" = [0, 1, 2, 3, 4, 5]");
    let run = |seed: u32| dir.path().join(format!("out/seed={seed}"));
    // Runs 0 and 3 trained for real (shard 0 of 3).
    let (out, stderr) = kleene_in(dir.path(), &["sweep", "s.toml", "--shard", "0/3"]);
    assert!(out.status.success(), "{stderr}");
    // 3: its evaluation lost, so only its checkpoint (step 20) is left.
    std::fs::remove_file(run(3).join("result.json")).unwrap();
    // 1: diverged, recorded as the sweep records it.
    let mut diverged: serde_json::Value =
        serde_json::from_str(&read(run(0).join("result.json"))).unwrap();
    diverged["diverged"] = "loss is NaN at step 7".into();
    std::fs::create_dir_all(run(1)).unwrap();
    std::fs::write(run(1).join("result.json"), diverged.to_string()).unwrap();
    // 2: held by a live process (this test).
    std::fs::create_dir_all(run(2)).unwrap();
    let lock = kleene_train::run_lock::RunLock::acquire(&run(2)).unwrap();
    // 4: failed with a recorded error.
    std::fs::create_dir_all(run(4)).unwrap();
    std::fs::write(run(4).join("failure.txt"), "disk quota exceeded\n").unwrap();

    let (out, stderr) = kleene_in(dir.path(), &["sweep", "status", "s.toml"]);
    assert!(out.status.success(), "{stderr}");
    let table = String::from_utf8_lossy(&out.stdout);
    let row = |seed: u32| {
        table
            .lines()
            .find(|l| l.contains(&format!("seed={seed} ")) || l.ends_with(&format!("seed={seed}")))
            .unwrap_or_else(|| panic!("no row for seed {seed}:\n{table}"))
            .to_string()
    };
    assert!(row(0).contains("finished"), "{table}");
    assert!(
        row(1).contains("diverged") && row(1).contains("NaN at step 7"),
        "{table}"
    );
    assert!(
        row(2).contains("running") && row(2).contains(&format!("pid {}", std::process::id())),
        "{table}"
    );
    assert!(
        row(3).contains("interrupted") && row(3).contains("step 20"),
        "{table}"
    );
    assert!(
        row(4).contains("failed") && row(4).contains("disk quota exceeded"),
        "{table}"
    );
    assert!(row(5).contains("not started"), "{table}");
    assert!(
        table.contains(
            "6 runs: 1 finished, 1 diverged, 1 running, 1 failed, 1 interrupted, 1 not started"
        ),
        "{table}"
    );
    let (out, _) = kleene_in(dir.path(), &["sweep", "status", "s.toml", "--json"]);
    let states: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["state"].to_string())
        .collect();
    assert_eq!(
        states,
        [
            "\"finished\"",
            "\"diverged\"",
            "\"running\"",
            "\"interrupted\"",
            "\"failed\"",
            "\"not_started\""
        ]
    );

    // Shard 2/3 is runs 2 and 5: the locked one is left to its owner, the other trains.
    let (out, stderr) = kleene_in(dir.path(), &["sweep", "s.toml", "--shard", "2/3"]);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("seed=2: skipped") && stderr.contains("another kleene process"),
        "{stderr}"
    );
    assert!(!run(2).join("result.json").exists());
    assert!(run(5).join("result.json").is_file());
    drop(lock);

    // Shard 1/3 is runs 1 (diverged: skipped) and 4: its retry clears the old failure and
    // trains. Shard 0/3 resumes run 3 from its checkpoint.
    let (out, stderr) = kleene_in(dir.path(), &["sweep", "s.toml", "--shard", "1/3"]);
    assert!(out.status.success(), "{stderr}");
    assert!(run(4).join("result.json").is_file());
    assert!(!run(4).join("failure.txt").exists());
    let (out, stderr) = kleene_in(dir.path(), &["sweep", "s.toml", "--shard", "0/3"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("seed=3 (resuming)"), "{stderr}");
}

#[test]
fn a_failed_run_is_recorded_and_the_shard_goes_on() {
    let dir = sweep_dir(20, "\"training.seed\" = [0, 1]");
    // Run 0's directory holds a file that is not kleene's: the run is refused (files would
    // be lost), which is a failure of that run alone.
    let run0 = dir.path().join("out/seed=0");
    std::fs::create_dir_all(&run0).unwrap();
    std::fs::write(run0.join("notes.txt"), "mine").unwrap();
    let (out, stderr) = kleene_in(dir.path(), &["sweep", "s.toml"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("1 run(s) of this shard failed: seed=0"),
        "{stderr}"
    );
    assert!(dir.path().join("out/seed=1/result.json").is_file());
    let failure = read(run0.join("failure.txt"));
    assert!(failure.contains("run directory"), "{failure}");
    let (out, _) = kleene_in(dir.path(), &["sweep", "status", "s.toml"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("2 runs: 1 finished, 1 failed"), "{table}");
}

/// Runs the array script of a one-run sweep as Slurm would (task 77_0), with a stand-in
/// `scontrol` that logs its arguments, sends `signal` to the script's shell once training
/// has written a metric line, and returns the exit code and the `scontrol` calls.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn array_script_signalled(dir: &Path, signal: &str) -> (Option<i32>, String) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let scontrol = bin.join("scontrol");
    std::fs::write(
        &scontrol,
        format!(
            "#!/bin/bash\necho \"$@\" >> '{}'\n",
            dir.join("scontrol.log").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&scontrol, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let child = Command::new("bash")
        .arg(dir.join("out/slurm/array.sbatch"))
        .env("PATH", path)
        .env("SLURM_ARRAY_JOB_ID", "77")
        .env("SLURM_ARRAY_TASK_ID", "0")
        .env("SLURM_ARRAY_TASK_COUNT", "1")
        .env("SLURM_ARRAY_TASK_MIN", "0")
        .env("SLURM_ARRAY_TASK_MAX", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let metrics = dir.join("out/seed=0/metrics.jsonl");
    let started = Instant::now();
    while !std::fs::read_to_string(&metrics).is_ok_and(|t| t.contains('\n')) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no metric line"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let calls = std::fs::read_to_string(dir.join("scontrol.log")).unwrap_or_default();
    (out.status.code(), calls)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_array_script_requeues_on_the_time_limit_warning_and_not_on_sigterm() {
    for (signal, requeued) in [("USR1", true), ("TERM", false)] {
        let dir = sweep_dir(100_000, "\"training.seed\" = [0]");
        let (out, stderr) = kleene_in(dir.path(), &["sweep", "s.toml", "--slurm"]);
        assert!(out.status.success(), "{stderr}");
        let (code, calls) = array_script_signalled(dir.path(), signal);
        // kleene's own exit (143: stopped by SIGTERM, checkpoint written) is the task's.
        assert_eq!(code, Some(143), "{signal}");
        let state = read(dir.path().join("out/seed=0/checkpoint/state.json"));
        assert!(state.contains("\"step\""), "{signal}: {state}");
        if requeued {
            assert_eq!(calls.trim(), "requeue 77_0", "{signal}");
        } else {
            assert_eq!(calls, "", "{signal}: SIGTERM (a cancel) must not requeue");
        }
        let (out, _) = kleene_in(dir.path(), &["sweep", "status", "s.toml"]);
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.contains("interrupted"), "{signal}: {table}");
    }
}
