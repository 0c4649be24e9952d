//! Delétang et al. (ICLR 2023), "Neural Networks and the Chomsky Hierarchy": RNN, LSTM,
//! Stack-RNN, Tape-RNN and DeepMind's Transformer (with its positional encodings), beside the
//! zoo's Mamba and SD-SSM, on the suite's 15 tasks (4 regular, 4 deterministic context-free,
//! 7 context-sensitive). Trained on input lengths 1..=40, scored on 41..=500 by DeepMind's
//! score: per-token accuracy over the output positions, averaged over the test lengths.
//!
//! ```sh
//! cargo run --release --example deletang2023_chomsky                 # CPU-sized, reduced (~70 min)
//! cargo run --release --example deletang2023_chomsky -- --full       # DeepMind's settings (cluster/GPU)
//! ```
//! Options: `--full`, `--tasks reverse-string,bucket-sort`, `--models rnn,lstm,stack_rnn,...`
//! (`rnn`, `lstm`, `stack_rnn`, `tape_rnn`, `transformer` (sin/cos), `transformer_none`,
//! `transformer_alibi`, `transformer_relative`, `transformer_rotary`, `mamba`, `sdssm`),
//! `--backend ndarray|flex|wgpu|cuda`, `--jobs N` (default one per core; the numbers do not
//! depend on it), `--out DIR` (default `runs/examples/deletang2023_chomsky/{default,full}`).
//!
//! The protocol (spec chomsky-hierarchy.md §3.1, §4, §6): the model reads the input, then one
//! blank token per output position, and is trained with cross-entropy on the output positions
//! only; input lengths are drawn uniformly from 1..=40 per batch; Adam with global-norm clipping
//! at 1, constant learning rate, no weight decay. DeepMind's table entry is the maximum of that
//! score over 10 seeds x 3 learning rates (and the Transformer's 5 encodings, the Tape-RNN's
//! extra sweeps); kleene prints the maximum over its seeds beside the mean [min, max], so the
//! spread DeepMind's table hides is visible.
//!
//! CPU default (reduced, about 70 minutes on 2 cores): widths 64 (Transformer 32, 2 layers), 1,000 steps
//! of batch 32 at lr 1e-3, one seed, the sin/cos Transformer only, test lengths 41, 87, ..., 455
//! (every 46th) with 32 sequences each. `--full` (DeepMind's): widths 256 (Transformer 64, 5
//! layers, 8 heads), 1,000,000 steps of batch 128, lr in {1e-4, 3e-4, 5e-4}, 10 seeds, all five
//! encodings, every test length with 512 sequences: thousands of GPU-days in all; write it as
//! sweep files for a cluster instead (docs/cluster.md).
//!
//! Published numbers: spec chomsky-hierarchy.md §7.1 (paper Table 2). Cells marked `?` there
//! were not re-read from the paper (recalled values consistent with its text); the others are
//! confirmed by a second source.

use std::error::Error;
use std::path::PathBuf;

use kleene::train::EvalReport;

mod common;
use common::*;

/// A task of the suite with DeepMind's published scores (Table 2): RNN, Stack-RNN, Tape-RNN,
/// Transformer, LSTM; `confirmed` whether the row was confirmed by a second source.
struct SuiteTask {
    name: &'static str,
    level: &'static str,
    published: [f64; 5],
    confirmed: bool,
}

const fn t(
    name: &'static str,
    level: &'static str,
    published: [f64; 5],
    confirmed: bool,
) -> SuiteTask {
    SuiteTask {
        name,
        level,
        published,
        confirmed,
    }
}

/// The 15 tasks, Table 2's order. The regular tasks are kleene's SD-SSM versions, which follow
/// DeepMind's definitions (one output after the input).
const TASKS: [SuiteTask; 15] = [
    t("even-pairs", "R", [100.0, 100.0, 100.0, 96.4, 100.0], false),
    t(
        "modular-arithmetic",
        "R",
        [100.0, 100.0, 100.0, 24.2, 100.0],
        true,
    ),
    t(
        "parity-check",
        "R",
        [100.0, 100.0, 100.0, 52.0, 100.0],
        true,
    ),
    t(
        "cycle-navigation",
        "R",
        [100.0, 100.0, 100.0, 61.9, 100.0],
        false,
    ),
    t(
        "stack-manipulation",
        "DCF",
        [56.0, 100.0, 100.0, 57.5, 59.1],
        true,
    ),
    t(
        "reverse-string",
        "DCF",
        [62.0, 100.0, 100.0, 62.3, 60.9],
        true,
    ),
    t(
        "modular-arithmetic-brackets",
        "DCF",
        [41.3, 96.1, 95.4, 32.5, 59.2],
        false,
    ),
    t(
        "solve-equation",
        "DCF",
        [51.0, 56.2, 64.4, 25.7, 67.8],
        false,
    ),
    t(
        "duplicate-string",
        "CS",
        [50.3, 52.8, 100.0, 52.8, 57.6],
        true,
    ),
    t(
        "missing-duplicate-string",
        "CS",
        [52.3, 55.2, 100.0, 56.4, 54.3],
        false,
    ),
    t("odds-first", "CS", [51.0, 51.9, 100.0, 52.8, 55.6], true),
    t(
        "binary-addition",
        "CS",
        [50.3, 52.7, 100.0, 54.3, 55.5],
        false,
    ),
    t(
        "binary-multiplication",
        "CS",
        [50.0, 52.7, 58.5, 52.2, 53.1],
        false,
    ),
    t("compute-sqrt", "CS", [54.3, 56.5, 57.8, 52.4, 57.5], false),
    t("bucket-sort", "CS", [27.9, 78.1, 70.6, 91.9, 99.3], false),
];

