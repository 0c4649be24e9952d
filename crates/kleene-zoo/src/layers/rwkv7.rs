//! RWKV-7 "Goose" time mixing as flash-linear-attention's `fla/layers/rwkv7.py`
//! (`RWKV7Attention`, `fuse_norm = False`, spec §5). Per token `x` (previous token `x₋`, zero
//! before the first), with `H = d_model / head_dim` heads of key width `K = head_dim` and value
//! width `V = value_dim / H`:
//! ```text
//! x_c = x + (x₋ − x) ⊙ μ_c                      (c ∈ r, w, k, v, a, g: token shift)
//! r = W_r x_r,  k = W_k x_k,  v = W_v x_v
//! w = −e^{−1/2} σ(lora_w(x_w))                  (log decay ∈ (−0.607, 0); lora_w has a tanh inside)
//! a = σ(lora_a(x_a)),  g = lora_g(x_g)          (lora_g: sigmoid inside, no output bias)
//! kk = normalise_h(k ⊙ k_k)                     (per head, from k BEFORE the next line)
//! k ← k ⊙ (1 + (a − 1) ⊙ k_a)
//! S ← diag(e^w) S + (kk ⊙ a)(−kkᵀ S) + k vᵀ,   o = Sᵀ r          (per head, K × V state)
//! o ← GroupNorm_H(o) + (Σ_K r ⊙ k ⊙ r_k) v;     y = W_o (o ⊙ g)
//! ```
//! The recurrence is fla's DPLR form run by kleene-scan's [`kleene_scan::delta_rule`]
//! (`w = e^{log decay}`, `a = −kk`, `b = kk ⊙ a`, write `(k, v)`, read `r` at scale 1), in
//! `forward` (whole sequence) and `step` (one token from the carried state) alike.
//!
//! **Deviations from fla.** A kleene mixer sees only its own input, so every layer behaves like
//! fla's layer 0:
//! - no value residual: fla's layers after the first lerp `v` toward the first layer's `v`
//!   (`v ← v + (v_first − v) σ(lora_v(x_v))`), which needs a cross-layer channel the mixer
//!   interface does not have; there is no `v_lora` either;
//! - the init (spec §5.3) is the one fla gives layer index 0 of `n_layer`: every mixer of a
//!   stack starts alike (fla varies the mixing vectors, decay bias and norm weight with depth).
//!
//! `elementwise_affine = False` and the fused norm path (`fuse_norm`, which L2-normalises `kk`
//! with eps 1e-6 inside the root instead of `F.normalize`'s floor) are not offered.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, tanh};
use serde::{Deserialize, Serialize};

use kleene_scan::{delta_rule, DeltaRuleInput, ScanBackend};

use crate::init::{linear_orthogonal, param_from_vec};
use crate::ops::sequence::shift_in_time;
use crate::validate::{ensure, positive};
use crate::{SequenceLayer, ZooError};

/// `e^{−1/2}`: the bound of the log decay (fla's `-0.6065306597126334`).
const DECAY_BOUND: f64 = 0.606_530_659_712_633_4;

/// Floor of `‖k ⊙ k_k‖` (`F.normalize`'s eps 1e-12), applied to the squared norm so that the
/// gradient stays finite when a head's key vanishes.
const NORMALISE_EPS_SQ: f64 = 1e-24;

/// Configuration of an [`Rwkv7`] layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rwkv7Config {
    /// Key width per head; must divide `d_model` (`H = d_model / head_dim`). Default 64 (fla);
    /// small models set it smaller.
    pub head_dim: usize,
    /// Total value width (`value_dim / H` per head); `null` is `d_model`. Default null.
    pub value_dim: Option<usize>,
    /// Rank of the decay LoRA; `null` is fla's `max(32, 32·round(2.5·√d·(head_dim/64)/32))`.
    /// Default null.
    pub decay_low_rank_dim: Option<usize>,
    /// Rank of the in-context learning-rate (`a`) LoRA; `null` is the decay formula.
    /// Default null.
    pub a_low_rank_dim: Option<usize>,
    /// Rank of the output-gate LoRA; `null` is fla's `max(32, 32·round(5·√d/32))`. Default null.
    pub gate_low_rank_dim: Option<usize>,
    /// GroupNorm epsilon per unit of head width (the norm uses `head_dim · norm_eps`).
    /// Default 1e-5.
    pub norm_eps: f64,
}

impl Default for Rwkv7Config {
    fn default() -> Self {
        Self {
            head_dim: 64,
            value_dim: None,
            decay_low_rank_dim: None,
            a_low_rank_dim: None,
            gate_low_rank_dim: None,
            norm_eps: 1e-5,
        }
    }
}

