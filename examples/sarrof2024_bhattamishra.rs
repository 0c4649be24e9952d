//! Sarrof, Veitsman & Hahn (NeurIPS 2024), "The Expressive Capacity of State Space Models: A
//! Formal Language Perspective", main experiment: Mamba on the 27 languages of Bhattamishra et
//! al. (2020), trained on the published training split and tested on the published length bins
//! (bin0 = training lengths, bin1 (and bin2) = longer strings).
//!
//! ```sh
//! cargo run --release --example sarrof2024_bhattamishra            # CPU-sized (a few minutes)
//! cargo run --release --example sarrof2024_bhattamishra -- --full  # the paper's sweeps
//! ```
//! Options: `--full`, `--langs parity,tomita-2`, `--backend ndarray|flex|wgpu|cuda`, `--out DIR`
//! (default `runs/examples/sarrof2024_bhattamishra/{default,full}`).
//!
//! On a cluster (docs/cluster.md): `--write-sweeps DIR` writes the `--full` grid as one
//! `kleene sweep` file per language (`DIR/<lang>/sweep.toml`, runs in `DIR/<lang>/runs`) and
//! `DIR/submit_all.sh`, which submits each as a Slurm job array; `--from-sweeps DIR` then
//! prints this example's table from their finished runs.
//!
//! Default: five languages (Parity, Tomita-2, Tomita-4, D-2, Dyck-1), a 1-layer Mamba with
//! d_model 16, 150 AdamW steps of 32 strings from the training split at lr 1e-2, at most 128
//! strings per bin. `--full` (spec bhattamishra-flipflop-dyck.md §4): all 27 languages, each
//! with its sweep grid of §4.4 (layers x d_model x lr), AdamW wd 0.1 on every parameter, no
//! schedule, epochs x ceil(|train| / batch) steps, MSE (19 languages) or CE (8 languages) as in
//! the paper's two training scripts, every string of every bin; the table shows the best run per
//! (language, layers) by its last bin, which is how the paper most likely picked (§4.4).
//!
//! Every run is the library path of `kleene train CONFIG.toml` (`RunConfig::parse` +
//! `kleene::train::run`); the run directory holds `config.toml`, `metrics.jsonl`,
//! `checkpoint/`, `result.json`, `eval.md` and `report.md`.

use std::error::Error;
use std::path::PathBuf;

use kleene::train::EvalReport;

mod common;
use common::*;

/// One language's sweep (§4.4): program (loss), layers, d_model, lr, epochs, batch.
struct Sweep {
    lang: &'static str,
    ce: bool,
    layers: &'static [usize],
    d_model: &'static [usize],
    lr: &'static [f64],
    epochs: u64,
    batch: usize,
}

const L3: &[usize] = &[1, 2, 3];
const D3: &[usize] = &[16, 64, 128];
const LR2: &[f64] = &[1e-4, 1e-3];

const fn mse(
    lang: &'static str,
    d_model: &'static [usize],
    lr: &'static [f64],
    epochs: u64,
) -> Sweep {
    Sweep {
        lang,
        ce: false,
        layers: L3,
        d_model,
        lr,
        epochs,
        batch: 32,
    }
}

const fn ce(
    lang: &'static str,
    d_model: &'static [usize],
    lr: &'static [f64],
    epochs: u64,
    batch: usize,
) -> Sweep {
    Sweep {
        lang,
        ce: true,
        layers: L3,
        d_model,
        lr,
        epochs,
        batch,
    }
}

