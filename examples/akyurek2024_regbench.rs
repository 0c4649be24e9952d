//! Akyürek et al. (2024), REGBENCH: in-context learning of random DFAs with next-token
//! language modelling, AdamW (lr 2.5e-4, wd 0.1), cosine schedule with 10% warm-up.
//! Default: a 2-layer transformer and a 1-layer Mamba, d_model 64, 300 steps on
//! `regbench-1k`. `--full`: the zoo at the best sizes of the paper's sweep, 200 epochs of
//! the 40k-problem training set. (The n-gram baselines are in kleene-eval / kleene-langs.)
//!
//!     cargo run --release --example akyurek2024_regbench [-- --full]

#[path = "paper_runs/mod.rs"]
mod paper_runs;

fn main() {
    let full = paper_runs::full();
    let (task, steps) = if full {
        ("regbench-40k", 250_000)
    } else {
        ("regbench-1k", 300)
    };
    let models: Vec<(&str, String)> = if full {
        vec![
            (
                "transformer",
                "kind = \"transformer\"\nd_model = 128\nn_layers = 12\nn_heads = 2\n".into(),
            ),
            (
                "mamba",
                "kind = \"mamba\"\nd_model = 512\nn_layers = 8\n".into(),
            ),
            (
                "lstm",
                "kind = \"lstm\"\nhidden_size = 256\nnum_layers = 2\n".into(),
            ),
        ]
    } else {
        vec![
            (
                "transformer",
                "kind = \"transformer\"\nd_model = 64\nn_layers = 2\nn_heads = 2\n".into(),
            ),
            (
                "mamba",
                "kind = \"mamba\"\nd_model = 64\nn_layers = 1\n".into(),
            ),
        ]
    };
    let runs = models
        .into_iter()
        .map(|(name, model)| {
            let toml = format!(
                "[task]\nname = \"{task}\"\n[model]\n{model}\
                 [training]\nsteps = {steps}\nbatch_size = 32\nlr = 2.5e-4\noptimizer = \"adam_w\"\n\
                 weight_decay = 0.1\nno_decay = []\n\
                 schedule = {{ kind = \"cosine\", warmup_steps = {}, warmup_lr_init = 1e-6, min_lr_ratio = 0.1 }}\n\
                 curriculum = \"mixed\"\nlog_every = 50\ncheckpoint_every = 5000\n[eval]\nmax_examples = {}\n",
                steps / 10,
                if full { 0 } else { 64 }
            );
            (format!("{task}-{name}"), toml)
        })
        .collect();
    paper_runs::run_all("akyurek2024_regbench", runs);
}
