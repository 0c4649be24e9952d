//! mamba-ssm's `MixerModel` with a linear head (Sarrof et al.'s model, spec
//! `bhattamishra-flipflop-dyck.md` §4.1), generic over the mixer: token embedding, pre-norm
//! residual blocks ([`super::residual_stack`]) with their final norm, and an optional
//! `Linear(d, out_dim)` head (without it, the final norm's output is the logit vector).

use burn::module::Module;
use burn::nn::{Embedding, Linear};
use burn::prelude::*;

use super::residual_stack::ResidualStack;
use crate::init::lookup;
use crate::{SequenceLayer, SequenceModel};

/// Embedding, residual stack, optional head; see the module docs.
#[derive(Module, Debug)]
pub struct MixerModel<B: Backend, M: Module<B>> {
    /// Token embedding.
    pub embedding: Embedding<B>,
    /// The residual stack with its final norm.
    pub stack: ResidualStack<B, M>,
    /// Output head, absent in no-head mode.
    pub head: Option<Linear<B>>,
    out_dim: usize,
}

impl<B: Backend, M: Module<B>> MixerModel<B, M> {
    /// From its parts; without a head the outputs are the `d_model` normed features.
    pub fn from_parts(
        embedding: Embedding<B>,
        stack: ResidualStack<B, M>,
        head: Option<Linear<B>>,
    ) -> Self {
        let out_dim = match &head {
            Some(h) => h.weight.dims()[1],
            None => embedding.weight.dims()[1],
        };
        Self {
            embedding,
            stack,
            head,
            out_dim,
        }
    }

    fn apply_head<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match &self.head {
            Some(h) => h.forward(x),
            None => x,
        }
    }
}

impl<B: Backend, M: Module<B> + SequenceLayer<B>> SequenceModel<B> for MixerModel<B, M> {
    type State = Vec<M::State>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.apply_head(self.stack.forward(self.embedding.forward(tokens)))
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        self.stack.init_state(batch, device)
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let (h, state) = self.stack.step(lookup(&self.embedding, tokens), state);
        (self.apply_head(h), state)
    }

    fn out_dim(&self) -> usize {
        self.out_dim
    }
}
