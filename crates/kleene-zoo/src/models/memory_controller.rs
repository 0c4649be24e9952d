//! The pieces DeepMind's memory-augmented RNNs share (spec `chomsky-hierarchy.md` §5.1–5.2):
//! the `hk.VanillaRNN` controller and the `make_rnn` readout, with Haiku's default init.
//!
//! ```text
//! h_t = ReLU(W_x [onehot(x_t); read_{t−1}] + b_x + W_h h_{t−1} + b_h)     (double bias)
//! y_t = W_o ReLU(h_t) + b_o
//! ```
//! Every `Linear` is `hk.Linear`: weight `TruncNormal(±2σ)`, `σ = 1/√fan_in`, bias 0. The
//! ReLU before the readout is `make_rnn`'s (a no-op on the ReLU controller's output, kept so
//! that the structure reads as DeepMind's).

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::init::linear_haiku;

/// `hk.VanillaRNN` with `double_bias = True` (ReLU), and `make_rnn`'s readout.
#[derive(Module, Debug)]
pub struct VanillaController<B: Backend> {
    /// `W_x`, `b_x`: `[onehot(x_t); memory read] -> hidden`.
    pub input: Linear<B>,
    /// `W_h`, `b_h`: `hidden -> hidden`.
    pub recurrent: Linear<B>,
    /// `W_o`, `b_o`: `hidden -> out_dim`, applied to `ReLU(h_t)`.
    pub readout: Linear<B>,
    vocab_size: usize,
}

impl<B: Backend> VanillaController<B> {
    /// A controller reading `vocab_size` one-hot tokens plus `read_size` memory values.
    /// The draws come in DeepMind's order of module creation: controller, then (in the
    /// caller) the memory heads, then the readout.
    pub(crate) fn draw_core(
        vocab_size: usize,
        read_size: usize,
        hidden_size: usize,
        device: &B::Device,
    ) -> (Linear<B>, Linear<B>) {
        (
            linear_haiku(vocab_size + read_size, hidden_size, true, device),
            linear_haiku(hidden_size, hidden_size, true, device),
        )
    }

    /// From the two controller linears and the readout (drawn last, as `make_rnn` does).
    pub(crate) fn from_parts(
        (input, recurrent): (Linear<B>, Linear<B>),
        readout: Linear<B>,
        vocab_size: usize,
    ) -> Self {
        Self {
            input,
            recurrent,
            readout,
            vocab_size,
        }
    }

    /// `h_t` from the token ids `(batch,)`, the memory read `(batch, read_size)` of the
    /// previous step and `h_{t−1}`.
    pub fn cell(
        &self,
        tokens: Tensor<B, 1, Int>,
        read: Tensor<B, 2>,
        h: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let x = Tensor::cat(vec![tokens.one_hot::<2>(self.vocab_size).float(), read], 1);
        relu(self.input.forward(x) + self.recurrent.forward(h))
    }

    /// The logits of one step: `W_o ReLU(h_t) + b_o`.
    pub fn output(&self, h: Tensor<B, 2>) -> Tensor<B, 2> {
        self.readout.forward(relu(h))
    }

    /// Hidden size.
    pub fn hidden_size(&self) -> usize {
        self.recurrent.weight.dims()[0]
    }

    /// Output size.
    pub fn out_dim(&self) -> usize {
        self.readout.weight.dims()[1]
    }
}
