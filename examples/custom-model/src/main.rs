//! A researcher's own language and own layer, run through kleene as a library.
//!
//! - The language `last-letter`: strings over {a, b, c}; after each symbol, the last of `a`
//!   and `b` seen so far (`a` before any). `c` changes nothing: the model must hold one bit
//!   across any number of `c`s (a set/reset memory, as flip-flop).
//! - The layer `GatedRnn`: a gated linear recurrence, `h_t = f_t ⊙ h_{t-1} + (1 − f_t) ⊙ u_t`
//!   with `(f_t, u_t) = (σ(W_f x_t + b_f), W_u x_t)`, then a linear output map. It runs in
//!   kleene's pre-norm residual stack ([`ResidualStack`]) between an embedding and a head,
//!   registered as the model kind `gated_rnn`.
//!
//! Both are registered by name, and from then on `run`, `eval`, sweeps and reports take them
//! as they take the built-in tasks and models:
//!
//! ```sh
//! cargo run --release -p kleene-custom-model-example            # 300 steps, ~10 s
//! cargo run --release -p kleene-custom-model-example -- 50 DIR  # steps, output folder
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};

use kleene::burn; // `#[derive(Module)]` names `burn::...`: kleene's own, at its exact version.
use kleene::burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use kleene::burn::tensor::activation::sigmoid;
use kleene::prelude::*;
use kleene::scan::ScanBackend;
use kleene::serde::Deserialize;
use kleene::zoo::backbone::{NormKind, ResidualStack};

// ---------------------------------------------------------------------------------------
// The language.

/// `last-letter`: after each symbol, the last `a` or `b` so far (class 0 = a, 1 = b).
pub struct LastLetter;

/// The oracle: label of every prefix of `tokens` (0 = a, 1 = b, 2 = c).
pub fn last_letter_labels(tokens: &[u32]) -> Vec<u32> {
    let mut last = 0;
    tokens
        .iter()
        .map(|&t| {
            if t < 2 {
                last = t;
            }
            last
        })
        .collect()
}

impl Task for LastLetter {
    fn name(&self) -> &str {
        "last-letter"
    }
    fn description(&self) -> &str {
        "after each symbol of a string over {a, b, c}: the last a or b so far"
    }
    fn vocab(&self) -> Vec<String> {
        ["a", "b", "c"].map(String::from).to_vec()
    }
    fn classes(&self) -> Vec<String> {
        ["a", "b"].map(String::from).to_vec()
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::PerPosition
    }
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let len = rng.random_range(min_len.max(1)..=max_len.max(1));
        // Mostly `c`s, so that the bit must be held over long gaps.
        let tokens: Vec<u32> = (0..len)
            .map(|_| match rng.random_range(0..10) {
                0 => 0,
                1 => 1,
                _ => 2,
            })
            .collect();
        let labels = last_letter_labels(&tokens);
        Ok(Example {
            tokens,
            target: Target::PerPosition(labels),
        })
    }
    fn splits(&self) -> Vec<SplitSpec> {
        let split = |name: &str, min_len, max_len, size| SplitSpec {
            name: name.into(),
            min_len,
            max_len,
            size,
        };
        vec![
            split("train", 1, 20, 512),
            split("test", 1, 20, 128),
            split("longer", 21, 200, 128),
        ]
    }
}

// ---------------------------------------------------------------------------------------
// The layer.

/// The gated linear recurrence of the module docs, `(batch, len, d) -> (batch, len, d)`.
#[derive(Module, Debug)]
pub struct GatedRnn<B: Backend> {
    /// `x -> [gate pre-activation, candidate]`, `d -> 2d`.
    input: Linear<B>,
    output: Linear<B>,
}

impl<B: Backend> GatedRnn<B> {
    pub fn new(d_model: usize, device: &B::Device) -> Self {
        Self {
            input: LinearConfig::new(d_model, 2 * d_model).init(device),
            output: LinearConfig::new(d_model, d_model).init(device),
        }
    }