/// The 27 languages with their sweeps (spec §4.4; `aastar-to-eestar` ran 50 and 100 epochs,
/// 100 is used; `012star-0-2star` kept the defaults d_model 16, lr 1e-5).
const SWEEPS: [Sweep; 27] = [
    mse("parity", &[16, 64], LR2, 50),
    mse("aastar", D3, LR2, 50),
    Sweep {
        lang: "aaaastar",
        ce: false,
        layers: &[1, 2, 3, 6, 12],
        d_model: D3,
        lr: LR2,
        epochs: 100,
        batch: 32,
    },
    mse("ababstar", D3, LR2, 100),
    mse("tomita-1", &[64], &[1e-4], 50),
    mse("tomita-2", D3, LR2, 100),
    mse("tomita-3", D3, LR2, 100),
    mse("tomita-4", D3, LR2, 100),
    mse("tomita-5", D3, LR2, 100),
    mse("tomita-6", D3, LR2, 100),
    mse("tomita-7", D3, LR2, 100),
    mse("d-2", D3, &[3e-4, 1e-4, 1e-3], 100),
    mse("d-3", D3, LR2, 100),
    mse("d-4", D3, &[3e-4, 1e-4, 1e-3], 100),
    mse("d-12", D3, &[3e-4, 1e-4, 1e-3], 100),
    mse("boolean-3", D3, LR2, 50),
    mse("boolean-5", D3, LR2, 50),
    mse("aastar-to-eestar", D3, LR2, 100),
    mse("abstar-d-bcstar", &[64, 128], LR2, 50),
    ce("012star-0-2star", &[16], &[1e-5], 100, 32),
    ce("dyck-1", &[64, 128], &[1e-4, 3e-5], 100, 32),
    ce("shuffle-2", &[64, 128], &[1e-4, 3e-5], 100, 32),
    ce("shuffle-4", &[64, 128], &[1e-4, 3e-5], 100, 32),
    ce("shuffle-6", &[64, 128, 256], &[1e-4, 3e-5], 100, 32),
    ce("anbn", &[64, 128, 256], &[1e-5, 3e-5], 1000, 10),
    ce("anbncn", &[64, 128, 256], &[1e-5, 3e-5], 1000, 10),
    ce("anbncndn", &[64, 128, 256], &[1e-5, 3e-5], 1000, 10),
];

const DEFAULT_LANGS: [&str; 5] = ["parity", "tomita-2", "tomita-4", "d-2", "dyck-1"];

#[allow(clippy::too_many_arguments)]
fn config(
    lang: &str,
    ce: bool,
    layers: usize,
    d_model: usize,
    lr: f64,
    steps: u64,
    batch: usize,
    full: bool,
) -> String {
    // Paper: AdamW wd 0.1 on all parameters (A_log and D included), no schedule, no clipping.
    // Default: a large learning rate so that a few hundred steps suffice.
    format!(
        r#"
[task]
name = "{lang}"

[model]
kind = "mamba"
d_model = {d_model}
n_layers = {layers}
d_state = 16
d_conv = 4
expand = 2

[training]
steps = {steps}
batch_size = {batch}
lr = {lr:e}
optimizer = "adam_w"
weight_decay = 0.1
no_decay = []
loss = "{loss}"
data = "split"
seed = 0
checkpoint_every = {ckpt}
log_every = {log}

[eval]
protocol = "splits"
max_examples = {max_examples}
"#,
        loss = if ce { "cross_entropy" } else { "mse" },
        ckpt = if full { 5000 } else { 0 },
        log = if full { 1000 } else { 25 },
        max_examples = if full { 0 } else { 128 },
    )
}

/// Steps of `epochs` passes over the language's training split.
fn steps_for(lang: &str, epochs: u64, batch: usize) -> Result<u64, Box<dyn Error>> {
    let task = kleene::langs::task_by_name(lang)?;
    let train = task
        .splits()
        .into_iter()
        .find(|s| s.name == "train")
        .ok_or(format!("task `{lang}` has no train split"))?;
    Ok(epochs * train.size.div_ceil(batch) as u64)
}

