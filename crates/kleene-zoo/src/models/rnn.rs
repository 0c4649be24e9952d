//! Elman RNN (spec `regular-tasks-sdssm.md` §3.4: `torch.nn.RNN` + bias-free linear head).
//!
//! ```text
//! h^0_t = onehot(x_t)
//! h^l_t = φ(W_ih h^{l−1}_t + b_ih + W_hh h^l_{t−1} + b_hh),  h^l_{−1} = 0,  φ ∈ {tanh, ReLU}
//! y_t   = W_o h^L_t                                   (no bias)
//! ```
//! All weights and biases `U(±1/√N)` (PyTorch).

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{relu, tanh};

use serde::{Deserialize, Serialize};

use crate::init::linear_uniform;
use crate::validate::positive;
use crate::{ScanBackend, SequenceModel, ZooError};

/// Non-linearity of the Elman RNN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RnnNonlinearity {
    /// `tanh` (PyTorch's default).
    Tanh,
    /// `relu` (the SD-SSM repository's default).
    #[default]
    Relu,
}

/// Elman RNN on one-hot inputs with a bias-free linear head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RnnConfig {
    /// Hidden size. Default 64.
    pub hidden_size: usize,
    /// Stacked layers. Default 1.
    pub num_layers: usize,
    /// `relu` (default, as the SD-SSM repository) or `tanh`.
    pub nonlinearity: RnnNonlinearity,
}

impl Default for RnnConfig {
    fn default() -> Self {
        Self {
            hidden_size: 64,
            num_layers: 1,
            nonlinearity: RnnNonlinearity::Relu,
        }
    }
}

impl RnnConfig {
    /// Checks every field (and the sizes the model will be built with); errors name the
    /// field as `<kind>.<field>`.
    pub fn validate(&self, _vocab_size: usize, _out_dim: usize) -> Result<(), ZooError> {
        let c = self;
        positive("rnn.hidden_size", c.hidden_size)?;
        positive("rnn.num_layers", c.num_layers)?;
        Ok(())
    }
}

/// One Elman layer.
#[derive(Module, Debug)]
pub struct RnnLayer<B: Backend> {
    /// `W_ih`, `b_ih`.
    pub input: Linear<B>,
    /// `W_hh`, `b_hh`.
    pub recurrent: Linear<B>,
}

/// Stacked Elman RNN on one-hot inputs with a bias-free linear head.
#[derive(Module, Debug)]
pub struct RnnModel<B: Backend> {
    /// Layers, input first.
    pub layers: Vec<RnnLayer<B>>,
    /// `W_o`, no bias.
    pub head: Linear<B>,
    relu: bool,
    vocab_size: usize,
    hidden_size: usize,
}

impl<B: Backend> RnnModel<B> {
    /// Builds the model; the config must have been validated.
    pub fn new(config: &RnnConfig, vocab_size: usize, out_dim: usize, device: &B::Device) -> Self {
        let n = config.hidden_size;
        let bound = 1.0 / (n as f64).sqrt();
        let layers = (0..config.num_layers)
            .map(|l| RnnLayer {
                input: linear_uniform(if l == 0 { vocab_size } else { n }, n, true, bound, device),
                recurrent: linear_uniform(n, n, true, bound, device),
            })
            .collect();
        Self {
            layers,
            head: linear_uniform(n, out_dim, false, bound, device),
            relu: config.nonlinearity == RnnNonlinearity::Relu,
            vocab_size,
            hidden_size: n,
        }
    }

    fn activate(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        if self.relu {
            relu(x)
        } else {
            tanh(x)
        }
    }
}

impl<B: ScanBackend> SequenceModel<B> for RnnModel<B> {
    /// `h^l`, `(batch, N)` per layer.
    type State = Vec<Tensor<B, 2>>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, len] = tokens.dims();
        let mut x: Tensor<B, 3> = tokens.one_hot::<3>(self.vocab_size).float();
        for layer in &self.layers {
            let projected = layer.input.forward(x);
            let mut h = Tensor::zeros([batch, self.hidden_size], &projected.device());
            let mut out = Vec::with_capacity(len);
            for t in 0..len {
                let p_t = projected
                    .clone()
                    .narrow(1, t, 1)
                    .reshape([batch, self.hidden_size]);
                h = self.activate(p_t + layer.recurrent.forward(h));
                out.push(h.clone());
            }
            x = Tensor::stack(out, 1);
        }
        self.head.forward(x)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        self.layers
            .iter()
            .map(|_| Tensor::zeros([batch, self.hidden_size], device))
            .collect()
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let mut x: Tensor<B, 2> = tokens.one_hot::<2>(self.vocab_size).float();
        let mut next = Vec::with_capacity(state.len());
        for (layer, h) in self.layers.iter().zip(state) {
            let h = self.activate(layer.input.forward(x) + layer.recurrent.forward(h));
            x = h.clone();
            next.push(h);
        }
        (self.head.forward(x), next)
    }

    fn out_dim(&self) -> usize {
        let [_, c] = self.head.weight.dims();
        c
    }
}
