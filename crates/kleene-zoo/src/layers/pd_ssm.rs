//! PD-SSM (Terzić et al., NeurIPS 2025): `PD_Block` of IBM's `expressive-sparse-state-space-
//! model` (`state_tracking_PyTorch/models/pdssm.py`, the code of the FSA table), a complex
//! state whose transition is a one-hot matrix times a complex diagonal.
//!
//! Per token `x ∈ R^E` (state size `N`, dictionary size `K`):
//! ```text
//! s = softmax(S x) ∈ Δ^{K−1}                          (S: Linear E→K, no bias)
//! M = Σ_k s_k A_k ∈ R^{N×N}                           (dictionary A: N×N×K)
//! P = hardmax(M) (forward), gradient through softmax(M)   (straight-through)
//! |D| = σ(MLP_m(x)),  arg D = 2π σ(MLP_φ(x))            (MLP: Linear(E,2N) → GELU → Linear(2N,N))
//! b = (B_re + i B_im) x
//! h_t = P D h_{t−1} + b       (scatter, default)   or   D P h_{t−1} + b   (gather, upstream)
//! y = LayerNorm_E( W_r · Dropout([Re h; Im h]) + c_r + D_skip ⊙ x )
//! ```
//! `h_{−1} = e₀ = (1, 0, …, 0)` as upstream (or 0). The recurrence is kleene-scan's
//! [`kleene_scan::pd_scan`] (O(N) per step); `step` runs the same code on one token.
//!
//! The one-hot `P` and the straight-through estimator (spec §9.1, §13 pitfalls 13-14): the
//! forward uses the exact hardmax, the argmax of `M` (ties to the first index on the CPU
//! backends, as torch's `argmax`; upstream takes the argmax of `softmax(M)`, which is the same
//! except where f32 rounding of the softmax ties distinct logits); the gradient flows through
//! the softmax only (`P = hard + softmax(M) − stopgrad(softmax(M))`). The hardmax, the softmax
//! and its Jacobian are fused into the op ([`PdSurrogate::SoftmaxLogits`]: `M` is the
//! transition surrogate, the op takes its argmax and returns `∂L/∂M`), so the forward never
//! forms the softmax. Both run over the axis the hardmax picks from:
//! - `form = "scatter"` (default): the paper's column one-hot `P` (each column's argmax over
//!   rows, softmax over rows): `h_t[p[n]] += D[n] h_{t−1}[n]`. Only this form can merge
//!   states (resets), so it is the default.
//! - `form = "gather"`: the PyTorch code (softmax and argmax over the **last** index, a row
//!   one-hot `P`, transition `diag(D) P`): `h_t[m] = D[m] h_{t−1}[π(m)]`, the structure that
//!   produced the published FSA table. The two coincide for permutation automata.
//!
//! Init as upstream: `S` and the MLPs and the readout PyTorch `nn.Linear` default
//! (`U(±1/√fan_in)`), `A ~ N(0,1)/√N`, `B_re, B_im ~ N(0,1)/√(2N)`, `D_skip ~ N(0,1)/√E`,
//! LayerNorm unit/zero (eps 1e-5), dropout 0.01 (active only on autodiff backends).
//!
//! Deviations: upstream requires `N = E` (its readout is `Linear(2E, E)`); here `state_size` may
//! differ from `d_model` and the readout is `Linear(2N, E)` (the same layer when `N = E`).
//! The block's output is the LayerNorm of readout plus skip, with **no other residual**: the
//! upstream model (`Embedding → 2 blocks → Linear head`) is the `pd_ssm` model kind
//! ([`crate::models::PdSsmModel`]); inside kleene's residual backbones the block is a mixer
//! like any other (pre-norm residual around it), which is not the upstream architecture.
//! The JAX time-series layer (single linear layer for magnitude and phase, complex C readout,
//! K = 6) is not reproduced.

use std::f64::consts::TAU;

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};
use serde::{Deserialize, Serialize};

use kleene_scan::{pd_scan, PdForm, PdScanInput, PdSurrogate, ScanBackend};

use crate::init::{linear_torch, normal};
use crate::ops::activation::gelu_erf;
use crate::validate::{ensure, ensure_prob, positive};
use crate::{SequenceLayer, ZooError};

/// Which one-hot structure the transition has (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PdTransitionForm {
    /// Column one-hot, scatter (paper, JAX). Default.
    #[default]
    Scatter,
    /// Row one-hot, gather (the PyTorch FSA code).
    Gather,
}

