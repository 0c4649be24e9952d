//! `kleene train CONFIG.toml [--backend ..] [--resume]`.

use std::path::PathBuf;

use clap::Args;
use kleene_train::{BackendKind, RunConfig, TrainOptions};

#[derive(Args)]
pub struct TrainArgs {
    /// The run config (TOML; see docs/training.md).
    pub config: PathBuf,
    /// ndarray (CPU), flex (CPU; `--features flex`), wgpu or cuda (`--features wgpu`/`cuda`).
    #[arg(long, default_value = "ndarray")]
    pub backend: String,
    /// Continue the run from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Override the config's out_dir.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: TrainArgs) -> Result<(), Box<dyn std::error::Error>> {
    let backend: BackendKind = args.backend.parse()?;
    let mut cfg = RunConfig::load(&args.config)?;
    if let Some(d) = args.out_dir {
        cfg.out_dir = Some(d);
    }
    let run_dir = cfg.out_dir.clone().expect("load sets out_dir");
    // The model against its task (vocabulary, outputs) before the banner and any file.
    kleene_train::run::model_config(&cfg).map_err(|e| format!("{}: {e}", args.config.display()))?;
    // The run directory too (an empty --out-dir, a directory of someone else's files).
    kleene_train::resume::check_run_dir(&run_dir, &cfg, args.resume)?;
    eprintln!(
        "training `{}` on `{}` for {} steps -> {}",
        cfg.model.kind(),
        cfg.task.name,
        cfg.training.steps,
        run_dir.display()
    );
    let opts = TrainOptions {
        resume: args.resume,
        progress: !args.quiet,
        stop_after: None,
    };
    let started = std::time::Instant::now();
    let summary = kleene_train::run(backend, &cfg, &run_dir, &opts, |row| {
        eprintln!(
            "  evaluated {:<12} lengths {}..={}: {:.1}%",
            row.name,
            row.min_len,
            row.max_len,
            100.0 * row.seq_acc
        )
    })?;
    if let (Some(loss), Some(acc)) = (summary.final_loss, summary.final_train_acc) {
        eprintln!(
            "trained {} steps in {:.0} s: final loss {loss:.4}, training sequence accuracy {:.1}%",
            summary.steps,
            started.elapsed().as_secs_f64(),
            100.0 * acc
        );
    }
    println!("\n{}", summary.report.to_markdown());
    eprintln!(
        "wrote {0}/metrics.jsonl, {0}/checkpoint/, {0}/result.json, {0}/eval.md, {0}/report.md{1}",
        run_dir.display(),
        crate::eval::svg_note(&run_dir, &summary.report.result)
    );
    Ok(())
}
