//! `kleene sweep SWEEP.toml [--shard i/n] [--backend ..]`: run a grid, skipping finished runs.

use std::path::PathBuf;

use clap::Args;
use kleene_train::checkpoint::Checkpoint;
use kleene_train::sweep::{expand, parse_shard, shard};
use kleene_train::{BackendKind, TrainOptions};

#[derive(Args)]
pub struct SweepArgs {
    /// The sweep file (see docs/training.md).
    pub sweep: PathBuf,
    /// Only shard i of n (0-based), e.g. `--shard 3/8` for a job array.
    #[arg(long)]
    pub shard: Option<String>,
    /// ndarray (CPU), wgpu or cuda.
    #[arg(long, default_value = "ndarray")]
    pub backend: String,
    /// Print the runs and exit.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(args: SweepArgs) -> Result<(), Box<dyn std::error::Error>> {
    let backend: BackendKind = args.backend.parse()?;
    let mut runs = expand(&args.sweep)?;
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
        let summary = kleene_train::run(backend, &r.config, &r.run_dir, &opts, |_| {})?;
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
    Ok(())
}
