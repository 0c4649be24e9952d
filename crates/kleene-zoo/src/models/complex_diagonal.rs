//! Complex-diagonal selective SSMs: the four baselines of the SD-SSM repository
//! (spec `regular-tasks-sdssm.md` §3.3).
//!
//! Per block, on a real input sequence `u_t ∈ R^E`:
//! ```text
//! g_t = W_2 ReLU(W_1 u_t + b_1) + b_2          (E → 4N → 2N)
//! z_t = g_t[0:N] + i·g_t[N:2N];   a_t = z_t / |z_t|   (unit-modulus, no decay)
//! h_t = a_t ⊙ h_{t−1} (+ B u_t, B = B_re + i·B_im when with_b)
//! h_{−1} = exp(iθ), θ ~ U[0, 2π) drawn once (a fixed, non-trainable parameter)
//! y_t = readout([Re h_t ; Im h_t])
//! ```
//! The model embeds one-hot tokens (`u = W_emb x`, `E × vocab`, no bias) and stacks
//! `num_layers` blocks: block ℓ < last reads out `2N → 2N → N` with an MLP, the last block
//! reads out to `out_dim` (linear `2N → C` or MLP `2N → 2N → C`).
//!
//! | repository name | `with_b` | `readout` | `num_layers` |
//! |---|---|---|---|
//! | `complex_diagonal_no_B_linear` | false | linear | 1 |
//! | `complex_diagonal_no_B_nonlinear` | false | mlp | 1 |
//! | `complex_diagonal_with_B_linear` | true | linear | 1 |
//! | `complex_diagonal_with_B_nonlinear` (multilayer) | true | mlp | ≥ 1 |

use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::Distribution;

use serde::{Deserialize, Serialize};

use crate::init::{embedding_uniform, linear_torch, linear_uniform, lookup};
use crate::models::sdssm::Readout;
use crate::models::sdssm::ReadoutKind;
use crate::ops::recurrence;
use crate::validate::positive;
use crate::{ScanBackend, SequenceModel, ZooError};

/// Complex-diagonal selective SSM. Defaults: `complex_diagonal_with_B_nonlinear` with one
/// layer (the variant behind the paper's Table 1), N 64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplexDiagonalConfig {
    /// Complex state size `N`. Default 64.
    pub state_size: usize,
    /// Embedding width `E`; `None` = vocabulary size (the repository's `embed_size=-1`).
    pub embed_size: Option<usize>,
    /// Additive input `B e_t` in the recurrence. Default true.
    pub with_b: bool,
    /// `linear` or `mlp` readout on `[Re h; Im h]`. Default `mlp`.
    pub readout: ReadoutKind,
    /// Number of stacked blocks; `> 1` needs `with_b = true` and `readout = "mlp"`
    /// (the repository's multilayer variant). Default 1.
    pub num_layers: usize,
}

impl Default for ComplexDiagonalConfig {
    fn default() -> Self {
        Self {
            state_size: 64,
            embed_size: None,
            with_b: true,
            readout: ReadoutKind::Mlp,
            num_layers: 1,
        }
    }
}

impl ComplexDiagonalConfig {
    /// Checks every field (and the sizes the model will be built with); errors name the
    /// field as `<kind>.<field>`.
    pub fn validate(&self, _vocab_size: usize, _out_dim: usize) -> Result<(), ZooError> {
        let c = self;
        positive("complex_diagonal.state_size", c.state_size)?;
        if let Some(e) = c.embed_size {
            positive("complex_diagonal.embed_size", e)?;
        }
        positive("complex_diagonal.num_layers", c.num_layers)?;
        if c.num_layers > 1 && !(c.with_b && c.readout == ReadoutKind::Mlp) {
            return Err(ZooError::invalid(
                "complex_diagonal.num_layers",
                "more than one layer exists only for with_b = true and readout = \"mlp\"",
            ));
        }
        Ok(())
    }
}

/// One complex-diagonal block with its per-position readout.
#[derive(Module, Debug)]
pub struct ComplexDiagonalBlock<B: Backend> {
    /// Transition generator, first layer `E -> 4N`.
    pub gen1: Linear<B>,
    /// Transition generator, second layer `4N -> 2N` (real parts, then imaginary parts).
    pub gen2: Linear<B>,
    /// `B_re`, `E -> N`, no bias, `U(±√3/√(N+E))` (absent without B).
    pub b_re: Option<Linear<B>>,
    /// `B_im`, same shape and init.
    pub b_im: Option<Linear<B>>,
    /// Phases θ of the initial state `h_{-1} = exp(iθ)`; fixed (no gradient), saved.
    pub initial_phase: Param<Tensor<B, 1>>,
    /// Readout on `[Re h; Im h]`.
    pub readout: Readout<B>,
    state_size: usize,
}

