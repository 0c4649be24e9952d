//! CPU selective scan in the channels-last layout ([`crate::ScanLayout::ChannelsLast`]),
//! vectorised across channels.
//!
//! One AVX2 register holds 8 adjacent channels ("a block") of one time step, so every load and
//! store of `u`, `Δ`, `z`, the output and their gradients is one contiguous 8-float row of the
//! `(batch, len, d)` tensors, the state update needs no horizontal sums, and `B_t[k]`, `C_t[k]`
//! are broadcasts. The only cross-lane work is dB/dC (a sum over channels), done per step for 8
//! state indices at once with a `hadd` tree. Compared with the channels-first kernel this removes
//! the transposes a Mamba block needs around the scan (the model's activations are channels-last)
//! and the per-step horizontal sum of `y` that limited that kernel's throughput.
//!
//! Applies when AVX2+FMA is available and the channels per group are a multiple of 8
//! ([`supported`]); otherwise the caller permutes to channels-first (see [`crate::layout`]).
//!
//! Deterministic: the work is split into fixed blocks and tasks (never by thread count), each
//! partial sum is formed in a fixed order, and partials are added in task order.

use std::arch::x86_64::*;

use rayon::prelude::*;

use super::avx::{exp8, sigmoid8, softplus8};
use super::math::FlushDenormals;
use super::selective::{Dims, Grads, Transition};

/// Channels per block (one AVX2 register).
const LANES: usize = 8;

/// Blocks per task (128 channels): a task packs its blocks' rows once, then scans block by block.
const BLOCKS_PER_TASK: usize = 16;

/// Borrowed channels-last inputs.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// sizes
    pub dims: Dims,
    /// (batch, len, d)
    pub u: &'a [f32],
    /// (batch, len, d), before bias and softplus
    pub delta: &'a [f32],
    /// (d, n)
    pub a: &'a [f32],
    /// (batch, len, groups, n)
    pub b: &'a [f32],
    /// (batch, len, groups, n)
    pub c: &'a [f32],
    /// (d)
    pub d_skip: Option<&'a [f32]>,
    /// (batch, len, d)
    pub z: Option<&'a [f32]>,
    /// (d)
    pub delta_bias: Option<&'a [f32]>,
    /// softplus on delta + bias
    pub softplus: bool,
    /// (batch, d, n)
    pub h0: Option<&'a [f32]>,
    /// `ā` from `exp(Δ A)`
    pub transition: Transition,
}

/// Whether this kernel applies to problems of these sizes on this CPU.
pub fn supported(dims: Dims) -> bool {
    super::avx::available() && (dims.d / dims.groups).is_multiple_of(LANES)
}

/// A raw output pointer shared by tasks that write disjoint elements.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: every task writes only the elements of its own blocks (disjoint channel ranges).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    fn of(v: &mut [f32]) -> Self {
        Self(v.as_mut_ptr())
    }
}

/// Per-step records of one block's forward, for the reverse pass.
struct Record {
    /// states h_t (len × n registers)
    hs: Vec<__m256>,
    /// factors exp(Δ_t A) (len × n), before the transition map
    es: Vec<__m256>,
    /// Δ_t (len)
    dts: Vec<__m256>,
    /// Σ_k C_t[k] h_t[k] (len), before the skip term and the gate
    ys: Vec<__m256>,
}

impl Record {
    fn new(len: usize, n: usize) -> Self {
        // SAFETY: an all-zero __m256 is a valid value (no CPU feature needed to construct it).
        let z = unsafe { _mm256_setzero_ps() };
        Self {
            hs: vec![z; len * n],
            es: vec![z; len * n],
            dts: vec![z; len],
            ys: vec![z; len],
        }
    }
}

/// A run of adjacent blocks of one batch row and one group: the unit of parallel work.
#[derive(Clone, Copy, Debug)]
struct Task {
    bb: usize,
    /// first channel
    c0: usize,
    /// number of blocks
    blocks: usize,
}

