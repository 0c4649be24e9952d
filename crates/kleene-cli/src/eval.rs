//! `kleene eval RUN_DIR [--backend ..]`: re-evaluate a run's checkpoint with its config's
//! `[eval]` section (kleene-eval's protocols); rewrites `result.json`, `report.md`,
//! `eval.md`, `report.json` and `<experiment>.svg` in the run directory.

use std::path::{Path, PathBuf};

use clap::Args;
use kleene_eval::RunResult;
use kleene_train::BackendKind;

#[derive(Args)]
pub struct EvalArgs {
    /// A run directory written by `kleene train`.
    pub run_dir: PathBuf,
    /// ndarray (CPU), flex (CPU; `--features flex`), wgpu or cuda (`--features wgpu`/`cuda`).
    #[arg(long, default_value = "ndarray")]
    pub backend: String,
}

/// `, RUN_DIR/<experiment>.svg` when the result has a curve to plot, else nothing.
pub fn svg_note(run_dir: &Path, result: &RunResult) -> String {
    if result.curve.as_ref().is_some_and(|c| !c.points.is_empty()) {
        format!(
            ", {}/{}.svg",
            run_dir.display(),
            kleene_eval::report::file_stem(&result.experiment)
        )
    } else {
        String::new()
    }
}

pub fn run(args: EvalArgs) -> Result<(), Box<dyn std::error::Error>> {
    let backend: BackendKind = args.backend.parse()?;
    eprintln!("evaluating {}", args.run_dir.display());
    let report = kleene_train::run::eval(backend, &args.run_dir, |row| {
        eprintln!("  evaluated {:<12} {:.1}%", row.name, 100.0 * row.seq_acc)
    })?;
    println!("{}", report.to_markdown());
    eprintln!(
        "wrote {0}/result.json, {0}/eval.md, {0}/report.md{1}",
        args.run_dir.display(),
        svg_note(&args.run_dir, &report.result)
    );
    Ok(())
}