impl<B: Backend> ComplexDiagonalBlock<B> {
    fn new(
        input: usize,
        n: usize,
        with_b: bool,
        readout: ReadoutKind,
        out: usize,
        device: &B::Device,
    ) -> Self {
        let b_bound = 3f64.sqrt() / ((n + input) as f64).sqrt();
        let phase = Tensor::random(
            [n],
            Distribution::Uniform(0.0, 2.0 * std::f64::consts::PI),
            device,
        );
        Self {
            gen1: linear_torch(input, 4 * n, true, device),
            gen2: linear_torch(4 * n, 2 * n, true, device),
            b_re: with_b.then(|| linear_uniform(input, n, false, b_bound, device)),
            b_im: with_b.then(|| linear_uniform(input, n, false, b_bound, device)),
            initial_phase: Param::from_tensor(phase).set_require_grad(false),
            readout: Readout::new(readout, 2 * n, 2 * n, out, device),
            state_size: n,
        }
    }

    /// `a = z/|z|` as (re, im), on any rank.
    fn transition<const D: usize>(&self, u: Tensor<B, D>) -> (Tensor<B, D>, Tensor<B, D>) {
        let n = self.state_size;
        let g = self.gen2.forward(relu(self.gen1.forward(u)));
        let re = g.clone().narrow(D - 1, 0, n);
        let im = g.narrow(D - 1, n, n);
        let modulus = (re.clone().powi_scalar(2) + im.clone().powi_scalar(2)).sqrt();
        (re / modulus.clone(), im / modulus)
    }

    /// `B u` as (re, im), zeros without B.
    fn input<const D: usize>(
        &self,
        u: Tensor<B, D>,
        like: &Tensor<B, D>,
    ) -> (Tensor<B, D>, Tensor<B, D>) {
        match (&self.b_re, &self.b_im) {
            (Some(br), Some(bi)) => (br.forward(u.clone()), bi.forward(u)),
            _ => (like.zeros_like(), like.zeros_like()),
        }
    }

    fn initial_state(&self, batch: usize) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let theta = self
            .initial_phase
            .val()
            .unsqueeze::<2>()
            .repeat_dim(0, batch);
        (theta.clone().cos(), theta.sin())
    }
}

impl<B: ScanBackend> ComplexDiagonalBlock<B> {
    fn forward(&self, u: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, _, _] = u.dims();
        let (ar, ai) = self.transition(u.clone());
        let (xr, xi) = self.input(u, &ar);
        let (hr, hi) = recurrence::complex_diagonal((ar, ai), (xr, xi), self.initial_state(batch));
        self.readout.forward(Tensor::cat(vec![hr, hi], 2))
    }

    fn step(
        &self,
        u: Tensor<B, 2>,
        (hr, hi): (Tensor<B, 2>, Tensor<B, 2>),
    ) -> (Tensor<B, 2>, (Tensor<B, 2>, Tensor<B, 2>)) {
        let (ar, ai) = self.transition(u.clone());
        let (xr, xi) = self.input(u, &ar);
        let nr = ar.clone() * hr.clone() - ai.clone() * hi.clone() + xr;
        let ni = ar * hi + ai * hr + xi;
        let y = self
            .readout
            .forward(Tensor::cat(vec![nr.clone(), ni.clone()], 1));
        (y, (nr, ni))
    }
}

/// Embedding + stacked complex-diagonal blocks.
#[derive(Module, Debug)]
pub struct ComplexDiagonalSsm<B: Backend> {
    /// `W_emb` as a table `[vocab, E]`, `U(±1/√vocab)`.
    pub embedding: Embedding<B>,
    /// The blocks, input first.
    pub blocks: Vec<ComplexDiagonalBlock<B>>,
    out_dim: usize,
}

impl<B: Backend> ComplexDiagonalSsm<B> {
    /// Builds the model; the config must have been validated.
    pub fn new(
        config: &ComplexDiagonalConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Self {
        let n = config.state_size;
        let e = config.embed_size.unwrap_or(vocab_size);
        let blocks = (0..config.num_layers)
            .map(|l| {
                let input = if l == 0 { e } else { n };
                let last = l + 1 == config.num_layers;
                let out = if last { out_dim } else { n };
                ComplexDiagonalBlock::new(input, n, config.with_b, config.readout, out, device)
            })
            .collect();
        Self {
            embedding: embedding_uniform(vocab_size, e, 1.0 / (vocab_size as f64).sqrt(), device),
            blocks,
            out_dim,
        }
    }
}

impl<B: ScanBackend> SequenceModel<B> for ComplexDiagonalSsm<B> {
    /// `(Re h, Im h)` per block, `(batch, N)` each.
    type State = Vec<(Tensor<B, 2>, Tensor<B, 2>)>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let u = self.embedding.forward(tokens);
        self.blocks.iter().fold(u, |u, block| block.forward(u))
    }

    fn init_state(&self, batch: usize, _device: &B::Device) -> Self::State {
        self.blocks.iter().map(|b| b.initial_state(batch)).collect()
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let mut u = lookup(&self.embedding, tokens);
        let mut next = Vec::with_capacity(state.len());
        for (block, s) in self.blocks.iter().zip(state) {
            let (y, s) = block.step(u, s);
            u = y;
            next.push(s);
        }
        (u, next)
    }

    fn out_dim(&self) -> usize {
        self.out_dim
    }
}
