//! Sarrof, Veitsman & Hahn (2024), Bhattamishra suite: Mamba on formal languages, accuracy
//! per length bin. Default: three languages, a few hundred steps on the CPU.
//! `--full`: all 27 languages at the paper's setting (2-layer Mamba d_model 64, AdamW wd 0.1,
//! batch 32, 100 epochs over the fixed training split, MSE or CE as the original sweeps).
//!
//!     cargo run --release --example sarrof2024_bhattamishra [-- --full]

#[path = "paper_runs/mod.rs"]
mod paper_runs;

/// Languages the original code trains with CE (spec §4.3); the rest use MSE.
const CE_LANGUAGES: [&str; 9] = [
    "dyck-1",
    "shuffle-2",
    "shuffle-4",
    "shuffle-6",
    "anbn",
    "anbncn",
    "anbncndn",
    "012star-0-2star",
    "012star-0-2star-exact",
];

fn main() {
    let full = paper_runs::full();
    let languages: Vec<String> = if full {
        kleene::langs::bhattamishra::tasks()
            .into_iter()
            .map(|t| t.task.name().to_string())
            .collect()
    } else {
        vec!["tomita-4".into(), "parity".into(), "d-2".into()]
    };
    let runs = languages
        .into_iter()
        .map(|lang| {
            let loss = if CE_LANGUAGES.contains(&lang.as_str()) { "cross_entropy" } else { "mse" };
            let (d, layers, steps, lr, data) = if full {
                (64, 2, 31_300, 1e-3, "split") // 100 epochs x 10,000 / 32
            } else {
                (32, 1, 300, 3e-3, "stream")
            };
            let toml = format!(
                "[task]\nname = \"{lang}\"\n[model]\nkind = \"mamba\"\nd_model = {d}\nn_layers = {layers}\n\
                 [training]\nsteps = {steps}\nbatch_size = 32\nlr = {lr}\noptimizer = \"adam_w\"\n\
                 weight_decay = 0.1\nno_decay = []\nloss = \"{loss}\"\ndata = \"{data}\"\nlog_every = 50\n\
                 checkpoint_every = 1000\n[eval]\nmax_examples = {}\n",
                if full { 0 } else { 256 }
            );
            (lang, toml)
        })
        .collect();
    paper_runs::run_all("sarrof2024_bhattamishra", runs);
}
