//! LSTM as a mixer (`nn.LSTM(d, d, num_layers = 1)`), with REGBENCH's (`dfa/lstm`) upstream
//! re-initialisation; the same cell, with PyTorch's default init, makes the SD-SSM paper's
//! LSTM model ([`crate::models::lstm`]).
//!
//! `[i, f, g, o] = W_ih x_t + W_hh h_{t-1} + b` (PyTorch gate order), `i, f, o = σ(·)`,
//! `g = tanh(·)`, `c_t = f ⊙ c_{t-1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`; the output is `h_t`.
//!
//! Init: `W_ih` Xavier-uniform, `W_hh` orthogonal (orthonormal columns), bias 0 except the
//! forget-gate slice = `forget_bias` (1). PyTorch's two biases `b_ih + b_hh` are one parameter
//! here (they only ever appear summed).
//!
//! The paper's "LSTM" is this layer inside the `no_ffn_faithful` backbone (one LSTM on the raw
//! embeddings, whatever `n_layer` says, spec §3.1.2); `no_ffn` gives a proper pre-norm residual
//! stack. `forward` and `step` are the same recurrence (LSTMs have no parallel form); `forward`
//! computes the input projections of all positions at once.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::init::{linear_uniform, param_from_vec};
use crate::ops::sequence::unstack_time;
use crate::validate::ensure;
use crate::{SequenceLayer, ZooError};

/// Configuration of a [`Lstm`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmMixerConfig {
    /// Initial value of the forget-gate bias. Finite. Default 1.
    pub forget_bias: f64,
}

impl Default for LstmMixerConfig {
    fn default() -> Self {
        Self { forget_bias: 1.0 }
    }
}

impl LstmMixerConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(
            self.forget_bias.is_finite(),
            "lstm.forget_bias",
            format!("must be finite, got {}", self.forget_bias),
        )
    }

    /// Builds the layer (`n_layer` is unused: the LSTM has no output projection).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        _n_layer: usize,
        device: &B::Device,
    ) -> Result<Lstm<B>, ZooError> {
        self.validate(d_model)?;
        let d = d_model;
        let bound = (6.0 / (d + 4 * d) as f64).sqrt();
        let gaussian: Vec<f32> =
            Tensor::<B, 2>::random([4 * d, d], Distribution::Normal(0.0, 1.0), device)
                .into_data()
                .convert::<f32>()
                .to_vec()
                .expect("f32 data");
        let q = orthonormal_columns(&gaussian, 4 * d, d);
        // Stored as [d_in = d, d_out = 4d] (Burn's Linear layout): transpose of (4d, d).
        let mut recurrent = vec![0f32; d * 4 * d];
        for r in 0..4 * d {
            for c in 0..d {
                recurrent[c * 4 * d + r] = q[r * d + c] as f32;
            }
        }
        let mut bias = vec![0f32; 4 * d];
        for v in &mut bias[d..2 * d] {
            *v = self.forget_bias as f32;
        }
        Ok(Lstm {
            input: Linear {
                weight: Param::from_tensor(Tensor::random(
                    [d, 4 * d],
                    Distribution::Uniform(-bound, bound),
                    device,
                )),
                bias: Some(param_from_vec(bias, [4 * d], device)),
            },
            recurrent: Linear {
                weight: param_from_vec(recurrent, [d, 4 * d], device),
                bias: None,
            },
        })
    }
}

/// Gram–Schmidt (twice, for stability) on the columns of a row-major `(rows, cols)` matrix.
fn orthonormal_columns(m: &[f32], rows: usize, cols: usize) -> Vec<f64> {
    let mut q: Vec<f64> = m.iter().map(|v| *v as f64).collect();
    for c in 0..cols {
        for _ in 0..2 {
            for p in 0..c {
                let dot: f64 = (0..rows).map(|r| q[r * cols + c] * q[r * cols + p]).sum();
                for r in 0..rows {
                    q[r * cols + c] -= dot * q[r * cols + p];
                }
            }
        }
        let norm: f64 = (0..rows)
            .map(|r| q[r * cols + c].powi(2))
            .sum::<f64>()
            .sqrt();
        for r in 0..rows {
            q[r * cols + c] /= norm.max(1e-12);
        }
    }
    q
}

/// The REGBENCH LSTM; see the module docs.
#[derive(Module, Debug)]
pub struct Lstm<B: Backend> {
    /// Input projection `d_in -> 4d` (`W_ih`) with the bias (REGBENCH: the summed bias).
    pub input: Linear<B>,
    /// Recurrent projection `d -> 4d` (`W_hh`; REGBENCH: no bias, PyTorch default: `b_hh`).
    pub recurrent: Linear<B>,
}

/// Recurrent state of [`Lstm`]: `(B, d)` each.
#[derive(Debug, Clone)]
pub struct LstmState<B: Backend> {
    pub h: Tensor<B, 2>,
    pub c: Tensor<B, 2>,
}

impl<B: Backend> Lstm<B> {
    /// An LSTM `d_in -> hidden` with PyTorch's default `nn.LSTM` init: every weight and both
    /// biases `U(±1/√hidden)` (the SD-SSM paper's model; draws `W_ih, b_ih, W_hh, b_hh`).
    pub fn pytorch_default(d_in: usize, hidden: usize, device: &B::Device) -> Self {
        let bound = 1.0 / (hidden as f64).sqrt();
        Self {
            input: linear_uniform(d_in, 4 * hidden, true, bound, device),
            recurrent: linear_uniform(hidden, 4 * hidden, true, bound, device),
        }
    }

    /// One cell update from the precomputed input projection `x_proj: (B, 4d)`.
    pub(crate) fn cell(&self, x_proj: Tensor<B, 2>, state: LstmState<B>) -> LstmState<B> {
        let d = state.h.dims()[1];
        let z = x_proj + self.recurrent.forward(state.h);
        let i = sigmoid(z.clone().narrow(1, 0, d));
        let f = sigmoid(z.clone().narrow(1, d, d));
        let g = tanh(z.clone().narrow(1, 2 * d, d));
        let o = sigmoid(z.narrow(1, 3 * d, d));
        let c = f * state.c + i * g;
        let h = o * tanh(c.clone());
        LstmState { h, c }
    }
}

impl<B: Backend> SequenceLayer<B> for Lstm<B> {
    type State = LstmState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, l, _] = x.dims();
        let mut state = self.init_state(b, &x.device());
        let hidden = state.h.dims()[1];
        let mut outs = Vec::with_capacity(l);
        // All input projections at once, then split into steps in O(L log L) (see
        // `unstack_time`: per-step `narrow`s of the full tensor would make backward O(L^2)).
        for x_proj in unstack_time(self.input.forward(x)) {
            state = self.cell(x_proj, state);
            outs.push(state.h.clone().reshape([b, 1, hidden]));
        }
        Tensor::cat(outs, 1)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let d = self.recurrent.weight.dims()[0];
        LstmState {
            h: Tensor::zeros([batch, d], device),
            c: Tensor::zeros([batch, d], device),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let state = self.cell(self.input.forward(x), state);
        (state.h.clone(), state)
    }
}
