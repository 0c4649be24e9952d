//! Terzić et al. (2025), SD-SSM: SD-SSM and a complex-diagonal SSM on the regular / group
//! tasks, trained on lengths 1..40 (one length per batch, Adam, batch 128, global clipping
//! 1.0), accuracy at every length. Default: parity and cycle navigation, 600 steps, curves
//! to length 200 in steps of 10. `--full`: the seven tasks, 1,000,000 steps, lengths 1..500
//! with 512 sequences each (the paper's protocol).
//!
//!     cargo run --release --example terzic2025_sdssm [-- --full]

#[path = "paper_runs/mod.rs"]
mod paper_runs;

fn main() {
    let full = paper_runs::full();
    let tasks: &[&str] = if full {
        &[
            "parity-check",
            "even-pairs",
            "cycle-navigation",
            "modular-arithmetic",
            "c2xc4",
            "d4",
            "a5",
        ]
    } else {
        &["parity-check", "cycle-navigation"]
    };
    let models: &[&str] = if full {
        &["sdssm", "complex_diagonal"]
    } else {
        &["sdssm"]
    };
    let (steps, max_len, step_len, samples) = if full {
        (1_000_000, 500, 1, 512)
    } else {
        (600, 200, 10, 64)
    };
    let mut runs = Vec::new();
    for task in tasks {
        for model in models {
            let toml = format!(
                "[task]\nname = \"{task}\"\ntrain_min_len = 1\ntrain_max_len = 40\n\
                 [model]\nkind = \"{model}\"\n\
                 [training]\nsteps = {steps}\nbatch_size = 128\nlr = 1e-3\noptimizer = \"adam\"\n\
                 grad_clip = 1.0\ncurriculum = \"uniform\"\nlog_every = 100\ncheckpoint_every = 5000\n\
                 [eval]\nprotocol = \"lengths\"\nmin_len = 1\nmax_len = {max_len}\nlen_step = {step_len}\n\
                 samples_per_len = {samples}\nseed = 1\n"
            );
            runs.push((format!("{task}-{model}"), toml));
        }
    }
    paper_runs::run_all("terzic2025_sdssm", runs);
}