impl Task {
    /// The fixed split of a problem into tasks (never by thread count: see the module docs).
    fn all(dims: Dims) -> Vec<Task> {
        let Dims {
            batch, d, groups, ..
        } = dims;
        let per_group = d / groups / LANES;
        let mut tasks = Vec::new();
        for bb in 0..batch {
            for g in 0..groups {
                let mut j = 0;
                while j < per_group {
                    let blocks = BLOCKS_PER_TASK.min(per_group - j);
                    tasks.push(Task {
                        bb,
                        c0: g * (d / groups) + j * LANES,
                        blocks,
                    });
                    j += blocks;
                }
            }
        }
        tasks
    }

    fn channels(&self) -> usize {
        self.blocks * LANES
    }
}

/// A task's rows of a `(batch, len, d)` tensor repacked block-major, `(blocks, len, 8)`: each
/// block's steps become contiguous (32 bytes apart instead of `d` floats). Why: walking the rows
/// `d` floats apart missed the cache and TLB on every step (the hardware prefetchers do not
/// follow that stride, least of all backwards); the pack reads the task's rows in order.
fn pack(src: &[f32], dims: Dims, task: Task, dst: &mut Vec<f32>) {
    let Dims { d, len, .. } = dims;
    let width = task.channels();
    dst.resize(width * len, 0.0);
    for t in 0..len {
        let row = &src[(task.bb * len + t) * d + task.c0..][..width];
        for (j, lanes) in row.chunks_exact(LANES).enumerate() {
            dst[(j * len + t) * LANES..][..LANES].copy_from_slice(lanes);
        }
    }
}

/// The inverse of [`pack`]: writes the task's rows of the `(batch, len, d)` tensor at `dst`.
///
/// # Safety
/// `dst` must point to a `(batch, len, d)` buffer whose rows of this task no other thread touches.
unsafe fn unpack(src: &[f32], dims: Dims, task: Task, dst: Shared) {
    let Dims { d, len, .. } = dims;
    assert!(src.len() >= task.channels() * len);
    for t in 0..len {
        let row = (task.bb * len + t) * d + task.c0;
        for j in 0..task.blocks {
            let from = &src[(j * len + t) * LANES..][..LANES];
            // SAFETY: row + 8 (j + 1) <= batch * len * d, and these floats belong to this task.
            unsafe {
                std::ptr::copy_nonoverlapping(from.as_ptr(), dst.0.add(row + j * LANES), LANES)
            };
        }
    }
}

/// One block's packed rows (`len * 8` floats each).
#[derive(Clone, Copy)]
struct BlockRows<'a> {
    u: &'a [f32],
    delta: &'a [f32],
    z: Option<&'a [f32]>,
}

/// Packed inputs of one task.
#[derive(Default)]
struct PackedTask {
    u: Vec<f32>,
    delta: Vec<f32>,
    z: Vec<f32>,
}

impl PackedTask {
    fn fill(&mut self, inp: &Input, task: Task) {
        pack(inp.u, inp.dims, task, &mut self.u);
        pack(inp.delta, inp.dims, task, &mut self.delta);
        if let Some(z) = inp.z {
            pack(z, inp.dims, task, &mut self.z);
        }
    }

