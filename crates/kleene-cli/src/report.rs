//! `kleene report RUN_DIR... [--out DIR]`: reads every run's `result.json` and writes
//! kleene-eval's report over them into DIR: `report.md` (one table per experiment, one
//! row per model, cells `mean [min, max]` over seeds), `report.json` and one
//! `<experiment>.svg` per experiment with a length curve (one line per model). The
//! markdown is also printed.
//!
//! `kleene report SWEEP_DIR` (a directory written by `kleene sweep`, with its `sweep.json`)
//! reports every run of the sweep, one row per grid point without the seed, into the sweep
//! directory itself unless `--out` says otherwise; it fails, naming them, while runs are
//! unfinished.

use std::path::PathBuf;

use clap::Args;
use kleene_eval::{Report, RunResult};
use kleene_train::sweep::{is_sweep_dir, sweep_dir_results};

#[derive(Args)]
pub struct ReportArgs {
    /// Run directories (each with a result.json written by `kleene train` / `kleene eval`),
    /// or result.json files.
    #[arg(required = true)]
    pub run_dirs: Vec<PathBuf>,
    /// Folder for report.md, report.json and the SVG plots (created if missing). Default:
    /// `report`, or the sweep directory for `kleene report SWEEP_DIR`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let [dir] = args.run_dirs.as_slice() {
        if is_sweep_dir(dir) {
            let runs = sweep_dir_results(dir)?.map_err(|missing| {
                format!(
                    "{}: {} run(s) of the sweep have no result.json yet: {} \
                     (finish their shards, or pass the finished run directories)",
                    dir.display(),
                    missing.len(),
                    missing.join("; ")
                )
            })?;
            let out = args.out.clone().unwrap_or_else(|| dir.clone());
            return write(&runs, &out);
        }
    }
    let mut runs: Vec<RunResult> = Vec::with_capacity(args.run_dirs.len());
    // A run given twice (`runs/a runs/a/`, `runs/a runs/a/result.json`) counts once.
    let mut seen = std::collections::HashSet::new();
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
        let same = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if !seen.insert(same) {
            eprintln!("{}: given twice, counted once", dir.display());
            continue;
        }
        runs.push(RunResult::read_json(&path)?);
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("report"));
    write(&runs, &out)
}

/// Prints the report's markdown and writes its files into `out`.
fn write(runs: &[RunResult], out: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let report = Report::from_runs(runs)?;
    println!("{}", report.to_markdown());
    let written = report.write_all(out)?;
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
