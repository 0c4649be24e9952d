//! GILR: gated impulse linear recurrence (Martin & Cundy 2018) as in REGBENCH's `rnn/gilr.py`.
//!
//! `[v, o, f] = W_in x` (d -> 3d), `h_t = σ(f_t) ⊙ h_{t-1} + (1 - σ(f_t)) ⊙ v_t`,
//! `out = W_out LN(Dropout(h ⊙ SiLU(o)))`.
//!
//! `forward` runs the real diagonal recurrence with `kleene_scan::diagonal_recurrence`;
//! `step` is one step of it.

use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, silu};
use serde::{Deserialize, Serialize};

use kleene_scan::{diagonal_recurrence, ScanBackend};

use crate::init::{linear_normal, out_std, INIT_STD};
use crate::validate::{ensure, ensure_prob};
use crate::{SequenceLayer, ZooError};

/// Configuration of a [`Gilr`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GilrConfig {
    /// Dropout before the output LayerNorm (active only on autodiff backends). Default 0.2.
    pub dropout: f64,
}

impl Default for GilrConfig {
    fn default() -> Self {
        Self { dropout: 0.2 }
    }
}

impl GilrConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure_prob(self.dropout, "gilr.dropout")
    }

    /// Builds the layer (`n_layer` only scales the output projection's init).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<Gilr<B>, ZooError> {
        self.validate(d_model)?;
        Ok(Gilr {
            w_in: linear_normal(d_model, 3 * d_model, true, INIT_STD, device),
            norm: LayerNormConfig::new(d_model)
                .with_epsilon(1e-5)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            w_out: linear_normal(d_model, d_model, true, out_std(n_layer), device),
        })
    }
}

/// The GILR layer; see the module docs.
#[derive(Module, Debug)]
pub struct Gilr<B: Backend> {
    pub w_in: Linear<B>,
    pub norm: LayerNorm<B>,
    pub dropout: Dropout,
    pub w_out: Linear<B>,
}

impl<B: Backend> Gilr<B> {
    fn gates<const D: usize>(&self, x: Tensor<B, D>) -> [Tensor<B, D>; 3] {
        let p = self.w_in.forward(x);
        let d = p.dims()[D - 1] / 3;
        let v = p.clone().narrow(D - 1, 0, d);
        let o = p.clone().narrow(D - 1, d, d);
        let f = sigmoid(p.narrow(D - 1, 2 * d, d));
        [v, o, f]
    }

    fn output<const D: usize>(&self, h: Tensor<B, D>, o: Tensor<B, D>) -> Tensor<B, D> {
        self.w_out
            .forward(self.norm.forward(self.dropout.forward(h * silu(o))))
    }
}

impl<B: ScanBackend> SequenceLayer<B> for Gilr<B> {
    type State = Tensor<B, 2>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [v, o, f] = self.gates(x);
        let input = (f.clone().neg().add_scalar(1.0)) * v;
        let h = diagonal_recurrence(f, input, None);
        self.output(h, o)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let d = self.w_out.weight.dims()[1];
        Tensor::zeros([batch, d], device)
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [v, o, f] = self.gates(x);
        let h = f.clone() * state + (f.neg().add_scalar(1.0)) * v;
        (self.output(h.clone(), o), h)
    }
}
