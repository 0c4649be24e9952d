//! Terzić et al. (AAAI 2025), "On the Expressiveness and Length Generalization of Selective
//! State-Space Models on Regular Languages": SD-SSM and the complex-diagonal selective SSM on
//! the seven regular tasks, trained on lengths 1..=40 and evaluated at every length up to 500.
//!
//! ```sh
//! cargo run --release --example terzic2025_sdssm            # CPU-sized (a few minutes)
//! cargo run --release --example terzic2025_sdssm -- --full  # the paper's settings (GPU-days)
//! ```
//! Options: `--full`, `--tasks parity-check,d4`, `--backend ndarray`, `--out DIR`
//! (default `runs/examples/terzic2025_sdssm/{default,full}`).
//!
//! Default: SD-SSM (N 8, K 4) and the complex-diagonal SSM (N 16) on Parity, Adam at a large
//! constant learning rate (3e-3) for 5000 steps of 32, evaluated at lengths 10, 20, ..., 500 with
//! 32 sequences each (spec §5 uses every length 1..=500 with 512). `--full`: the spec's
//! §4-5 protocol on all seven tasks: N 64, K 8, p 1.2, batch 128, Adam lr 1e-4, clip 1.0,
//! 1,000,000 steps, every length 1..=500 with 512 sequences (RNG reseeded to 1).
//!
//! Every run is the library path of `kleene train CONFIG.toml`: a TOML config is built here,
//! parsed by `RunConfig::parse` and handed to `kleene::train::run`; the run directory holds
//! `config.toml`, `metrics.jsonl`, `checkpoint/`, `result.json`, `eval.md` and `report.md`.

use std::error::Error;
use std::path::PathBuf;

use kleene::train::EvalReport;

mod common;
use common::*;

/// The seven regular tasks of the paper (kleene task names).
const ALL_TASKS: [&str; 7] = [
    "parity-check",
    "even-pairs",
    "cycle-navigation",
    "modular-arithmetic",
    "c2xc4",
    "d4",
    "a5",
];

fn config(task: &str, model: &str, full: bool) -> String {
    let model_table = match (model, full) {
        ("sdssm", false) => "kind = \"sdssm\"\nstate_size = 8\nnum_transition_matrices = 4",
        ("sdssm", true) => {
            "kind = \"sdssm\"\nstate_size = 64\nnum_transition_matrices = 8\nlp_norm = 1.2"
        }
        ("complex_diagonal", false) => "kind = \"complex_diagonal\"\nstate_size = 16",
        ("complex_diagonal", true) => "kind = \"complex_diagonal\"\nstate_size = 64",
        _ => unreachable!("models are listed in main"),
    };
    let (steps, batch, lr, min_len, len_step, samples) = if full {
        (1_000_000, 128, "1e-4", 1, 1, 512)
    } else {
        (5000, 32, "3e-3", 10, 10, 32)
    };
    format!(
        r#"
[task]
name = "{task}"
train_min_len = 1
train_max_len = 40

[model]
{model_table}

[training]
steps = {steps}
batch_size = {batch}
lr = {lr}
optimizer = "adam"
grad_clip = 1.0
loss = "cross_entropy"
curriculum = "uniform"
seed = 0
checkpoint_every = {ckpt}
log_every = {log}

[eval]
protocol = "lengths"
min_len = {min_len}
max_len = 500
len_step = {len_step}
samples_per_len = {samples}
seed = 1
batch_size = 64
"#,
        ckpt = if full { 5000 } else { 0 },
        log = if full { 5000 } else { 50 },
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args(Some("--tasks"))?;
    let tasks: Vec<String> = match &args.list {
        Some(t) => t.clone(),
        None if args.full => ALL_TASKS.iter().map(|s| s.to_string()).collect(),
        None => vec!["parity-check".into()],
    };
    let models = ["sdssm", "complex_diagonal"];
    let root = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs/examples/terzic2025_sdssm").join(if args.full {
            "full"
        } else {
            "default"
        })
    });
    let started = std::time::Instant::now();
    let mut results: Vec<(String, String, EvalReport)> = Vec::new();
    for task in &tasks {
        for model in models {
            let dir = root.join(format!("{task}-{model}"));
            let s = run_toml(
                args.backend,
                &config(task, model, args.full),
                "terzic2025_sdssm",
                &dir,
            )?;
            results.push((task.clone(), model.to_string(), s.report));
        }
    }
    print_tables(&results, args.full);
    eprintln!(
        "total {:.0} s; per-run tables in {}/*/eval.md",
        started.elapsed().as_secs_f64(),
        root.display()
    );
    Ok(())
}

/// One curve table per task (a row per evaluated length, a column per model), then the
/// in-distribution / longer means per (task, model).
fn print_tables(results: &[(String, String, EvalReport)], full: bool) {
    let mut tasks: Vec<&str> = results.iter().map(|r| r.0.as_str()).collect();
    tasks.dedup();
    for task in &tasks {
        let runs: Vec<&(String, String, EvalReport)> =
            results.iter().filter(|r| r.0 == *task).collect();
        println!("\n### {task}: sequence accuracy by length (trained on 1..=40)\n");
        print!("| length |");
        for r in &runs {
            print!(" {} |", r.1);
        }
        print!("\n|---|");
        for _ in &runs {
            print!("---|");
        }
        println!();
        let rows = &runs[0].2.rows;
        // The full curve has 500 rows: print every 20th length there, every row otherwise.
        for (i, row) in rows.iter().enumerate() {
            if full && row.min_len % 20 != 0 && row.min_len != 1 && i + 1 != rows.len() {
                continue;
            }
            print!(
                "| {}{} |",
                row.min_len,
                if row.min_len > 40 { "*" } else { "" }
            );
            for r in &runs {
                match r.2.rows.get(i) {
                    Some(x) => print!(" {:.1}% |", 100.0 * x.seq_acc),
                    None => print!(" - |"),
                }
            }
            println!();
        }
        println!("\n(* = longer than any training sequence)");
    }
    println!("\n### Summary: mean sequence accuracy\n");
    println!("| task | model | lengths 1..=40 | lengths 41..=500 | at the longest length |");
    println!("|---|---|---|---|---|");
    for (task, model, rep) in results {
        let (inside, beyond) = rep.in_out_means();
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{:.1}%", 100.0 * x));
        let last = rep.rows.last().map(|r| (r.min_len, r.seq_acc));
        println!(
            "| {task} | {model} | {} | {} | {} |",
            pct(inside),
            pct(beyond),
            last.map_or("-".into(), |(l, a)| format!("{:.1}% (L={l})", 100.0 * a))
        );
    }
}
