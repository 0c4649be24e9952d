//! RWKV-4 time mixing as used by REGBENCH (`dfa/rwkv`; channel mixing is replaced by the
//! backbone MLP).
//!
//! Token shift `x'_t = x_{t-1}` (`x_{-1} = 0`); `k_t = W_k(μ_k ⊙ x_t + (1 - μ_k) ⊙ x'_t)`, likewise
//! `v_t` (μ_v) and `r_t` (μ_r);
//!
//! `wkv_t = (Σ_{i<t} e^{(t-1-i) w + k_i} v_i + e^{u + k_t} v_t) / (Σ_{i<t} e^{(t-1-i) w + k_i} + e^{u + k_t})`,
//! `o_t = W_o(σ(r_t) ⊙ wkv_t)`, `u = time_first`.
//!
//! **Decay sign.** Standard RWKV-4 uses `w = -exp(time_decay)` (past weights decay). The
//! REGBENCH code copied a Triton kernel from `codekansas/rwkv` whose sign was not flipped when
//! the model switched to passing `exp(time_decay)`, so there `w = +exp(time_decay)` and past
//! weights *grow* by `e^w >= 1` per step. [`RwkvDecay::Faithful`] reproduces that published
//! behaviour; [`RwkvDecay::Corrected`] is standard RWKV-4.
//!
//! Both forms evaluate the WKV sum with the usual running-max stabiliser (numerator,
//! denominator and exponent `(a, b, p)`), so either sign is safe in f32. `forward` runs the WKV
//! recurrence as a sequential scan over time (as the reference kernel does) after computing all
//! projections at once; `step` is one iteration of the same recurrence.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use super::util::{ensure, linear, out_std, param_random, INIT_STD};
use crate::{SequenceLayer, ZooError};

/// Sign convention of the RWKV time decay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RwkvDecay {
    /// `w = +exp(time_decay)`: the (buggy) growth of the REGBENCH code. Default, to match the paper.
    #[default]
    Faithful,
    /// `w = -exp(time_decay)`: standard RWKV-4 decay.
    Corrected,
}

/// Configuration of an [`Rwkv`] time-mixing layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RwkvConfig {
    /// Sign of the time decay; see [`RwkvDecay`]. Default `faithful`.
    pub decay: RwkvDecay,
}

impl RwkvConfig {
    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")
    }

    /// Builds the layer (`n_layer` only scales the output projection's init).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<Rwkv<B>, ZooError> {
        self.validate(d_model)?;
        let d = d_model;
        let randn = || param_random([d], Distribution::Normal(0.0, 1.0), device);
        Ok(Rwkv {
            time_decay: randn(),
            time_first: randn(),
            mix_k: randn(),
            mix_v: randn(),
            mix_r: randn(),
            w_k: linear(d, d, false, INIT_STD, device),
            w_v: linear(d, d, false, INIT_STD, device),
            w_r: linear(d, d, false, INIT_STD, device),
            w_o: linear(d, d, false, out_std(n_layer), device),
            decay_sign: match self.decay {
                RwkvDecay::Faithful => 1.0,
                RwkvDecay::Corrected => -1.0,
            },
        })
    }
}

/// RWKV-4 time mixing; see the module docs.
#[derive(Module, Debug)]
pub struct Rwkv<B: Backend> {
    /// `w = ±exp(time_decay)`, `(d,)`.
    pub time_decay: Param<Tensor<B, 1>>,
    /// Bonus `u` of the current token, `(d,)`.
    pub time_first: Param<Tensor<B, 1>>,
    pub mix_k: Param<Tensor<B, 1>>,
    pub mix_v: Param<Tensor<B, 1>>,
    pub mix_r: Param<Tensor<B, 1>>,
    pub w_k: Linear<B>,
    pub w_v: Linear<B>,
    pub w_r: Linear<B>,
    pub w_o: Linear<B>,
    /// +1 (faithful growth) or -1 (corrected decay).
    decay_sign: f64,
}

/// Recurrent state of [`Rwkv`]: `(B, d)` tensors.
#[derive(Debug, Clone)]
pub struct RwkvState<B: Backend> {
    /// The previous input (token shift).
    pub prev_x: Tensor<B, 2>,
    /// Stabilised numerator `Σ e^{...} v / e^p`.
    pub num: Tensor<B, 2>,
    /// Stabilised denominator `Σ e^{...} / e^p`.
    pub den: Tensor<B, 2>,
    /// Running exponent `p`.
    pub max_exp: Tensor<B, 2>,
}

/// Exponent used for "no past yet" (exp of it is exactly 0 in f32).
const EMPTY_EXP: f32 = -1e30;

