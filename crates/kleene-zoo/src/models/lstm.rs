//! LSTM model (spec `regular-tasks-sdssm.md` §3.4: `torch.nn.LSTM` + bias-free linear head).
//!
//! ```text
//! [i, f, g, o] = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh      (gate order of PyTorch)
//! c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g),   h_t = σ(o) ⊙ tanh(c_t),   h_{−1} = c_{−1} = 0
//! y_t = W_o h^L_t                                            (no bias)
//! ```
//! Layer 1 reads one-hot tokens; all weights and biases `U(±1/√N)` (PyTorch). The layers are
//! the LSTM mixer of [`crate::layers::lstm`] with PyTorch's default init.

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::init::linear_uniform;
use crate::layers::lstm::{Lstm, LstmState};
use crate::validate::positive;
use crate::{ScanBackend, SequenceLayer, SequenceModel, ZooError};

/// LSTM on one-hot inputs with a bias-free linear head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmConfig {
    /// Hidden size. Default 64.
    pub hidden_size: usize,
    /// Stacked layers. Default 1.
    pub num_layers: usize,
}

impl Default for LstmConfig {
    fn default() -> Self {
        Self {
            hidden_size: 64,
            num_layers: 1,
        }
    }
}

impl LstmConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, _vocab_size: usize, _out_dim: usize) -> Result<(), ZooError> {
        positive("lstm.hidden_size", self.hidden_size)?;
        positive("lstm.num_layers", self.num_layers)
    }
}

/// Stacked LSTM on one-hot inputs with a bias-free linear head.
#[derive(Module, Debug)]
pub struct LstmModel<B: Backend> {
    /// Layers, input first.
    pub layers: Vec<Lstm<B>>,
    /// `W_o`, no bias.
    pub head: Linear<B>,
    vocab_size: usize,
    hidden_size: usize,
}

impl<B: Backend> LstmModel<B> {
    /// Builds the model; the config must have been validated.
    pub fn new(config: &LstmConfig, vocab_size: usize, out_dim: usize, device: &B::Device) -> Self {
        let n = config.hidden_size;
        let layers = (0..config.num_layers)
            .map(|l| Lstm::pytorch_default(if l == 0 { vocab_size } else { n }, n, device))
            .collect();
        Self {
            layers,
            head: linear_uniform(n, out_dim, false, 1.0 / (n as f64).sqrt(), device),
            vocab_size,
            hidden_size: n,
        }
    }
}

impl<B: ScanBackend> SequenceModel<B> for LstmModel<B> {
    /// `(h, c)` per layer, `(batch, N)` each.
    type State = Vec<(Tensor<B, 2>, Tensor<B, 2>)>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let mut x: Tensor<B, 3> = tokens.one_hot::<3>(self.vocab_size).float();
        for layer in &self.layers {
            x = layer.forward(x);
        }
        self.head.forward(x)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let n = self.hidden_size;
        self.layers
            .iter()
            .map(|_| {
                (
                    Tensor::zeros([batch, n], device),
                    Tensor::zeros([batch, n], device),
                )
            })
            .collect()
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let mut x: Tensor<B, 2> = tokens.one_hot::<2>(self.vocab_size).float();
        let mut next = Vec::with_capacity(state.len());
        for (layer, (h, c)) in self.layers.iter().zip(state) {
            let LstmState { h, c } = layer.cell(layer.input.forward(x), LstmState { h, c });
            x = h.clone();
            next.push((h, c));
        }
        (self.head.forward(x), next)
    }

    fn out_dim(&self) -> usize {
        let [_, c] = self.head.weight.dims();
        c
    }
}
