//! CubeCL kernels. All inputs are contiguous row-major (the launchers make them so). Element type
//! `F` is the tensor's runtime dtype (f32, f16, bf16); all arithmetic and the recurrent state are
//! f32 in registers.
//!
//! Work split:
//! * selective scan forward: one unit per (batch, channel), the `n` states in a register array
//!   (`n` is a comptime constant, loops unrolled), sequential over time; only y and the final state
//!   are written.
//! * selective scan backward: first a forward pass, one unit per (batch, channel), stores the state
//!   at every `tchunk`-th step (checkpoints); then one unit per (batch, group, block of `dchunk`
//!   channels) processes the chunks last to first: the states of one chunk are recomputed from its
//!   checkpoint into a per-unit scratch buffer and the reverse recurrence runs over them. dB/dC go to per-unit
//!   partial buffers owned by exactly one unit (no atomics, so it runs on Vulkan without float
//!   atomics); the launcher sums the partials.
//! * diagonal recurrences: one unit per (batch, feature), coalesced over the feature axis.
//! * dense recurrence: one cube per batch row, one unit per state index, the state in shared memory.
//!
//! Time blocks: Mesa's llvmpipe (lavapipe, the CI's Vulkan driver) silently stops a shader after
//! 65535 loop iterations per invocation (all loops of the invocation together). So every kernel
//! takes a `t_start..t_end` range (the selective-scan backward a range of time chunks) and the
//! launchers cover long sequences with several launches of at most [`super::TIME_BLOCK`] steps
//! ([`super::BACKWARD_TIME_BLOCK`] for the selective-scan backward, whose units loop over
//! `dchunk` channels and visit every step twice), the recurrent state/gradient carried through
//! the output buffer (forward), the checkpoint buffer, or the initial-state gradient and partial
//! sum buffers (backward). Real GPUs have no such limit.

// Inside `#[cube]` functions: `if comptime_flag { if runtime_cond {..} }` must stay nested (the outer
// `if` is resolved at kernel compile time), and `usize::div_ceil` is not a CubeCL intrinsic.
#![allow(clippy::collapsible_if, clippy::manual_div_ceil)]

use cubecl::prelude::*;

#[cube]
fn step_size(raw: f32, #[comptime] softplus: bool) -> f32 {
    let mut dt = raw;
    if softplus {
        if raw <= 20.0 {
            dt = raw.exp().log1p();
        }
    }
    dt
}

/// The transition `ā` from `e = exp(Δ A)`: `e`, or `2 e - 1` with `minus_one_one`
/// ([`crate::TransitionRange`]). Comptime, so the mamba range compiles to exactly the old code.
#[cube]
fn transition(e: f32, #[comptime] minus_one_one: bool) -> f32 {
    let mut abar = e;
    if minus_one_one {
        abar = 2.0 * e - 1.0;
    }
    abar
}

/// `dā/d(Δ A)` from `e = exp(Δ A)`: `e`, or `2 e` with `minus_one_one`.
#[cube]
fn transition_slope(e: f32, #[comptime] minus_one_one: bool) -> f32 {
    let mut slope = e;
    if minus_one_one {
        slope = 2.0 * e;
    }
    slope
}

