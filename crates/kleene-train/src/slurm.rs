//! Sweeps as Slurm job arrays (`kleene sweep SWEEP.toml --slurm [--submit]`).
//!
//! Two sbatch scripts are written into `SWEEP_DIR/slurm/`:
//! - `array.sbatch`: a job array, one task per shard (by default one per run). Each task runs
//!   `kleene sweep SWEEP.toml`, which takes its shard from `SLURM_ARRAY_TASK_ID`
//!   ([`crate::sweep::shard_from_slurm_env`]), skips finished runs, resumes interrupted ones
//!   from their checkpoints and records diverged and failed runs.
//! - `report.sbatch`: the combined report, submitted with `--dependency=afterany:<array>`, so
//!   it runs once every array task has ended, however it ended; it prints the sweep's status
//!   and writes `report.md`/`report.json`/SVGs into the sweep directory.
//!
//! Requeue safety, and why the wrapper is a few lines of shell rather than `exec kleene`:
//! - The tasks are `--requeue`able. A preemption or `scontrol requeue` sends SIGTERM: kleene
//!   finishes its step, checkpoints, exits 143, and Slurm queues the task again; the new
//!   attempt resumes from the checkpoint (the same metrics as an uninterrupted run).
//! - `--signal=B:USR1@GRACE` warns the batch shell GRACE seconds before the time limit. The
//!   shell passes SIGTERM to kleene, waits for its checkpoint and then requeues its own task
//!   (`scontrol requeue`), since Slurm does not requeue a task that ran out of time. That needs
//!   the shell to outlive kleene, hence no `exec`.
//! - SIGTERM may reach kleene twice (Slurm signals every process of the step, and the shell
//!   passes its own on); kleene ignores the repeat ([`crate::interrupt`]).
//! - Two tasks never train one run: the run directory's `flock` ([`crate::run_lock`]) is held
//!   while training; on a shared file system (NFS, Lustre, GPFS) the lock is cluster-wide when
//!   the file system supports `flock` (Linux NFS clients map it onto NFS locks). A task that
//!   finds a run locked skips it and goes on.
//! - Logs append (`--open-mode=append`), so a requeued task's log keeps the earlier attempts.

use std::path::{Path, PathBuf};

use crate::sweep::Sweep;
use crate::TrainError;

/// How the job array is asked for. `None` leaves a setting to the cluster's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` per array task, in Slurm's format (`MM`, `HH:MM:SS`, `D-HH`, ...).
    pub time: Option<String>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// `--mem` per task, e.g. `8G`.
    pub mem: Option<String>,
    /// `--gpus` per task, e.g. `1` or `a100:1` (with a CUDA build of kleene and `--backend cuda`).
    pub gpus: Option<String>,
    /// At most this many array tasks at once (`--array=0-N%K`).
    pub max_parallel: Option<usize>,
    /// Number of array tasks (shards); default one per run.
    pub array_tasks: Option<usize>,
    /// Seconds before the time limit at which the task checkpoints and requeues itself.
    /// Default 300.
    pub grace_s: u32,
    /// More lines for both scripts, with or without the `#SBATCH ` prefix,
    /// e.g. `--account=lab` or `--qos=low`.
    pub extra: Vec<String>,
    /// `--backend` passed to `kleene sweep` (ndarray, flex, wgpu, cuda).
    pub backend: String,
    /// The kleene binary the tasks run; default this one.
    pub kleene: PathBuf,
    /// Directory the tasks run in (relative `out_dir`s resolve against it); default the
    /// current directory.
    pub workdir: PathBuf,
}

impl SlurmOptions {
    /// Defaults: the cluster's partition, time, CPUs, memory; one task per run; 300 s grace;
    /// the ndarray backend; this binary; the current directory.
    pub fn new() -> Result<Self, TrainError> {
        let kleene = std::env::current_exe().map_err(|e| TrainError::io("kleene binary", e))?;
        let workdir = std::env::current_dir().map_err(|e| TrainError::io(".", e))?;
        Ok(Self {
            partition: None,
            time: None,
            cpus_per_task: None,
            mem: None,
            gpus: None,
            max_parallel: None,
            array_tasks: None,
            grace_s: 300,
            extra: Vec::new(),
            backend: "ndarray".into(),
            kleene,
            workdir,
        })
    }