/// A model of the comparison: its short name, label and column of the published table.
struct Model {
    name: &'static str,
    label: &'static str,
    published_column: Option<usize>,
    in_default: bool,
}

const MODELS: [Model; 11] = [
    Model {
        name: "rnn",
        label: "RNN",
        published_column: Some(0),
        in_default: true,
    },
    Model {
        name: "stack_rnn",
        label: "Stack-RNN",
        published_column: Some(1),
        in_default: true,
    },
    Model {
        name: "tape_rnn",
        label: "Tape-RNN",
        published_column: Some(2),
        in_default: true,
    },
    Model {
        name: "transformer",
        label: "Transformer (sin/cos)",
        published_column: Some(3),
        in_default: true,
    },
    Model {
        name: "transformer_none",
        label: "Transformer (none)",
        published_column: Some(3),
        in_default: false,
    },
    Model {
        name: "transformer_alibi",
        label: "Transformer (ALiBi)",
        published_column: Some(3),
        in_default: false,
    },
    Model {
        name: "transformer_relative",
        label: "Transformer (relative)",
        published_column: Some(3),
        in_default: false,
    },
    Model {
        name: "transformer_rotary",
        label: "Transformer (RoPE)",
        published_column: Some(3),
        in_default: false,
    },
    Model {
        name: "lstm",
        label: "LSTM",
        published_column: Some(4),
        in_default: true,
    },
    Model {
        name: "mamba",
        label: "Mamba",
        published_column: None,
        in_default: true,
    },
    Model {
        name: "sdssm",
        label: "SD-SSM",
        published_column: None,
        in_default: true,
    },
];

/// First and last test length, in the task's unit (DeepMind's input length).
const TEST_MIN: usize = 41;
const TEST_MAX: usize = 500;

fn model_table(name: &str, full: bool) -> String {
    let h = if full { 256 } else { 64 };
    let transformer = |positions: &str| {
        let (d, layers) = if full { (64, 5) } else { (32, 2) };
        format!(
            "kind = \"dm_transformer\"\nd_model = {d}\nn_layers = {layers}\nn_heads = {}\n\
             positions = \"{positions}\"",
            if full { 8 } else { 4 }
        )
    };
    match name {
        "rnn" => format!("kind = \"rnn\"\nhidden_size = {h}\nnum_layers = 1"),
        "lstm" => format!("kind = \"lstm\"\nhidden_size = {h}\nnum_layers = 1"),
        "stack_rnn" => format!(
            "kind = \"stack_rnn\"\nhidden_size = {h}\nstack_size = {}",
            if full { 30 } else { 64 }
        ),
        "tape_rnn" => format!(
            "kind = \"tape_rnn\"\nhidden_size = {h}\nmemory_size = {}\nmarker_tokens = 2",
            if full { 40 } else { 64 }
        ),
        "transformer" => transformer("sin_cos"),
        "transformer_none" => transformer("none"),
        "transformer_alibi" => transformer("alibi"),
        "transformer_relative" => transformer("relative"),
        "transformer_rotary" => transformer("rotary"),
        "mamba" => format!(
            "kind = \"mamba\"\nd_model = {}\nn_layers = 2",
            if full { 64 } else { 32 }
        ),
        "sdssm" => "kind = \"sdssm\"\nstate_size = 64".to_string(),
        other => unreachable!("models are listed in MODELS, not {other}"),
    }
}

fn config(task: &str, model: &str, lr: f64, seed: u64, full: bool) -> String {
    let (steps, batch, len_step, samples) = if full {
        (1_000_000, 128, 1, 512)
    } else {
        (1_000, 32, 46, 32)
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
lr = {lr:e}
optimizer = "adam"
weight_decay = 0.0
grad_clip = 1.0
loss = "cross_entropy"
curriculum = "uniform"
seed = {seed}
checkpoint_every = {ckpt}
log_every = {log}

[eval]
protocol = "lengths"
min_len = {TEST_MIN}
max_len = {TEST_MAX}
len_step = {len_step}
samples_per_len = {samples}
seed = 1
batch_size = 32
"#,
        model_table = model_table(model, full),
        ckpt = if full { 10_000 } else { 0 },
        log = if full { 10_000 } else { 100 },
    )
}