/// The state before the first token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PdInitialState {
    /// `e₀ = (1, 0, …, 0)`, as upstream. Default.
    #[default]
    E0,
    /// The zero vector.
    Zero,
}

/// Configuration of a [`PdSsm`] block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PdSsmConfig {
    /// State size `N` (complex entries); `None`: `d_model`, as upstream (`N = E`). Default None.
    pub state_size: Option<usize>,
    /// Dictionary size `K` (matrices mixed by the selection softmax). ≥ 1. Default 8.
    pub dict_size: usize,
    /// Hidden width of the magnitude and phase MLPs as a multiple of `N`. ≥ 1. Default 2.
    pub hidden_multiple: usize,
    /// Dropout on the readout input (active only on autodiff backends), in [0, 1). Default 0.01.
    pub dropout: f64,
    /// `scatter` (column one-hot, paper) or `gather` (row one-hot, upstream PyTorch). Default
    /// `scatter`.
    pub form: PdTransitionForm,
    /// `e0` (upstream) or `zero`. Default `e0`.
    pub initial_state: PdInitialState,
}

impl Default for PdSsmConfig {
    fn default() -> Self {
        Self {
            state_size: None,
            dict_size: 8,
            hidden_multiple: 2,
            dropout: 0.01,
            form: PdTransitionForm::Scatter,
            initial_state: PdInitialState::E0,
        }
    }
}

impl PdSsmConfig {
    /// `N` for width `d_model`.
    pub fn state_size(&self, d_model: usize) -> usize {
        self.state_size.unwrap_or(d_model)
    }

    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        if let Some(n) = self.state_size {
            positive("pd_ssm.state_size", n)?;
        }
        positive("pd_ssm.dict_size", self.dict_size)?;
        positive("pd_ssm.hidden_multiple", self.hidden_multiple)?;
        ensure_prob(self.dropout, "pd_ssm.dropout")
    }

    /// Builds the block (`n_layer` is unused: upstream scales no init by depth).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        _n_layer: usize,
        device: &B::Device,
    ) -> Result<PdSsm<B>, ZooError> {
        self.validate(d_model)?;
        let (e, n, k) = (d_model, self.state_size(d_model), self.dict_size);
        let hidden = self.hidden_multiple * n;
        // Upstream's order of construction (the order of the random draws).
        let norm = LayerNormConfig::new(e).with_epsilon(1e-5).init(device);
        let mlp = || PdMlp {
            fc1: linear_torch(e, hidden, true, device),
            fc2: linear_torch(hidden, n, true, device),
        };
        let magnitude = mlp();
        let phase = mlp();
        Ok(PdSsm {
            norm,
            dropout: DropoutConfig::new(self.dropout).init(),
            magnitude,
            phase,
            selection: linear_torch(e, k, false, device),
            dictionary: normal([n, n, k], 1.0 / (n as f64).sqrt(), device),
            b_re: normal([n, e], 1.0 / (2.0 * n as f64).sqrt(), device),
            b_im: normal([n, e], 1.0 / (2.0 * n as f64).sqrt(), device),
            skip: normal([e], 1.0 / (e as f64).sqrt(), device),
            readout: linear_torch(2 * n, e, true, device),
            gather: self.form == PdTransitionForm::Gather,
            start_e0: self.initial_state == PdInitialState::E0,
        })
    }
}

/// `Linear(E, 2N) → GELU → Linear(2N, N) → σ` (the magnitude and the phase generators; GELU
/// with the erf, as `nn.GELU()`, differentiated exactly: [`gelu_erf`]).
#[derive(Module, Debug)]
pub struct PdMlp<B: Backend> {
    pub fc1: Linear<B>,
    pub fc2: Linear<B>,
}

impl<B: Backend> PdMlp<B> {
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        sigmoid(self.fc2.forward(gelu_erf(self.fc1.forward(x))))
    }
}