    fn block(&self, inp: &Input, j: usize) -> BlockRows<'_> {
        let span = inp.dims.len * LANES;
        BlockRows {
            u: &self.u[j * span..][..span],
            delta: &self.delta[j * span..][..span],
            z: inp.z.map(|_| &self.z[j * span..][..span]),
        }
    }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn load8(s: &[f32], i: usize) -> __m256 {
    assert!(i + LANES <= s.len());
    // SAFETY: in bounds (asserted).
    unsafe { _mm256_loadu_ps(s.as_ptr().add(i)) }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn store8(s: &mut [f32], i: usize, v: __m256) {
    assert!(i + LANES <= s.len());
    // SAFETY: in bounds (asserted).
    unsafe { _mm256_storeu_ps(s.as_mut_ptr().add(i), v) }
}

/// Lane `l` of register `k` = `m[(c0 + l) * n + k]` for a (rows, n) matrix `m`.
#[target_feature(enable = "avx2,fma")]
fn gather_rows(m: &[f32], c0: usize, n: usize, out: &mut [__m256]) {
    for (k, o) in out.iter_mut().enumerate().take(n) {
        let lanes: [f32; LANES] = std::array::from_fn(|l| m[(c0 + l) * n + k]);
        *o = load8(&lanes, 0);
    }
}

/// The inverse of [`gather_rows`]: `m[(c0 + l) * n + k] = lane l of v[k]`.
#[target_feature(enable = "avx2,fma")]
fn scatter_rows(v: &[__m256], c0: usize, n: usize, m: &mut [f32]) {
    for (k, x) in v.iter().enumerate().take(n) {
        let mut lanes = [0.0f32; LANES];
        store8(&mut lanes, 0, *x);
        for (l, &x) in lanes.iter().enumerate() {
            m[(c0 + l) * n + k] = x;
        }
    }
}

/// `out[j] = Σ_lanes v[j]` for 8 registers at once (a fixed `hadd` tree).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn lane_sums8(v: &[__m256; 8]) -> __m256 {
    let t0 = _mm256_hadd_ps(v[0], v[1]);
    let t1 = _mm256_hadd_ps(v[2], v[3]);
    let t2 = _mm256_hadd_ps(v[4], v[5]);
    let t3 = _mm256_hadd_ps(v[6], v[7]);
    // u0 = [Σ0..4 of v0, v1, v2, v3 | Σ4..8 of v0, v1, v2, v3]
    let u0 = _mm256_hadd_ps(t0, t1);
    let u1 = _mm256_hadd_ps(t2, t3);
    let lo = _mm256_permute2f128_ps::<0x20>(u0, u1);
    let hi = _mm256_permute2f128_ps::<0x31>(u0, u1);
    _mm256_add_ps(lo, hi)
}

