//! The mLSTM cell (matrix memory with exponential input gate and sigmoid forget gate), after
//! NX-AI/xlstm `blocks/mlstm/backends.py`: the parallel stabilised form
//! (`parallel_stabilized_simple`) for whole sequences and the recurrent stabilised step
//! (`recurrent_step_stabilized_simple`). Per head, with `lf = logσ(f̃)`:
//! ```text
//! step:      m_t = max(lf_t + m_{t-1}, ĩ_t)   (m_0 = 0)
//!            f' = exp(lf_t + m_{t-1} − m_t),  i' = exp(ĩ_t − m_t)
//!            C_t = f' C_{t-1} + i' (k_t/√DH) v_tᵀ,   n_t = f' n_{t-1} + i' k_t/√DH
//!            h_t = C_tᵀ q_t / (max(|q_t·n_t|, exp(−m_t)) + eps)
//! parallel:  F_i = Σ_{l≤i} lf_l,  logD_ij = F_i − F_j + ĩ_j (j ≤ i, else −∞),  m_i = max_j logD_ij
//!            C̃ = (Q Kᵀ/√DH) ⊙ exp(logD − m_i),  h_i = Σ_j C̃_ij v_j / (max(|Σ_j C̃_ij|, exp(−m_i)) + eps)
//! ```
//! The stabiliser `m` cancels: both forms equal the unstabilised cell
//! `C ← σ(f̃) C + e^ĩ k vᵀ/√DH`, `n ← σ(f̃) n + e^ĩ k/√DH`, `h = Cᵀq / max(|qᵀn|, 1)` up to
//! `eps` (which sits on the stabilised scale, as upstream). The parallel form is `O(L²)` per
//! head (Burn matmuls); upstream's chunkwise form is not ported.

use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;

use super::causal_mask::future_mask;

/// Upstream's `eps` in the denominators of both forms.
pub const MLSTM_EPS: f64 = 1e-6;

/// Parallel stabilised mLSTM over whole sequences: `q, k, v: (B, NH, L, DH)`, gate
/// pre-activations `i, f: (B, NH, L)`; returns `h̃: (B, NH, L, DH)` (zero initial state).
pub fn mlstm_parallel<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    i: Tensor<B, 3>,
    f: Tensor<B, 3>,
    eps: f64,
) -> Tensor<B, 4> {
    let [b, nh, l, dh] = q.dims();
    let device = q.device();
    let cum = log_sigmoid(f).cumsum(2); // F: (B, NH, L)
    let rows = cum.clone().reshape([b, nh, l, 1]);
    let cols = (cum - i).reshape([b, nh, 1, l]); // F_j − ĩ_j
    let future = future_mask::<B>(l, &device)
        .reshape([1, 1, l, l])
        .expand([b, nh, l, l]);
    // Masked before the max and the exp (spec pitfall 17): −∞ above the diagonal.
    let log_d = (rows - cols).mask_fill(future, f32::NEG_INFINITY);
    let m = log_d.clone().max_dim(3); // (B, NH, L, 1); the diagonal keeps it finite
    let decay = (log_d - m.clone()).exp();
    let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((dh as f64).sqrt()) * decay;
    let norm = scores
        .clone()
        .sum_dim(3)
        .abs()
        .max_pair(m.neg().exp())
        .add_scalar(eps);
    (scores / norm).matmul(v)
}

/// State of the recurrent mLSTM: `c: (B, NH, DH, DH)` (key index first), `n: (B, NH, DH)`,
/// `m: (B, NH)`, all on the stabilised scale.
#[derive(Debug, Clone)]
pub struct MlstmCellState<B: Backend> {
    pub c: Tensor<B, 4>,
    pub n: Tensor<B, 3>,
    pub m: Tensor<B, 2>,
}

impl<B: Backend> MlstmCellState<B> {
    /// Upstream's initial state: `C = 0`, `n = 0`, `m = 0`.
    pub fn zeros(batch: usize, heads: usize, head_dim: usize, device: &B::Device) -> Self {
        Self {
            c: Tensor::zeros([batch, heads, head_dim, head_dim], device),
            n: Tensor::zeros([batch, heads, head_dim], device),
            m: Tensor::zeros([batch, heads], device),
        }
    }
}

/// One recurrent stabilised step: `q, k, v: (B, NH, DH)`, `i, f: (B, NH)`; returns
/// `h̃: (B, NH, DH)` and the new state.
pub fn mlstm_step<B: Backend>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    i: Tensor<B, 2>,
    f: Tensor<B, 2>,
    state: MlstmCellState<B>,
    eps: f64,
) -> (Tensor<B, 3>, MlstmCellState<B>) {
    let [b, nh, dh] = q.dims();
    let lf_m = log_sigmoid(f) + state.m;
    let m = lf_m.clone().max_pair(i.clone());
    let f_act = (lf_m - m.clone()).exp().reshape([b, nh, 1]);
    let i_act = (i - m.clone()).exp().reshape([b, nh, 1]);
    let k = k.div_scalar((dh as f64).sqrt());
    let kv = k.clone().reshape([b, nh, dh, 1]).matmul(v.reshape([b, nh, 1, dh]));
    let c = state.c * f_act.clone().reshape([b, nh, 1, 1]) + kv * i_act.clone().reshape([b, nh, 1, 1]);
    let n = state.n * f_act + k * i_act;
    let num = q.clone().reshape([b, nh, 1, dh]).matmul(c.clone()).reshape([b, nh, dh]);
    let qn = (q * n.clone()).sum_dim(2); // (B, NH, 1)
    let den = qn
        .abs()
        .max_pair(m.clone().neg().exp().reshape([b, nh, 1]))
        .add_scalar(eps);
    (num / den, MlstmCellState { c, n, m })
}
