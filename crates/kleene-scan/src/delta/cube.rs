//! CubeCL kernels of the delta rule for `CubeBackend<R, F, I, BT>` (burn-wgpu, burn-cuda).
//!
//! Work split: one cube per sequence (batch × head), `S` key-major (`dk × dv`, row-major).
//! * forward: unit `j < dv` owns column `S[:, j]` in a local array (`dk` floats): `u_j = aᵀS[:, j]`,
//!   the update and `o_tj = qᵀS[:, j]` are column-local, so no unit talks to another.
//! * backward: (1) the forward again, storing the state before every `chunk`-th step in a global
//!   checkpoint buffer (`seqs × n_chunks × dk × dv`); (2) chunks last to first: the chunk's states
//!   are recomputed from its checkpoint into a global scratch (`seqs × (chunk + 1) × dk × dv`),
//!   then every step runs in reverse in two phases separated by storage + cube barriers, with
//!   `dS` (the gradient w.r.t. the state) in global memory (the `initial_state` gradient buffer):
//!   - columns (unit `j < dv`): `dS[:, j] += q do_j`, `dv_j = kᵀdS[:, j]`, `g_j = bᵀdS[:, j]`,
//!     `u_j = aᵀP[:, j]`; `g`, `u`, `do` go to shared memory;
//!   - rows (unit `i < dk`): the reductions over `j` are row-local, `dq_i = S_t[i, :]·do`,
//!     `dk_i = dS[i, :]·v`, `dw_i = dS[i, :]·P[i, :]`, `db_i = dS[i, :]·u`, `da_i = P[i, :]·g`, and
//!     `dS[i, :] ← w_i dS[i, :] + a_i g` (= dL/dS_{t-1}).
//!   Every output element is written by exactly one unit: no atomics, no partial sums.
//!
//! Time blocks (see `crate::cube::kernels`): llvmpipe stops an invocation after 65,535 loop
//! iterations, and these units loop over `dk` / `dv` inside every step, so the launchers size each
//! launch by the loop count per step ([`LOOP_BUDGET`]); the state (forward: the final-state slot
//! of the output; backward: the checkpoints and `dS`) is carried from launch to launch.
//!
//! Limits: `dk, dv <= MAX_DIM` (cube size `max(dk, dv)` within WebGPU's 256 invocations, column
//! in a local array) and `batch·heads <= 65,535` (one cube per sequence on one dispatch axis);
//! larger problems take the host path (`delta::host`, a device round trip).

// Inside `#[cube]` functions `usize::div_ceil` is not an intrinsic.
#![allow(clippy::manual_div_ceil, clippy::too_many_arguments)]

use burn::tensor::ops::FloatTensor;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::prelude::*;

use super::{host, DeltaDims, DeltaRuleBackend, DeltaRuleGrads, DeltaRulePrimitives};
use crate::cube::{empty, prep};

/// Largest `dk` and `dv` the kernels take (one unit per row / column in a cube).
pub const MAX_DIM: usize = 256;
/// Most sequences (cubes) per launch.
pub const MAX_SEQS: usize = 65_535;
/// Loop iterations one unit may run per launch (llvmpipe's limit is 65,535).
pub const LOOP_BUDGET: usize = 60_000;

/// One forward step of column `j`: `col` (`S_{t-1}[:, j]`) becomes `S_t[:, j]`; returns `o_tj`.
/// `kb` is the offset of step t's key-sized rows, `vj = v_tj`.
#[cube]
fn column_step<F: Float>(
    col: &mut Array<f32>,
    q: &Tensor<F>,
    k: &Tensor<F>,
    a: &Tensor<F>,
    b: &Tensor<F>,
    w: &Tensor<F>,
    kb: usize,
    vj: f32,
    #[comptime] dk: usize,
    #[comptime] has_w: bool,
) -> f32 {
    let mut u = 0.0f32;
    for i in 0..dk {
        u += f32::cast_from(a[kb + i]) * col[i];
    }
    let mut o = 0.0f32;
    for i in 0..dk {
        let mut x = col[i];
        if has_w {
            x *= f32::cast_from(w[kb + i]);
        }
        x += f32::cast_from(b[kb + i]) * u + f32::cast_from(k[kb + i]) * vj;
        col[i] = x;
        o += f32::cast_from(q[kb + i]) * x;
    }
    o
}

