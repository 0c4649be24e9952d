//! LSTM (spec `regular-tasks-sdssm.md` §3.4: `torch.nn.LSTM` + bias-free linear head).
//!
//! ```text
//! [i, f, g, o] = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh      (gate order of PyTorch)
//! c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g),   h_t = σ(o) ⊙ tanh(c_t),   h_{−1} = c_{−1} = 0
//! y_t = W_o h^L_t                                            (no bias)
//! ```
//! Layer 1 reads one-hot tokens; all weights and biases `U(±1/√N)` (PyTorch).

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, tanh};

use crate::config::LstmConfig;
use crate::init::linear_uniform;
use crate::recurrence::ScanBackend;
use crate::SequenceModel;

/// One LSTM layer.
#[derive(Module, Debug)]
pub struct LstmLayer<B: Backend> {
    /// `W_ih`, `b_ih`: `d_in -> 4N` (gates i, f, g, o).
    pub input: Linear<B>,
    /// `W_hh`, `b_hh`: `N -> 4N`.
    pub recurrent: Linear<B>,
}

impl<B: Backend> LstmLayer<B> {
    /// One cell update from the input projection `p = W_ih x + b_ih`.
    fn cell(
        &self,
        p: Tensor<B, 2>,
        h: Tensor<B, 2>,
        c: Tensor<B, 2>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let gates = p + self.recurrent.forward(h);
        let mut g = gates.chunk(4, 1).into_iter();
        let (i, f, gg, o) = (
            g.next().expect("4 gates"),
            g.next().expect("4 gates"),
            g.next().expect("4 gates"),
            g.next().expect("4 gates"),
        );
        let c = sigmoid(f) * c + sigmoid(i) * tanh(gg);
        let h = sigmoid(o) * tanh(c.clone());
        (h, c)
    }
}

/// Stacked LSTM on one-hot inputs with a bias-free linear head.
#[derive(Module, Debug)]
pub struct LstmModel<B: Backend> {
    /// Layers, input first.
    pub layers: Vec<LstmLayer<B>>,
    /// `W_o`, no bias.
    pub head: Linear<B>,
    vocab_size: usize,
    hidden_size: usize,
}

impl<B: Backend> LstmModel<B> {
    /// Builds the model; the config must have been validated.
    pub fn new(config: &LstmConfig, vocab_size: usize, out_dim: usize, device: &B::Device) -> Self {
        let n = config.hidden_size;
        let bound = 1.0 / (n as f64).sqrt();
        let layers = (0..config.num_layers)
            .map(|l| LstmLayer {
                input: linear_uniform(
                    if l == 0 { vocab_size } else { n },
                    4 * n,
                    true,
                    bound,
                    device,
                ),
                recurrent: linear_uniform(n, 4 * n, true, bound, device),
            })
            .collect();
        Self {
            layers,
            head: linear_uniform(n, out_dim, false, bound, device),
            vocab_size,
            hidden_size: n,
        }
    }
}

impl<B: ScanBackend> SequenceModel<B> for LstmModel<B> {
    /// `(h, c)` per layer, `(batch, N)` each.
    type State = Vec<(Tensor<B, 2>, Tensor<B, 2>)>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [batch, len] = tokens.dims();
        let n = self.hidden_size;
        let mut x: Tensor<B, 3> = tokens.one_hot::<3>(self.vocab_size).float();
        for layer in &self.layers {
            let projected = layer.input.forward(x);
            let device = projected.device();
            let (mut h, mut c) = (
                Tensor::zeros([batch, n], &device),
                Tensor::zeros([batch, n], &device),
            );
            let mut out = Vec::with_capacity(len);
            for t in 0..len {
                let p_t = projected.clone().narrow(1, t, 1).reshape([batch, 4 * n]);
                (h, c) = layer.cell(p_t, h, c);
                out.push(h.clone());
            }
            x = Tensor::stack(out, 1);
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
            let (h, c) = layer.cell(layer.input.forward(x), h, c);
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
