//! Akyürek, Wang, Kim & Andreas (ICML 2024), "In-Context Language Learning: Architectures and
//! Algorithms" (spec regbench-icl-zoo.md §1, §4): the model zoo on REGBENCH (each sequence is
//! 10..19 strings of one random DFA, `|`-joined; the model must infer the language in context),
//! compared with the paper's in-context n-gram baselines (orders 2..=4, with back-off).
//! Metric (the paper's figures): at every input position, the greedy next token is correct when
//! the DFA allows it; TVD to the true next-symbol distribution of the PFA.
//!
//! ```sh
//! cargo run --release --example akyurek2024_regbench            # CPU-sized (a few minutes)
//! cargo run --release --example akyurek2024_regbench -- --full  # the paper's settings
//! ```
//! Options: `--full`, `--models transformer,retnet`, `--backend ndarray|flex|wgpu|cuda`, `--out DIR`
//! (default `runs/examples/akyurek2024_regbench/{default,full}`).
//!
//! Default: 1000 training DFAs (`regbench-1k`); a 2-layer Transformer, RetNet and Mamba
//! (REGBENCH backbone) of width 32; 150 AdamW steps of 8 problems at lr 3e-3; scored on the
//! first 64 test problems. `--full` (§4.1-4.2): N in {1000, 2500, 5000, 10000, 20000, 40000}
//! training DFAs; the Transformer and the ten ICL-zoo mixers at the REGBENCH experiment
//! defaults (`IclModelConfig::regbench_dfa`); AdamW lr 2.5e-4, wd 0.1 on every parameter,
//! batch 32, 200 epochs, timm cosine schedule with 10% warm-up from 1e-6 to a floor of 0.1 lr;
//! every test problem. (The paper then picks the best of a width/depth grid per model and N,
//! §4.4; run that grid with `kleene sweep`.)
//!
//! Training is the library path of `kleene train CONFIG.toml` (`RunConfig` +
//! `kleene::train::run`). The REGBENCH metrics need the trained model, which `run` does not
//! return: the example rebuilds it from the run's checkpoint (`load_model`) and scores it with
//! `kleene::eval::regbench_problems`; the n-grams use `kleene::langs::regbench::InContextNGram`.

use std::error::Error;
use std::path::{Path, PathBuf};

use kleene::eval::{EvalOptions, RegbenchPositions};
use kleene::langs::regbench::{InContextNGram, Regbench};
use kleene::langs::Task;
use kleene::train::RunConfig;
use kleene::zoo::ModelConfig;
use kleene::zoo::{IclModelConfig, MixerConfig};

mod common;
use common::*;

/// The registry name of REGBENCH with `n` training DFAs.
fn task_name(n: usize) -> &'static str {
    match n {
        1000 => "regbench-1k",
        2500 => "regbench-2.5k",
        5000 => "regbench",
        10_000 => "regbench-10k",
        20_000 => "regbench-20k",
        40_000 => "regbench-40k",
        _ => unreachable!("sizes are listed in main"),
    }
}

/// The zoo config of `name`: `transformer` or an ICL-zoo mixer at the REGBENCH defaults;
/// the default run shrinks every model to width 32, 2 blocks.
fn zoo_model(name: &str, full: bool) -> Result<ModelConfig, Box<dyn Error>> {
    let mc = if name == "transformer" {
        let mut m = ModelConfig::default_for("transformer")?;
        if let (ModelConfig::Transformer(t), false) = (&mut m, full) {
            t.d_model = 32;
            t.n_layers = 2;
        }
        m
    } else {
        if !MixerConfig::NAMES.contains(&name) {
            return Err(format!(
                "unknown model `{name}`: transformer or one of {:?}",
                MixerConfig::NAMES
            )
            .into());
        }
        let mut m = IclModelConfig::regbench_dfa(name)?;
        if !full {
            m.backbone.d_model = 32;
            m.backbone.n_layer = 2;
        }
        ModelConfig::Icl(m)
    };
    Ok(mc)
}

