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
//! Both forms evaluate the WKV sum with a running-max stabiliser, so either sign is safe in f32.
//! `forward` computes all projections at once and the WKV numerator and denominator with one
//! parallel diagonal scan (`kleene_scan::diagonal_recurrence`, scaled by the detached running
//! maximum exponent; see `Rwkv::wkv_parallel`), so it is `O(L)` forward and backward; `step`
//! is one iteration of the usual recurrence on `(numerator, denominator, exponent)`.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use kleene_scan::{diagonal_recurrence, ScanBackend};

use crate::init::{linear_normal, out_std, param_random, INIT_STD};
use crate::ops::sequence::shift_in_time;
use crate::validate::ensure;
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
            w_k: linear_normal(d, d, false, INIT_STD, device),
            w_v: linear_normal(d, d, false, INIT_STD, device),
            w_r: linear_normal(d, d, false, INIT_STD, device),
            w_o: linear_normal(d, d, false, out_std(n_layer), device),
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

impl<B: ScanBackend> Rwkv<B> {
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

    /// WKV of a whole sequence, `k, v: (B, L, d)`, `u, w: (d,)`, with one parallel diagonal
    /// scan (`kleene_scan::diagonal_recurrence`) instead of a loop over time.
    ///
    /// With `A_t = Σ_{i<=t} e^{(t-i) w + k_i} v_i` and `Z_t` the same sum without `v`,
    /// `wkv_t = (A_{t-1} + e^{u + k_t} v_t) / (Z_{t-1} + e^{u + k_t})`. The sums are scanned in
    /// the scaled form of `step`, `Ã_t = A_t e^{-m_t}` with `m_t = max(m_{t-1} + w, k_t)` the
    /// largest exponent: `Ã_t = e^{min(0, -z_t)} Ã_{t-1} + e^{min(0, z_t)} v_t`, where
    /// `z_t = k_t - (m_{t-1} + w)` is the new token's lead over the past. Every factor is `<= 1`
    /// and `Z̃_t >= 1`, in either sign mode.
    ///
    /// `m_{t-1} = k_j + (t-1-j) w` for the index `j = J_{t-1} = argmax_{i<t} (k_i - i w)` of the
    /// dominant past term; `J` is found with a detached `cummax` and `m` is rebuilt from it with
    /// a gather, so `z_t` is a small difference (no large `t w` cancels in the forward), and the
    /// `min(0, ·)` give exactly zero gradient to the side that wins, as the step form's
    /// running max does (a detached scale would instead push the whole `e^{t w}` dependence
    /// through the scan and cancel it in the ratio: large gradient errors in faithful mode).
    /// Forward and backward are `O(L)` and parallel over `B x d`.
    fn wkv_parallel(
        k: Tensor<B, 3>,
        v: Tensor<B, 3>,
        u: Tensor<B, 1>,
        w: Tensor<B, 1>,
    ) -> Tensor<B, 3> {
        let [b, l, d] = k.dims();
        let device = k.device();
        let u = u.reshape([1, 1, d]);
        let w = w.reshape([1, 1, d]);
        let pos = Tensor::<B, 1, Int>::arange(0..l as i64, &device)
            .float()
            .reshape([1, l, 1]);
        // J_t: the latest i <= t where k_i - i w reaches its running maximum (detached).
        let score = (k.clone() - pos.clone() * w.clone()).detach();
        let new_lead = score.clone().greater_equal(score.cummax(1)).float();
        let lead = (new_lead * pos.clone()).cummax(1);
        let lead_prev = shift_in_time(lead, Tensor::zeros([b, 1, d], &device)); // J_{-1} := 0
        let age = pos - lead_prev.clone(); // t - J_{t-1}
        let k_lead = k.clone().gather(1, lead_prev.int());
        let m_prev = k_lead + (age.sub_scalar(1.0)) * w.clone(); // m_{t-1}
        let lead_over_past = k.clone() - (m_prev.clone() + w); // z_t (0 at t = 0: J_{-1} = 0)
        let decay = relu(lead_over_past.clone()).neg().exp();
        let weight = relu(lead_over_past.neg()).neg().exp();
        let scaled = diagonal_recurrence(
            Tensor::cat(vec![decay.clone(), decay], 2),
            Tensor::cat(vec![weight.clone() * v.clone(), weight], 2),
            None,
        );
        let scaled_prev = shift_in_time(scaled, Tensor::zeros([b, 1, 2 * d], &device));
        let num_prev = scaled_prev.clone().narrow(2, 0, d);
        let den_prev = scaled_prev.narrow(2, d, d);
        // Rescale past and current token to the larger of `m_{t-1}` and `u + k_t`; at t = 0
        // there is no past (its sums are 0, its exponent -inf).
        let first = pos_is_first::<B>(b, l, d, &device);
        let past_over_now = (m_prev - (u + k)).mask_fill(first, NO_PAST);
        let e_past = relu(past_over_now.clone().neg()).neg().exp();
        let e_now = relu(past_over_now).neg().exp();
        (num_prev * e_past.clone() + e_now.clone() * v) / (den_prev * e_past + e_now)
    }
}

/// `past_over_now` at `t = 0` (no past): `exp` of it is 0, of its negation... never taken.
const NO_PAST: f32 = -1e30;

/// `(B, L, d)` mask, true at `t = 0`.
fn pos_is_first<B: Backend>(
    b: usize,
    l: usize,
    d: usize,
    device: &B::Device,
) -> Tensor<B, 3, Bool> {
    Tensor::<B, 1, Int>::arange(0..l as i64, device)
        .reshape([1, l, 1])
        .expand([b, l, d])
        .equal_elem(0)
}

impl<B: ScanBackend> SequenceLayer<B> for Rwkv<B> {
    type State = RwkvState<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, _, d] = x.dims();
        let device = x.device();
        let shifted = shift_in_time(x.clone(), Tensor::zeros([b, 1, d], &device));
        let k = self.mix(x.clone(), shifted.clone(), &self.mix_k, &self.w_k);
        let v = self.mix(x.clone(), shifted.clone(), &self.mix_v, &self.w_v);
        let r = self.mix(x, shifted, &self.mix_r, &self.w_r);
        let wkv = Self::wkv_parallel(k, v, self.time_first.val(), self.w());
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