/// Forward over steps `t_start..t_end`; `out` is the packed `[o | S_final]`, whose final-state
/// slot carries the state from one launch to the next.
#[cube(launch)]
pub fn delta_fwd_kernel<F: Float>(
    q: &Tensor<F>,
    k: &Tensor<F>,
    v: &Tensor<F>,
    a: &Tensor<F>,
    b: &Tensor<F>,
    w: &Tensor<F>,
    s0: &Tensor<F>,
    out: &mut Tensor<F>,
    t_start: u32,
    t_end: u32,
    #[comptime] dk: usize,
    #[comptime] has_w: bool,
    #[comptime] has_s0: bool,
    #[define(F)] _dtype: StorageType,
) {
    let seqs = q.shape(0) * q.shape(1);
    let len = q.shape(2);
    let dv = v.shape(3);
    let sq = CUBE_POS;
    let j = UNIT_POS as usize;
    if j >= dv {
        terminate!();
    }
    let sz = dk * dv;
    let fin = seqs * len * dv + sq * sz + j;
    let t_start = t_start as usize;
    let mut col = Array::<f32>::new(dk);
    for i in 0..dk {
        let mut x = 0.0f32;
        if t_start > 0 {
            x = f32::cast_from(out[fin + i * dv]);
        } else {
            if has_s0 {
                x = f32::cast_from(s0[sq * sz + i * dv + j]);
            }
        }
        col[i] = x;
    }
    for t in t_start..t_end as usize {
        let vb = (sq * len + t) * dv;
        let vj = f32::cast_from(v[vb + j]);
        let o = column_step::<F>(&mut col, q, k, a, b, w, (sq * len + t) * dk, vj, dk, has_w);
        out[vb + j] = F::cast_from(o);
    }
    for i in 0..dk {
        out[fin + i * dv] = F::cast_from(col[i]);
    }
}

/// Backward, step 1: slot `c` of `ckpt` (seqs, n_chunks, dk, dv) gets the state before step
/// `c * chunk`. Runs steps `t_start..t_end` (`t_start` a multiple of `chunk`), continuing from
/// slot `t_start / chunk`.
#[cube(launch)]
pub fn delta_ckpt_kernel<F: Float>(
    q: &Tensor<F>,
    k: &Tensor<F>,
    v: &Tensor<F>,
    a: &Tensor<F>,
    b: &Tensor<F>,
    w: &Tensor<F>,
    s0: &Tensor<F>,
    ckpt: &mut Tensor<F>,
    t_start: u32,
    t_end: u32,
    #[comptime] dk: usize,
    #[comptime] chunk: usize,
    #[comptime] has_w: bool,
    #[comptime] has_s0: bool,
    #[define(F)] _dtype: StorageType,
) {
    let len = q.shape(2);
    let dv = v.shape(3);
    let sq = CUBE_POS;
    let j = UNIT_POS as usize;
    if j >= dv {
        terminate!();
    }
    let sz = dk * dv;
    let n_chunks = (len + chunk - 1) / chunk;
    let cb = sq * n_chunks * sz + j;
    let t_start = t_start as usize;
    let mut col = Array::<f32>::new(dk);
    for i in 0..dk {
        let mut x = 0.0f32;
        if t_start > 0 {
            x = f32::cast_from(ckpt[cb + (t_start / chunk) * sz + i * dv]);
        } else {
            if has_s0 {
                x = f32::cast_from(s0[sq * sz + i * dv + j]);
            }
            ckpt[cb + i * dv] = F::cast_from(x);
        }
        col[i] = x;
    }
    for t in t_start..t_end as usize {
        let vj = f32::cast_from(v[(sq * len + t) * dv + j]);
        let _o = column_step::<F>(&mut col, q, k, a, b, w, (sq * len + t) * dk, vj, dk, has_w);
        let slot = (t + 1) / chunk;
        if (t + 1) % chunk == 0 && slot < n_chunks {
            for i in 0..dk {
                ckpt[cb + slot * sz + i * dv] = F::cast_from(col[i]);
            }
        }
    }
}