struct Result1 {
    lang: String,
    layers: usize,
    d_model: usize,
    lr: f64,
    report: EvalReport,
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args_with(Some("--langs"), true)?;
    let wanted: Vec<String> = match &args.list {
        Some(l) => l.clone(),
        None if args.full || args.sweeps.is_some() => {
            SWEEPS.iter().map(|s| s.lang.to_string()).collect()
        }
        None => DEFAULT_LANGS.iter().map(|s| s.to_string()).collect(),
    };
    let root = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs/examples/sarrof2024_bhattamishra").join(if args.full {
            "full"
        } else {
            "default"
        })
    });
    match &args.sweeps {
        Some(SweepsFlag::Write(dir)) => return write_sweeps(dir, &wanted),
        Some(SweepsFlag::Read(dir)) => {
            print_table(&read_sweeps(dir, &wanted)?);
            return Ok(());
        }
        None => {}
    }
    let started = std::time::Instant::now();
    let mut results = Vec::new();
    for lang in &wanted {
        let sweep = SWEEPS
            .iter()
            .find(|s| s.lang == lang)
            .ok_or(format!("`{lang}` is not one of the 27 languages"))?;
        if args.full {
            let steps = steps_for(lang, sweep.epochs, sweep.batch)?;
            for &layers in sweep.layers {
                for &d in sweep.d_model {
                    for &lr in sweep.lr {
                        let dir = root.join(format!("{lang}/L{layers}-d{d}-lr{lr:e}"));
                        let text = config(lang, sweep.ce, layers, d, lr, steps, sweep.batch, true);
                        let s = run_toml(args.backend, &text, "sarrof2024_bhattamishra", &dir)?;
                        results.push(Result1 {
                            lang: lang.clone(),
                            layers,
                            d_model: d,
                            lr,
                            report: s.report,
                        });
                    }
                }
            }
        } else {
            let dir = root.join(lang);
            let text = config(lang, sweep.ce, 1, 16, 1e-2, 150, 32, false);
            let s = run_toml(args.backend, &text, "sarrof2024_bhattamishra", &dir)?;
            results.push(Result1 {
                lang: lang.clone(),
                layers: 1,
                d_model: 16,
                lr: 1e-2,
                report: s.report,
            });
        }
    }
    print_table(&results);
    eprintln!(
        "total {:.0} s; per-run tables in {}/*/eval.md",
        started.elapsed().as_secs_f64(),
        root.display()
    );
    Ok(())
}

/// The `--full` sweep of one language.
fn sweep_of(lang: &str) -> Result<&'static Sweep, Box<dyn Error>> {
    Ok(SWEEPS
        .iter()
        .find(|s| s.lang == lang)
        .ok_or(format!("`{lang}` is not one of the 27 languages"))?)
}

/// `--write-sweeps DIR`: the `--full` grid as `kleene sweep` files, one per language, plus
/// `DIR/submit_all.sh` (its arguments go to every `kleene sweep --submit`).
fn write_sweeps(dir: &std::path::Path, langs: &[String]) -> Result<(), Box<dyn Error>> {
    let list = |v: &[usize]| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut runs = 0;
    for lang in langs {
        let sweep = sweep_of(lang)?;
        let steps = steps_for(lang, sweep.epochs, sweep.batch)?;
        let lang_dir = dir.join(lang);
        std::fs::create_dir_all(&lang_dir)?;
        // The grid's first point as the base; the grid overrides all three.
        let base = config(
            lang,
            sweep.ce,
            sweep.layers[0],
            sweep.d_model[0],
            sweep.lr[0],
            steps,
            sweep.batch,
            true,
        );
        std::fs::write(lang_dir.join("base.toml"), base)?;
        let lrs: Vec<String> = sweep.lr.iter().map(|lr| format!("{lr:e}")).collect();
        std::fs::write(
            lang_dir.join("sweep.toml"),
            format!(
                "# Sarrof et al. (2024), spec bhattamishra-flipflop-dyck.md §4.4: {lang}.\n\
                 base = \"base.toml\"\nout_dir = \"{}\"\n[grid]\n\
                 \"model.n_layers\" = [{}]\n\"model.d_model\" = [{}]\n\"training.lr\" = [{}]\n",
                std::path::absolute(lang_dir.join("runs"))?.display(),
                list(sweep.layers),
                list(sweep.d_model),
                lrs.join(", ")
            ),
        )?;
        runs += sweep.layers.len() * sweep.d_model.len() * sweep.lr.len();
    }
    let script = dir.join("submit_all.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/bash\n# Submits every language's grid as a Slurm job array plus its report job.\n\
             # Arguments go to each `kleene sweep --submit`, e.g. --partition cpu --time 12:00:00.\n\
             set -euo pipefail\nfor f in {}/*/sweep.toml; do\n  \"${{KLEENE:-kleene}}\" sweep \"$f\" --submit \"$@\"\ndone\n",
            dir.display()
        ),
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    eprintln!(
        "wrote {} sweep files ({runs} runs) under {} and {}; after the jobs, \
         `--from-sweeps {}` prints the table",
        langs.len(),
        dir.display(),
        script.display(),
        dir.display()
    );
    Ok(())
}

