//! `kleene report RUN_DIR...`: one table over several runs (e.g. seeds): per evaluation
//! group, the mean, min and max sequence accuracy.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use kleene_train::EvalReport;

#[derive(Args)]
pub struct ReportArgs {
    /// Run directories (each with an eval.json).
    #[arg(required = true)]
    pub run_dirs: Vec<PathBuf>,
    /// Also write the table to this markdown file (atomically); with kleene-eval results,
    /// report.md, report.json and the SVG plots go into this file's directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Runs evaluated with `[eval.paper]` carry kleene-eval results: use its report
    // (tables per experiment, mean/min/max over seeds, SVG plots).
    if args
        .run_dirs
        .iter()
        .all(|d| d.join("results.json").is_file())
    {
        let runs = args
            .run_dirs
            .iter()
            .map(|d| kleene_eval::RunResult::read_json(&d.join("results.json")))
            .collect::<Result<Vec<_>, _>>()?;
        let report = kleene_eval::Report::from_runs(&runs)?;
        println!("{}", report.to_markdown());
        if let Some(out) = &args.out {
            let dir = out.parent().unwrap_or(std::path::Path::new("."));
            for p in report.write_all(dir)? {
                eprintln!("wrote {}", p.display());
            }
        }
        return Ok(());
    }
    let mut reports = Vec::new();
    for dir in &args.run_dirs {
        let path = dir.join("eval.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e} (has the run finished?)", path.display()))?;
        let r: EvalReport =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        reports.push(r);
    }
    // group name -> (lengths, values); groups keep first-seen order.
    let mut order = Vec::new();
    let mut groups: BTreeMap<String, (String, Vec<f64>)> = BTreeMap::new();
    for r in &reports {
        for row in &r.rows {
            let e = groups.entry(row.name.clone()).or_insert_with(|| {
                order.push(row.name.clone());
                (format!("{}..={}", row.min_len, row.max_len), Vec::new())
            });
            e.1.push(row.seq_acc);
        }
    }
    let tasks: Vec<&str> = reports.iter().map(|r| r.task.as_str()).collect();
    let mut md = format!(
        "{} runs (tasks: {}); sequence accuracy over runs\n\n| group | lengths | runs | mean | min | max |\n|---|---|---|---|---|---|\n",
        reports.len(),
        {
            let mut t = tasks.clone();
            t.dedup();
            t.join(", ")
        }
    );
    for name in &order {
        let (lens, v) = &groups[name];
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        md.push_str(&format!(
            "| {name} | {lens} | {} | {:.1}% | {:.1}% | {:.1}% |\n",
            v.len(),
            100.0 * mean,
            100.0 * min,
            100.0 * max
        ));
    }
    println!("{md}");
    if let Some(out) = args.out {
        kleene_train::checkpoint::write_atomic(&out, md.as_bytes())?;
    }
    Ok(())
}