/// fla's default LoRA rank: `max(32, 32 · round(scale · √d · factor / 32))`, Python's
/// round-half-to-even.
fn default_rank(d_model: usize, scale: f64, factor: f64) -> usize {
    let r = (scale * (d_model as f64).sqrt() * factor / 32.0).round_ties_even() as usize * 32;
    r.max(32)
}

/// Sizes derived from a config and `d_model`.
struct Sizes {
    heads: usize,
    value_dim: usize,
    decay_rank: usize,
    a_rank: usize,
    gate_rank: usize,
}

impl Rwkv7Config {
    fn sizes(&self, d_model: usize) -> Result<Sizes, ZooError> {
        ensure(d_model > 0, "d_model", "must be > 0")?;
        positive("rwkv7.head_dim", self.head_dim)?;
        ensure(
            d_model.is_multiple_of(self.head_dim),
            "rwkv7.head_dim",
            format!("must divide d_model ({d_model}), got {}", self.head_dim),
        )?;
        let heads = d_model / self.head_dim;
        let value_dim = self.value_dim.unwrap_or(d_model);
        ensure(
            value_dim > 0 && value_dim.is_multiple_of(heads),
            "rwkv7.value_dim",
            format!("must be a positive multiple of the head count ({heads}), got {value_dim}"),
        )?;
        let factor = self.head_dim as f64 / 64.0;
        let rank = |field: &str, value: Option<usize>, default: usize| match value {
            Some(r) => positive(&format!("rwkv7.{field}"), r).map(|_| r),
            None => Ok(default),
        };
        let decay_default = default_rank(d_model, 2.5, factor);
        let sizes = Sizes {
            heads,
            value_dim,
            decay_rank: rank("decay_low_rank_dim", self.decay_low_rank_dim, decay_default)?,
            a_rank: rank("a_low_rank_dim", self.a_low_rank_dim, decay_default)?,
            gate_rank: rank(
                "gate_low_rank_dim",
                self.gate_low_rank_dim,
                default_rank(d_model, 5.0, 1.0),
            )?,
        };
        ensure(
            self.norm_eps.is_finite() && self.norm_eps > 0.0,
            "rwkv7.norm_eps",
            format!("must be finite and > 0, got {}", self.norm_eps),
        )?;
        Ok(sizes)
    }

    /// Checks every field; errors name the field.
    pub fn validate(&self, d_model: usize) -> Result<(), ZooError> {
        self.sizes(d_model).map(|_| ())
    }

    /// Builds the layer with fla's init for layer index 0 of `n_layer` (spec §5.3).
    pub fn init<B: Backend>(
        &self,
        d_model: usize,
        n_layer: usize,
        device: &B::Device,
    ) -> Result<Rwkv7<B>, ZooError> {
        let s = self.sizes(d_model)?;
        let (d, hd) = (d_model, self.head_dim);
        // Layer 0: ratio_0_to_1 = 0 and ratio_1_to_almost0 = 1.
        let per_channel = |f: &dyn Fn(usize) -> f64| -> Vec<f64> { (0..d).map(f).collect() };
        let ddd = per_channel(&|n| n as f64 / d as f64);
        let linear = per_channel(&|n| {
            if d > 1 {
                n as f64 / (d - 1) as f64 - 0.5
            } else {
                0.0
            }
        });
        let zigzag = per_channel(&|n| {
            let half = (hd as f64 - 1.0) / 2.0;
            let z = if hd > 1 {
                ((n % hd) as f64 - half) / half
            } else {
                0.0
            };
            z * z.abs()
        });
        let www = per_channel(&|n| {
            -6.0 + 6.0
                * if d > 1 {
                    n as f64 / (d - 1) as f64
                } else {
                    0.0
                }
        });
        let vector =
            |v: Vec<f64>| param_from_vec(v.into_iter().map(|x| x as f32).collect(), [d], device);
        let mix = |p: f64| vector(ddd.iter().map(|x| 1.0 - x.powf(p)).collect());
        let zip = |f: &dyn Fn(usize) -> f64| vector((0..d).map(f).collect());
        Ok(Rwkv7 {
            x_r: mix(0.2),
            x_w: mix(0.9),
            x_k: mix(0.7),
            x_v: mix(0.7),
            x_a: mix(0.9),
            x_g: mix(0.2),
            k_k: zip(&|n| 0.71 - 0.1 * linear[n]),
            k_a: Param::from_tensor(Tensor::full([d], 1.02, device)),
            r_k: Param::from_tensor(Tensor::full([s.heads, hd], -0.04, device)),
            r_proj: linear_orthogonal(d, d, 1.0, device),
            k_proj: linear_orthogonal(d, d, 0.1, device),
            v_proj: linear_orthogonal(d, s.value_dim, 1.0, device),
            o_proj: Linear {
                weight: Param::from_tensor(Tensor::zeros([s.value_dim, d], device)),
                bias: None,
            },
            w_lora: Rwkv7Lora::new(
                d,
                s.decay_rank,
                d,
                Some(zip(&|n| www[n] + 0.5 + 2.5 * zigzag[n])),
                device,
            ),
            a_lora: Rwkv7Lora::new(
                d,
                s.a_rank,
                d,
                Some(zip(&|n| -0.19 + 0.3 * zigzag[n] + 0.4 * linear[n])),
                device,
            ),
            g_lora: Rwkv7Lora::new(d, s.gate_rank, s.value_dim, None, device),
            g_norm_weight: Param::from_tensor(Tensor::full(
                [s.value_dim],
                (1.0 / n_layer.max(1) as f64).powf(0.7),
                device,
            )),
            g_norm_bias: Param::from_tensor(Tensor::zeros([s.value_dim], device)),
            heads: s.heads,
            head_dim: hd,
            head_v: s.value_dim / s.heads,
            norm_eps: hd as f64 * self.norm_eps,
        })
    }
}