/// `row[k] += Σ_lanes v[k]` for `k < n`.
#[target_feature(enable = "avx2,fma")]
fn add_lane_sums(v: &[__m256], row: &mut [f32]) {
    let n = row.len();
    let mut k = 0;
    while k < n {
        let take = (n - k).min(8);
        let mut group = [_mm256_setzero_ps(); 8];
        group[..take].copy_from_slice(&v[k..k + take]);
        let mut lanes = [0.0f32; 8];
        store8(&mut lanes, 0, lane_sums8(&group));
        for (dst, x) in row[k..k + take].iter_mut().zip(&lanes[..take]) {
            *dst += x;
        }
        k += take;
    }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn per_channel(v: Option<&[f32]>, c0: usize) -> __m256 {
    v.map_or(_mm256_setzero_ps(), |v| load8(v, c0))
}

/// Offset of `B[bb, 0, group(c0), 0]` (and C's).
fn bc0(dims: Dims, bb: usize, c0: usize) -> usize {
    let Dims {
        len, n, groups, d, ..
    } = dims;
    (bb * len * groups + c0 / (d / groups)) * n
}

/// Forward of the block at channel `c0` of batch row `bb`. `h` (n registers) is the initial
/// state on entry, the final state on return. Without `RECORD` the output rows go to `y`
/// (packed, `len * 8`); with it, the per-step values the reverse pass needs go to `rec`.
#[target_feature(enable = "avx2,fma")]
fn forward_block<const RECORD: bool>(
    inp: &Input,
    (bb, c0): (usize, usize),
    rows: BlockRows,
    at: &[__m256],
    h: &mut [__m256],
    y: &mut [f32],
    rec: &mut Record,
) {
    let Dims { len, n, groups, .. } = inp.dims;
    let bc0 = bc0(inp.dims, bb, c0);
    let bias = per_channel(inp.delta_bias, c0);
    let skip = per_channel(inp.d_skip, c0);
    let scale = _mm256_set1_ps(inp.transition.scale);
    let offset = _mm256_set1_ps(inp.transition.offset);
    assert!(at.len() >= n && h.len() >= n);
    for t in 0..len {
        let xi = t * LANES;
        let raw = _mm256_add_ps(load8(rows.delta, xi), bias);
        let dt = if inp.softplus { softplus8(raw) } else { raw };
        let uv = load8(rows.u, xi);
        let du = _mm256_mul_ps(dt, uv);
        let bt = &inp.b[bc0 + t * groups * n..][..n];
        let ct = &inp.c[bc0 + t * groups * n..][..n];
        // Four accumulators keep the sum over k from being one long dependency chain.
        let mut acc = [_mm256_setzero_ps(); 4];
        for k in 0..n {
            let e = exp8(_mm256_mul_ps(dt, at[k]));
            let abar = _mm256_fmadd_ps(e, scale, offset);
            let hk = _mm256_fmadd_ps(abar, h[k], _mm256_mul_ps(du, _mm256_set1_ps(bt[k])));
            h[k] = hk;
            acc[k & 3] = _mm256_fmadd_ps(_mm256_set1_ps(ct[k]), hk, acc[k & 3]);
            if RECORD {
                rec.es[t * n + k] = e;
                rec.hs[t * n + k] = hk;
            }
        }
        let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        if RECORD {
            rec.dts[t] = dt;
            rec.ys[t] = sum;
        } else {
            let mut o = _mm256_fmadd_ps(skip, uv, sum);
            if let Some(z) = rows.z {
                let zv = load8(z, xi);
                o = _mm256_mul_ps(o, _mm256_mul_ps(zv, sigmoid8(zv)));
            }
            store8(y, xi, o);
        }
    }
}

/// `h` = the rows of the initial state of the block at channel `c0` of batch row `bb` (zero
/// without an initial state).
#[target_feature(enable = "avx2,fma")]
fn init_state(inp: &Input, (bb, c0): (usize, usize), h: &mut [__m256]) {
    let Dims { d, n, .. } = inp.dims;
    match inp.h0 {
        Some(h0) => gather_rows(h0, bb * d + c0, n, h),
        None => h.iter_mut().for_each(|x| *x = _mm256_setzero_ps()),
    }
}

/// Forward: returns the packed `[out (batch, len, d) | final state (batch, d, n)]`.
pub fn forward(inp: &Input) -> Vec<f32> {
    assert!(
        supported(inp.dims),
        "selective_cl::forward on an unsupported problem"
    );
    let Dims {
        batch, d, len, n, ..
    } = inp.dims;
    let y_len = batch * len * d;
    let mut packed = vec![0.0f32; y_len + batch * d * n];
    let (y, last) = packed.split_at_mut(y_len);
    let (y, last) = (Shared::of(y), Shared::of(last));
    Task::all(inp.dims).par_iter().for_each_init(
        || (PackedTask::default(), Vec::new()),
        |(rows, y_rows), task| {
            let _ftz = FlushDenormals::new();
            rows.fill(inp, *task);
            y_rows.resize(task.channels() * len, 0.0);
            // SAFETY: AVX2+FMA checked by `supported`; each task writes only its own rows.
            unsafe { forward_task(inp, *task, rows, y_rows, last) };
            // SAFETY: the task's rows of `y`, written by no other task.
            unsafe { unpack(y_rows, inp.dims, *task, y) };
        },
    );
    packed
}

/// The blocks of one forward task; outputs to `y_rows` (packed) and the final states to `last`.
///
/// # Safety
/// AVX2+FMA must be available; the task's rows of `last` must be written by no other thread.
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_task(
    inp: &Input,
    task: Task,
    rows: &PackedTask,
    y_rows: &mut [f32],
    last: Shared,
) {
    let Dims { d, len, n, .. } = inp.dims;
    let zero = _mm256_setzero_ps();
    let (mut at, mut h) = (vec![zero; n], vec![zero; n]);
    let mut none = Record::new(0, 0);
    let mut state = vec![0.0f32; LANES * n];
    for j in 0..task.blocks {
        let at_block = (task.bb, task.c0 + j * LANES);
        gather_rows(inp.a, at_block.1, n, &mut at);
        init_state(inp, at_block, &mut h);
        let y = &mut y_rows[j * len * LANES..][..len * LANES];
        forward_block::<false>(inp, at_block, rows.block(inp, j), &at, &mut h, y, &mut none);
        scatter_rows(&h, 0, n, &mut state);
        let row = (task.bb * d + at_block.1) * n;
        // SAFETY: state rows row..row + 8n belong to this block.
        unsafe { std::ptr::copy_nonoverlapping(state.as_ptr(), last.0.add(row), LANES * n) };
    }
}

/// Per-task partial sums.
struct Partial {
    /// dB, dC rows of the task's (batch, group): (len, n)
    db: Vec<f32>,
    dc: Vec<f32>,
    /// dA rows of the task's channels: (channels, n)
    da: Vec<f32>,
    /// per channel
    d_skip: Vec<f32>,
    delta_bias: Vec<f32>,
}

/// Output buffers of the backward that tasks write disjointly.
#[derive(Clone, Copy)]
struct BackwardOut {
    du: Shared,
    ddelta: Shared,
    dz: Shared,
    dh0: Shared,
}

/// Backward of `sum(dout * out) + sum(dlast * final_state)`; `dout` is (batch, len, d). The
/// gradients are in the channels-last layout too: `u`, `delta`, `z` (batch, len, d) and the
/// fields `b_t`, `c_t` hold dB, dC as (batch, len, groups, n).
/// Recomputes each block's forward (per task, `len * n` registers of states and factors).
pub fn backward(inp: &Input, dout: &[f32], dlast: &[f32]) -> Grads {
    assert!(
        supported(inp.dims),
        "selective_cl::backward on an unsupported problem"
    );
    let Dims {
        batch,
        d,
        len,
        n,
        groups,
    } = inp.dims;
    assert!(dout.len() == batch * len * d && dlast.len() == batch * d * n);
    let tasks = Task::all(inp.dims);
    let x_len = batch * len * d;
    let mut g = Grads {
        u: vec![0.0; x_len],
        delta: vec![0.0; x_len],
        z: vec![0.0; if inp.z.is_some() { x_len } else { 0 }],
        h0: vec![0.0; batch * d * n],
        a: vec![0.0; d * n],
        b_t: vec![0.0; batch * len * groups * n],
        c_t: vec![0.0; batch * len * groups * n],
        d_skip: vec![0.0; d],
        delta_bias: vec![0.0; d],
    };
    let outs = BackwardOut {
        du: Shared::of(&mut g.u),
        ddelta: Shared::of(&mut g.delta),
        dz: Shared::of(&mut g.z),
        dh0: Shared::of(&mut g.h0),
    };
    let partials: Vec<Partial> = tasks
        .par_iter()
        .map(|task| {
            let _ftz = FlushDenormals::new();
            // SAFETY: AVX2+FMA checked by `supported`; tasks write disjoint rows.
            unsafe { backward_task(inp, *task, dout, dlast, outs) }
        })
        .collect();
    // dB, dC: (batch, len, groups, n); each batch row's partials added in task order.
    let row = len * groups * n;
    g.b_t
        .par_chunks_mut(row)
        .zip(g.c_t.par_chunks_mut(row))
        .enumerate()
        .for_each(|(bb, (db, dc))| {
            for (task, p) in tasks.iter().zip(&partials) {
                if task.bb != bb {
                    continue;
                }
                let grp = task.c0 / (d / groups);
                for t in 0..len {
                    let o = (t * groups + grp) * n;
                    for k in 0..n {
                        db[o + k] += p.db[t * n + k];
                        dc[o + k] += p.dc[t * n + k];
                    }
                }
            }
        });
    for (task, p) in tasks.iter().zip(&partials) {
        let (c0, ch) = (task.c0, task.channels());
        for (dst, src) in g.a[c0 * n..(c0 + ch) * n].iter_mut().zip(&p.da) {
            *dst += src;
        }
        for i in 0..ch {
            g.d_skip[c0 + i] += p.d_skip[i];
            g.delta_bias[c0 + i] += p.delta_bias[i];
        }
    }
    g
}

/// Reverse pass of one task's blocks (each after its recomputed forward).
///
/// # Safety
/// AVX2+FMA must be available; the task's rows must not be written by any other thread.
#[target_feature(enable = "avx2,fma")]
unsafe fn backward_task(
    inp: &Input,
    task: Task,
    dout: &[f32],
    dlast: &[f32],
    out: BackwardOut,
) -> Partial {
    let Dims {
        d, len, n, groups, ..
    } = inp.dims;
    let zero = _mm256_setzero_ps();
    let ch = task.channels();
    let mut p = Partial {
        db: vec![0.0; len * n],
        dc: vec![0.0; len * n],
        da: vec![0.0; ch * n],
        d_skip: vec![0.0; ch],
        delta_bias: vec![0.0; ch],
    };
    let mut rows = PackedTask::default();
    rows.fill(inp, task);
    let mut dout_rows = Vec::new();
    pack(dout, inp.dims, task, &mut dout_rows);
    let span = len * LANES;
    let mut du_rows = vec![0.0f32; ch * len];
    let mut ddelta_rows = vec![0.0f32; ch * len];
    let mut dz_rows = vec![0.0f32; if inp.z.is_some() { ch * len } else { 0 }];
    let mut rec = Record::new(len, n);
    let (mut at, mut h, mut h0) = (vec![zero; n], vec![zero; n], vec![zero; n]);
    let (mut gh, mut da) = (vec![zero; n], vec![zero; n]);
    let (mut dcv, mut dbv) = (vec![zero; n], vec![zero; n]);
    let mut state = vec![0.0f32; LANES * n];
    let scale = _mm256_set1_ps(inp.transition.scale);
    let offset = _mm256_set1_ps(inp.transition.offset);
    for j in 0..task.blocks {
        let c0 = task.c0 + j * LANES;
        let bc0 = bc0(inp.dims, task.bb, c0);
        let block = rows.block(inp, j);
        gather_rows(inp.a, c0, n, &mut at);
        init_state(inp, (task.bb, c0), &mut h0);
        h.copy_from_slice(&h0);
        forward_block::<true>(inp, (task.bb, c0), block, &at, &mut h, &mut [], &mut rec);
        let bias = per_channel(inp.delta_bias, c0);
        let skip = per_channel(inp.d_skip, c0);
        let srow = task.bb * d + c0; // first state row of the block
        gather_rows(dlast, srow, n, &mut gh);
        da.iter_mut().for_each(|x| *x = zero);
        let (mut dskip, mut dbias) = (zero, zero);
        let dout_b = &dout_rows[j * span..][..span];
        let du_b = &mut du_rows[j * span..][..span];
        let ddelta_b = &mut ddelta_rows[j * span..][..span];
        for t in (0..len).rev() {
            let xi = t * LANES;
            let uv = load8(block.u, xi);
            let dt = rec.dts[t];
            let dov = load8(dout_b, xi);
            let dy = match block.z {
                Some(z) => {
                    let zv = load8(z, xi);
                    let s = sigmoid8(zv);
                    let gate = _mm256_mul_ps(zv, s);
                    let one = _mm256_set1_ps(1.0);
                    // silu' = s (1 + z (1 - s))
                    let dgate = _mm256_mul_ps(s, _mm256_fmadd_ps(zv, _mm256_sub_ps(one, s), one));
                    let pre = _mm256_fmadd_ps(skip, uv, rec.ys[t]);
                    store8(
                        &mut dz_rows[j * span..][..span],
                        xi,
                        _mm256_mul_ps(_mm256_mul_ps(dov, pre), dgate),
                    );
                    _mm256_mul_ps(dov, gate)
                }
                None => dov,
            };
            dskip = _mm256_fmadd_ps(dy, uv, dskip);
            let dtu = _mm256_mul_ps(dt, uv);
            let bt = &inp.b[bc0 + t * groups * n..][..n];
            let ct = &inp.c[bc0 + t * groups * n..][..n];
            let (hs_t, es_t) = (&rec.hs[t * n..(t + 1) * n], &rec.es[t * n..(t + 1) * n]);
            let hs_prev = if t > 0 {
                &rec.hs[(t - 1) * n..t * n]
            } else {
                &h0[..n]
            };
            let mut ddt = [zero; 2];
            let mut dub = [zero; 2];
            for k in 0..n {
                let bk = _mm256_set1_ps(bt[k]);
                let g = _mm256_fmadd_ps(dy, _mm256_set1_ps(ct[k]), gh[k]);
                dcv[k] = _mm256_mul_ps(dy, hs_t[k]);
                dbv[k] = _mm256_mul_ps(g, dtu);
                // dā/d(ΔA) h_{t-1}
                let eh = _mm256_mul_ps(_mm256_mul_ps(es_t[k], scale), hs_prev[k]);
                // dΔ: g (A dā/d(ΔA) h_{t-1} + B u)
                ddt[k & 1] = _mm256_fmadd_ps(
                    g,
                    _mm256_fmadd_ps(at[k], eh, _mm256_mul_ps(bk, uv)),
                    ddt[k & 1],
                );
                da[k] = _mm256_fmadd_ps(_mm256_mul_ps(g, dt), eh, da[k]);
                dub[k & 1] = _mm256_fmadd_ps(g, bk, dub[k & 1]);
                gh[k] = _mm256_mul_ps(g, _mm256_fmadd_ps(es_t[k], scale, offset));
            }
            add_lane_sums(&dcv, &mut p.dc[t * n..(t + 1) * n]);
            add_lane_sums(&dbv, &mut p.db[t * n..(t + 1) * n]);
            let ddt = _mm256_add_ps(ddt[0], ddt[1]);
            let dub = _mm256_add_ps(dub[0], dub[1]);
            store8(du_b, xi, _mm256_fmadd_ps(dub, dt, _mm256_mul_ps(skip, dy)));
            let draw = if inp.softplus {
                // softplus' = sigmoid(raw) for raw <= 20, else 1
                let raw = _mm256_add_ps(load8(block.delta, xi), bias);
                let big = _mm256_cmp_ps::<_CMP_GT_OQ>(raw, _mm256_set1_ps(20.0));
                let dsp = _mm256_blendv_ps(sigmoid8(raw), _mm256_set1_ps(1.0), big);
                _mm256_mul_ps(ddt, dsp)
            } else {
                ddt
            };
            dbias = _mm256_add_ps(dbias, draw);
            store8(ddelta_b, xi, draw);
        }
        // dL/dh0: the block's state rows (batch, d, n), transposed back.
        scatter_rows(&gh, 0, n, &mut state);
        // SAFETY: rows srow..srow+8 of dh0 belong to this block.
        unsafe {
            std::ptr::copy_nonoverlapping(state.as_ptr(), out.dh0.0.add(srow * n), LANES * n)
        };
        scatter_rows(&da, j * LANES, n, &mut p.da);
        store8(&mut p.d_skip, j * LANES, dskip);
        store8(&mut p.delta_bias, j * LANES, dbias);
    }
    // SAFETY: the task's rows, written by no other task.
    unsafe {
        unpack(&du_rows, inp.dims, task, out.du);
        unpack(&ddelta_rows, inp.dims, task, out.ddelta);
        if inp.z.is_some() {
            unpack(&dz_rows, inp.dims, task, out.dz);
        }
    }
    p
}
