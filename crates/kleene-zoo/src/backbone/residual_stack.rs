//! The one residual block of the zoo and the stack of them: pre-norm blocks around any
//! [`SequenceLayer`] (the `MixerModel` of mamba-ssm, the GPT-2 block of the transformer and of
//! seq_icl's `lm_simple`):
//!
//! ```text
//! r_0 = x
//! r_{l+1} = r_l + Mixer_l(Norm_l(r_l))            (+ r + MLP_l(Norm'_l(r)) when an MLP is on)
//! out = Norm_f(r_L)
//! ```
//!
//! (mamba-ssm writes the same computation with the residual added lazily: `r = h + r;
//! h = Mixer(Norm(r))`, `out = Norm_f(h + r)`.)

use burn::module::Module;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::gelu_approximate;

use super::norm::{Norm, NormKind};
use crate::SequenceLayer;

/// `Linear(d, d_ff) -> GELU (tanh approximation) -> Linear(d_ff, d)`, the GPT-2 MLP.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// First projection (`fc1`).
    pub fc1: Linear<B>,
    /// Second projection (`fc2`).
    pub fc2: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    /// Applies the MLP position-wise.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        self.fc2.forward(gelu_approximate(self.fc1.forward(x)))
    }
}

/// One pre-norm residual block around a mixer, with an optional MLP sub-block.
#[derive(Module, Debug)]
pub struct Block<B: Backend, M: Module<B>> {
    /// Norm before the mixer.
    pub norm: Norm<B>,
    /// The sequence mixer.
    pub mixer: M,
    /// Norm before the MLP (present iff `mlp` is).
    pub mlp_norm: Option<Norm<B>>,
    /// Position-wise MLP sub-block.
    pub mlp: Option<Mlp<B>>,
}

impl<B: Backend, M: Module<B>> Block<B, M> {
    /// A block around `mixer` with a `norm` before it and, when `mlp` is given, an MLP
    /// sub-block with its own norm (norms: weight 1, bias 0, epsilon `epsilon`).
    pub fn new(
        mixer: M,
        mlp: Option<Mlp<B>>,
        norm: NormKind,
        d_model: usize,
        epsilon: f64,
        device: &B::Device,
    ) -> Self {
        Self {
            norm: Norm::new(norm, d_model, epsilon, device),
            mixer,
            mlp_norm: mlp
                .as_ref()
                .map(|_| Norm::new(norm, d_model, epsilon, device)),
            mlp,
        }
    }
}

impl<B: Backend, M: Module<B> + SequenceLayer<B>> Block<B, M> {
    fn mlp_residual<const D: usize>(&self, r: Tensor<B, D>) -> Tensor<B, D> {
        match (&self.mlp_norm, &self.mlp) {
            (Some(norm), Some(mlp)) => r.clone() + mlp.forward(norm.forward(r)),
            _ => r,
        }
    }

    /// Whole-sequence form.
    pub fn forward(&self, r: Tensor<B, 3>) -> Tensor<B, 3> {
        let r = r.clone() + self.mixer.forward(self.norm.forward(r));
        self.mlp_residual(r)
    }

    /// One step.
    pub fn step(&self, r: Tensor<B, 2>, state: M::State) -> (Tensor<B, 2>, M::State) {
        let (h, state) = self.mixer.step(self.norm.forward(r.clone()), state);
        (self.mlp_residual(r + h), state)
    }
}

/// A stack of pre-norm residual blocks followed by a final norm.
#[derive(Module, Debug)]
pub struct ResidualStack<B: Backend, M: Module<B>> {
    /// The blocks, input first.
    pub blocks: Vec<Block<B, M>>,
    /// Final norm.
    pub norm_f: Norm<B>,
}

impl<B: Backend, M: Module<B>> ResidualStack<B, M> {
    /// Builds a stack from its mixers; `mlp` = `Some(builder)` adds an MLP sub-block per layer.
    pub fn new(
        mixers: Vec<M>,
        norm: NormKind,
        d_model: usize,
        epsilon: f64,
        mut mlp: Option<&mut dyn FnMut() -> Mlp<B>>,
        device: &B::Device,
    ) -> Self {
        let blocks = mixers
            .into_iter()
            .map(|mixer| {
                let ff = mlp.as_mut().map(|make| make());
                Block::new(mixer, ff, norm, d_model, epsilon, device)
            })
            .collect();
        Self {
            blocks,
            norm_f: Norm::new(norm, d_model, epsilon, device),
        }
    }
}

impl<B: Backend, M: Module<B> + SequenceLayer<B>> ResidualStack<B, M> {
    /// `(batch, len, d) -> (batch, len, d)`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let r = self.blocks.iter().fold(x, |r, block| block.forward(r));
        self.norm_f.forward(r)
    }

    /// One state per block.
    pub fn init_state(&self, batch: usize, device: &B::Device) -> Vec<M::State> {
        self.blocks
            .iter()
            .map(|b| b.mixer.init_state(batch, device))
            .collect()
    }

    /// One step: `(batch, d) -> (batch, d)`.
    pub fn step(&self, x: Tensor<B, 2>, state: Vec<M::State>) -> (Tensor<B, 2>, Vec<M::State>) {
        let mut r = x;
        let mut next = Vec::with_capacity(state.len());
        for (block, s) in self.blocks.iter().zip(state) {
            let (r2, s2) = block.step(r, s);
            r = r2;
            next.push(s2);
        }
        (self.norm_f.forward(r), next)
    }
}
