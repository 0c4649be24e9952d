//! The GPT-2 decoder of the transformer models (spec `regbench-icl-zoo.md` §3.1.1), generic
//! over the mixer: token embedding plus learned absolute positions (absent with rotary
//! attention), pre-LN residual blocks with MLPs ([`super::residual_stack`]) and their final
//! LayerNorm, and a separate bias-free `Linear(d, out_dim)` head.

use burn::module::Module;
use burn::nn::{Embedding, Linear};
use burn::prelude::*;

use super::residual_stack::ResidualStack;
use super::LmState;
use crate::models::dm_positions::sinusoid;
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
    /// DeepMind's sin/cos encoding added to the token embedding, with its `max_time`
    /// (`transformer` with `positions = "sin_cos"`). A plain field, in the place of the
    /// `out_dim` it replaced, so the checkpoint layout is unchanged.
    sin_cos: Option<f64>,
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
        Self {
            token_embedding,
            position_embedding,
            stack,
            head,
            max_len,
            sin_cos: None,
        }
    }

    /// The same decoder adding DeepMind's sin/cos table (`max_time` its wavelength scale) for
    /// positions `0, 1, …` to the token embedding.
    pub fn with_sin_cos(self, max_time: f64) -> Self {
        Self {
            sin_cos: Some(max_time),
            ..self
        }
    }

    /// The token embedding plus the absolute position signal for positions
    /// `start..start + len`, `(len, d)` added to `x: (…, len, d)`.
    fn add_positions<const D: usize>(
        &self,
        x: Tensor<B, D>,
        start: usize,
        len: usize,
    ) -> Tensor<B, D> {
        let mut x = x;
        if let Some(table) = &self.position_embedding {
            x = x + self.positions(table, start, len).unsqueeze::<D>();
        }
        if let Some(max_time) = self.sin_cos {
            let d = self.token_embedding.weight.dims()[1];
            let positions = (start..start + len).map(|p| p as f64);
            let device = x.device();
            x = x + sinusoid::<B>(positions, d, max_time, &device).unsqueeze::<D>();
        }
        x
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
        let x = self.add_positions(self.token_embedding.forward(tokens), 0, len);
        self.head.forward(self.stack.forward(x))
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        LmState {
            layers: self.stack.init_state(batch, device),
            position: 0,
        }
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let x = self.token_embedding.weight.val().select(0, tokens);
        let x = self.add_positions(x, state.position, 1);
        let (h, layers) = self.stack.step(x, state.layers);
        (self.head.forward(h), LmState::after(state.position, layers))
    }

    fn out_dim(&self) -> usize {
        self.head.weight.dims()[1]
    }

    fn max_len(&self) -> Option<usize> {
        self.position_embedding.as_ref().map(|_| self.max_len)
    }
}