#[cube]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Forward selective scan; `out` is the packed `[y | final state]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn selective_scan_fwd_kernel<F: Float>(
    u: &Tensor<F>,
    delta: &Tensor<F>,
    a: &Tensor<F>,
    b: &Tensor<F>,
    c: &Tensor<F>,
    d_skip: &Tensor<F>,
    z: &Tensor<F>,
    delta_bias: &Tensor<F>,
    h0: &Tensor<F>,
    out: &mut Tensor<F>,
    t_start: u32,
    t_end: u32,
    #[comptime] n: usize,
    #[comptime] has_skip: bool,
    #[comptime] has_z: bool,
    #[comptime] has_bias: bool,
    #[comptime] softplus: bool,
    #[comptime] has_h0: bool,
    #[comptime] minus_one_one: bool,
    #[define(F)] _dtype: StorageType,
) {
    let batch = u.shape(0);
    let d = u.shape(1);
    let len = u.shape(2);
    let groups = b.shape(1);
    let ch = ABSOLUTE_POS;
    if ch >= batch * d {
        terminate!();
    }
    let bb = ch / d;
    let dd = ch % d;
    let g = dd / (d / groups);
    let x0 = ch * len;
    let bc0 = (bb * groups + g) * n * len;

    let y_total = batch * d * len;
    let t_start = t_start as usize;
    let mut ak = Array::<f32>::new(n);
    let mut h = Array::<f32>::new(n);
    #[unroll]
    for k in 0..n {
        ak[k] = f32::cast_from(a[dd * n + k]);
        h[k] = 0.0;
        if t_start > 0 {
            // continue from the state the previous launch left in the final-state slot
            h[k] = f32::cast_from(out[y_total + ch * n + k]);
        } else {
            if has_h0 {
                h[k] = f32::cast_from(h0[ch * n + k]);
            }
        }
    }
    let mut skip = 0.0f32;
    if has_skip {
        skip = f32::cast_from(d_skip[dd]);
    }
    let mut bias = 0.0f32;
    if has_bias {
        bias = f32::cast_from(delta_bias[dd]);
    }
    for t in t_start..t_end as usize {
        let uu = f32::cast_from(u[x0 + t]);
        let dt = step_size(f32::cast_from(delta[x0 + t]) + bias, softplus);
        let du = dt * uu;
        let mut y = skip * uu;
        #[unroll]
        for k in 0..n {
            let bk = f32::cast_from(b[bc0 + k * len + t]);
            let ck = f32::cast_from(c[bc0 + k * len + t]);
            h[k] = transition((dt * ak[k]).exp(), minus_one_one) * h[k] + du * bk;
            y += ck * h[k];
        }
        if has_z {
            let zz = f32::cast_from(z[x0 + t]);
            y = y * zz * sigmoid(zz);
        }
        out[x0 + t] = F::cast_from(y);
    }
    #[unroll]
    for k in 0..n {
        out[y_total + ch * n + k] = F::cast_from(h[k]);
    }
}

/// Backward, step 1: forward recurrence of every (batch, channel) that stores the state at the
/// start of every `tchunk`-th step: slot `j` of `ckpt` (batch*d, n_tchunks + 1, n) holds the state
/// before step `j * tchunk` (slot 0 = the initial state). Runs over `t_start..t_end`
/// (`t_start` a multiple of `tchunk`), continuing from slot `t_start / tchunk`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn selective_scan_ckpt_kernel<F: Float>(
    u: &Tensor<F>,
    delta: &Tensor<F>,
    a: &Tensor<F>,
    b: &Tensor<F>,
    delta_bias: &Tensor<F>,
    h0: &Tensor<F>,
    ckpt: &mut Tensor<F>,
    t_start: u32,
    t_end: u32,
    #[comptime] n: usize,
    #[comptime] tchunk: usize,
    #[comptime] has_bias: bool,
    #[comptime] softplus: bool,
    #[comptime] has_h0: bool,
    #[comptime] minus_one_one: bool,
    #[define(F)] _dtype: StorageType,
) {
    let batch = u.shape(0);
    let d = u.shape(1);
    let len = u.shape(2);
    let groups = b.shape(1);
    let ch = ABSOLUTE_POS;
    if ch >= batch * d {
        terminate!();
    }
    let bb = ch / d;
    let dd = ch % d;
    let g = dd / (d / groups);
    let x0 = ch * len;
    let bc0 = (bb * groups + g) * n * len;
    let n_slots = (len + tchunk - 1) / tchunk + 1;
    let ck0 = ch * n_slots * n;
    let t_start = t_start as usize;
    let mut ak = Array::<f32>::new(n);
    let mut h = Array::<f32>::new(n);
    #[unroll]
    for k in 0..n {
        ak[k] = f32::cast_from(a[dd * n + k]);
        h[k] = 0.0;
        if t_start > 0 {
            h[k] = f32::cast_from(ckpt[ck0 + (t_start / tchunk) * n + k]);
        } else {
            if has_h0 {
                h[k] = f32::cast_from(h0[ch * n + k]);
            }
            ckpt[ck0 + k] = F::cast_from(h[k]);
        }
    }
    let mut bias = 0.0f32;
    if has_bias {
        bias = f32::cast_from(delta_bias[dd]);
    }
    for t in t_start..t_end as usize {
        let uu = f32::cast_from(u[x0 + t]);
        let dt = step_size(f32::cast_from(delta[x0 + t]) + bias, softplus);
        #[unroll]
        for k in 0..n {
            h[k] = transition((dt * ak[k]).exp(), minus_one_one) * h[k]
                + dt * uu * f32::cast_from(b[bc0 + k * len + t]);
        }
        if (t + 1) % tchunk == 0 {
            #[unroll]
            for k in 0..n {
                ckpt[ck0 + ((t + 1) / tchunk) * n + k] = F::cast_from(h[k]);
            }
        }
    }
}

