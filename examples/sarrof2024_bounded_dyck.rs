//! Sarrof, Veitsman & Hahn (NeurIPS 2024), bounded-Dyck experiment (spec
//! bhattamishra-flipflop-dyck.md §3): Mamba as a next-token language model on Dyck-(8, 10)
//! (8 bracket pairs, depth at most 10) of Yao et al. (2021), trained on strings up to length
//! 700 and tested on `dev` (1..=700) and `test` (701..=1400). The metric is the paper's close
//! accuracy: at every position inside an open bracket, the model must put more than 80% of
//! its closing-bracket mass on the matching bracket (`kleene_eval::close_accuracy`).
//!
//! ```sh
//! cargo run --release --example sarrof2024_bounded_dyck            # CPU-sized (a few minutes)
//! cargo run --release --example sarrof2024_bounded_dyck -- --full  # the paper's 18 configs
//! ```
//! Options: `--full`, `--backend ndarray|flex|wgpu|cuda`, `--out DIR`
//! (default `runs/examples/sarrof2024_bounded_dyck/{default,full}`).
//!
//! Default: 2-layer Mamba with d_model 64 and no output head (the final norm is the logit
//! vector, as in the paper), 8000 AdamW steps of 16 fresh strings of length 1..=100 at lr 3e-3
//! (cosine, 400 warm-up steps), 32 strings of each test split. `--full` (§3.5, §3.7): layers 1 (lr 1e-4) and 2 (lr 1e-3) x
//! d_model 20..=100 step 10, Adam without decay, batch 10, 15 epochs of 200,000 batches
//! (fresh strings of length 1..=700 instead of the fixed 2M-string file), learning rate halved
//! when an epoch's mean loss does not improve (the paper steps on the dev loss), 2000 strings
//! per split.
//!
//! Training, the token-level table and the close accuracy are the library path of
//! `kleene train CONFIG.toml` (`RunConfig::parse` + `kleene::train::run`); the example reads the
//! close accuracy from the run's result (`<split>/close_accuracy` in `result.json`).

use std::error::Error;
use std::path::{Path, PathBuf};

use kleene::train::RunConfig;

mod common;
use common::*;

fn config(layers: usize, d_model: usize, lr: &str, full: bool) -> String {
    let training = if full {
        format!(
            r#"steps = 3000000
batch_size = 10
lr = {lr}
optimizer = "adam"
schedule = {{ kind = "plateau", factor = 0.5, patience = 0, interval = 200000 }}
checkpoint_every = 20000
log_every = 1000"#
        )
    } else {
        format!(
            r#"steps = 8000
batch_size = 16
lr = {lr}
optimizer = "adam_w"
schedule = {{ kind = "cosine", warmup_steps = 400 }}
checkpoint_every = 2000
log_every = 250"#
        )
    };
    format!(
        r#"
[task]
name = "bounded-dyck"
train_min_len = 1
train_max_len = {max_len}

[model]
kind = "mamba"
d_model = {d_model}
n_layers = {layers}
head = false

[training]
{training}
loss = "cross_entropy"
curriculum = "mixed"
data = "stream"
seed = 1

[eval]
protocol = "splits"
splits = ["dev", "test"]
max_examples = {max_examples}
batch_size = 16
"#,
        max_len = if full { 700 } else { 100 },
        max_examples = if full { 2000 } else { 32 },
    )
}

struct Row {
    layers: usize,
    d_model: usize,
    lr: String,
    steps: u64,
    close: Vec<(String, usize, usize, f64, u64)>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args(None)?;
    let root = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs/examples/sarrof2024_bounded_dyck").join(if args.full {
            "full"
        } else {
            "default"
        })
    });
    let grid: Vec<(usize, usize, &str)> = if args.full {
        let mut g = Vec::new();
        for (layers, lr) in [(1, "1e-4"), (2, "1e-3")] {
            for d in (20..=100).step_by(10) {
                g.push((layers, d, lr));
            }
        }
        g
    } else {
        vec![(2, 64, "3e-3")]
    };
    let started = std::time::Instant::now();
    let mut rows = Vec::new();
    for (layers, d_model, lr) in grid {
        let dir = root.join(format!("L{layers}-d{d_model}"));
        let mut cfg = RunConfig::parse(
            &config(layers, d_model, lr, args.full),
            Path::new("sarrof2024_bounded_dyck"),
        )?;
        cfg.out_dir = Some(dir.clone());
        let summary = run_one(args.backend, &cfg, &dir)?;
        // `kleene train` scores close accuracy on bounded Dyck itself (`[eval]
        // close_accuracy` is on by default for this task): read it from the run's result.
        let task = kleene::langs::task_by_name("bounded-dyck")?;
        let mut close = Vec::new();
        for split in task.splits() {
            let Some(row) = summary.report.rows.iter().find(|r| r.name == split.name) else {
                continue;
            };
            let key = format!("{}/close_accuracy", split.name);
            let acc = summary
                .report
                .result
                .scalars
                .get(&key)
                .ok_or_else(|| format!("{}: result.json has no `{key}`", dir.display()))?;
            close.push((
                split.name.clone(),
                split.min_len,
                split.max_len,
                acc.value,
                row.examples as u64,
            ));
        }
        rows.push(Row {
            layers,
            d_model,
            lr: lr.to_string(),
            steps: summary.steps,
            close,
        });
    }
    println!("\n### Mamba on bounded Dyck-(8, 10): close accuracy (80% rule)\n");
    println!("| layers | d_model | lr | steps | split | lengths | strings | close accuracy |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        for (name, lo, hi, acc, n) in &r.close {
            println!(
                "| {} | {} | {} | {} | {name} | {lo}..={hi} | {n} | {:.1}% |",
                r.layers,
                r.d_model,
                r.lr,
                r.steps,
                100.0 * acc
            );
        }
    }
    eprintln!(
        "total {:.0} s; runs in {}",
        started.elapsed().as_secs_f64(),
        root.display()
    );
    Ok(())
}
