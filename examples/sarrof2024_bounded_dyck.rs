//! Sarrof et al. (2024), bounded Dyck-(8, 10): next-token language modelling with Mamba,
//! Adam, learning rate halved when the loss plateaus. Default: 1 layer, d_model 32.
//! `--full`: 2 layers, d_model 64, batch 10, ~20 epochs of 200k strings (the paper's
//! largest grid cell; the close-accuracy protocol itself is in kleene-eval).
//!
//!     cargo run --release --example sarrof2024_bounded_dyck [-- --full]

#[path = "paper_runs/mod.rs"]
mod paper_runs;

fn main() {
    let full = paper_runs::full();
    let (d, layers, steps, batch) = if full {
        (64, 2, 400_000, 10)
    } else {
        (32, 1, 400, 16)
    };
    let toml = format!(
        "[task]\nname = \"bounded-dyck\"\n[model]\nkind = \"mamba\"\nd_model = {d}\nn_layers = {layers}\n\
         [training]\nsteps = {steps}\nbatch_size = {batch}\nlr = 1e-3\noptimizer = \"adam\"\n\
         schedule = {{ kind = \"plateau\", factor = 0.5, patience = 0, interval = {} }}\n\
         log_every = 50\ncheckpoint_every = 1000\n[eval]\nmax_examples = {}\n",
        if full { 20_000 } else { 100 },
        if full { 0 } else { 128 }
    );
    paper_runs::run_all(
        "sarrof2024_bounded_dyck",
        vec![("bounded-dyck".into(), toml)],
    );
}
