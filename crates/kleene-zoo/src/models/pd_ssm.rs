//! The PD-SSM model of the FSA table (IBM `expressive-sparse-state-space-model`,
//! `state_tracking_PyTorch/models/pdssm.py`, class `PD`): token embedding, `n_layers`
//! [`PdSsm`] blocks applied in sequence (each ends in its own LayerNorm; no residual around
//! them), a linear head at every position.
//!
//! ```text
//! x = Embedding(tokens);  x = PD_Block_ℓ(x) for ℓ < n_layers;  logits = Linear(E, out_dim)(x)
//! ```
//! Upstream runs `E = N = 128`, `K = 8`, 2 blocks, dropout 0.01 (`train.py`, the experiment
//! configs). Init as upstream: embedding `N(0, 1)`, head PyTorch `nn.Linear` default. The
//! blocks' transition form defaults to the paper's scatter form; `block.form = "gather"` is the
//! row one-hot form of the PyTorch code that produced the published table (see
//! [`crate::layers::pd_ssm`]).

use burn::nn::{Embedding, Linear};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::init::{embedding_normal, linear_torch, lookup};
use crate::layers::pd_ssm::{PdSsm, PdSsmConfig, PdSsmState};
use crate::validate::positive;
use crate::{ScanBackend, SequenceLayer, SequenceModel, ZooError};

/// PD-SSM model. Defaults: upstream's FSA runs (E = N = 128, 2 blocks, K = 8) with the scatter
/// form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PdSsmModelConfig {
    /// Embedding width `E`. ≥ 1. Default 128.
    pub d_model: usize,
    /// Number of blocks. ≥ 1. Default 2.
    pub n_layers: usize,
    /// The blocks (`[model.block]`: state size, dictionary size, form, …). Default
    /// [`PdSsmConfig::default`].
    pub block: PdSsmConfig,
}

impl Default for PdSsmModelConfig {
    fn default() -> Self {
        Self {
            d_model: 128,
            n_layers: 2,
            block: PdSsmConfig::default(),
        }
    }
}

impl PdSsmModelConfig {
    /// Checks every field; errors name the field as `pd_ssm.<field>`.
    pub fn validate(&self, _vocab_size: usize, _out_dim: usize) -> Result<(), ZooError> {
        positive("pd_ssm.d_model", self.d_model)?;
        positive("pd_ssm.n_layers", self.n_layers)?;
        self.block.validate(self.d_model)
    }
}

/// Embedding, PD-SSM blocks, linear head.
#[derive(Module, Debug)]
pub struct PdSsmModel<B: Backend> {
    /// Token embedding `(vocab, E)`, `N(0, 1)`.
    pub embedding: Embedding<B>,
    /// The blocks, input first.
    pub blocks: Vec<PdSsm<B>>,
    /// `Linear(E, out_dim)` with bias.
    pub head: Linear<B>,
    out_dim: usize,
}

impl<B: Backend> PdSsmModel<B> {
    /// Builds the model (upstream's construction order: blocks, embedding, head).
    pub fn new(
        config: &PdSsmModelConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Result<Self, ZooError> {
        config.validate(vocab_size, out_dim)?;
        let e = config.d_model;
        let blocks = (0..config.n_layers)
            .map(|_| config.block.init(e, config.n_layers, device))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            blocks,
            embedding: embedding_normal(vocab_size, e, 1.0, device),
            head: linear_torch(e, out_dim, true, device),
            out_dim,
        })
    }
}

impl<B: ScanBackend> SequenceModel<B> for PdSsmModel<B> {
    /// One state per block.
    type State = Vec<PdSsmState<B>>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let x = self.embedding.forward(tokens);
        self.head
            .forward(self.blocks.iter().fold(x, |x, block| block.forward(x)))
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        self.blocks
            .iter()
            .map(|b| b.init_state(batch, device))
            .collect()
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let mut x = lookup(&self.embedding, tokens);
        let mut next = Vec::with_capacity(state.len());
        for (block, s) in self.blocks.iter().zip(state) {
            let (y, s) = block.step(x, s);
            x = y;
            next.push(s);
        }
        (self.head.forward(x), next)
    }

    fn out_dim(&self) -> usize {
        self.out_dim
    }
}
