//! The published seq_icl `lm_simple_noffn` (REGBENCH's Mamba and LSTM runs), as it effectively
//! computes: its forward applies every mixer to the raw embeddings and keeps only the last
//! result, so the model is one mixer on the embeddings, no residual, no norm, straight into
//! the tied head. Only that one mixer is built here (the other `n_layer - 1` upstream are dead
//! parameters); embeddings are `N(0, 1)`; positions are not added and the embedding dropout's
//! output is discarded upstream, so neither exists here. The corrected stack is
//! [`super::lm_simple`] with `backbone = "no_ffn"`.

use burn::nn::{Embedding, Linear};
use burn::prelude::*;

use super::lm_simple::BackboneConfig;
use super::{tied_or_linear_head, LmState};
use crate::init::{embedding_normal, linear_normal, INIT_STD};
use crate::{SequenceLayer, SequenceModel, ZooError};

/// One mixer on the raw token embeddings, then the head.
#[derive(Module, Debug)]
pub struct NoFfnFaithful<B: Backend, M: Module<B>> {
    /// Token embedding, `N(0, 1)`.
    pub embedding: Embedding<B>,
    /// The one mixer.
    pub mixer: M,
    /// `None`: tied to `embedding`.
    pub head: Option<Linear<B>>,
    out_dim: usize,
}

impl<B: Backend, M: Module<B>> NoFfnFaithful<B, M> {
    /// Builds the backbone around `make_mixer()` (uses `d_model` and `tie_embeddings` of
    /// `config`; `n_layer` only through the mixer's init, which the caller passes).
    pub fn new(
        config: &BackboneConfig,
        vocab_size: usize,
        out_dim: usize,
        make_mixer: impl FnOnce() -> Result<M, ZooError>,
        device: &B::Device,
    ) -> Result<Self, ZooError> {
        config.validate_sizes(vocab_size, out_dim)?;
        let d = config.d_model;
        let mixer = make_mixer()?;
        let tied = config.tie_embeddings && out_dim == vocab_size;
        Ok(Self {
            embedding: embedding_normal(vocab_size, d, 1.0, device),
            mixer,
            head: (!tied).then(|| linear_normal(d, out_dim, false, INIT_STD, device)),
            out_dim,
        })
    }
}

impl<B: Backend, M: Module<B> + SequenceLayer<B>> SequenceModel<B> for NoFfnFaithful<B, M> {
    type State = LmState<M::State>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let y = self.mixer.forward(self.embedding.forward(tokens));
        tied_or_linear_head(&self.embedding, self.head.as_ref(), y)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        LmState {
            layers: vec![self.mixer.init_state(batch, device)],
            position: 0,
        }
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let x = self.embedding.weight.val().select(0, tokens);
        let mut layers = state.layers;
        let s = layers.pop().expect("one mixer state");
        let (y, s) = self.mixer.step(x, s);
        (
            tied_or_linear_head(&self.embedding, self.head.as_ref(), y),
            LmState::after(state.position, vec![s]),
        )
    }

    fn out_dim(&self) -> usize {
        self.out_dim
    }
}