    /// Refuses values that would break the script (a newline, an empty value, a path that is
    /// not UTF-8), counts of 0 and more array tasks than runs; `field` names are the CLI flags.
    fn validate(&self, runs: usize, sweep_file: &Path) -> Result<(), TrainError> {
        let texts = [
            ("--partition", self.partition.as_deref()),
            ("--time", self.time.as_deref()),
            ("--mem", self.mem.as_deref()),
            ("--gpus", self.gpus.as_deref()),
            ("--backend", Some(self.backend.as_str())),
        ];
        for (flag, value) in texts {
            if let Some(v) = value {
                if v.trim().is_empty() || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
                    return Err(TrainError::invalid(
                        flag,
                        format!("`{v}` is empty or holds whitespace"),
                    ));
                }
            }
        }
        if let Some(line) = self
            .extra
            .iter()
            .find(|l| l.trim().is_empty() || l.contains(['\n', '\r']))
        {
            return Err(TrainError::invalid(
                "--sbatch-line",
                format!("{line:?} is empty or spans several lines"),
            ));
        }
        if self.cpus_per_task == Some(0) {
            return Err(TrainError::invalid("--cpus-per-task", "must be at least 1"));
        }
        if self.max_parallel == Some(0) {
            return Err(TrainError::invalid("--max-parallel", "must be at least 1"));
        }
        if let Some(n) = self.array_tasks {
            if n == 0 || n > runs {
                return Err(TrainError::invalid(
                    "--array-tasks",
                    format!("must be between 1 and the sweep's {runs} runs, not {n}"),
                ));
            }
        }
        for (what, path) in [
            ("kleene binary", self.kleene.as_path()),
            ("workdir", self.workdir.as_path()),
            ("sweep file", sweep_file),
        ] {
            if path.to_str().is_none_or(|p| p.contains(['\n', '\r'])) {
                return Err(TrainError::invalid(
                    what,
                    format!("{} is not a one-line UTF-8 path", path.display()),
                ));
            }
        }
        Ok(())
    }
}

/// The two scripts written by [`write_scripts`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlurmScripts {
    /// `SWEEP_DIR/slurm/array.sbatch`.
    pub array: PathBuf,
    /// `SWEEP_DIR/slurm/report.sbatch`.
    pub report: PathBuf,
    /// Where the tasks' logs go: `SWEEP_DIR/slurm/logs`.
    pub logs: PathBuf,
    /// Number of array tasks.
    pub tasks: usize,
}

/// `text` in single quotes for bash.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn display(path: &Path) -> String {
    path.to_str().expect("validated UTF-8").to_string()
}

/// `path`, made absolute against `base`.
fn absolute(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// The `#SBATCH` lines every script shares: partition and the user's extra lines.
fn common_lines(opts: &SlurmOptions) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(p) = &opts.partition {
        lines.push(format!("#SBATCH --partition={p}"));
    }
    for line in &opts.extra {
        let line = line.trim();
        lines.push(if line.starts_with("#SBATCH") {
            line.to_string()
        } else {
            format!("#SBATCH {line}")
        });
    }
    lines
}

