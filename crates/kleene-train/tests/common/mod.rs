//! Test-only model and tasks (the real ones live in kleene-zoo and kleene-langs).
#![allow(dead_code)]

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use kleene_langs::{Example, LangError, SplitSpec, Target, TargetKind, Task};
use kleene_zoo::SequenceModel;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A tiny real run: Mamba on Tomita-2 = (10)*, star-free, per-position next-symbol classes;
/// 40 steps, metrics every 10, a checkpoint every 20, evaluated on lengths 2..=20.
pub const MAMBA_TOMITA2: &str = r#"
[task]
name = "tomita-2"
train_min_len = 2
train_max_len = 10
[model]
kind = "mamba"
d_model = 8
n_layers = 1
d_state = 4
[training]
steps = 40
batch_size = 8
lr = 0.01
log_every = 10
checkpoint_every = 20
[eval]
protocol = "lengths"
min_len = 2
max_len = 20
len_step = 6
samples_per_len = 8
"#;

/// Embedding -> [x_t, running mean of x_0..x_t] -> ReLU MLP -> logits. Causal; its
/// `step` replays the token history (test-only; slow but exact).
#[derive(Module, Debug)]
pub struct TinyModel<B: Backend> {
    pub embedding: Embedding<B>,
    pub hidden: Linear<B>,
    pub head: Linear<B>,
    pub out: usize,
}

impl<B: Backend> TinyModel<B> {
    pub fn new(vocab: usize, d: usize, out: usize, device: &B::Device) -> Self {
        TinyModel {
            embedding: EmbeddingConfig::new(vocab, d).init(device),
            hidden: LinearConfig::new(2 * d, 2 * d).init(device),
            head: LinearConfig::new(2 * d, out).init(device),
            out,
        }
    }
}

impl<B: Backend> SequenceModel<B> for TinyModel<B> {
    type State = Vec<Tensor<B, 1, Int>>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [_, l] = tokens.dims();
        let x = self.embedding.forward(tokens);
        let device = x.device();
        let counts = Tensor::<B, 1, Int>::arange(1..(l as i64 + 1), &device)
            .float()
            .reshape([1, l, 1]);
        let mean = x.clone().cumsum(1) / counts;
        let h = relu(self.hidden.forward(Tensor::cat(vec![x, mean], 2)));
        self.head.forward(h)
    }

    fn init_state(&self, _batch: usize, _device: &B::Device) -> Self::State {
        Vec::new()
    }

    fn step(
        &self,
        tokens: Tensor<B, 1, Int>,
        mut state: Self::State,
    ) -> (Tensor<B, 2>, Self::State) {
        let [b] = tokens.dims();
        state.push(tokens);
        let l = state.len();
        let seq = Tensor::stack::<2>(state.clone(), 1);
        let out = self
            .forward(seq)
            .slice([0..b, l - 1..l])
            .reshape([b, self.out]);
        (out, state)
    }

    fn out_dim(&self) -> usize {
        self.out
    }
}

/// Tokens over {a, b, c}; per-position target = the token itself (a trivial copy task
/// every model learns fast). Splits: train 1..=8, longer 9..=16.
pub struct EchoTask;

impl Task for EchoTask {
    fn name(&self) -> &str {
        "echo"
    }
    fn description(&self) -> &str {
        "copy the current token"
    }
    fn vocab(&self) -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }
    fn classes(&self) -> Vec<String> {
        self.vocab()
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
        let n = rng.random_range(min_len..=max_len);
        let tokens: Vec<u32> = (0..n).map(|_| rng.random_range(0..3)).collect();
        Ok(Example {
            target: Target::PerPosition(tokens.clone()),
            tokens,
        })
    }
    fn splits(&self) -> Vec<SplitSpec> {
        vec![
            SplitSpec {
                name: "train".into(),
                min_len: 1,
                max_len: 8,
                size: 256,
            },
            SplitSpec {
                name: "longer".into(),
                min_len: 9,
                max_len: 16,
                size: 64,
            },
        ]
    }
    fn next_symbol_sets(&self, tokens: &[u32]) -> Option<Vec<Vec<bool>>> {
        // Any symbol may follow, except that a `c` is never followed by another `c`
        // (a made-up rule, enough to give the sets some structure).
        Some(tokens.iter().map(|&t| vec![true, true, t != 2]).collect())
    }
}

/// Majority: Final target 1 iff more `b` than `a` (ties -> 0). Read at the last step.
pub struct MajorityTask;

impl Task for MajorityTask {
    fn name(&self) -> &str {
        "majority"
    }
    fn description(&self) -> &str {
        "more b than a?"
    }
    fn vocab(&self) -> Vec<String> {
        vec!["a".into(), "b".into()]
    }
    fn classes(&self) -> Vec<String> {
        vec!["no".into(), "yes".into()]
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Final
    }
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let n = rng.random_range(min_len..=max_len);
        let tokens: Vec<u32> = (0..n).map(|_| rng.random_range(0..2)).collect();
        let bs = tokens.iter().filter(|&&t| t == 1).count();
        Ok(Example {
            target: Target::Final((2 * bs > n) as u32),
            tokens,
        })
    }
    fn splits(&self) -> Vec<SplitSpec> {
        vec![SplitSpec {
            name: "train".into(),
            min_len: 1,
            max_len: 9,
            size: 256,
        }]
    }
}

/// Masked targets: class = the current token, scored only at even positions >= 2.
pub struct MaskedTask;

impl Task for MaskedTask {
    fn name(&self) -> &str {
        "masked"
    }
    fn description(&self) -> &str {
        "copy the token at even positions"
    }
    fn vocab(&self) -> Vec<String> {
        vec!["a".into(), "b".into()]
    }
    fn classes(&self) -> Vec<String> {
        self.vocab()
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::Masked
    }
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let n = rng.random_range(min_len.max(3)..=max_len.max(3));
        let tokens: Vec<u32> = (0..n).map(|_| rng.random_range(0..2)).collect();
        let classes = tokens.clone();
        let mask = (0..n).map(|t| t >= 2 && t % 2 == 0).collect();
        Ok(Example {
            target: Target::Masked { classes, mask },
            tokens,
        })
    }
    fn splits(&self) -> Vec<SplitSpec> {
        vec![SplitSpec {
            name: "train".into(),
            min_len: 3,
            max_len: 10,
            size: 256,
        }]
    }
}

/// A config for the test model (the `[model]` section, a small zoo Mamba, is only
/// fingerprinted here: the test model is built in code).
pub fn config(task: &str, steps: u64, extra_training: &str) -> kleene_train::RunConfig {
    let text = format!(
        "[task]\nname = \"{task}\"\n\n[model]\nkind = \"mamba\"\nd_model = 8\n\n[training]\nsteps = {steps}\nbatch_size = 16\nlr = 0.01\nlog_every = 5\ncheckpoint_every = 10\n{extra_training}\n"
    );
    kleene_train::RunConfig::parse(&text, std::path::Path::new("test.toml")).unwrap()
}
