//! Sarrof, Veitsman & Hahn (NeurIPS 2024), flip-flop experiment (spec
//! bhattamishra-flipflop-dyck.md §2): Mamba on FFL(0.8) of Liu et al. (2023), 256
//! instruction/bit pairs; predict the bit of every read. Tested in distribution (`val`,
//! FFL(0.8)), on sparse strings (`val_sparse`, FFL(0.98): long gaps between write and read) and
//! on dense strings (`val_dense`, FFL(0.1)).
//!
//! ```sh
//! cargo run --release --example sarrof2024_flipflop            # CPU-sized (a few minutes)
//! cargo run --release --example sarrof2024_flipflop -- --full  # the paper's settings
//! ```
//! Options: `--full`, `--backend ndarray|flex|wgpu|cuda`, `--out DIR`
//! (default `runs/examples/sarrof2024_flipflop/{default,full}`).
//!
//! Default: 1-layer Mamba, d_model 32, 200 AdamW steps of 16 fresh FFL(0.8) strings at lr 3e-3,
//! 64 strings per test set. `--full` (§2.2, the README command): 1-layer Mamba, d_model 16,
//! d_state 16, MSE on one-hot targets, AdamW lr 1e-5, wd 0.1 on every parameter, no schedule,
//! batch 32, 100 epochs of 1.6M strings (5,000,000 steps; fresh strings from the same
//! distribution instead of the fixed HF file), 1000 strings per test set.
//!
//! Every run is the library path of `kleene train CONFIG.toml` (`RunConfig::parse` +
//! `kleene::train::run`); the run directory holds `config.toml`, `metrics.jsonl`,
//! `checkpoint/`, `result.json`, `eval.md` and `report.md`.

use std::error::Error;
use std::path::PathBuf;

mod common;
use common::*;

fn config(full: bool) -> String {
    let (d_model, steps, batch, lr, max_examples, ckpt, log) = if full {
        (16, 5_000_000, 32, "1e-5", 1000, 10_000, 1000)
    } else {
        (32, 200, 16, "3e-3", 64, 0, 25)
    };
    format!(
        r#"
[task]
name = "flipflop"

[model]
kind = "mamba"
d_model = {d_model}
n_layers = 1
d_state = 16
d_conv = 4
expand = 2

[training]
steps = {steps}
batch_size = {batch}
lr = {lr}
optimizer = "adam_w"
weight_decay = 0.1
no_decay = []
loss = "mse"
data = "stream"
seed = 0
checkpoint_every = {ckpt}
log_every = {log}

[eval]
protocol = "splits"
splits = ["val", "val_sparse", "val_dense"]
max_examples = {max_examples}
batch_size = 64
"#
    )
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args(None)?;
    let dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs/examples/sarrof2024_flipflop").join(if args.full {
            "full"
        } else {
            "default"
        })
    });
    let started = std::time::Instant::now();
    let s = run_toml(
        args.backend,
        &config(args.full),
        "sarrof2024_flipflop",
        &dir,
    )?;
    println!(
        "\n### Mamba on flip-flop FFL(0.8) after {} steps\n",
        s.steps
    );
    println!("| test set | p(ignore) | strings | all reads right | reads right |");
    println!("|---|---|---|---|---|");
    for (split, p, what) in [
        ("val", "0.8", "in distribution"),
        ("val_sparse", "0.98", "sparse"),
        ("val_dense", "0.1", "dense"),
    ] {
        if let Some(r) = s.report.rows.iter().find(|r| r.name == split) {
            println!(
                "| {split} ({what}) | {p} | {} | {:.1}% | {:.2}% |",
                r.examples,
                100.0 * r.seq_acc,
                100.0 * r.pos_acc
            );
        }
    }
    if let Some(l) = s.final_loss {
        println!("\nfinal training loss {l:.5}");
    }
    eprintln!(
        "total {:.0} s; run in {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}