/// Backward, step 2 (see the module docs for the work split and buffers): the time chunks
/// `c_lo..c_hi` (of `tchunk` steps), last to first, for the channels of one unit. Launched for
/// blocks of chunks from the end of the sequence to its start; between launches the state
/// gradient is carried in `dh0` and the dA/dD/dΔ-bias sums in their partial buffers
/// (`first == 1` marks the launch that covers the end of the sequence).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn selective_scan_bwd_kernel<F: Float>(
    u: &Tensor<F>,
    delta: &Tensor<F>,
    a: &Tensor<F>,
    b: &Tensor<F>,
    c: &Tensor<F>,
    d_skip: &Tensor<F>,
    z: &Tensor<F>,
    delta_bias: &Tensor<F>,
    grad: &Tensor<F>,
    du: &mut Tensor<F>,
    ddelta: &mut Tensor<F>,
    dz: &mut Tensor<F>,
    dh0: &mut Tensor<F>,
    da_part: &mut Tensor<F>,
    dskip_part: &mut Tensor<F>,
    dbias_part: &mut Tensor<F>,
    db_part: &mut Tensor<F>,
    dc_part: &mut Tensor<F>,
    ckpt: &Tensor<F>,
    hbuf: &mut Tensor<F>,
    c_lo: u32,
    c_hi: u32,
    first: u32,
    #[comptime] n: usize,
    #[comptime] tchunk: usize,
    #[comptime] dchunk: usize,
    #[comptime] has_skip: bool,
    #[comptime] has_z: bool,
    #[comptime] has_bias: bool,
    #[comptime] softplus: bool,
    #[comptime] minus_one_one: bool,
    #[define(F)] _dtype: StorageType,
) {
    let batch = u.shape(0);
    let d = u.shape(1);
    let len = u.shape(2);
    let groups = b.shape(1);
    let per_group = d / groups;
    let n_dchunks = (per_group + dchunk - 1) / dchunk;
    let unit = ABSOLUTE_POS;
    if unit >= batch * groups * n_dchunks {
        terminate!();
    }
    let bb = unit / (groups * n_dchunks);
    let rem = unit % (groups * n_dchunks);
    let g = rem / n_dchunks;
    let ci = rem % n_dchunks;
    let d0 = g * per_group + ci * dchunk;
    let d1 = min(d0 + dchunk, (g + 1) * per_group);
    let bc0 = (bb * groups + g) * n * len;
    let part0 = unit * n * len;
    let n_slots = (len + tchunk - 1) / tchunk + 1;
    let hb0 = unit * tchunk * n;
    let y_total = batch * d * len;
    let c_lo = c_lo as usize;
    let c_hi = c_hi as usize;

    let mut ak = Array::<f32>::new(n);
    let mut h = Array::<f32>::new(n);
    let mut gh = Array::<f32>::new(n);
    let mut dak = Array::<f32>::new(n);
    for dd in d0..d1 {
        let ch = bb * d + dd;
        let x0 = ch * len;
        let ck0 = ch * n_slots * n;
        let mut dskip_acc = 0.0f32;
        let mut dbias_acc = 0.0f32;
        #[unroll]
        for k in 0..n {
            ak[k] = f32::cast_from(a[dd * n + k]);
            if first == 1 {
                gh[k] = f32::cast_from(grad[y_total + ch * n + k]);
                dak[k] = 0.0;
            } else {
                gh[k] = f32::cast_from(dh0[ch * n + k]);
                dak[k] = f32::cast_from(da_part[ch * n + k]);
            }
        }
        if first != 1 {
            dskip_acc = f32::cast_from(dskip_part[ch]);
            dbias_acc = f32::cast_from(dbias_part[ch]);
        }
        let mut skip = 0.0f32;
        if has_skip {
            skip = f32::cast_from(d_skip[dd]);
        }
        let mut bias = 0.0f32;
        if has_bias {
            bias = f32::cast_from(delta_bias[dd]);
        }
        for cr in 0..(c_hi - c_lo) {
            let cidx = c_hi - 1 - cr;
            let t0 = cidx * tchunk;
            let t1 = min(t0 + tchunk, len);
            #[unroll]
            for k in 0..n {
                h[k] = f32::cast_from(ckpt[ck0 + cidx * n + k]);
            }
            for t in t0..t1 {
                let uu = f32::cast_from(u[x0 + t]);
                let dt = step_size(f32::cast_from(delta[x0 + t]) + bias, softplus);
                #[unroll]
                for k in 0..n {
                    h[k] = transition((dt * ak[k]).exp(), minus_one_one) * h[k]
                        + dt * uu * f32::cast_from(b[bc0 + k * len + t]);
                    hbuf[hb0 + (t - t0) * n + k] = F::cast_from(h[k]);
                }
            }
            for tr in 0..(t1 - t0) {
                let t = t1 - 1 - tr;
                let uu = f32::cast_from(u[x0 + t]);
                let raw = f32::cast_from(delta[x0 + t]) + bias;
                let dt = step_size(raw, softplus);
                let go = f32::cast_from(grad[x0 + t]);
                let mut dy = go;
                if has_z {
                    let mut yv = skip * uu;
                    #[unroll]
                    for k in 0..n {
                        yv += f32::cast_from(c[bc0 + k * len + t])
                            * f32::cast_from(hbuf[hb0 + (t - t0) * n + k]);
                    }
                    let zz = f32::cast_from(z[x0 + t]);
                    let s = sigmoid(zz);
                    dz[x0 + t] = F::cast_from(go * yv * s * (1.0 + zz * (1.0 - s)));
                    dy = go * zz * s;
                }
                dskip_acc += dy * uu;
                let mut ddt = 0.0f32;
                let mut dub = 0.0f32;
                #[unroll]
                for k in 0..n {
                    let ht = f32::cast_from(hbuf[hb0 + (t - t0) * n + k]);
                    let mut hp = f32::cast_from(ckpt[ck0 + cidx * n + k]);
                    if t > t0 {
                        hp = f32::cast_from(hbuf[hb0 + (t - t0 - 1) * n + k]);
                    }
                    let bk = f32::cast_from(b[bc0 + k * len + t]);
                    let ck = f32::cast_from(c[bc0 + k * len + t]);
                    let e = (dt * ak[k]).exp();
                    let gk = gh[k] + dy * ck;
                    let pi = part0 + k * len + t;
                    dc_part[pi] = dc_part[pi] + F::cast_from(dy * ht);
                    db_part[pi] = db_part[pi] + F::cast_from(gk * dt * uu);
                    // dā/d(ΔA) h_{t-1}
                    let eh = transition_slope(e, minus_one_one) * hp;
                    ddt += gk * (ak[k] * eh + bk * uu);
                    dak[k] += gk * dt * eh;
                    dub += gk * bk;
                    gh[k] = gk * transition(e, minus_one_one);
                }
                du[x0 + t] = F::cast_from(dub * dt + skip * dy);
                let mut draw = ddt;
                if softplus {
                    if raw <= 20.0 {
                        draw = ddt * sigmoid(raw);
                    }
                }
                ddelta[x0 + t] = F::cast_from(draw);
                dbias_acc += draw;
            }
        }
        #[unroll]
        for k in 0..n {
            dh0[ch * n + k] = F::cast_from(gh[k]);
            da_part[ch * n + k] = F::cast_from(dak[k]);
        }
        dskip_part[ch] = F::cast_from(dskip_acc);
        dbias_part[ch] = F::cast_from(dbias_acc);
    }
}