    /// One step of the recurrence from the projected input `(batch, 2d)`.
    fn recur(&self, projected: Tensor<B, 2>, h: Tensor<B, 2>) -> Tensor<B, 2> {
        let [b, two_d] = projected.dims();
        let d = two_d / 2;
        let f = sigmoid(projected.clone().slice([0..b, 0..d]));
        let u = projected.slice([0..b, d..two_d]);
        f.clone() * h + (f.ones_like() - f) * u
    }
}

impl<B: ScanBackend> SequenceLayer<B> for GatedRnn<B> {
    type State = Tensor<B, 2>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, l, d] = x.dims();
        let projected = self.input.forward(x);
        let mut h = Tensor::zeros([b, d], &projected.device());
        let mut hs = Vec::with_capacity(l);
        for t in 0..l {
            let p_t = projected
                .clone()
                .slice([0..b, t..t + 1])
                .reshape([b, 2 * d]);
            h = self.recur(p_t, h);
            hs.push(h.clone().reshape([b, 1, d]));
        }
        self.output.forward(Tensor::cat(hs, 1))
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let d = self.output.weight.dims()[0];
        Tensor::zeros([batch, d], device)
    }

    fn step(&self, x: Tensor<B, 2>, h: Self::State) -> (Tensor<B, 2>, Self::State) {
        let h = self.recur(self.input.forward(x), h);
        (self.output.forward(h.clone()), h)
    }
}

// ---------------------------------------------------------------------------------------
// The model kind: embedding, kleene's residual stack of `GatedRnn`s, linear head.

/// `[model] kind = "custom"`, `name = "gated_rnn"`, and these settings.
#[derive(Debug, Deserialize)]
#[serde(crate = "kleene::serde", default, deny_unknown_fields)]
pub struct GatedRnnConfig {
    /// Width. > 0. Default 16.
    pub d_model: usize,
    /// Residual blocks. > 0. Default 1.
    pub n_layers: usize,
}

impl Default for GatedRnnConfig {
    fn default() -> Self {
        Self {
            d_model: 16,
            n_layers: 1,
        }
    }
}

#[derive(Module, Debug)]
pub struct GatedRnnModel<B: Backend> {
    embed: Embedding<B>,
    stack: ResidualStack<B, GatedRnn<B>>,
    head: Linear<B>,
}

impl<B: ScanBackend> SequenceModel<B> for GatedRnnModel<B> {
    type State = Vec<Tensor<B, 2>>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.head
            .forward(self.stack.forward(self.embed.forward(tokens)))
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        self.stack.init_state(batch, device)
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [b] = tokens.dims();
        let x = self.embed.forward(tokens.reshape([b, 1]));
        let d = x.dims()[2];
        let (y, state) = self.stack.step(x.reshape([b, d]), state);
        (self.head.forward(y), state)
    }

    fn out_dim(&self) -> usize {
        self.head.weight.dims()[1]
    }
}

/// The registered kind: how kleene checks and builds a `gated_rnn`.
pub struct GatedRnnKind;

impl ModelKind for GatedRnnKind {
    type Config = GatedRnnConfig;
    type Model<B: ScanBackend> = GatedRnnModel<B>;

    fn description(&self) -> String {
        "gated linear RNN in kleene's pre-norm residual stack (examples/custom-model)".into()
    }

    fn validate(&self, c: &GatedRnnConfig, _vocab: usize, _out: usize) -> Result<(), ZooError> {
        for (field, value) in [("d_model", c.d_model), ("n_layers", c.n_layers)] {
            if value == 0 {
                return Err(ZooError::invalid(
                    format!("gated_rnn.{field}"),
                    "must be > 0",
                ));
            }
        }
        Ok(())
    }

