//! Akyürek et al. (2024) synthetics: associative recall and induction heads, scored at the
//! final (query) token; AdamW with linear warm-up and decay. Default: 2-layer transformer
//! and Mamba, d_model 64, 300 steps. `--full`: 200 epochs of the published set sizes.
//!
//!     cargo run --release --example akyurek2024_synthetics [-- --full]

#[path = "paper_runs/mod.rs"]
mod paper_runs;

fn main() {
    let full = paper_runs::full();
    let steps = if full { 200 * 313 } else { 300 };
    let mut runs = Vec::new();
    for task in ["associative-recall", "induction-head"] {
        for (name, model) in [
            (
                "transformer",
                "kind = \"transformer\"\nd_model = 64\nn_layers = 2\nn_heads = 1\n",
            ),
            ("mamba", "kind = \"mamba\"\nd_model = 64\nn_layers = 2\n"),
        ] {
            let toml = format!(
                "[task]\nname = \"{task}\"\n[model]\n{model}\
                 [training]\nsteps = {steps}\nbatch_size = 32\nlr = 1e-3\noptimizer = \"adam_w\"\n\
                 weight_decay = 0.1\nschedule = {{ kind = \"linear\", warmup_steps = {} }}\n\
                 curriculum = \"mixed\"\nlog_every = 50\ncheckpoint_every = 5000\n[eval]\nmax_examples = {}\n",
                steps / 10,
                if full { 0 } else { 128 }
            );
            runs.push((format!("{task}-{name}"), toml));
        }
    }
    paper_runs::run_all("akyurek2024_synthetics", runs);
}