/// fla's `LoRA` (`fla/layers/rwkv6.py`): `up(act(down x))`, the activation chosen by the caller.
#[derive(Module, Debug)]
pub struct Rwkv7Lora<B: Backend> {
    /// fla's `lora.0`: `d → rank`, no bias.
    pub down: Linear<B>,
    /// fla's `lora.2`: `rank → out`, with a bias except in the gate LoRA.
    pub up: Linear<B>,
}

impl<B: Backend> Rwkv7Lora<B> {
    /// fla's init: `down` zeros; `up` orthogonal with gain `0.1 · √(rank/out)` when
    /// `rank > out` (else 0.1); the bias (if any) as given.
    fn new(
        d: usize,
        rank: usize,
        out: usize,
        bias: Option<Param<Tensor<B, 1>>>,
        device: &B::Device,
    ) -> Self {
        let gain = 0.1
            * if rank > out {
                (rank as f64 / out as f64).sqrt()
            } else {
                1.0
            };
        let mut up = linear_orthogonal(rank, out, gain, device);
        up.bias = bias;
        Self {
            down: Linear {
                weight: Param::from_tensor(Tensor::zeros([d, rank], device)),
                bias: None,
            },
            up,
        }
    }

    fn forward(
        &self,
        x: Tensor<B, 3>,
        activation: impl Fn(Tensor<B, 3>) -> Tensor<B, 3>,
    ) -> Tensor<B, 3> {
        self.up.forward(activation(self.down.forward(x)))
    }
}

/// The RWKV-7 time-mixing layer; see the module docs. Field names follow fla's parameters.
#[derive(Module, Debug)]
pub struct Rwkv7<B: Backend> {
    /// Token-shift mixing vectors `μ_c` `(d)` (fla's `(1, 1, d)`).
    pub x_r: Param<Tensor<B, 1>>,
    pub x_w: Param<Tensor<B, 1>>,
    pub x_k: Param<Tensor<B, 1>>,
    pub x_v: Param<Tensor<B, 1>>,
    pub x_a: Param<Tensor<B, 1>>,
    pub x_g: Param<Tensor<B, 1>>,
    /// Scale of `k` before normalising it into the removal direction `kk`, `(d)`.
    pub k_k: Param<Tensor<B, 1>>,
    /// How much `a` modulates the written key, `(d)`.
    pub k_a: Param<Tensor<B, 1>>,
    /// Per-head weights of the bonus `(Σ r ⊙ k ⊙ r_k) v`, `(H, head_dim)`.
    pub r_k: Param<Tensor<B, 2>>,
    pub r_proj: Linear<B>,
    pub k_proj: Linear<B>,
    pub v_proj: Linear<B>,
    pub o_proj: Linear<B>,
    pub w_lora: Rwkv7Lora<B>,
    pub a_lora: Rwkv7Lora<B>,
    pub g_lora: Rwkv7Lora<B>,
    /// GroupNorm (`H` groups over `value_dim`) affine weight and bias.
    pub g_norm_weight: Param<Tensor<B, 1>>,
    pub g_norm_bias: Param<Tensor<B, 1>>,
    heads: usize,
    head_dim: usize,
    head_v: usize,
    /// The GroupNorm epsilon, `head_dim · norm_eps`.
    norm_eps: f64,
}