/// `h_t = a_t h_{t-1} + b_t`, (batch, len, dim); one unit per (batch, feature).
#[cube(launch)]
pub fn diag_fwd_kernel<F: Float>(
    a: &Tensor<F>,
    b: &Tensor<F>,
    h0: &Tensor<F>,
    out: &mut Tensor<F>,
    t_start: u32,
    t_end: u32,
    #[comptime] has_h0: bool,
    #[define(F)] _dtype: StorageType,
) {
    let batch = a.shape(0);
    let len = a.shape(1);
    let dim = a.shape(2);
    let pos = ABSOLUTE_POS;
    if pos >= batch * dim {
        terminate!();
    }
    let bb = pos / dim;
    let j = pos % dim;
    let t_start = t_start as usize;
    let mut h = 0.0f32;
    if t_start > 0 {
        h = f32::cast_from(out[(bb * len + t_start - 1) * dim + j]);
    } else {
        if has_h0 {
            h = f32::cast_from(h0[pos]);
        }
    }
    for t in t_start..t_end as usize {
        let i = (bb * len + t) * dim + j;
        h = f32::cast_from(a[i]) * h + f32::cast_from(b[i]);
        out[i] = F::cast_from(h);
    }
}

/// Backward of [`diag_fwd_kernel`] given its output `h`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn diag_bwd_kernel<F: Float>(
    a: &Tensor<F>,
    h: &Tensor<F>,
    h0: &Tensor<F>,
    grad: &Tensor<F>,
    da: &mut Tensor<F>,
    db: &mut Tensor<F>,
    dh0: &mut Tensor<F>,
    t_start: u32,
    t_end: u32,
    #[comptime] has_h0: bool,
    #[define(F)] _dtype: StorageType,
) {
    let batch = a.shape(0);
    let len = a.shape(1);
    let dim = a.shape(2);
    let pos = ABSOLUTE_POS;
    if pos >= batch * dim {
        terminate!();
    }
    let bb = pos / dim;
    let j = pos % dim;
    let t_start = t_start as usize;
    let t_end = t_end as usize;
    let mut g = 0.0f32;
    if t_end < len {
        // carried from the launch that processed the later steps
        g = f32::cast_from(dh0[pos]);
    }
    for tr in 0..t_end - t_start {
        let t = t_end - 1 - tr;
        let i = (bb * len + t) * dim + j;
        g += f32::cast_from(grad[i]);
        db[i] = F::cast_from(g);
        let mut prev = 0.0f32;
        if t > 0 {
            prev = f32::cast_from(h[i - dim]);
        } else {
            if has_h0 {
                prev = f32::cast_from(h0[pos]);
            }
        }
        da[i] = F::cast_from(g * prev);
        g *= f32::cast_from(a[i]);
    }
    dh0[pos] = F::cast_from(g);
}

