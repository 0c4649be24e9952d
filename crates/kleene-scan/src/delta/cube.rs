//! CubeCL kernels of the delta rule for `CubeBackend<R, F, I, BT>` (burn-wgpu, burn-cuda).
//!
//! Work split: one cube per sequence (batch × head), `S` key-major (`dk × dv`, row-major).
//! * forward: unit `j < dv` owns column `S[:, j]` in a local array (`dk` floats): `u_j = aᵀS[:, j]`,
//!   the update and `o_tj = qᵀS[:, j]` are column-local, so no unit talks to another.
//! * backward: (1) the forward again, storing the state before every `chunk`-th step in a global
//!   checkpoint buffer (`seqs × n_chunks × dk × dv`); (2) the steps last to first: at the last
//!   step of each chunk the chunk's states are recomputed from its checkpoint into a global
//!   scratch (`seqs × (chunk + 1) × dk × dv`), then every step runs in two phases separated by
//!   storage + cube barriers, with `dS` (the gradient w.r.t. the state) in global memory (the
//!   `initial_state` gradient buffer):
//!   - columns (unit `j < dv`): `dS[:, j] += q do_j`, `dv_j = kᵀdS[:, j]`, `g_j = bᵀdS[:, j]`,
//!     `u_j = aᵀP[:, j]`; `g`, `u`, `do` go to shared memory;
//!   - rows (unit `i < dk`): the reductions over `j` are row-local, `dq_i = S_t[i, :]·do`,
//!     `dk_i = dS[i, :]·v`, `dw_i = dS[i, :]·P[i, :]`, `db_i = dS[i, :]·u`, `da_i = P[i, :]·g`, and
//!     `dS[i, :] ← w_i dS[i, :] + a_i g` (= dL/dS_{t-1}).
//!
//!   Every output element is written by exactly one unit: no atomics, no partial sums.
//!
//! The reverse pass is one flat loop over steps (the recompute inside an `if`), not a loop over
//! chunks around a loop over steps: on llvmpipe a loop holding cube barriers nested in another
//! loop ran its outer loop only once (seen with Mesa's lavapipe; the tests caught it).
//!
//! Time blocks (see `crate::cube::kernels`): llvmpipe stops an invocation after 65,535 loop
//! iterations, and these units loop over `dk` / `dv` inside every step, so the launchers size each
//! launch by the loop count per step ([`LOOP_BUDGET`]); the state (forward: the final-state slot
//! of the output; backward: the checkpoints and `dS`) is carried from launch to launch.
//!
//! Limits: `dk, dv <= MAX_DIM` (cube size `max(dk, dv)` within WebGPU's 256 invocations, column
//! in a local array) and `batch·heads <= 65,535` (one cube per sequence on one dispatch axis);
//! larger problems take the host path (`delta::host`, a device round trip).

mod kernels;

use burn::tensor::ops::FloatTensor;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::prelude::*;

use super::{host, DeltaDims, DeltaRuleBackend, DeltaRuleGrads, DeltaRulePrimitives};
use crate::cube::{empty, prep};
use kernels::{delta_bwd_kernel, delta_ckpt_kernel, delta_fwd_kernel};

/// Largest `dk` and `dv` the kernels take (one unit per row / column in a cube).
pub const MAX_DIM: usize = 256;
/// Most sequences (cubes) per launch.
pub const MAX_SEQS: usize = 65_535;
/// Loop iterations one unit may run per launch (llvmpipe's limit is 65,535).
pub const LOOP_BUDGET: usize = 60_000;

/// Loop iterations per step of the forward / checkpoint kernels (two loops over `dk`).
fn fwd_cost(dk: usize) -> usize {
    2 * dk + 4
}

/// Loop iterations per step of the reverse kernel: recompute (three loops over `dk`, plus the
/// chunk's checkpoint load, counted per step), the column phase (`dk`) and the row phase (`dv`).
fn bwd_cost(dk: usize, dv: usize) -> usize {
    5 * dk + dv + 8
}