/// Recurrent state of [`Rwkv7`].
#[derive(Debug, Clone)]
pub struct Rwkv7State<B: Backend> {
    /// The previous input `(B, d)` (token shift).
    pub prev_x: Tensor<B, 2>,
    /// The matrix state `S (B, H, K, V)`, key-major.
    pub s: Tensor<B, 4>,
}

impl<B: ScanBackend> Rwkv7<B> {
    /// Outputs `(B, L, d)` and the final matrix state for inputs `x (B, L, d)` after the token
    /// `prev (B, 1, d)` and from the state `s0`.
    fn mix(
        &self,
        x: Tensor<B, 3>,
        prev: Tensor<B, 3>,
        s0: Tensor<B, 4>,
    ) -> (Tensor<B, 3>, Tensor<B, 4>) {
        let [batch, len, d] = x.dims();
        let (h, kd, vd) = (self.heads, self.head_dim, self.head_v);
        let delta = shift_in_time(x.clone(), prev) - x.clone();
        let lerp =
            |mu: &Param<Tensor<B, 1>>| x.clone() + delta.clone() * mu.val().reshape([1, 1, d]);
        let r = self.r_proj.forward(lerp(&self.x_r));
        let log_decay =
            sigmoid(self.w_lora.forward(lerp(&self.x_w), tanh)).mul_scalar(-DECAY_BOUND);
        let k = self.k_proj.forward(lerp(&self.x_k));
        let v = self.v_proj.forward(lerp(&self.x_v));
        let a = sigmoid(self.a_lora.forward(lerp(&self.x_a), |t| t));
        let g = self.g_lora.forward(lerp(&self.x_g), sigmoid);
        let heads_first = |t: Tensor<B, 3>, c: usize| t.reshape([batch, len, h, c]).swap_dims(1, 2);
        let kk = heads_first(k.clone() * self.k_k.val().reshape([1, 1, d]), kd);
        let kk = kk.clone()
            / kk.powi_scalar(2)
                .sum_dim(3)
                .clamp_min(NORMALISE_EPS_SQ)
                .sqrt();
        let k = k.clone() + k * (a.clone().sub_scalar(1.0)) * self.k_a.val().reshape([1, 1, d]);
        let (r, k, v, a) = (
            heads_first(r, kd),
            heads_first(k, kd),
            heads_first(v, vd),
            heads_first(a, kd),
        );
        let (o, s) = delta_rule(DeltaRuleInput {
            q: r.clone(),
            k: k.clone(),
            v: v.clone(),
            a: kk.clone().neg(),
            b: kk * a,
            w: Some(heads_first(log_decay, kd).exp()),
            initial_state: Some(s0),
        });
        // GroupNorm with one group per head (biased variance), then the bonus term.
        let mean = o.clone().mean_dim(3);
        let centred = o - mean;
        let var = centred.clone().powi_scalar(2).mean_dim(3);
        let o = centred / var.add_scalar(self.norm_eps).sqrt()
            * self.g_norm_weight.val().reshape([1, h, 1, vd])
            + self.g_norm_bias.val().reshape([1, h, 1, vd]);
        let bonus = (r * k * self.r_k.val().reshape([1, h, 1, kd])).sum_dim(3) * v;
        let o = (o + bonus).swap_dims(1, 2).reshape([batch, len, h * vd]);
        (self.o_proj.forward(o * g), s)
    }
}

impl<B: ScanBackend> SequenceLayer<B> for Rwkv7<B> {
    type State = Rwkv7State<B>;

    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, _, d] = x.dims();
        let device = x.device();
        let s0 = self.init_state(batch, &device).s;
        self.mix(x, Tensor::zeros([batch, 1, d], &device), s0).0
    }

    fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
        let d = self.heads * self.head_dim;
        Rwkv7State {
            prev_x: Tensor::zeros([batch, d], device),
            s: Tensor::zeros([batch, self.heads, self.head_dim, self.head_v], device),
        }
    }

    fn step(&self, x: Tensor<B, 2>, state: Self::State) -> (Tensor<B, 2>, Self::State) {
        let [batch, d] = x.dims();
        let prev = state.prev_x.reshape([batch, 1, d]);
        let (y, s) = self.mix(x.clone().reshape([batch, 1, d]), prev, state.s);
        (y.reshape([batch, d]), Rwkv7State { prev_x: x, s })
    }
}