impl<B: Backend> Rwkv<B> {
    /// The per-channel `w` (with the configured sign).
    pub fn w(&self) -> Tensor<B, 1> {
        self.time_decay.val().exp().mul_scalar(self.decay_sign)
    }

    fn mix<const D: usize>(
        &self,
        x: Tensor<B, D>,
        shifted: Tensor<B, D>,
        mu: &Param<Tensor<B, 1>>,
        w: &Linear<B>,
    ) -> Tensor<B, D> {
        let d = mu.dims()[0];
        let mut shape = [1usize; D];
        shape[D - 1] = d;
        let mu = mu.val().reshape(shape);
        w.forward(x * mu.clone() + shifted * mu.neg().add_scalar(1.0))
    }

    /// One WKV iteration on `(B, d)` tensors: returns `(wkv_t, num, den, p)`.
    #[allow(clippy::too_many_arguments)]
    fn wkv_step(
        k: Tensor<B, 2>,
        v: Tensor<B, 2>,
        u: Tensor<B, 2>,
        w: Tensor<B, 2>,
        num: Tensor<B, 2>,
        den: Tensor<B, 2>,
        p: Tensor<B, 2>,
    ) -> [Tensor<B, 2>; 4] {
        let ww = u + k.clone();
        let q = p.clone().max_pair(ww.clone());
        let e1 = (p.clone() - q.clone()).exp();
        let e2 = (ww - q).exp();
        let wkv = (e1.clone() * num.clone() + e2.clone() * v.clone()) / (e1 * den.clone() + e2);
        let ww = p + w;
        let q = ww.clone().max_pair(k.clone());
        let e1 = (ww - q.clone()).exp();
        let e2 = (k - q.clone()).exp();
        let num = e1.clone() * num + e2.clone() * v;
        let den = e1 * den + e2;
        [wkv, num, den, q]
    }
}

impl<B: Backend> SequenceLayer<B> for Rwkv<B> {
    type State = RwkvState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, l, d] = x.dims();
        let device = x.device();
        let shifted = if l > 1 {
            Tensor::cat(
                vec![
                    Tensor::zeros([b, 1, d], &device),
                    x.clone().narrow(1, 0, l - 1),
                ],
                1,
            )
        } else {
            Tensor::zeros([b, 1, d], &device)
        };
        let k = self.mix(x.clone(), shifted.clone(), &self.mix_k, &self.w_k);
        let v = self.mix(x.clone(), shifted.clone(), &self.mix_v, &self.w_v);
        let r = self.mix(x, shifted, &self.mix_r, &self.w_r);
        let u = self.time_first.val().reshape([1, d]).expand([b, d]);
        let w = self.w().reshape([1, d]).expand([b, d]);
        let mut num = Tensor::zeros([b, d], &device);
        let mut den = Tensor::zeros([b, d], &device);
        let mut p = Tensor::<B, 2>::zeros([b, d], &device).add_scalar(EMPTY_EXP);
        let mut outs = Vec::with_capacity(l);
        for t in 0..l {
            let k_t = k.clone().narrow(1, t, 1).reshape([b, d]);
            let v_t = v.clone().narrow(1, t, 1).reshape([b, d]);
            let [wkv, n2, d2, p2] = Self::wkv_step(k_t, v_t, u.clone(), w.clone(), num, den, p);
            (num, den, p) = (n2, d2, p2);
            outs.push(wkv.reshape([b, 1, d]));
        }
        let wkv = Tensor::cat(outs, 1);
        self.w_o.forward(sigmoid(r) * wkv)
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let d = self.time_decay.dims()[0];
        RwkvState {
            prev_x: Tensor::zeros([batch, d], device),
            num: Tensor::zeros([batch, d], device),
            den: Tensor::zeros([batch, d], device),
            max_exp: Tensor::<B, 2>::zeros([batch, d], device).add_scalar(EMPTY_EXP),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [b, d] = x.dims();
        let k = self.mix(x.clone(), state.prev_x.clone(), &self.mix_k, &self.w_k);
        let v = self.mix(x.clone(), state.prev_x.clone(), &self.mix_v, &self.w_v);
        let r = self.mix(x.clone(), state.prev_x, &self.mix_r, &self.w_r);
        let u = self.time_first.val().reshape([1, d]).expand([b, d]);
        let w = self.w().reshape([1, d]).expand([b, d]);
        let [wkv, num, den, max_exp] =
            Self::wkv_step(k, v, u, w, state.num, state.den, state.max_exp);
        (
            self.w_o.forward(sigmoid(r) * wkv),
            RwkvState {
                prev_x: x,
                num,
                den,
                max_exp,
            },
        )
    }
}
