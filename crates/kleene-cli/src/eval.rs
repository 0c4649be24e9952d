//! `kleene eval RUN_DIR [--backend ..]`: re-evaluate a run's checkpoint with its config's
//! `[eval]` section; rewrites `eval.json` / `eval.md`.

use std::path::PathBuf;

use clap::Args;
use kleene_train::BackendKind;

#[derive(Args)]
pub struct EvalArgs {
    /// A run directory written by `kleene train`.
    pub run_dir: PathBuf,
    /// ndarray (CPU), wgpu or cuda.
    #[arg(long, default_value = "ndarray")]
    pub backend: String,
}

pub fn run(args: EvalArgs) -> Result<(), Box<dyn std::error::Error>> {
    let backend: BackendKind = args.backend.parse()?;
    let report = kleene_train::run::eval(backend, &args.run_dir, |row| {
        eprintln!("  evaluated {:<12} {:.1}%", row.name, 100.0 * row.seq_acc)
    })?;
    println!("{}", report.to_markdown());
    Ok(())
}
