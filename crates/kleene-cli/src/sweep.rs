//! `kleene sweep SWEEP.toml [--shard i/n] [--backend ..]`: run a grid, skipping finished
//! runs; once every run of every shard is finished, writes the combined report (`report.md`,
//! `report.json`, `<experiment>.svg`) into the sweep directory and prints the table.

use std::path::PathBuf;

use clap::Args;
use kleene_train::checkpoint::Checkpoint;
use kleene_train::sweep::{load, parse_shard, shard, SweepReport};
use kleene_train::{BackendKind, TrainError, TrainOptions};

#[derive(Args)]
pub struct SweepArgs {
    /// The sweep file (see docs/training.md).
    pub sweep: PathBuf,
    /// Only shard i of n (0-based), e.g. `--shard 3/8` for a job array.
    #[arg(long)]
    pub shard: Option<String>,
    /// ndarray (CPU), flex (CPU; `--features flex`), wgpu or cuda (`--features wgpu`/`cuda`).
    #[arg(long, default_value = "ndarray")]
    pub backend: String,
    /// Print the runs and exit.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: SweepArgs) -> Result<(), Box<dyn std::error::Error>> {
    let backend: BackendKind = args.backend.parse()?;
    let sweep = load(&args.sweep)?;
    // Every grid point against its task (model, window, evaluation plan, sizes) before
    // anything is written or trained, so a bad point fails now, not after the runs before it.
    for r in &sweep.runs {
        kleene_train::run::model_config(&r.config)
            .map_err(|e| format!("{}: sweep run `{}`: {e}", args.sweep.display(), r.name))?;
    }
    if !args.dry_run {
        sweep.write_manifest()?;
    }
    let mut runs = sweep.runs.clone();
    let total = runs.len();
    if let Some(s) = &args.shard {
        let (i, n) = parse_shard(s)?;
        runs = shard(runs, i, n);
    }
    eprintln!("{} of {total} runs in this shard", runs.len());
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
        let summary = match kleene_train::run(backend, &r.config, &r.run_dir, &opts, |_| {}) {
            Ok(summary) => summary,
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
            Err(e) => return Err(e.into()),
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
