//! `kleene report RUN_DIR... [--out DIR]`: reads every run's `result.json` and writes
//! kleene-eval's report over them into DIR: `report.md` (one table per experiment, one
//! row per model, cells `mean [min, max]` over seeds), `report.json` and one
//! `<experiment>.svg` per experiment with a length curve (one line per model). The
//! markdown is also printed.

use std::path::PathBuf;

use clap::Args;
use kleene_eval::{Report, RunResult};

#[derive(Args)]
pub struct ReportArgs {
    /// Run directories (each with a result.json written by `kleene train` / `kleene eval`),
    /// or result.json files.
    #[arg(required = true)]
    pub run_dirs: Vec<PathBuf>,
    /// Folder for report.md, report.json and the SVG plots (created if missing).
    #[arg(long, default_value = "report")]
    pub out: PathBuf,
}

pub fn run(args: ReportArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut runs: Vec<RunResult> = Vec::with_capacity(args.run_dirs.len());
    for dir in &args.run_dirs {
        let path = if dir.is_dir() {
            dir.join("result.json")
        } else {
            dir.clone()
        };
        if !path.is_file() {
            return Err(format!(
                "{}: no such file (has the run finished? `kleene eval {}` writes it)",
                path.display(),
                dir.display()
            )
            .into());
        }
        runs.push(RunResult::read_json(&path)?);
    }
    let report = Report::from_runs(&runs)?;
    println!("{}", report.to_markdown());
    let written = report.write_all(&args.out)?;
    eprintln!(
        "wrote {}",
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