/// Complex `h_t = a_t h_{t-1} + b_t`; `out` is `(2, batch, len, dim)`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn cdiag_fwd_kernel<F: Float>(
    ar: &Tensor<F>,
    ai: &Tensor<F>,
    br: &Tensor<F>,
    bi: &Tensor<F>,
    h0r: &Tensor<F>,
    h0i: &Tensor<F>,
    out: &mut Tensor<F>,
    t_start: u32,
    t_end: u32,
    #[comptime] has_h0: bool,
    #[define(F)] _dtype: StorageType,
) {
    let batch = ar.shape(0);
    let len = ar.shape(1);
    let dim = ar.shape(2);
    let pos = ABSOLUTE_POS;
    if pos >= batch * dim {
        terminate!();
    }
    let bb = pos / dim;
    let j = pos % dim;
    let total = batch * len * dim;
    let t_start = t_start as usize;
    let mut hr = 0.0f32;
    let mut hi = 0.0f32;
    if t_start > 0 {
        let p = (bb * len + t_start - 1) * dim + j;
        hr = f32::cast_from(out[p]);
        hi = f32::cast_from(out[total + p]);
    } else {
        if has_h0 {
            hr = f32::cast_from(h0r[pos]);
            hi = f32::cast_from(h0i[pos]);
        }
    }
    for t in t_start..t_end as usize {
        let i = (bb * len + t) * dim + j;
        let xr = f32::cast_from(ar[i]);
        let xi = f32::cast_from(ai[i]);
        let nr = xr * hr - xi * hi + f32::cast_from(br[i]);
        let ni = xr * hi + xi * hr + f32::cast_from(bi[i]);
        hr = nr;
        hi = ni;
        out[i] = F::cast_from(hr);
        out[total + i] = F::cast_from(hi);
    }
}