/// DeepMind's score of one run: the mean per-token accuracy over the test lengths, in %.
fn score(report: &EvalReport) -> f64 {
    let rows: Vec<f64> = report
        .rows
        .iter()
        .filter(|r| r.min_len >= TEST_MIN)
        .map(|r| r.token_acc)
        .collect();
    100.0 * rows.iter().sum::<f64>() / rows.len().max(1) as f64
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args_two_lists("--models", "--tasks")?;
    let tasks: Vec<&SuiteTask> = match &args.second_list {
        Some(names) => names
            .iter()
            .map(|n| {
                TASKS
                    .iter()
                    .find(|t| t.name == n)
                    .ok_or(format!("`{n}` is not one of the 15 tasks"))
            })
            .collect::<Result<_, _>>()?,
        None => TASKS.iter().collect(),
    };
    let models: Vec<&Model> = match &args.list {
        Some(names) => names
            .iter()
            .map(|n| {
                MODELS.iter().find(|m| m.name == n).ok_or(format!(
                    "`{n}` is not one of the models (see the file header)"
                ))
            })
            .collect::<Result<_, _>>()?,
        None => MODELS
            .iter()
            .filter(|m| args.full || m.in_default)
            .collect(),
    };
    let (lrs, seeds): (&[f64], u64) = if args.full {
        (&[1e-4, 3e-4, 5e-4], 10)
    } else {
        (&[1e-3], 1)
    };
    let root = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs/examples/deletang2023_chomsky").join(if args.full {
            "full"
        } else {
            "default"
        })
    });
    let mut keys = Vec::new();
    let mut runs = Vec::new();
    for task in &tasks {
        for model in &models {
            for &lr in lrs {
                for seed in 0..seeds {
                    let dir =
                        root.join(format!("{}/{}/lr{lr:e}-seed{seed}", task.name, model.name));
                    runs.push((config(task.name, model.name, lr, seed, args.full), dir));
                    keys.push((task.name, model.name));
                }
            }
        }
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let started = std::time::Instant::now();
    let summaries = run_tomls(args.backend, &runs, "deletang2023_chomsky", jobs)?;
    let scores: Vec<((&str, &str), f64)> = keys
        .into_iter()
        .zip(summaries.iter().map(|s| score(&s.report)))
        .collect();
    print_table(&tasks, &models, &scores, args.full);
    eprintln!(
        "total {:.0} s for {} runs; per-run tables in {}/<task>/<model>/*/eval.md",
        started.elapsed().as_secs_f64(),
        runs.len(),
        root.display()
    );
    Ok(())
}

/// One row per task: per model, kleene's score (max over runs; mean [min, max] when there are
/// several) and DeepMind's published score beside it.
fn print_table(
    tasks: &[&SuiteTask],
    models: &[&Model],
    scores: &[((&str, &str), f64)],
    full: bool,
) {
    println!(
        "\n### Chomsky hierarchy: score (%) on input lengths {TEST_MIN}..={TEST_MAX}, kleene (DeepMind's published)\n"
    );
    println!(
        "Protocol: {}. Published: paper Table 2 (max over 10 seeds x 3 learning rates); `?` = not \
         re-read from the paper.\n",
        if full {
            "DeepMind's (`--full`)"
        } else {
            "reduced CPU default (see the file header)"
        }
    );
    print!("| level | task |");
    for m in models {
        print!(" {} |", m.label);
    }
    println!();
    println!("|---|---|{}", "---|".repeat(models.len()));
    for task in tasks {
        print!("| {} | {} |", task.level, task.name);
        for m in models {
            let mine: Vec<f64> = scores
                .iter()
                .filter(|((t, n), _)| *t == task.name && *n == m.name)
                .map(|(_, s)| *s)
                .collect();
            let best = mine.iter().copied().fold(f64::NAN, f64::max);
            let cell = if mine.len() > 1 {
                let mean = mine.iter().sum::<f64>() / mine.len() as f64;
                let min = mine.iter().copied().fold(f64::NAN, f64::min);
                format!("{best:.1} ({mean:.1} [{min:.1}, {best:.1}])")
            } else {
                format!("{best:.1}")
            };
            let published = m
                .published_column
                .map(|c| {
                    format!(
                        " ({:.1}{})",
                        task.published[c],
                        if task.confirmed { "" } else { "?" }
                    )
                })
                .unwrap_or_default();
            print!(" {cell}{published} |");
        }
        println!();
    }
}