/// `--from-sweeps DIR`: the finished runs of [`write_sweeps`]'s files (unfinished ones are
/// counted and left out).
fn read_sweeps(dir: &std::path::Path, langs: &[String]) -> Result<Vec<Result1>, Box<dyn Error>> {
    let mut results = Vec::new();
    let mut missing = 0;
    for lang in langs {
        let task = kleene::langs::task_by_name(lang)?;
        let train = task
            .splits()
            .into_iter()
            .find(|s| s.name == "train")
            .ok_or(format!("task `{lang}` has no train split"))?;
        for run in kleene::train::sweep::load(&dir.join(lang).join("sweep.toml"))?.runs {
            let Ok(result) = kleene::eval::RunResult::read_json(&run.run_dir.join("result.json"))
            else {
                missing += 1;
                continue;
            };
            let kleene::zoo::ModelConfig::Mamba(model) = &run.config.model else {
                return Err(format!("{}: not a Mamba run", run.run_dir.display()).into());
            };
            results.push(Result1 {
                lang: lang.clone(),
                layers: model.n_layers,
                d_model: model.d_model,
                lr: run.config.training.lr,
                report: EvalReport::from_result(
                    result,
                    lang,
                    kleene::train::config::EvalProtocol::Splits,
                    (train.min_len, train.max_len),
                    0,
                ),
            });
        }
    }
    // The table groups by (language, layers) in order.
    results.sort_by_key(|r| (langs.iter().position(|l| *l == r.lang), r.layers, r.d_model));
    if missing > 0 {
        eprintln!(
            "{missing} run(s) without a result.json left out (`kleene sweep status DIR/<lang>/sweep.toml`)"
        );
    }
    Ok(results)
}

/// Best run per (language, layers) by its last bin's sequence accuracy, then one row each:
/// strict (whole-string) accuracy per bin, relaxed (per-position) accuracy in brackets.
fn print_table(results: &[Result1]) {
    println!("\n### Mamba on the Bhattamishra languages: strict accuracy per bin (relaxed)\n");
    println!("| language | layers | d_model | lr | trained on | bin0 | bin1 | bin2 |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut keys: Vec<(&str, usize)> = results
        .iter()
        .map(|r| (r.lang.as_str(), r.layers))
        .collect();
    keys.dedup();
    for (lang, layers) in keys {
        let best = results
            .iter()
            .filter(|r| r.lang == lang && r.layers == layers)
            .max_by(|a, b| {
                let last = |r: &Result1| r.report.rows.last().map_or(0.0, |x| x.seq_acc);
                last(a).total_cmp(&last(b))
            })
            .expect("at least one run per key");
        let rep = &best.report;
        print!(
            "| {lang} | {layers} | {} | {:e} | 1..={} |",
            best.d_model, best.lr, rep.train_max_len
        );
        for bin in ["bin0", "bin1", "bin2"] {
            match rep.rows.iter().find(|r| r.name == bin) {
                Some(r) => print!(
                    " {:.1}% ({:.1}%) [{}..={}] |",
                    100.0 * r.seq_acc,
                    100.0 * r.pos_acc,
                    r.min_len,
                    r.max_len
                ),
                None => print!(" - |"),
            }
        }
        println!();
    }
}
