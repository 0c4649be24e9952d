//! The GPT-2 decoder of the transformer models (spec `regbench-icl-zoo.md` §3.1.1), generic
//! over the mixer: token embedding plus learned absolute positions (absent with rotary
//! attention), pre-LN residual blocks with MLPs ([`super::residual_stack`]) and their final
//! LayerNorm, and a separate bias-free `Linear(d, out_dim)` head.

use burn::module::Module;
use burn::nn::{Embedding, Linear};
use burn::prelude::*;

use super::residual_stack::ResidualStack;
use super::LmState;
use crate::{SequenceLayer, SequenceModel};

/// Embeddings, residual stack, head; see the module docs.
#[derive(Module, Debug)]
pub struct Gpt<B: Backend, M: Module<B>> {
    /// Token embedding.
    pub token_embedding: Embedding<B>,
    /// Learned positions `[max_len, d]` (absent for rotary).
    pub position_embedding: Option<Embedding<B>>,
    /// Pre-LN blocks (mixer + MLP) and the final LayerNorm.
    pub stack: ResidualStack<B, M>,
    /// `Linear(d, out_dim)`, no bias.
    pub head: Linear<B>,
    max_len: usize,
    out_dim: usize,
}

impl<B: Backend, M: Module<B>> Gpt<B, M> {
    /// From its parts; `max_len` is the position table's length (kept for `max_len()` with
    /// learned positions).
    pub fn from_parts(
        token_embedding: Embedding<B>,
        position_embedding: Option<Embedding<B>>,
        stack: ResidualStack<B, M>,
        head: Linear<B>,
        max_len: usize,
    ) -> Self {
        let out_dim = head.weight.dims()[1];
        Self {
            token_embedding,
            position_embedding,
            stack,
            head,
            max_len,
            out_dim,
        }
    }

    /// Position vectors for `start..start + len`, clamped to the table, `(len, d)`.
    fn positions(&self, table: &Embedding<B>, start: usize, len: usize) -> Tensor<B, 2> {
        let device = table.weight.device();
        let idx = Tensor::<B, 1, Int>::arange(start as i64..(start + len) as i64, &device)
            .clamp_max((self.max_len - 1) as i64);
        table.weight.val().select(0, idx)
    }
}

impl<B: Backend, M: Module<B> + SequenceLayer<B>> SequenceModel<B> for Gpt<B, M> {
    type State = LmState<M::State>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [_, len] = tokens.dims();
        let mut x = self.token_embedding.forward(tokens);
        if let Some(table) = &self.position_embedding {
            x = x + self.positions(table, 0, len).unsqueeze::<3>();
        }
        self.head.forward(self.stack.forward(x))
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        LmState {
            layers: self.stack.init_state(batch, device),
            position: 0,
        }
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let mut x = self.token_embedding.weight.val().select(0, tokens);
        if let Some(table) = &self.position_embedding {
            x = x + self.positions(table, state.position, 1);
        }
        let (h, layers) = self.stack.step(x, state.layers);
        (self.head.forward(h), LmState::after(state.position, layers))
    }

    fn out_dim(&self) -> usize {
        self.out_dim
    }

    fn max_len(&self) -> Option<usize> {
        self.position_embedding.as_ref().map(|_| self.max_len)
    }
}
