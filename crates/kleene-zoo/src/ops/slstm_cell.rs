//! The sLSTM cell (scalar memory, exponential input gate, stabiliser state `m`), after NX-AI/xlstm
//! `blocks/slstm/src/vanilla/slstm.py` (`slstm_forward_pointwise`) and the head-wise recurrent
//! matmul of `slstm_forward`. Gate order `i, f, z, o`; per unit, with `lf = logσ(f̃)`:
//! ```text
//! [ĩ, f̃, z̃, õ] = W x_t + R y_{t-1} + b       (R block-diagonal: one dh×4dh block per head)
//! m_t = max(ĩ, lf + m_{t-1})                 (m_t = ĩ on the first step)
//! i' = exp(ĩ − m_t),  f' = exp(lf + m_{t-1} − m_t)
//! c_t = f' c_{t-1} + i' tanh z̃,  n_t = f' n_{t-1} + i',  y_t = σ(õ) c_t / n_t
//! ```
//! Upstream clamps `i'` and `f'` at 1; the arguments of both exps are `≤ 0` by construction of
//! `m_t` (also in floating point: `m_t` is one of the two operands), so the clamps are no-ops
//! and are left out. Upstream takes the first-step branch when `n` is all zero; here the
//! initial `m` is [`M_START`] (a huge negative number), which gives the same `m_1 = ĩ` and
//! `f' = 0` on the first step without a data-dependent branch. The stabiliser cancels in
//! `c / n`: the cell equals the unstabilised `c ← σ(f̃) c + e^ĩ tanh z̃`, `n ← σ(f̃) n + e^ĩ`
//! (the float64 oracle of the tests).

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, sigmoid, tanh};

use kleene_scan::ScanBackend;

use super::sequence::unstack_time;

/// Initial stabiliser: `lf + M_START` loses to any `ĩ`, so the first step sets `m = ĩ` (the
/// same constant as kleene-scan's fused op).
pub const M_START: f32 = kleene_scan::slstm::M_START;

/// State of the sLSTM cell, each `(B, NH·dh)` (head index slow).
#[derive(Debug, Clone)]
pub struct SlstmCellState<B: Backend> {
    pub y: Tensor<B, 2>,
    pub c: Tensor<B, 2>,
    pub n: Tensor<B, 2>,
    pub m: Tensor<B, 2>,
}

impl<B: Backend> SlstmCellState<B> {
    /// The zero state (`m` at [`M_START`]).
    pub fn zeros(batch: usize, width: usize, device: &B::Device) -> Self {
        Self {
            y: Tensor::zeros([batch, width], device),
            c: Tensor::zeros([batch, width], device),
            n: Tensor::zeros([batch, width], device),
            m: Tensor::full([batch, width], M_START, device),
        }
    }
}

/// The pointwise update from the four gate pre-activations `(B, width)` each (recurrent part
/// and bias included).
pub fn slstm_pointwise<B: Backend>(
    [i, f, z, o]: [Tensor<B, 2>; 4],
    state: SlstmCellState<B>,
) -> SlstmCellState<B> {
    let lf_m = log_sigmoid(f) + state.m;
    let m = i.clone().max_pair(lf_m.clone());
    let i_act = (i - m.clone()).exp();
    let f_act = (lf_m - m.clone()).exp();
    let c = f_act.clone() * state.c + i_act.clone() * tanh(z);
    let n = f_act * state.n + i_act;
    let y = sigmoid(o) * c.clone() / n.clone();
    SlstmCellState { y, c, n, m }
}

/// One step: `wx: (B, NH, 4, dh)` input pre-activations with the bias, `r: (NH, dh, 4·dh)`
/// the recurrent kernel (upstream's `(NH, dh_in, 4, dh_out)` flattened over its last two dims).
pub fn slstm_step<B: Backend>(
    wx: Tensor<B, 4>,
    r: Tensor<B, 3>,
    state: SlstmCellState<B>,
) -> SlstmCellState<B> {
    let [b, nh, _, dh] = wx.dims();
    let ry = state
        .y
        .clone()
        .reshape([b, nh, dh])
        .swap_dims(0, 1)
        .matmul(r)
        .swap_dims(0, 1)
        .reshape([b, nh, 4, dh]);
    let raw = wx + ry;
    let gate = |g: usize| raw.clone().narrow(2, g, 1).reshape([b, nh * dh]);
    slstm_pointwise([gate(0), gate(1), gate(2), gate(3)], state)
}

/// The cell over a whole sequence from the zero state, `wx: (B, L, NH, 4, dh)` flattened to
/// `(B, L, NH·4·dh)`; returns `y: (B, L, NH·dh)`. On the CPU backends this is kleene-scan's
/// fused op ([`kleene_scan::slstm()`]: one pass forward, a hand-written backward through time);
/// elsewhere the tensor-op loop [`slstm_sequence`].
pub fn slstm_sequence_from_zero<B: ScanBackend>(
    wx: Tensor<B, 3>,
    r: Tensor<B, 3>,
    heads: usize,
) -> Tensor<B, 3> {
    if B::slstm_fused() {
        kleene_scan::slstm(wx, r)
    } else {
        let [b, _, w4] = wx.dims();
        let state = SlstmCellState::zeros(b, w4 / 4, &wx.device());
        slstm_sequence(wx, r, heads, state).0
    }
}

/// The cell over a whole sequence from `state` as a loop of tensor-op steps, `wx: (B, L, NH,
/// 4, dh)` flattened to `(B, L, NH·4·dh)`; returns `y: (B, L, NH·dh)` and the final state.
pub fn slstm_sequence<B: Backend>(
    wx: Tensor<B, 3>,
    r: Tensor<B, 3>,
    heads: usize,
    mut state: SlstmCellState<B>,
) -> (Tensor<B, 3>, SlstmCellState<B>) {
    let [b, l, w4] = wx.dims();
    let width = w4 / 4;
    let dh = width / heads;
    let mut ys = Vec::with_capacity(l);
    // Split into steps by halving (see `unstack_time`: O(L log L) backward, not O(L²)).
    for wx_t in unstack_time(wx) {
        state = slstm_step(wx_t.reshape([b, heads, 4, dh]), r.clone(), state);
        ys.push(state.y.clone().reshape([b, 1, width]));
    }
    (Tensor::cat(ys, 1), state)
}
