//! Shared driver of the per-paper examples: each example lists (name, run config TOML)
//! pairs; this trains and evaluates them one after another on the CPU and prints the tables.
#![allow(dead_code)]

use std::path::PathBuf;

use kleene::train::{run, BackendKind, RunConfig, TrainOptions};

/// `--full` selects the paper-sized settings.
pub fn full() -> bool {
    std::env::args().any(|a| a == "--full")
}

/// Trains every `(name, toml)` run into `runs/examples/<example>/<name>` (a finished run is
/// re-evaluated from scratch only if its directory is removed) and prints each table.
pub fn run_all(example: &str, runs: Vec<(String, String)>) {
    let mut summary = Vec::new();
    for (name, toml) in runs {
        let dir = PathBuf::from("runs/examples").join(example).join(&name);
        let cfg = match RunConfig::parse(&toml, &dir.join("config.toml")) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{name}: bad config: {e}");
                std::process::exit(2);
            }
        };
        if dir.join("result.json").is_file() {
            eprintln!(
                "{name}: already finished in {} (remove it to rerun)",
                dir.display()
            );
            if let Ok(md) = std::fs::read_to_string(dir.join("eval.md")) {
                println!("### {name}\n\n{md}");
            }
            continue;
        }
        let resume = kleene::train::checkpoint::Checkpoint::find(&dir).is_some();
        eprintln!(
            "== {name} ({} steps){}",
            cfg.training.steps,
            if resume { ", resuming" } else { "" }
        );
        let opts = TrainOptions {
            resume,
            progress: true,
            stop_after: None,
        };
        match run(BackendKind::Ndarray, &cfg, &dir, &opts, |_| {}) {
            Ok(s) => {
                println!("### {name}\n\n{}", s.report.to_markdown());
                let (i, o) = s.report.in_out_means();
                summary.push((name, i, o));
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                std::process::exit(1);
            }
        }
    }
    if !summary.is_empty() {
        println!("### Summary: mean sequence accuracy\n\n| run | training lengths | longer |\n|---|---|---|");
        let f = |v: Option<f64>| {
            v.map(|x| format!("{:.1}%", 100.0 * x))
                .unwrap_or("-".into())
        };
        for (n, i, o) in summary {
            println!("| {n} | {} | {} |", f(i), f(o));
        }
    }
}
