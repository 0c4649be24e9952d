//! SD-SSM, the selective dense state-space model of Terzić et al. (AAAI 2025), spec
//! `regular-tasks-sdssm.md` §3.1–3.2.
//!
//! ```text
//! s_t    = softmax(W_s x_t + b_s)                 (K convex weights)
//! M_t    = Σ_k s_{t,k} A_k                         (N×N)
//! Â_t    = M_t with column j divided by ‖M_t[:, j]‖_p
//! h_t    = Â_t h_{t−1} + W_B x_t,   h_{−1} = 0
//! y_t    = readout(LayerNorm(h_t))                 (linear, or Linear→ReLU→Linear)
//! ```
//! Inputs are one-hot over the vocabulary (the repository feeds one-hot vectors with no
//! embedding), so `W_s x_t` and `W_B x_t` are table look-ups and `Â` takes only
//! `vocab_size` distinct values: they are computed once per forward pass.

use burn::module::{Module, Param};
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};

use serde::{Deserialize, Serialize};

use crate::init::{embedding_uniform, linear_torch, lookup, uniform};
use crate::ops::recurrence;
use crate::validate::{positive, positive_f};
use crate::{ScanBackend, SequenceModel, ZooError};

/// Readout after the recurrence (SD-SSM, complex-diagonal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadoutKind {
    /// One linear map.
    Linear,
    /// `Linear -> ReLU -> Linear`.
    Mlp,
}

/// SD-SSM. Defaults: the README's parity run (N 64, K 8, p 1.2, linear readout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SdSsmConfig {
    /// State size `N`. Default 64.
    pub state_size: usize,
    /// Dictionary size `K` (number of transition matrices). Default 8.
    pub num_transition_matrices: usize,
    /// `p` of the column Lp normalisation, `>= 1`. Default 1.2 (the original CLI default
    /// is 1.0, but every README run sets 1.1–1.4).
    pub lp_norm: f64,
    /// `linear` (SD-SSM) or `mlp` (`SDSSM_nonlinear`). Default `linear`.
    pub readout: ReadoutKind,
    /// Hidden width of the MLP readout. Default 64.
    pub mlp_size: usize,
    /// LayerNorm epsilon before the readout. Default 1e-5.
    pub norm_eps: f64,
}

impl Default for SdSsmConfig {
    fn default() -> Self {
        Self {
            state_size: 64,
            num_transition_matrices: 8,
            lp_norm: 1.2,
            readout: ReadoutKind::Linear,
            mlp_size: 64,
            norm_eps: 1e-5,
        }
    }
}

impl SdSsmConfig {
    /// Checks every field (and the sizes the model will be built with); errors name the
    /// field as `<kind>.<field>`.
    pub fn validate(&self, _vocab_size: usize, _out_dim: usize) -> Result<(), ZooError> {
        let c = self;
        positive("sdssm.state_size", c.state_size)?;
        positive("sdssm.num_transition_matrices", c.num_transition_matrices)?;
        positive("sdssm.mlp_size", c.mlp_size)?;
        positive_f("sdssm.norm_eps", c.norm_eps)?;
        if !(c.lp_norm.is_finite() && c.lp_norm >= 1.0) {
            return Err(ZooError::invalid(
                "sdssm.lp_norm",
                format!("must be a finite number >= 1, got {}", c.lp_norm),
            ));
        }
        Ok(())
    }
}

/// Linear or MLP readout `(.., N) -> (.., C)`.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Readout<B: Backend> {
    /// `W_o z + b_o`.
    Linear(Linear<B>),
    /// `Linear -> ReLU -> Linear`.
    Mlp(Mlp<B>),
}

/// Two linear layers with a ReLU in between.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// First layer.
    pub fc1: Linear<B>,
    /// Second layer.
    pub fc2: Linear<B>,
}

impl<B: Backend> Readout<B> {
    /// `kind` readout `d_in -> d_out`, hidden width `hidden` for the MLP (PyTorch init).
    pub fn new(
        kind: ReadoutKind,
        d_in: usize,
        hidden: usize,
        d_out: usize,
        device: &B::Device,
    ) -> Self {
        match kind {
            ReadoutKind::Linear => Readout::Linear(linear_torch(d_in, d_out, true, device)),
            ReadoutKind::Mlp => Readout::Mlp(Mlp {
                fc1: linear_torch(d_in, hidden, true, device),
                fc2: linear_torch(hidden, d_out, true, device),
            }),
        }
    }

