//! LRU: linear recurrent unit (Orvieto et al. 2023) as in REGBENCH's `rnn/lru.py`.
//!
//! `[v_re, v_im, o] = W_in x` (d -> 4d: `v` is 2d split into re/im, `o` is 2d),
//! `λ = exp(-e^ν) e^{i e^θ}`, `γ = e^{γ_log}`,
//! `h_t = λ ⊙ h_{t-1} + γ ⊙ (v_re + i v_im)` (complex, per channel),
//! `out = W_out LN_{2d}(Dropout([Re h, Im h] ⊙ SiLU(o)))`.
//!
//! Init (LRU paper): `|λ| ∈ [r_min, r_max]` (uniform on the ring), phase `∈ [0, max_phase]`,
//! `γ = sqrt(1 - |λ|^2)`.

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use kleene_scan::{complex_diagonal_recurrence, ScanBackend};

use crate::init::{linear_normal, out_std, param_from_vec, INIT_STD};
use crate::validate::{ensure, ensure_prob};
use crate::{SequenceLayer, ZooError};

/// Configuration of an [`Lru`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LruConfig {
    /// Smallest initial eigenvalue modulus, in (0, 1). Default 0.9.
    pub r_min: f64,
    /// Largest initial eigenvalue modulus, in [r_min, 1). Default 0.999.
    pub r_max: f64,
    /// Largest initial eigenvalue phase (radians), > 0. Default 2π.
    pub max_phase: f64,
    /// Dropout before the output LayerNorm (active only on autodiff backends). Default 0.2.
    pub dropout: f64,
}

impl Default for LruConfig {
    fn default() -> Self {
        Self {
            r_min: 0.9,
            r_max: 0.999,
            max_phase: 2.0 * std::f64::consts::PI,
            dropout: 0.2,
        }
    }
}

impl LruConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        ensure(
            self.r_min > 0.0 && self.r_min < 1.0,
            "lru.r_min",
            format!("must be in (0, 1), got {}", self.r_min),
        )?;
        ensure(
            self.r_max >= self.r_min && self.r_max < 1.0,
            "lru.r_max",
            format!("must be in [r_min, 1), got {}", self.r_max),
        )?;
        ensure(
            self.max_phase.is_finite() && self.max_phase > 0.0,
            "lru.max_phase",
            format!("must be finite and > 0, got {}", self.max_phase),
        )?;
        ensure_prob(self.dropout, "lru.dropout")
    }

    /// Builds the layer (`n_layer` only scales the output projection's init).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<Lru<B>, ZooError> {
        self.validate(d_model)?;
        let d = d_model;
        // Draw on the backend RNG (seeded by the caller), then transform on the host.
        let u1: Vec<f32> = Tensor::<B, 1>::random([d], Distribution::Uniform(0.0, 1.0), device)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 data");
        let u2: Vec<f32> = Tensor::<B, 1>::random([d], Distribution::Uniform(0.0, 1.0), device)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 data");
        let (r2_lo, r2_hi) = (self.r_min * self.r_min, self.r_max * self.r_max);
        let mut nu = Vec::with_capacity(d);
        let mut theta = Vec::with_capacity(d);
        let mut gamma = Vec::with_capacity(d);
        for c in 0..d {
            let r = (u1[c] as f64 * (r2_hi - r2_lo) + r2_lo).sqrt();
            let phase = (u2[c] as f64 * self.max_phase).max(1e-6);
            nu.push((-r.ln()).ln() as f32);
            theta.push(phase.ln() as f32);
            gamma.push((1.0 - r * r).sqrt().ln() as f32);
        }
        Ok(Lru {
            w_in: linear_normal(d, 4 * d, true, INIT_STD, device),
            nu_log: param_from_vec(nu, [d], device),
            theta_log: param_from_vec(theta, [d], device),
            gamma_log: param_from_vec(gamma, [d], device),
            norm: LayerNormConfig::new(2 * d).with_epsilon(1e-5).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            w_out: linear_normal(2 * d, d, true, out_std(n_layer), device),
        })
    }
}

/// The LRU layer; see the module docs.
#[derive(Module, Debug)]
pub struct Lru<B: Backend> {
    pub w_in: Linear<B>,
    /// `ν` with `|λ| = exp(-e^ν)`, `(d,)`.
    pub nu_log: Param<Tensor<B, 1>>,
    /// `θ` with `arg λ = e^θ`, `(d,)`.
    pub theta_log: Param<Tensor<B, 1>>,
    /// `log γ`, `(d,)`.
    pub gamma_log: Param<Tensor<B, 1>>,
    pub norm: LayerNorm<B>,
    pub dropout: Dropout,
    pub w_out: Linear<B>,
}

/// Recurrent state of [`Lru`]: the complex hidden state `(B, d)`.
#[derive(Debug, Clone)]
pub struct LruState<B: Backend> {
    pub re: Tensor<B, 2>,
    pub im: Tensor<B, 2>,
}

impl<B: Backend> Lru<B> {
    /// `(λ re, λ im, γ)`, each `(d,)`.
    fn coefficients(&self) -> [Tensor<B, 1>; 3] {
        let mag = self.nu_log.val().exp().neg().exp();
        let phase = self.theta_log.val().exp();
        [
            mag.clone() * phase.clone().cos(),
            mag * phase.sin(),
            self.gamma_log.val().exp(),
        ]
    }

    fn split<const D: usize>(&self, x: Tensor<B, D>) -> [Tensor<B, D>; 3] {
        let p = self.w_in.forward(x);
        let d = p.dims()[D - 1] / 4;
        [
            p.clone().narrow(D - 1, 0, d),
            p.clone().narrow(D - 1, d, d),
            p.narrow(D - 1, 2 * d, 2 * d),
        ]
    }

    fn output<const D: usize>(
        &self,
        re: Tensor<B, D>,
        im: Tensor<B, D>,
        o: Tensor<B, D>,
    ) -> Tensor<B, D> {
        let h = Tensor::cat(vec![re, im], D - 1);
        self.w_out
            .forward(self.norm.forward(self.dropout.forward(h * silu(o))))
    }
}

impl<B: ScanBackend> SequenceLayer<B> for Lru<B> {
    type State = LruState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, l, d] = x.dims();
        let [v_re, v_im, o] = self.split(x);
        let [lam_re, lam_im, gamma] = self.coefficients();
        let gamma = gamma.reshape([1, 1, d]);
        let (h_re, h_im) = complex_diagonal_recurrence(
            lam_re.reshape([1, 1, d]).expand([b, l, d]),
            lam_im.reshape([1, 1, d]).expand([b, l, d]),
            v_re * gamma.clone(),
            v_im * gamma,
            None,
        );
        self.output(h_re, h_im, o)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let d = self.nu_log.dims()[0];
        LruState {
            re: Tensor::zeros([batch, d], device),
            im: Tensor::zeros([batch, d], device),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let d = x.dims()[1];
        let [v_re, v_im, o] = self.split(x);
        let [lam_re, lam_im, gamma] = self.coefficients();
        let (lam_re, lam_im, gamma) = (
            lam_re.reshape([1, d]),
            lam_im.reshape([1, d]),
            gamma.reshape([1, d]),
        );
        let re = lam_re.clone() * state.re.clone() - lam_im.clone() * state.im.clone()
            + v_re * gamma.clone();
        let im = lam_re * state.im + lam_im * state.re + v_im * gamma;
        (self.output(re.clone(), im.clone(), o), LruState { re, im })
    }
}