/// The job-array script for `sweep` (file `sweep_file`); see the module docs.
pub fn array_script(
    sweep: &Sweep,
    sweep_file: &Path,
    opts: &SlurmOptions,
) -> Result<String, TrainError> {
    opts.validate(sweep.runs.len(), sweep_file)?;
    let tasks = opts.array_tasks.unwrap_or(sweep.runs.len());
    let out_dir = absolute(&opts.workdir, &sweep.out_dir);
    let logs = out_dir.join("slurm").join("logs");
    let name = job_name(sweep_file);
    let mut lines = vec![
        "#!/bin/bash".to_string(),
        format!(
            "# Written by `kleene sweep {} --slurm` (kleene {}): {} runs in {tasks} array task(s).",
            display(sweep_file),
            env!("CARGO_PKG_VERSION"),
            sweep.runs.len()
        ),
        "# Each task trains its shard of the grid (from SLURM_ARRAY_TASK_ID), skipping finished"
            .into(),
        "# runs and resuming interrupted ones; preempted or out-of-time tasks requeue and resume."
            .into(),
        format!("#SBATCH --job-name={name}"),
        format!(
            "#SBATCH --array=0-{}{}",
            tasks - 1,
            opts.max_parallel
                .map(|k| format!("%{k}"))
                .unwrap_or_default()
        ),
        format!("#SBATCH --output={}/%A_%a.out", display(&logs)),
        "#SBATCH --open-mode=append".into(),
        "#SBATCH --requeue".into(),
        format!("#SBATCH --signal=B:USR1@{}", opts.grace_s),
    ];
    if let Some(t) = &opts.time {
        lines.push(format!("#SBATCH --time={t}"));
    }
    if let Some(c) = opts.cpus_per_task {
        lines.push(format!("#SBATCH --cpus-per-task={c}"));
    }
    if let Some(m) = &opts.mem {
        lines.push(format!("#SBATCH --mem={m}"));
    }
    if let Some(g) = &opts.gpus {
        lines.push(format!("#SBATCH --gpus={g}"));
    }
    lines.extend(common_lines(opts));
    let body = format!(
        r#"
set -u
cd {workdir} || exit 1
# kleene's CPU threads (rayon) follow the task's CPUs, not the node's.
if [ -n "${{SLURM_CPUS_PER_TASK:-}}" ]; then export RAYON_NUM_THREADS="$SLURM_CPUS_PER_TASK"; fi
echo "kleene-slurm: task ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} (restart ${{SLURM_RESTART_COUNT:-0}}) on $(hostname) at $(date -u +%FT%TZ)" >&2
requeue=0
{kleene} sweep {sweep} --backend {backend} &
child=$!
# Slurm's warning before the time limit (--signal above): checkpoint, then queue this task again.
trap 'requeue=1; kill -TERM "$child" 2>/dev/null' USR1
# Cancel, preemption or requeue: pass SIGTERM on; kleene checkpoints and exits 143.
trap 'kill -TERM "$child" 2>/dev/null' TERM
while kill -0 "$child" 2>/dev/null; do wait "$child"; done
wait "$child"
status=$?
if [ "$requeue" = 1 ] && [ "$status" -ne 0 ]; then
  echo "kleene-slurm: time limit near; requeueing ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} to resume from its checkpoint" >&2
  scontrol requeue "${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
fi
exit "$status"
"#,
        workdir = quote(&display(&opts.workdir)),
        kleene = quote(&display(&opts.kleene)),
        sweep = quote(&display(&absolute(&opts.workdir, sweep_file))),
        backend = opts.backend,
    );
    Ok(lines.join("\n") + "\n" + &body)
}

/// The report script, run after the array (`afterany`): status, then the combined report.
pub fn report_script(
    sweep: &Sweep,
    sweep_file: &Path,
    opts: &SlurmOptions,
) -> Result<String, TrainError> {
    opts.validate(sweep.runs.len(), sweep_file)?;
    let out_dir = absolute(&opts.workdir, &sweep.out_dir);
    let logs = out_dir.join("slurm").join("logs");
    let mut lines = vec![
        "#!/bin/bash".to_string(),
        format!(
            "# Written by `kleene sweep {} --slurm`: the combined report once the array has ended.",
            display(sweep_file)
        ),
        format!("#SBATCH --job-name={}-report", job_name(sweep_file)),
        format!("#SBATCH --output={}/report_%j.out", display(&logs)),
        "#SBATCH --ntasks=1".into(),
    ];
    if let Some(t) = &opts.time {
        lines.push(format!("#SBATCH --time={t}"));
    }
    lines.extend(common_lines(opts));
    let body = format!(
        r#"
set -u
cd {workdir} || exit 1
{kleene} sweep status {sweep}
exec {kleene} report {out_dir}
"#,
        workdir = quote(&display(&opts.workdir)),
        kleene = quote(&display(&opts.kleene)),
        sweep = quote(&display(&absolute(&opts.workdir, sweep_file))),
        out_dir = quote(&display(&out_dir)),
    );
    Ok(lines.join("\n") + "\n" + &body)
}