/// Backward, step 2 (module docs): chunks `c_lo..c_hi`, last to first. `ds` (seqs, dk, dv) holds
/// dL/dS between steps and launches (`first == 1`: the launch that covers the end of the
/// sequence takes it from the final-state part of `grad`); at the end of the last launch it is
/// the gradient of the initial state. Cube size `max(dk, dv)`.
#[cube(launch)]
pub fn delta_bwd_kernel<F: Float>(
    q: &Tensor<F>,
    k: &Tensor<F>,
    v: &Tensor<F>,
    a: &Tensor<F>,
    b: &Tensor<F>,
    w: &Tensor<F>,
    grad: &Tensor<F>,
    ckpt: &Tensor<F>,
    states: &mut Tensor<F>,
    ds: &mut Tensor<F>,
    gq: &mut Tensor<F>,
    gk: &mut Tensor<F>,
    gv: &mut Tensor<F>,
    ga: &mut Tensor<F>,
    gb: &mut Tensor<F>,
    gw: &mut Tensor<F>,
    c_lo: u32,
    c_hi: u32,
    first: u32,
    #[comptime] dk: usize,
    #[comptime] dv: usize,
    #[comptime] chunk: usize,
    #[comptime] has_w: bool,
    #[define(F)] _dtype: StorageType,
) {
    let seqs = q.shape(0) * q.shape(1);
    let len = q.shape(2);
    let sq = CUBE_POS;
    let unit = UNIT_POS as usize;
    let sz = dk * dv;
    let n_chunks = (len + chunk - 1) / chunk;
    let d0 = sq * sz;
    let st0 = sq * (chunk + 1) * sz;
    let mut sh_g = SharedMemory::<f32>::new(dv);
    let mut sh_u = SharedMemory::<f32>::new(dv);
    let mut sh_do = SharedMemory::<f32>::new(dv);
    let mut col = Array::<f32>::new(dk);
    if first == 1 {
        if unit < dv {
            let fin = seqs * len * dv + d0 + unit;
            for i in 0..dk {
                ds[d0 + i * dv + unit] = grad[fin + i * dv];
            }
        }
    }
    // One flat loop over the launch's steps, last to first (llvmpipe mishandles cube barriers
    // inside nested loops): a chunk's states are recomputed at its last step.
    let t_lo = c_lo as usize * chunk;
    let t_hi = min(c_hi as usize * chunk, len);
    for s in 0..(t_hi - t_lo) {
        let t = t_hi - 1 - s;
        let t0 = (t / chunk) * chunk;
        let m = t - t0;
        let t1 = min(t0 + chunk, len);
        if t + 1 == t1 {
            // Recompute the chunk's states: slot m of `states` = the state before step t0 + m.
            if unit < dv {
                let j = unit;
                let cb = (sq * n_chunks + t / chunk) * sz + j;
                for i in 0..dk {
                    let x = f32::cast_from(ckpt[cb + i * dv]);
                    col[i] = x;
                    states[st0 + i * dv + j] = F::cast_from(x);
                }
                for mm in 0..t1 - t0 {
                    let tt = t0 + mm;
                    let vj = f32::cast_from(v[(sq * len + tt) * dv + j]);
                    let kb = (sq * len + tt) * dk;
                    let _o = column_step::<F>(&mut col, q, k, a, b, w, kb, vj, dk, has_w);
                    let sb = st0 + (mm + 1) * sz + j;
                    for i in 0..dk {
                        states[sb + i * dv] = F::cast_from(col[i]);
                    }
                }
            }
        }
        sync_storage();
        sync_cube();
        {
            let kb = (sq * len + t) * dk;
            let vb = (sq * len + t) * dv;
            let pb = st0 + m * sz;
            if unit < dv {
                // Columns: dS += q doᵀ, dv = dSᵀk, g = dSᵀb, u = Pᵀa.
                let j = unit;
                let d = f32::cast_from(grad[vb + j]);
                let mut u = 0.0f32;
                let mut acc_v = 0.0f32;
                let mut acc_g = 0.0f32;
                for i in 0..dk {
                    u += f32::cast_from(a[kb + i]) * f32::cast_from(states[pb + i * dv + j]);
                    let p = d0 + i * dv + j;
                    let x = f32::cast_from(ds[p]) + f32::cast_from(q[kb + i]) * d;
                    ds[p] = F::cast_from(x);
                    acc_v += f32::cast_from(k[kb + i]) * x;
                    acc_g += f32::cast_from(b[kb + i]) * x;
                }
                gv[vb + j] = F::cast_from(acc_v);
                sh_g[j] = acc_g;
                sh_u[j] = u;
                sh_do[j] = d;
            }
            sync_storage();
            sync_cube();
            if unit < dk {
                // Rows: the reductions over j, then dS ← diag(w) dS + a gᵀ.
                let i = unit;
                let ai = f32::cast_from(a[kb + i]);
                let mut wi = 1.0f32;
                if has_w {
                    wi = f32::cast_from(w[kb + i]);
                }
                let row = i * dv;
                let mut acc_q = 0.0f32;
                let mut acc_k = 0.0f32;
                let mut acc_w = 0.0f32;
                let mut acc_b = 0.0f32;
                let mut acc_a = 0.0f32;
                for j in 0..dv {
                    let p = f32::cast_from(states[pb + row + j]);
                    let cur = f32::cast_from(states[pb + sz + row + j]);
                    let x = f32::cast_from(ds[d0 + row + j]);
                    acc_q += cur * sh_do[j];
                    acc_k += x * f32::cast_from(v[vb + j]);
                    acc_w += x * p;
                    acc_b += x * sh_u[j];
                    acc_a += p * sh_g[j];
                    ds[d0 + row + j] = F::cast_from(wi * x + ai * sh_g[j]);
                }
                gq[kb + i] = F::cast_from(acc_q);
                gk[kb + i] = F::cast_from(acc_k);
                gb[kb + i] = F::cast_from(acc_b);
                ga[kb + i] = F::cast_from(acc_a);
                if has_w {
                    gw[kb + i] = F::cast_from(acc_w);
                }
            }
            sync_storage();
            sync_cube();
        }
    }
}

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

/// Sizes the kernels take; outside them the host path runs.
fn supported(d: &DeltaDims) -> bool {
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
    fn delta_rule_forward(input: DeltaRulePrimitives<Self>) -> FloatTensor<Self> {
        let d = input.dims();
        if !supported(&d) {
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
        if !supported(&d) {
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