    /// Applies the readout to the last dimension.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Readout::Linear(l) => l.forward(x),
            Readout::Mlp(m) => m.fc2.forward(relu(m.fc1.forward(x))),
        }
    }
}

/// SD-SSM with a linear (`SDSSM`) or MLP (`SDSSM_nonlinear`) readout.
#[derive(Module, Debug)]
pub struct SdSsm<B: Backend> {
    /// The dictionary `A_1..A_K`, `[K, N, N]`, entry `[k, i, j]` = `A_k[i, j]`
    /// (`i` = output state). Init `U(±√(6 / 2N))`.
    pub transitions: Param<Tensor<B, 3>>,
    /// `W_s` as a table `[vocab, K]` (row `v` = column `v` of the `K × D` matrix),
    /// init `U(±1/√vocab)`.
    pub selector: Embedding<B>,
    /// `b_s`, `[K]`, init `U(±1/√vocab)`.
    pub selector_bias: Param<Tensor<B, 1>>,
    /// `W_B` as a table `[vocab, N]`, init `U(±1/√vocab)`.
    pub input: Embedding<B>,
    /// LayerNorm over `N` before the readout.
    pub norm: LayerNorm<B>,
    /// Readout `N -> C`.
    pub readout: Readout<B>,
    lp_norm: f64,
    state_size: usize,
    out_dim: usize,
}

impl<B: Backend> SdSsm<B> {
    /// Builds the model; the config must have been validated.
    pub fn new(
        config: &SdSsmConfig,
        vocab_size: usize,
        out_dim: usize,
        device: &B::Device,
    ) -> Self {
        let (n, k) = (config.state_size, config.num_transition_matrices);
        let in_bound = 1.0 / (vocab_size as f64).sqrt();
        Self {
            transitions: uniform([k, n, n], (6.0 / (2.0 * n as f64)).sqrt(), device),
            selector: embedding_uniform(vocab_size, k, in_bound, device),
            selector_bias: uniform([k], in_bound, device),
            input: embedding_uniform(vocab_size, n, in_bound, device),
            norm: LayerNormConfig::new(n)
                .with_epsilon(config.norm_eps)
                .init(device),
            readout: Readout::new(config.readout, n, config.mlp_size, out_dim, device),
            lp_norm: config.lp_norm,
            state_size: n,
            out_dim,
        }
    }

    /// The normalised transition of every token, `[vocab, N, N]`:
    /// `Â^{(v)} = colnorm_p(Σ_k softmax(W_s e_v + b_s)_k A_k)`.
    pub fn token_transitions(&self) -> Tensor<B, 3> {
        let n = self.state_size;
        let [k, _, _] = self.transitions.dims();
        let logits = self.selector.weight.val() + self.selector_bias.val().unsqueeze::<2>();
        let weights = softmax(logits, 1); // (V, K)
        let [vocab, _] = weights.dims();
        let mixed = weights
            .matmul(self.transitions.val().reshape([k, n * n]))
            .reshape([vocab, n, n]);
        // Lp norm of each column j: (Σ_i |M[i, j]|^p)^(1/p), reduced over the row index.
        let p = self.lp_norm;
        let col_norm = mixed
            .clone()
            .abs()
            .powf_scalar(p)
            .sum_dim(1)
            .powf_scalar(1.0 / p); // (V,1,N)
        mixed / col_norm
    }

    /// Hidden states `h_t`, `(batch, len, N)`.
    pub fn hidden_states(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3>
    where
        B: ScanBackend,
    {
        recurrence::dense_per_token(self.token_transitions(), self.input.weight.val(), tokens)
    }
}

impl<B: ScanBackend> SequenceModel<B> for SdSsm<B> {
    /// The state `h_t`, `(batch, N)`.
    type State = Tensor<B, 2>;

    fn forward(&self, tokens: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.readout
            .forward(self.norm.forward(self.hidden_states(tokens)))
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        Tensor::zeros([batch, self.state_size], device)
    }

    fn step(&self, tokens: Tensor<B, 1, Int>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        // Recomputing Â for the whole vocabulary per step keeps `step` exact and stateless;
        // it costs vocab·K·N² per step, negligible for the small alphabets of these tasks.
        let a = self.token_transitions().select(0, tokens.clone());
        let h = recurrence::dense_step(a, state, lookup(&self.input, tokens));
        (self.readout.forward(self.norm.forward(h.clone())), h)
    }

    fn out_dim(&self) -> usize {
        self.out_dim
    }
}