/// Backward of [`cdiag_fwd_kernel`]; `grads` is `(6, ...)`-like: da_re, da_im, db_re, db_im are
/// separate outputs, `dh0` is `(2, batch, dim)`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn cdiag_bwd_kernel<F: Float>(
    ar: &Tensor<F>,
    ai: &Tensor<F>,
    h: &Tensor<F>,
    h0r: &Tensor<F>,
    h0i: &Tensor<F>,
    grad: &Tensor<F>,
    dar: &mut Tensor<F>,
    dai: &mut Tensor<F>,
    dbr: &mut Tensor<F>,
    dbi: &mut Tensor<F>,
    dh0: &mut Tensor<F>,
    t_start: u32,
    t_end: u32,
    #[comptime] has_h0: bool,
    #[define(F)] _dtype: StorageType,
) {
    let batch = ar.shape(0);
    let len = ar.shape(1);
    let dim = ar.shape(2);
    let pos = ABSOLUTE_POS;
    if pos >= batch * dim {
        terminate!();
    }
    let bb = pos / dim;
    let j = pos % dim;
    let total = batch * len * dim;
    let t_start = t_start as usize;
    let t_end = t_end as usize;
    let mut gr = 0.0f32;
    let mut gi = 0.0f32;
    if t_end < len {
        gr = f32::cast_from(dh0[pos]);
        gi = f32::cast_from(dh0[batch * dim + pos]);
    }
    for tr in 0..t_end - t_start {
        let t = t_end - 1 - tr;
        let i = (bb * len + t) * dim + j;
        gr += f32::cast_from(grad[i]);
        gi += f32::cast_from(grad[total + i]);
        dbr[i] = F::cast_from(gr);
        dbi[i] = F::cast_from(gi);
        let mut pr = 0.0f32;
        let mut pi = 0.0f32;
        if t > 0 {
            pr = f32::cast_from(h[i - dim]);
            pi = f32::cast_from(h[total + i - dim]);
        } else {
            if has_h0 {
                pr = f32::cast_from(h0r[pos]);
                pi = f32::cast_from(h0i[pos]);
            }
        }
        dar[i] = F::cast_from(gr * pr + gi * pi);
        dai[i] = F::cast_from(gi * pr - gr * pi);
        let xr = f32::cast_from(ar[i]);
        let xi = f32::cast_from(ai[i]);
        let nr = gr * xr + gi * xi;
        let ni = gi * xr - gr * xi;
        gr = nr;
        gi = ni;
    }
    dh0[pos] = F::cast_from(gr);
    dh0[batch * dim + pos] = F::cast_from(gi);
}

#[cube]
fn token_id<F: Float>(tokens: &Tensor<F>, i: usize, vocab: usize) -> usize {
    let v = f32::cast_from(tokens[i]);
    let v = max(min(v, (vocab - 1) as f32), 0.0);
    usize::cast_from(v)
}