/// The PD-SSM block; see the module docs.
#[derive(Module, Debug)]
pub struct PdSsm<B: Backend> {
    /// Output LayerNorm over `E`.
    pub norm: LayerNorm<B>,
    /// Dropout on `[Re h; Im h]`.
    pub dropout: Dropout,
    /// `|D|` generator.
    pub magnitude: PdMlp<B>,
    /// `arg D / 2π` generator.
    pub phase: PdMlp<B>,
    /// `S`: Linear E→K, no bias.
    pub selection: Linear<B>,
    /// `A_dict` `(N, N, K)`.
    pub dictionary: Param<Tensor<B, 3>>,
    /// `B_re` `(N, E)`.
    pub b_re: Param<Tensor<B, 2>>,
    /// `B_im` `(N, E)`.
    pub b_im: Param<Tensor<B, 2>>,
    /// `D_skip` `(E,)`.
    pub skip: Param<Tensor<B, 1>>,
    /// Linear 2N→E on `[Re h; Im h]`.
    pub readout: Linear<B>,
    /// Gather (row one-hot) form instead of scatter.
    gather: bool,
    /// Start from `e₀` instead of 0.
    start_e0: bool,
}

/// Recurrent state of [`PdSsm`]: the complex state `(batch, N)`.
#[derive(Debug, Clone)]
pub struct PdSsmState<B: Backend> {
    pub re: Tensor<B, 2>,
    pub im: Tensor<B, 2>,
}

impl<B: ScanBackend> PdSsm<B> {
    /// The state size `N`.
    pub fn state_size(&self) -> usize {
        self.dictionary.dims()[0]
    }

    /// The transition form.
    pub fn form(&self) -> PdForm {
        if self.gather {
            PdForm::Gather
        } else {
            PdForm::Scatter
        }
    }

    /// The logits `M = Σ_k s_k A_k` `(B, L, N, N)`: `P` is their hardmax over [`Self::axis`]
    /// (taken by the op), their softmax over it the straight-through surrogate.
    pub fn transition(&self, x: Tensor<B, 3>) -> Tensor<B, 4> {
        let [batch, len, _] = x.dims();
        let n = self.state_size();
        let dict = self.dictionary.val();
        let k = dict.dims()[2];
        let s = softmax(self.selection.forward(x), 2).reshape([batch * len, k]);
        s.matmul(dict.reshape([n * n, k]).transpose())
            .reshape([batch, len, n, n])
    }

    /// The axis of `(B, L, N, N)` the hardmax and the softmax run over.
    pub fn axis(&self) -> usize {
        if self.gather {
            3
        } else {
            2
        }
    }

    /// `(Re D, Im D)`, each `(B, L, N)`.
    pub fn diagonal(&self, x: Tensor<B, 3>) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let mag = self.magnitude.forward(x.clone());
        let phase = self.phase.forward(x) * TAU;
        (mag.clone() * phase.clone().cos(), mag * phase.sin())
    }

    /// The block on `x` `(B, L, E)` from state `h0`; returns the output and every state.
    fn run(&self, x: Tensor<B, 3>, h0: PdSsmState<B>) -> (Tensor<B, 3>, PdSsmState<B>) {
        let [batch, len, e] = x.dims();
        let logits = self.transition(x.clone());
        let (d_re, d_im) = self.diagonal(x.clone());
        let input = |w: &Param<Tensor<B, 2>>| x.clone().matmul(w.val().transpose().unsqueeze());
        let (h_re, h_im) = pd_scan(PdScanInput {
            index: None,
            d_re,
            d_im,
            b_re: input(&self.b_re),
            b_im: input(&self.b_im),
            initial_state: Some((h0.re, h0.im)),
            transition_surrogate: Some(logits),
            surrogate: PdSurrogate::SoftmaxLogits,
            form: self.form(),
        });
        let h = Tensor::cat(vec![h_re.clone(), h_im.clone()], 2);
        let skip = self.skip.val().reshape([1, 1, e]);
        let y = self
            .norm
            .forward(self.readout.forward(self.dropout.forward(h)) + x * skip);
        let n = self.state_size();
        let last = |t: Tensor<B, 3>| t.narrow(1, len - 1, 1).reshape([batch, n]);
        (
            y,
            PdSsmState {
                re: last(h_re),
                im: last(h_im),
            },
        )
    }
}

impl<B: ScanBackend> SequenceLayer<B> for PdSsm<B> {
    type State = PdSsmState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let state = self.init_state(x.dims()[0], &x.device());
        self.run(x, state).0
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let n = self.state_size();
        let mut re = Tensor::zeros([batch, n], device);
        if self.start_e0 {
            re = re.slice_assign([0..batch, 0..1], Tensor::ones([batch, 1], device));
        }
        PdSsmState {
            re,
            im: Tensor::zeros([batch, n], device),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [batch, e] = x.dims();
        let (y, state) = self.run(x.reshape([batch, 1, e]), state);
        (y.reshape([batch, e]), state)
    }
}