    fn init<B: ScanBackend>(
        &self,
        c: &GatedRnnConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Result<GatedRnnModel<B>, ZooError> {
        let mixers = (0..c.n_layers)
            .map(|_| GatedRnn::new(c.d_model, device))
            .collect();
        Ok(GatedRnnModel {
            embed: EmbeddingConfig::new(vocab_size, c.d_model).init(device),
            stack: ResidualStack::new(mixers, NormKind::LayerNorm, c.d_model, 1e-5, None, device),
            head: LinearConfig::new(c.d_model, out_dim).init(device),
        })
    }
}

// ---------------------------------------------------------------------------------------
// The program.

/// Registers the language and the model kind (once per process).
pub fn register() -> Result<(), Box<dyn Error>> {
    static ONCE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        kleene::langs::register_task(|| Box::new(LastLetter), &[]).map_err(|e| e.to_string())?;
        register_model("gated_rnn", GatedRnnKind).map_err(|e| e.to_string())
    })
    .clone()
    .map_err(Into::into)
}

/// The run config, written as a user would write it in a TOML file.
pub fn config_toml(steps: u64, out_dir: &Path) -> String {
    format!(
        r#"out_dir = "{}"

[task]
name = "last-letter"

[model]
kind = "custom"
name = "gated_rnn"
d_model = 16
n_layers = 1

[training]
steps = {steps}
batch_size = 32
lr = 0.01
seed = 0
"#,
        out_dir.display()
    )
}

/// What [`demo`] did, for the caller (and the test) to check.
pub struct Demo {
    pub trained: RunSummary,
    pub re_evaluated: EvalReport,
    pub sweep_markdown: String,
}

/// Trains `gated_rnn` on `last-letter` into `out/run`, re-evaluates the run directory by name,
/// and sweeps two seeds into `out/sweep` with the combined report.
pub fn demo(steps: u64, out: &Path) -> Result<Demo, Box<dyn Error>> {
    register()?;
    std::fs::create_dir_all(out)?;
    let config_path = out.join("gated_rnn.toml");
    std::fs::write(&config_path, config_toml(steps, &out.join("run")))?;
    let cfg = RunConfig::load(&config_path)?;
    let run_dir = cfg.run_dir()?;
    let trained = run(
        BackendKind::Ndarray,
        &cfg,
        &run_dir,
        &TrainOptions::default(),
        |_| {},
    )?;
    let re_evaluated = kleene::train::run::eval(BackendKind::Ndarray, &run_dir, |_| {})?;

    let sweep_path = out.join("sweep.toml");
    std::fs::write(
        &sweep_path,
        format!(
            "base = \"gated_rnn.toml\"\nout_dir = \"{}\"\n[grid]\n\"training.seed\" = [0, 1]\n",
            out.join("sweep").display()
        ),
    )?;
    let sweep = kleene::train::sweep::load(&sweep_path)?;
    sweep.write_manifest()?;
    for r in &sweep.runs {
        run(
            BackendKind::Ndarray,
            &r.config,
            &r.run_dir,
            &TrainOptions::default(),
            |_| {},
        )?;
    }
    let sweep_markdown = match sweep.write_report()? {
        kleene::train::sweep::SweepReport::Written { report, .. } => report.to_markdown(),
        other => return Err(format!("the sweep's report was not written: {other:?}").into()),
    };
    Ok(Demo {
        trained,
        re_evaluated,
        sweep_markdown,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let steps = match args.next() {
        Some(s) => s.parse().map_err(|e| format!("steps `{s}`: {e}"))?,
        None => 300,
    };
    let out = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("runs/examples/custom-model"));
    if out.join("run").exists() {
        return Err(format!("{} exists: pass another output folder", out.display()).into());
    }
    let demo = demo(steps, &out)?;
    println!("{}", demo.trained.report.to_markdown());
    println!(
        "Sweep over two seeds ({}):\n{}",
        out.join("sweep").display(),
        demo.sweep_markdown
    );
    Ok(())
}

#[cfg(test)]
mod tests;