fn run_config(n: usize, model: &str, full: bool, dir: &Path) -> Result<RunConfig, Box<dyn Error>> {
    // 200 epochs of ceil(N / 32) steps, warm-up 20 epochs (spec §4.2).
    let epoch = n.div_ceil(32) as u64;
    let training = if full {
        format!(
            r#"steps = {steps}
batch_size = 32
lr = 2.5e-4
weight_decay = 0.1
schedule = {{ kind = "cosine", warmup_steps = {warmup}, warmup_lr_init = 1e-6, min_lr_ratio = 0.1 }}
checkpoint_every = 5000
log_every = 500"#,
            steps = 200 * epoch,
            warmup = 20 * epoch
        )
    } else {
        r#"steps = 150
batch_size = 8
lr = 3e-3
weight_decay = 0.01
schedule = { kind = "cosine", warmup_steps = 15 }
checkpoint_every = 0
log_every = 25"#
            .to_string()
    };
    let text = format!(
        r#"
[task]
name = "{task}"

[model]
kind = "mamba"

[training]
{training}
optimizer = "adam_w"
no_decay = []
loss = "cross_entropy"
curriculum = "mixed"
data = "split"
seed = 0

[eval]
protocol = "splits"
splits = ["test"]
max_examples = {max_examples}
batch_size = 16
"#,
        task = task_name(n),
        max_examples = if full { 0 } else { 64 },
    );
    let mut cfg = RunConfig::parse(&text, Path::new("akyurek2024_regbench"))?;
    // The placeholder `[model]` above only satisfies the parser; the real model comes from
    // the zoo's own config types.
    set_model(&mut cfg, zoo_model(model, full)?);
    cfg.out_dir = Some(dir.to_path_buf());
    cfg.validate()?;
    Ok(cfg)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args(Some("--models"))?;
    let sizes: Vec<usize> = if args.full {
        vec![1000, 2500, 5000, 10_000, 20_000, 40_000]
    } else {
        vec![1000]
    };
    let models: Vec<String> = match &args.list {
        Some(m) => m.clone(),
        None if args.full => std::iter::once("transformer")
            // The `transformer` row is the attention mixer in REGBENCH's setup.
            .chain(
                MixerConfig::NAMES
                    .iter()
                    .copied()
                    .filter(|n| *n != "attention"),
            )
            .map(String::from)
            .collect(),
        None => ["transformer", "retnet", "mamba"]
            .map(String::from)
            .to_vec(),
    };
    let root = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs/examples/akyurek2024_regbench").join(if args.full {
            "full"
        } else {
            "default"
        })
    });
    let started = std::time::Instant::now();
    let mut rows: Vec<(usize, String, f64, f64, usize)> = Vec::new();
    for &n in &sizes {
        let task = Regbench::with_train_size(n);
        let mut test = task
            .splits()
            .into_iter()
            .find(|s| s.name == "test")
            .ok_or("REGBENCH has a test split")?;
        let mut eval_seed = 1;
        let mut cap = if args.full { 0 } else { 64 };
        for model in &models {
            let dir = root.join(format!("N{n}/{model}"));
            let cfg = run_config(n, model, args.full, &dir)?;
            eval_seed = cfg.eval.seed;
            cap = cfg.eval.max_examples;
            run_one(args.backend, &cfg, &dir)?;
            let trained = load_model(&cfg, &dir)?;
            if cap > 0 {
                test.size = test.size.min(cap);
            }
            // The problems `kleene train` evaluated on (same split, size and seed).
            let problems = task.problems(&test, eval_seed)?;
            let counts = kleene::eval::regbench_problems::<Infer, _>(
                &trained,
                &problems,
                RegbenchPositions::All,
                &EvalOptions {
                    batch_size: cfg.eval.batch_size,
                    ..Default::default()
                },
                &Default::default(),
            )?;
            rows.push((
                n,
                model.clone(),
                counts.accuracy(),
                counts.tvd(),
                problems.len(),
            ));
        }
        if cap > 0 {
            test.size = test.size.min(cap);
        }
        let problems = task.problems(&test, eval_seed)?;
        // `InContextNGram` has orders 2..=4 (the paper plots 2 and 3).
        for order in 2..=4 {
            let scores = InContextNGram::new(order)?.evaluate(&problems);
            rows.push((
                n,
                format!("in-context {order}-gram"),
                scores.accuracy(),
                scores.tvd(),
                problems.len(),
            ));
        }
    }
    println!("\n### REGBENCH: accuracy (greedy next token allowed by the DFA) and TVD\n");
    println!("| training DFAs | model | test problems | accuracy | TVD |");
    println!("|---|---|---|---|---|");
    for (n, model, acc, tvd, count) in &rows {
        println!(
            "| {n} | {model} | {count} | {:.1}% | {tvd:.3} |",
            100.0 * acc
        );
    }
    eprintln!(
        "total {:.0} s; runs in {}",
        started.elapsed().as_secs_f64(),
        root.display()
    );
    Ok(())
}
