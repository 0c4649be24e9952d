//! Run-time model selection: [`AnyModel`] (a Burn `Module` enum) built from a
//! [`ModelConfig`].

use burn::module::Module;
use burn::prelude::*;

use crate::complex_diagonal::ComplexDiagonalSsm;
use crate::icl::{IclMixerState, IclModel, LmState};
use crate::lstm::LstmModel;
use crate::mamba::{MambaModel, MambaState};
use crate::recurrence::ScanBackend;
use crate::rnn::RnnModel;
use crate::sdssm::SdSsm;
use crate::transformer::{TransformerModel, TransformerState};
use crate::{ModelConfig, SequenceModel, ZooError};

/// Any model of the zoo; a Burn `Module` (records, optimizers, `valid()` all work).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum AnyModel<B: Backend> {
    /// See [`crate::mamba`].
    Mamba(MambaModel<B>),
    /// See [`crate::sdssm`].
    Sdssm(SdSsm<B>),
    /// See [`crate::complex_diagonal`].
    ComplexDiagonal(ComplexDiagonalSsm<B>),
    /// See [`crate::rnn`].
    Rnn(RnnModel<B>),
    /// See [`crate::lstm`].
    Lstm(LstmModel<B>),
    /// See [`crate::transformer`].
    Transformer(TransformerModel<B>),
    /// See [`crate::icl`].
    Icl(IclModel<B>),
}

/// The recurrent state of an [`AnyModel`] (same variant as the model).
#[derive(Clone, Debug)]
#[allow(clippy::type_complexity)]
pub enum AnyState<B: Backend> {
    /// Per-layer conv and SSM states.
    Mamba(Vec<MambaState<B>>),
    /// `h_t`, `(batch, N)`.
    Sdssm(Tensor<B, 2>),
    /// Per-block `(Re h, Im h)`.
    ComplexDiagonal(Vec<(Tensor<B, 2>, Tensor<B, 2>)>),
    /// Per-layer hidden state.
    Rnn(Vec<Tensor<B, 2>>),
    /// Per-layer `(h, c)`.
    Lstm(Vec<(Tensor<B, 2>, Tensor<B, 2>)>),
    /// Per-layer KV caches and the position.
    Transformer(TransformerState<B>),
    /// Per-block mixer states and the position.
    Icl(LmState<IclMixerState<B>>),
}

impl ModelConfig {
    /// Validates the config and builds the model with `vocab_size` input tokens and
    /// `out_dim` outputs per position (random init from the backend's RNG: call
    /// `B::seed(&device, seed)` first for reproducible weights).
    pub fn init<B: ScanBackend>(
        &self,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Result<AnyModel<B>, ZooError> {
        self.validate(vocab_size, out_dim)?;
        Ok(match self {
            ModelConfig::Mamba(c) => {
                AnyModel::Mamba(MambaModel::new(c, vocab_size, out_dim, device))
            }
            ModelConfig::Sdssm(c) => AnyModel::Sdssm(SdSsm::new(c, vocab_size, out_dim, device)),
            ModelConfig::ComplexDiagonal(c) => {
                AnyModel::ComplexDiagonal(ComplexDiagonalSsm::new(c, vocab_size, out_dim, device))
            }
            ModelConfig::Rnn(c) => AnyModel::Rnn(RnnModel::new(c, vocab_size, out_dim, device)),
            ModelConfig::Lstm(c) => AnyModel::Lstm(LstmModel::new(c, vocab_size, out_dim, device)),
            ModelConfig::Transformer(c) => {
                AnyModel::Transformer(TransformerModel::new(c, vocab_size, out_dim, device))
            }
            ModelConfig::Icl(c) => AnyModel::Icl(c.init(vocab_size, out_dim, device)?),
        })
    }
}

const MISMATCH: &str = "AnyModel::step: the state belongs to a different model kind \
                        (use the state returned by this model's init_state)";

impl<B: ScanBackend> SequenceModel<B> for AnyModel<B> {
    type State = AnyState<B>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        match self {
            AnyModel::Mamba(m) => m.forward(tokens),
            AnyModel::Sdssm(m) => m.forward(tokens),
            AnyModel::ComplexDiagonal(m) => m.forward(tokens),
            AnyModel::Rnn(m) => m.forward(tokens),
            AnyModel::Lstm(m) => m.forward(tokens),
            AnyModel::Transformer(m) => m.forward(tokens),
            AnyModel::Icl(m) => m.forward(tokens),
        }
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        match self {
            AnyModel::Mamba(m) => AnyState::Mamba(m.init_state(batch, device)),
            AnyModel::Sdssm(m) => AnyState::Sdssm(m.init_state(batch, device)),
            AnyModel::ComplexDiagonal(m) => AnyState::ComplexDiagonal(m.init_state(batch, device)),
            AnyModel::Rnn(m) => AnyState::Rnn(m.init_state(batch, device)),
            AnyModel::Lstm(m) => AnyState::Lstm(m.init_state(batch, device)),
            AnyModel::Transformer(m) => AnyState::Transformer(m.init_state(batch, device)),
            AnyModel::Icl(m) => AnyState::Icl(m.init_state(batch, device)),
        }
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        match (self, state) {
            (AnyModel::Mamba(m), AnyState::Mamba(s)) => {
                let (y, s) = m.step(tokens, s);
                (y, AnyState::Mamba(s))
            }
            (AnyModel::Sdssm(m), AnyState::Sdssm(s)) => {
                let (y, s) = m.step(tokens, s);
                (y, AnyState::Sdssm(s))
            }
            (AnyModel::ComplexDiagonal(m), AnyState::ComplexDiagonal(s)) => {
                let (y, s) = m.step(tokens, s);
                (y, AnyState::ComplexDiagonal(s))
            }
            (AnyModel::Rnn(m), AnyState::Rnn(s)) => {
                let (y, s) = m.step(tokens, s);
                (y, AnyState::Rnn(s))
            }
            (AnyModel::Lstm(m), AnyState::Lstm(s)) => {
                let (y, s) = m.step(tokens, s);
                (y, AnyState::Lstm(s))
            }
            (AnyModel::Transformer(m), AnyState::Transformer(s)) => {
                let (y, s) = m.step(tokens, s);
                (y, AnyState::Transformer(s))
            }
            (AnyModel::Icl(m), AnyState::Icl(s)) => {
                let (y, s) = m.step(tokens, s);
                (y, AnyState::Icl(s))
            }
            _ => panic!("{MISMATCH}"),
        }
    }

    fn out_dim(&self) -> usize {
        match self {
            AnyModel::Mamba(m) => m.out_dim(),
            AnyModel::Sdssm(m) => m.out_dim(),
            AnyModel::ComplexDiagonal(m) => m.out_dim(),
            AnyModel::Rnn(m) => m.out_dim(),
            AnyModel::Lstm(m) => m.out_dim(),
            AnyModel::Transformer(m) => m.out_dim(),
            AnyModel::Icl(m) => m.out_dim(),
        }
    }

    fn max_len(&self) -> Option<usize> {
        match self {
            AnyModel::Transformer(m) => m.max_len(),
            AnyModel::Icl(m) => m.max_len(),
            _ => None,
        }
    }
}