/// `(start, end)` blocks covering `0..len`, each at most `block` long.
fn blocks(len: usize, block: usize) -> Vec<(u32, u32)> {
    (0..len.div_ceil(block))
        .map(|i| ((i * block) as u32, ((i + 1) * block).min(len) as u32))
        .collect()
}

/// Whether the kernels take these sizes; outside them the host path runs.
pub fn kernels_apply(d: &DeltaDims) -> bool {
    d.dk <= MAX_DIM && d.dv <= MAX_DIM && d.sequences() <= MAX_SEQS
}

/// Recompute chunk and chunks per reverse launch for a sequence of `len` steps.
pub fn backward_chunking(len: usize, dk: usize, dv: usize) -> (usize, usize) {
    let steps = (LOOP_BUDGET / bwd_cost(dk, dv)).max(1);
    let chunk = host::recompute_chunk(len).min(steps).max(1);
    (chunk, (steps / chunk).max(1))
}

type Cube<R, F, I, BT> = CubeBackend<R, F, I, BT>;

/// The inputs contiguous in `q`'s dtype; absent optionals replaced by `q` (never read).
struct Prepared<R: CubeRuntime> {
    q: CubeTensor<R>,
    k: CubeTensor<R>,
    v: CubeTensor<R>,
    a: CubeTensor<R>,
    b: CubeTensor<R>,
    w: CubeTensor<R>,
    s0: CubeTensor<R>,
    has_w: bool,
    has_s0: bool,
}

fn prepare<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    p: DeltaRulePrimitives<Cube<R, F, I, BT>>,
) -> Prepared<R> {
    let dtype = p.q.dtype;
    let c = |t: CubeTensor<R>| prep::<R, F, I, BT>(t, dtype);
    let q = c(p.q);
    let (has_w, has_s0) = (p.w.is_some(), p.initial_state.is_some());
    Prepared {
        k: c(p.k),
        v: c(p.v),
        a: c(p.a),
        b: c(p.b),
        w: p.w.map(c).unwrap_or_else(|| q.clone()),
        s0: p.initial_state.map(c).unwrap_or_else(|| q.clone()),
        q,
        has_w,
        has_s0,
    }
}