/// `kleene-<sweep file stem>`, with characters other than `[A-Za-z0-9_.-]` as `_`.
fn job_name(sweep_file: &Path) -> String {
    let stem = sweep_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into());
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("kleene-{clean}")
}

/// Writes both scripts (atomically, executable) and creates the log directory.
pub fn write_scripts(
    sweep: &Sweep,
    sweep_file: &Path,
    opts: &SlurmOptions,
) -> Result<SlurmScripts, TrainError> {
    let array = array_script(sweep, sweep_file, opts)?;
    let report = report_script(sweep, sweep_file, opts)?;
    let dir = absolute(&opts.workdir, &sweep.out_dir).join("slurm");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| TrainError::io(&logs, e))?;
    let scripts = SlurmScripts {
        array: dir.join("array.sbatch"),
        report: dir.join("report.sbatch"),
        logs,
        tasks: opts.array_tasks.unwrap_or(sweep.runs.len()),
    };
    for (path, text) in [(&scripts.array, array), (&scripts.report, report)] {
        kleene_langs::io::write_atomic(path, text.as_bytes()).map_err(TrainError::from_lang)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| TrainError::io(path, e))?;
        }
    }
    Ok(scripts)
}

/// The job ids [`submit`] got from sbatch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The array job (its tasks are `<id>_0`, `<id>_1`, ...).
    pub array_job: String,
    /// The report job, after the array (`afterany`).
    pub report_job: String,
}

/// Submits the array, then the report job depending on it, with `sbatch` (the program named
/// by `$KLEENE_SBATCH`, default `sbatch` on the PATH).
pub fn submit(scripts: &SlurmScripts) -> Result<Submitted, TrainError> {
    let array_job = sbatch(&[], &scripts.array)?;
    let dependency = format!("--dependency=afterany:{array_job}");
    let report_job = sbatch(&[dependency.as_str()], &scripts.report)?;
    Ok(Submitted {
        array_job,
        report_job,
    })
}

/// Runs `sbatch --parsable ARGS SCRIPT` and returns the job id it prints (`id` or
/// `id;cluster`).
fn sbatch(args: &[&str], script: &Path) -> Result<String, TrainError> {
    let program = std::env::var("KLEENE_SBATCH").unwrap_or_else(|_| "sbatch".into());
    let failed = |reason: String| TrainError::Slurm {
        command: format!(
            "{program} --parsable {} {}",
            args.join(" "),
            script.display()
        ),
        reason,
    };
    let out = std::process::Command::new(&program)
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .map_err(|e| {
            failed(format!(
                "could not start it: {e} (is Slurm installed here?)"
            ))
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(failed(format!(
            "{}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            stdout.trim()
        )));
    }
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(failed(format!("printed `{}`, not a job id", stdout.trim())));
    }
    Ok(id)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::sweep::SweepRun;
    use crate::RunConfig;

    #[test]
    fn a_sweep_file_path_that_is_not_utf8_is_an_error_not_a_panic() {
        use std::os::unix::ffi::OsStrExt;
        let model = kleene_zoo::ModelConfig::default_for("mamba").unwrap();
        let sweep = Sweep {
            out_dir: PathBuf::from("out"),
            runs: vec![SweepRun {
                index: 0,
                name: "run".into(),
                run_dir: PathBuf::from("out/run"),
                config: RunConfig::new("parity", model),
            }],
        };
        let mut opts = SlurmOptions::new().unwrap();
        opts.workdir = PathBuf::from("/tmp");
        let bad = Path::new(std::ffi::OsStr::from_bytes(b"grid-\xff.toml"));
        let err = array_script(&sweep, bad, &opts).unwrap_err().to_string();
        assert!(err.contains("sweep file") && err.contains("UTF-8"), "{err}");
        assert!(report_script(&sweep, bad, &opts).is_err());
        assert!(array_script(&sweep, Path::new("grid.toml"), &opts).is_ok());
    }
}