/// Dense recurrence forward: cube per batch row, unit per state index `i` (cube size = n).
/// `tokens` holds the token ids as floats (exact for ids < 2^24; clamped into range).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn dense_fwd_kernel<F: Float>(
    m: &Tensor<F>,
    bias: &Tensor<F>,
    tokens: &Tensor<F>,
    h0: &Tensor<F>,
    out: &mut Tensor<F>,
    t_start: u32,
    t_end: u32,
    #[comptime] n: usize,
    #[comptime] has_h0: bool,
    #[define(F)] _dtype: StorageType,
) {
    let vocab = m.shape(0);
    let len = tokens.shape(1);
    let bb = CUBE_POS;
    let i = UNIT_POS as usize;
    let mut h = SharedMemory::<f32>::new(n);
    let t_start = t_start as usize;
    let mut init = 0.0f32;
    if t_start > 0 {
        init = f32::cast_from(out[(bb * len + t_start - 1) * n + i]);
    } else {
        if has_h0 {
            init = f32::cast_from(h0[bb * n + i]);
        }
    }
    h[i] = init;
    sync_cube();
    for t in t_start..t_end as usize {
        let v = token_id::<F>(tokens, bb * len + t, vocab);
        let row = (v * n + i) * n;
        let mut acc = f32::cast_from(bias[v * n + i]);
        for j in 0..n {
            acc += f32::cast_from(m[row + j]) * h[j];
        }
        sync_cube();
        h[i] = acc;
        out[(bb * len + t) * n + i] = F::cast_from(acc);
        sync_cube();
    }
}

/// Dense recurrence backward; `dm_part` (batch, vocab, n, n) and `dbias_part` (batch, vocab, n)
/// are zero-initialised per-batch partials (summed by the launcher).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn dense_bwd_kernel<F: Float>(
    m: &Tensor<F>,
    tokens: &Tensor<F>,
    h: &Tensor<F>,
    h0: &Tensor<F>,
    grad: &Tensor<F>,
    dm_part: &mut Tensor<F>,
    dbias_part: &mut Tensor<F>,
    dh0: &mut Tensor<F>,
    t_start: u32,
    t_end: u32,
    #[comptime] n: usize,
    #[comptime] has_h0: bool,
    #[define(F)] _dtype: StorageType,
) {
    let vocab = m.shape(0);
    let len = tokens.shape(1);
    let bb = CUBE_POS;
    let i = UNIT_POS as usize;
    let t_start = t_start as usize;
    let t_end = t_end as usize;
    let mut g = SharedMemory::<f32>::new(n);
    let mut init = 0.0f32;
    if t_end < len {
        init = f32::cast_from(dh0[bb * n + i]);
    }
    g[i] = init;
    sync_cube();
    for tr in 0..t_end - t_start {
        let t = t_end - 1 - tr;
        let v = token_id::<F>(tokens, bb * len + t, vocab);
        let gi = g[i] + f32::cast_from(grad[(bb * len + t) * n + i]);
        let pb = (bb * vocab + v) * n;
        dbias_part[pb + i] = dbias_part[pb + i] + F::cast_from(gi);
        let prow = (pb + i) * n;
        for j in 0..n {
            let mut prev = 0.0f32;
            if t > 0 {
                prev = f32::cast_from(h[(bb * len + t - 1) * n + j]);
            } else {
                if has_h0 {
                    prev = f32::cast_from(h0[bb * n + j]);
                }
            }
            dm_part[prow + j] = dm_part[prow + j] + F::cast_from(gi * prev);
        }
        sync_cube();
        g[i] = gi;
        sync_cube();
        // g_{t-1}[i] = sum_r M[v][r][i] g_t[r]
        let mut acc = 0.0f32;
        for r in 0..n {
            acc += f32::cast_from(m[(v * n + r) * n + i]) * g[r];
        }
        sync_cube();
        g[i] = acc;
        sync_cube();
    }
    dh0[bb * n + i] = F::cast_from(g[i]);
}
