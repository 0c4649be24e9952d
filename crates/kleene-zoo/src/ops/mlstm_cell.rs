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
    let kv = k
        .clone()
        .reshape([b, nh, dh, 1])
        .matmul(v.reshape([b, nh, 1, dh]));
    let c =
        state.c * f_act.clone().reshape([b, nh, 1, 1]) + kv * i_act.clone().reshape([b, nh, 1, 1]);
    let n = state.n * f_act + k * i_act;
    let num = q
        .clone()
        .reshape([b, nh, 1, dh])
        .matmul(c.clone())
        .reshape([b, nh, dh]);
    let qn = (q * n.clone()).sum_dim(2); // (B, NH, 1)
    let den = qn
        .abs()
        .max_pair(m.clone().neg().exp().reshape([b, nh, 1]))
        .add_scalar(eps);
    (num / den, MlstmCellState { c, n, m })
}

/// Chunkwise stabilised mLSTM (upstream's `chunkwise_simple`, restated): chunks of `chunk`
/// positions (the sequence zero-padded at the end to a multiple), the parallel form inside
/// each chunk and the matrix state carried across chunk borders. Same arguments and result as
/// [`mlstm_parallel`].
///
/// With `b_s` the within-chunk cumulative `logσ(f̃)` and `M_c` the stabiliser of the state
/// `(C_c, n_c)` entering chunk `c` (`M_0 = 0`, `C_0 = n_0 = 0`):
/// ```text
/// a_j = b_C − b_j + ĩ_j,  μ_c = max_j a_j,  M_{c+1} = max(b_C + M_c, μ_c)
/// C_{c+1} = e^{b_C + M_c − M_{c+1}} C_c + Σ_j e^{a_j − M_{c+1}} k_j v_jᵀ/√DH   (n alike)
/// m_s = max(b_s + M_c, max_{j≤s} (b_s − b_j + ĩ_j))
/// h_s = [e^{b_s+M_c−m_s} C_cᵀq_s + Σ_{j≤s} e^{b_s−b_j+ĩ_j−m_s} (q_s·k_j/√DH) v_j] / (max(|den|, e^{−m_s}) + eps)
/// ```
/// where `den` is the same sum with `n_c` and 1 in place of `C_c` and `v_j`. `m_s` equals the
/// recurrent step's stabiliser exactly (both include the `m_0 = 0` path), so this form equals
/// [`mlstm_step`] looped, eps included; it differs from [`mlstm_parallel`] only through eps.
pub fn mlstm_chunkwise<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    i: Tensor<B, 3>,
    f: Tensor<B, 3>,
    chunk: usize,
    eps: f64,
) -> Tensor<B, 4> {
    let [b, nh, l, dh] = q.dims();
    let device = q.device();
    let cs = chunk.min(l).max(1);
    let nc = l.div_ceil(cs);
    let lp = nc * cs;
    let pad4 = |t: Tensor<B, 4>| {
        if lp > l {
            Tensor::cat(vec![t, Tensor::zeros([b, nh, lp - l, dh], &device)], 2)
        } else {
            t
        }
    };
    let pad3 = |t: Tensor<B, 3>| {
        if lp > l {
            Tensor::cat(vec![t, Tensor::zeros([b, nh, lp - l], &device)], 2)
        } else {
            t
        }
    };
    let chunks = |t: Tensor<B, 4>| pad4(t).reshape([b, nh, nc, cs, dh]);
    let q = chunks(q);
    let k = chunks(k.div_scalar((dh as f64).sqrt()));
    let v = chunks(v);
    let i = pad3(i).reshape([b, nh, nc, cs]);
    let bcum = log_sigmoid(pad3(f)).reshape([b, nh, nc, cs]).cumsum(3);
    let b_last = bcum.clone().narrow(3, cs - 1, 1); // (B, NH, nc, 1)

    // Chunk summaries on the local stabiliser μ_c.
    let a = b_last.clone() - bcum.clone() + i.clone(); // (B, NH, nc, C)
    let mu = a.clone().max_dim(3); // (B, NH, nc, 1)
    let wa = (a - mu.clone()).exp().reshape([b, nh, nc, cs, 1]);
    let kw = k.clone() * wa;
    let kv = kw.clone().swap_dims(3, 4).matmul(v.clone()); // (B, NH, nc, DH, DH)
    let ksum = kw.sum_dim(3).reshape([b, nh, nc, dh]);

    // States entering each chunk (a short loop over chunks).
    let mut c_state = Tensor::<B, 4>::zeros([b, nh, dh, dh], &device);
    let mut n_state = Tensor::<B, 3>::zeros([b, nh, dh], &device);
    let mut m_state = Tensor::<B, 2>::zeros([b, nh], &device);
    let (mut cs_in, mut ns_in, mut ms_in) = (Vec::new(), Vec::new(), Vec::new());
    let last_c = b_last.clone().reshape([b, nh, nc]);
    let mu_c = mu.reshape([b, nh, nc]);
    for c in 0..nc {
        cs_in.push(c_state.clone().reshape([b, nh, 1, dh, dh]));
        ns_in.push(n_state.clone().reshape([b, nh, 1, dh]));
        ms_in.push(m_state.clone().reshape([b, nh, 1]));
        if c + 1 == nc {
            break;
        }
        let bl = last_c.clone().narrow(2, c, 1).reshape([b, nh]);
        let mu_here = mu_c.clone().narrow(2, c, 1).reshape([b, nh]);
        let decayed = bl + m_state;
        let m_next = decayed.clone().max_pair(mu_here.clone());
        let w_old = (decayed - m_next.clone()).exp();
        let w_new = (mu_here - m_next.clone()).exp();
        c_state = c_state * w_old.clone().reshape([b, nh, 1, 1])
            + kv.clone().narrow(2, c, 1).reshape([b, nh, dh, dh])
                * w_new.clone().reshape([b, nh, 1, 1]);
        n_state = n_state * w_old.reshape([b, nh, 1])
            + ksum.clone().narrow(2, c, 1).reshape([b, nh, dh]) * w_new.reshape([b, nh, 1]);
        m_state = m_next;
    }
    let c_in = Tensor::cat(cs_in, 2); // (B, NH, nc, DH, DH)
    let n_in = Tensor::cat(ns_in, 2).reshape([b, nh, nc, dh, 1]);
    let m_in = Tensor::cat(ms_in, 2).reshape([b, nh, nc, 1]);

    // Outputs: intra-chunk parallel form plus the entering state.
    let inter_log = (bcum.clone() + m_in).reshape([b, nh, nc, cs, 1]);
    let future = future_mask::<B>(cs, &device)
        .reshape([1, 1, 1, cs, cs])
        .expand([b, nh, nc, cs, cs]);
    let intra_log = (bcum.clone().reshape([b, nh, nc, cs, 1])
        - (bcum - i).reshape([b, nh, nc, 1, cs]))
    .mask_fill(future, f32::NEG_INFINITY);
    let m = intra_log.clone().max_dim(4).max_pair(inter_log.clone()); // (B, NH, nc, C, 1)
    let w_inter = (inter_log - m.clone()).exp();
    let scores = q.clone().matmul(k.swap_dims(3, 4)) * (intra_log - m.clone()).exp();
    let num = scores.clone().matmul(v) + q.clone().matmul(c_in) * w_inter.clone();
    let den = scores.sum_dim(4) + q.matmul(n_in) * w_inter;
    let h = num / den.abs().max_pair(m.neg().exp()).add_scalar(eps);
    h.reshape([b, nh, lp, dh]).narrow(2, 0, l)
}
