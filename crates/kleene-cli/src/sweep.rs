//! `kleene sweep SWEEP.toml [--shard i/n] [--backend ..]`: run a grid, skipping finished
//! runs; once every run of every shard is finished, writes the combined report (`report.md`,
//! `report.json`, `<experiment>.svg`) into the sweep directory and prints the table.
//!
//! Inside a Slurm job array the shard comes from `SLURM_ARRAY_TASK_ID` when `--shard` is
//! absent. `--slurm [--submit]` writes (and submits) that array, and `kleene sweep status`
//! says where every run stands: see `sweep_slurm.rs`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use kleene_train::checkpoint::Checkpoint;
use kleene_train::sweep::{load, parse_shard, shard, shard_from_slurm_env, SweepReport};
use kleene_train::{BackendKind, TrainError, TrainOptions};

use crate::sweep_slurm::{self, SlurmArgs};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    #[command(flatten)]
    pub run: SweepRunArgs,
}

#[derive(Subcommand)]
pub enum SweepCommand {
    /// Where every run of a sweep stands: finished, diverged, running (locked, with its
    /// owner), failed (with the error), interrupted (resumes from its checkpoint), not started.
    Status {
        /// The sweep file.
        sweep: PathBuf,
        /// One JSON object per run instead of the table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct SweepRunArgs {
    /// The sweep file (see docs/training.md).
    #[arg(required = true)]
    pub sweep: Option<PathBuf>,
    /// Only shard i of n (0-based), e.g. `--shard 3/8`. Default inside a Slurm job array:
    /// the task's shard (`SLURM_ARRAY_TASK_ID` of `SLURM_ARRAY_TASK_COUNT`).
    #[arg(long)]
    pub shard: Option<String>,
    /// ndarray (CPU), flex (CPU; `--features flex`), wgpu or cuda (`--features wgpu`/`cuda`).
    #[arg(long, default_value = "ndarray")]
    pub backend: String,
    /// Print the runs and exit.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub slurm: SlurmArgs,
}

pub fn run(args: SweepArgs) -> Result<(), Box<dyn std::error::Error>> {
    match args.command {
        Some(SweepCommand::Status { sweep, json }) => sweep_slurm::status(&sweep, json),
        None => run_grid(args.run),
    }
}

fn run_grid(args: SweepRunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let sweep_file = args.sweep.clone().expect("clap requires the sweep file");
    let backend: BackendKind = args.backend.parse()?;
    let sweep = load(&sweep_file)?;
    // Every grid point against its task (model, window, evaluation plan, sizes) before
    // anything is written or trained, so a bad point fails now, not after the runs before it.
    for r in &sweep.runs {
        kleene_train::run::model_config(&r.config)
            .map_err(|e| format!("{}: sweep run `{}`: {e}", sweep_file.display(), r.name))?;
    }
    if args.slurm.wanted() {
        if args.shard.is_some() || args.dry_run {
            return Err(
                "--slurm writes a job array over every shard: drop --shard and --dry-run".into(),
            );
        }
        return sweep_slurm::write_and_submit(&sweep, &sweep_file, &args.backend, &args.slurm);
    }
    if !args.dry_run {
        sweep.write_manifest()?;
    }
    let mut runs = sweep.runs.clone();
    let total = runs.len();
    let this_shard = match &args.shard {
        Some(s) => Some(parse_shard(s)?),
        None => {
            let from_env = shard_from_slurm_env(|name| std::env::var(name).ok())?;
            if let Some((i, n)) = from_env {
                eprintln!("shard {i}/{n} (from SLURM_ARRAY_TASK_ID)");
            }
            from_env
        }
    };
    if let Some((i, n)) = this_shard {
        runs = shard(runs, i, n);
    }
    eprintln!("{} of {total} runs in this shard", runs.len());
    let mut failed = Vec::new();
    for r in &runs {
        if r.is_finished() {
            eprintln!("[{}] {}: finished, skipped", r.index, r.name);
            continue;
        }
        if args.dry_run {
            eprintln!("[{}] {} -> {}", r.index, r.name, r.run_dir.display());
            continue;
        }
        // A signal that came between runs (e.g. during the last run's evaluation) stops the
        // sweep here rather than after the next run's first step.
        if let Some(signal) = kleene_train::interrupt::requested() {
            return Err(TrainError::InterruptedBeforeRun {
                signal,
                run: r.name.clone(),
            }
            .into());
        }
        // An interrupted run continues from its checkpoint.
        let resume = Checkpoint::find(&r.run_dir).is_some();
        eprintln!(
            "[{}] {}{}",
            r.index,
            r.name,
            if resume { " (resuming)" } else { "" }
        );
        let opts = TrainOptions {
            resume,
            progress: true,
            stop_after: None,
        };
        r.clear_failure()?;
        let summary = match kleene_train::run(backend, &r.config, &r.run_dir, &opts, |_| {}) {
            Ok(summary) => summary,
            // Another process (e.g. an earlier attempt of this array task still being killed,
            // or an overlapping submission) trains it: leave it to that process.
            Err(e @ TrainError::RunLocked { .. }) => {
                eprintln!("[{}] {}: skipped: {e}", r.index, r.name);
                continue;
            }
            Err(e @ TrainError::Interrupted { step, .. }) => {
                eprintln!(
                    "[{}] {}: stopped at step {step} with a checkpoint; running the sweep again \
                     (or the requeued Slurm task) resumes it",
                    r.index, r.name
                );
                return Err(e.into());
            }
            // One diverged run (NaN/Inf loss) must not end a night's sweep: record it and go on.
            Err(e @ TrainError::NonFiniteLoss { .. }) => {
                let path = r.record_diverged(&e.to_string())?;
                eprintln!(
                    "[{}] {}: diverged ({e}); recorded in {}, going on",
                    r.index,
                    r.name,
                    path.display()
                );
                continue;
            }
            // Any other error: recorded for `kleene sweep status`; the shard goes on and
            // fails at its end.
            Err(e) => {
                let path = r.record_failure(&e.to_string())?;
                eprintln!(
                    "[{}] {}: failed ({e}); recorded in {}, going on",
                    r.index,
                    r.name,
                    path.display()
                );
                failed.push(r.name.clone());
                continue;
            }
        };
        let (inside, beyond) = summary.report.in_out_means();
        eprintln!(
            "[{}] {}: training lengths {}, longer {}",
            r.index,
            r.name,
            inside
                .map(|v| format!("{:.1}%", 100.0 * v))
                .unwrap_or("-".into()),
            beyond
                .map(|v| format!("{:.1}%", 100.0 * v))
                .unwrap_or("-".into()),
        );
    }
    if args.dry_run {
        return Ok(());
    }
    if !failed.is_empty() {
        return Err(format!(
            "{} run(s) of this shard failed: {} (errors in their failure.txt; `kleene sweep status {}`)",
            failed.len(),
            failed.join("; "),
            sweep_file.display()
        )
        .into());
    }
    match sweep.write_report()? {
        SweepReport::Written { paths, report } => {
            println!("{}", report.to_markdown());
            eprintln!(
                "wrote {}",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        SweepReport::Incomplete {
            finished,
            total,
            missing,
        } => eprintln!(
            "{finished} of {total} runs finished (waiting for: {}{}); the combined report is \
             written when the last shard finishes, or by `kleene report {}`",
            missing[..missing.len().min(3)].join("; "),
            if missing.len() > 3 { "; ..." } else { "" },
            sweep.out_dir.display()
        ),
    }
    Ok(())
}
