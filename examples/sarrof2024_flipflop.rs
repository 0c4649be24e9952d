//! Sarrof et al. (2024), flip-flop: a 1-layer Mamba reads w/r/i instructions and must
//! output the last written bit at every read; evaluated in distribution (FFL(0.8)) and on
//! the sparse set (FFL(0.98), long gaps). Default: d_model 32, a few hundred steps.
//! `--full`: d_model 16, batch 16, 100,000 steps of MSE as the original README run (AdamW,
//! wd 0.1; the original lr 1e-5 is raised to 3e-4 here to finish in a sensible time).
//!
//!     cargo run --release --example sarrof2024_flipflop [-- --full]

#[path = "paper_runs/mod.rs"]
mod paper_runs;

fn main() {
    let full = paper_runs::full();
    let (d, steps, batch, lr, evaln) = if full {
        (16, 100_000, 16, 3e-4, 1000)
    } else {
        (32, 400, 16, 3e-3, 100)
    };
    let toml = format!(
        "[task]\nname = \"flipflop\"\n[model]\nkind = \"mamba\"\nd_model = {d}\nn_layers = 1\n\
         [training]\nsteps = {steps}\nbatch_size = {batch}\nlr = {lr}\noptimizer = \"adam_w\"\n\
         weight_decay = 0.1\nno_decay = []\nloss = \"mse\"\nlog_every = 50\ncheckpoint_every = 1000\n\
         [eval]\nmax_examples = {evaln}\nbatch_size = 50\n"
    );
    paper_runs::run_all("sarrof2024_flipflop", vec![("flipflop".into(), toml)]);
}
