//! The delta rule's CubeCL kernels (work split, phases and limits in the parent module's docs).
//! All inputs contiguous row-major; element type `F` is the tensors' runtime dtype, the
//! arithmetic and the column held in a local array are f32.

// Inside `#[cube]` functions `usize::div_ceil` is not an intrinsic.
#![allow(clippy::manual_div_ceil, clippy::too_many_arguments)]

use cubecl::prelude::*;

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

/// Backward, step 2 (module docs): the steps of chunks `c_lo..c_hi`, last to first. `ds` (seqs, dk, dv) holds
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
    if first == 1 && unit < dv {
        let fin = seqs * len * dv + d0 + unit;
        for i in 0..dk {
            ds[d0 + i * dv + unit] = grad[fin + i * dv];
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
