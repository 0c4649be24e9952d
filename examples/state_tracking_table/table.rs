//! The printed tables (markdown) and the accuracy-against-length plots (kleene-eval's report
//! SVGs) of the state-tracking example.

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use kleene::eval::{Report, RunResult};

use crate::models::{all_models, Model, GROUP_PUBLISHED, GROUP_TASKS};
use crate::{Run, Settings, TableTask, TEST_MAX, TEST_MIN, TRAIN_MAX, TRAIN_MIN};

/// Max, mean and population std (numpy's default, as PD-SSM's mean ± std presumably) of
/// the per-seed scores; `None` without runs.
pub fn summary(scores: &[f64]) -> Option<(f64, f64, f64)> {
    if scores.is_empty() {
        return None;
    }
    let n = scores.len() as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let var = scores.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((max, mean, var.sqrt()))
}

fn cell(scores: &[f64]) -> String {
    match summary(scores) {
        Some((max, mean, std)) => format!("{max:.1} / {mean:.1} ± {std:.1}"),
        None => "–".into(),
    }
}

fn label_of(name: &str) -> &'static str {
    all_models()
        .find(|m| m.name == name)
        .map_or("?", |m| m.label)
}

/// Table 2 as kleene measured it, the published mean ± std beside every cell.
pub fn markdown(
    runs: &[Run],
    models: &[&Model],
    tasks: &[&TableTask],
    s: &Settings,
    from_sweeps: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### State tracking (PD-SSM Table 2's tasks): accuracy (%) at the final position, \
         trained on lengths {TRAIN_MIN}..={TRAIN_MAX}, tested on {TEST_MIN}..={TEST_MAX}\n"
    );
    let _ = writeln!(out, "Protocol: {}.", s.describe());
    if from_sweeps {
        let _ = writeln!(
            out,
            "Read from `kleene sweep` runs, which evaluate once: the per-seed score is the \
             final checkpoint's, not the max over checkpoints."
        );
    }
    let _ = writeln!(
        out,
        "Cells: kleene max / mean ± std over seeds (published mean ± std, PD-SSM Table 2 = \
         Walker et al. 2025's baselines, 5 seeds, per-seed max over checkpoints); `—`: no \
         published row.\n"
    );
    let _ = write!(out, "| model |");
    for t in tasks {
        let _ = write!(out, " {} |", t.label);
    }
    let _ = writeln!(out, " avg of means (published) |");
    let _ = writeln!(out, "|---|{}---|", "---|".repeat(tasks.len()));
    for m in models {
        let _ = write!(out, "| {} |", m.label);
        let mut means = Vec::new();
        let mut published_means = Vec::new();
        for t in tasks {
            let scores: Vec<f64> = runs
                .iter()
                .filter(|r| r.task == t.name && r.model == m.name)
                .map(Run::best)
                .collect();
            if let Some((_, mean, _)) = summary(&scores) {
                means.push(mean);
            }
            let column = crate::TASKS.iter().position(|x| x.name == t.name);
            let published = column.and_then(|c| m.published[c]);
            if let Some(p) = published {
                published_means.push(p.mean);
            }
            let published = published.map_or("—".to_string(), |p| {
                format!("{:.1} ± {:.1}", p.mean, p.std)
            });
            let _ = write!(out, " {} ({published}) |", cell(&scores));
        }
        let avg = |v: &[f64]| {
            if v.len() == tasks.len() && !v.is_empty() {
                format!("{:.1}", v.iter().sum::<f64>() / v.len() as f64)
            } else {
                "–".into()
            }
        };
        let published_avg = if published_means.is_empty() {
            "—".to_string()
        } else {
            avg(&published_means)
        };
        let _ = writeln!(out, " {} ({published_avg}) |", avg(&means));
    }
    let _ = write!(out, "| Random |");
    for t in tasks {
        let _ = write!(out, " {:.1} |", t.random);
    }
    let _ = writeln!(out, " |");
    out
}

/// PD-SSM's `(G, k)` table (spec §10.5) as kleene measured it.
pub fn groups_markdown(runs: &[Run], s: &Settings) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### A5 / S5 with k letters (PD-SSM §4, `assets/A5.png`): accuracy (%) at the final \
         position, trained on {TRAIN_MIN}..={TRAIN_MAX}, tested on {TEST_MIN}..={TEST_MAX}\n"
    );
    let _ = writeln!(out, "Protocol: {}.", s.describe());
    let _ = writeln!(
        out,
        "Tasks: kleene's reading of PD-SSM's extra transitions (docs/languages.md). Cells: \
         kleene max / mean ± std over seeds (published, one number per cell; `—`: not run there). \
         Chance: 1.7 (A5), 0.8 (S5).\n"
    );
    let _ = writeln!(out, "| model | depth | {} |", GROUP_TASKS.join(" | "));
    let _ = writeln!(out, "|---|---|{}", "---|".repeat(GROUP_TASKS.len()));
    for (model, depth, published) in GROUP_PUBLISHED {
        if !runs.iter().any(|r| r.model == model && r.layers == depth) {
            continue;
        }
        let _ = write!(out, "| {} | {depth} |", label_of(model));
        for (task, p) in GROUP_TASKS.iter().zip(published) {
            let scores: Vec<f64> = runs
                .iter()
                .filter(|r| r.task == *task && r.model == model && r.layers == depth)
                .map(Run::best)
                .collect();
            let p = p.map_or("—".to_string(), |v| format!("{v}"));
            let _ = write!(out, " {} ({p}) |", cell(&scores));
        }
        let _ = writeln!(out);
    }
    out
}

/// One `<task>.svg` per task in `root`: accuracy against test length per model (mean
/// [min, max] over seeds, at the final checkpoint), drawn by kleene-eval's report.
pub fn write_svgs(runs: &[Run], root: &Path) -> Result<Vec<PathBuf>, Box<dyn Error>> {
    let depths_differ = runs.iter().any(|r| r.layers != runs[0].layers);
    let mut results = Vec::new();
    for r in runs {
        let mut result = RunResult::read_json(&r.dir.join("result.json"))?;
        result.experiment = r.task.to_string();
        result.model = if depths_differ {
            format!("{} (depth {})", label_of(r.model), r.layers)
        } else {
            label_of(r.model).to_string()
        };
        results.push(result);
    }
    if results.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Report::from_runs(&results)?.write_svgs(root)?)
}