/// CubeCL kernels (module docs); the host path outside [`MAX_DIM`] / [`MAX_SEQS`].
impl<R, F, I, BT> DeltaRuleBackend for CubeBackend<R, F, I, BT>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    /// The DeltaProduct stays on the device: tensor ops around these kernels.
    fn delta_product_fused() -> bool {
        false
    }

    fn delta_rule_forward(input: DeltaRulePrimitives<Self>) -> FloatTensor<Self> {
        let d = input.dims();
        if !kernels_apply(&d) {
            return host::forward_primitives::<Self>(input);
        }
        let x = prepare::<R, F, I, BT>(input);
        let (seqs, len, dk, dv) = (d.sequences(), d.len, d.dk, d.dv);
        let out = empty(&x.q, vec![seqs * len * dv + seqs * dk * dv]);
        let client = x.q.client.clone();
        let dtype = x.q.dtype;
        for (t_start, t_end) in blocks(len, (LOOP_BUDGET / fwd_cost(dk)).max(1)) {
            delta_fwd_kernel::launch::<R>(
                &client,
                CubeCount::Static(seqs as u32, 1, 1),
                CubeDim::new_1d(dv as u32),
                x.q.clone().into_tensor_arg(),
                x.k.clone().into_tensor_arg(),
                x.v.clone().into_tensor_arg(),
                x.a.clone().into_tensor_arg(),
                x.b.clone().into_tensor_arg(),
                x.w.clone().into_tensor_arg(),
                x.s0.clone().into_tensor_arg(),
                out.clone().into_tensor_arg(),
                t_start,
                t_end,
                dk,
                x.has_w,
                x.has_s0,
                dtype.into(),
            );
        }
        out
    }

    fn delta_rule_backward(
        input: DeltaRulePrimitives<Self>,
        grad: FloatTensor<Self>,
    ) -> DeltaRuleGrads<Self> {
        let d = input.dims();
        if !kernels_apply(&d) {
            return host::backward_primitives::<Self>(input, grad);
        }
        let x = prepare::<R, F, I, BT>(input);
        let dtype = x.q.dtype;
        let grad = prep::<R, F, I, BT>(grad, dtype);
        let (seqs, len, dk, dv) = (d.sequences(), d.len, d.dk, d.dv);
        let (chunk, chunks_per_launch) = backward_chunking(len, dk, dv);
        let n_chunks = len.div_ceil(chunk);
        let ckpt = empty(&x.q, vec![seqs * n_chunks * dk * dv]);
        let states = empty(&x.q, vec![seqs * (chunk + 1) * dk * dv]);
        let key = vec![d.batch, d.heads, len, dk];
        let ds = empty(&x.q, vec![d.batch, d.heads, dk, dv]);
        let (gq, gk, ga, gb) = (
            empty(&x.q, key.clone()),
            empty(&x.q, key.clone()),
            empty(&x.q, key.clone()),
            empty(&x.q, key.clone()),
        );
        let gv = empty(&x.q, vec![d.batch, d.heads, len, dv]);
        let gw = empty(&x.q, if x.has_w { key } else { vec![1] });
        let client = x.q.client.clone();
        let count = CubeCount::Static(seqs as u32, 1, 1);
        // Step 1: checkpoints before every chunk but the first (slot 0, the initial state, is
        // written by the launch at t = 0, which runs even when there is a single chunk).
        let ckpt_block = ((LOOP_BUDGET / fwd_cost(dk)) / chunk).max(1) * chunk;
        let mut ckpt_blocks = blocks((n_chunks - 1) * chunk, ckpt_block);
        if ckpt_blocks.is_empty() {
            ckpt_blocks.push((0, 0));
        }
        for (t_start, t_end) in ckpt_blocks {
            delta_ckpt_kernel::launch::<R>(
                &client,
                count.clone(),
                CubeDim::new_1d(dv as u32),
                x.q.clone().into_tensor_arg(),
                x.k.clone().into_tensor_arg(),
                x.v.clone().into_tensor_arg(),
                x.a.clone().into_tensor_arg(),
                x.b.clone().into_tensor_arg(),
                x.w.clone().into_tensor_arg(),
                x.s0.clone().into_tensor_arg(),
                ckpt.clone().into_tensor_arg(),
                t_start,
                t_end,
                dk,
                chunk,
                x.has_w,
                x.has_s0,
                dtype.into(),
            );
        }
        // Step 2: the reverse pass over blocks of chunks, last block first.
        for (i, &(c_lo, c_hi)) in blocks(n_chunks, chunks_per_launch).iter().rev().enumerate() {
            delta_bwd_kernel::launch::<R>(
                &client,
                count.clone(),
                CubeDim::new_1d(dk.max(dv) as u32),
                x.q.clone().into_tensor_arg(),
                x.k.clone().into_tensor_arg(),
                x.v.clone().into_tensor_arg(),
                x.a.clone().into_tensor_arg(),
                x.b.clone().into_tensor_arg(),
                x.w.clone().into_tensor_arg(),
                grad.clone().into_tensor_arg(),
                ckpt.clone().into_tensor_arg(),
                states.clone().into_tensor_arg(),
                ds.clone().into_tensor_arg(),
                gq.clone().into_tensor_arg(),
                gk.clone().into_tensor_arg(),
                gv.clone().into_tensor_arg(),
                ga.clone().into_tensor_arg(),
                gb.clone().into_tensor_arg(),
                gw.clone().into_tensor_arg(),
                c_lo,
                c_hi,
                u32::from(i == 0),
                dk,
                dv,
                chunk,
                x.has_w,
                dtype.into(),
            );
        }
        DeltaRuleGrads {
            q: gq,
            k: gk,
            v: gv,
            a: ga,
            b: gb,
            w: x.has_w.then_some(gw),
            initial_state: x.has_s0.then_some(ds),
        }
    }
}
