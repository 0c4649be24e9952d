//! CPU selective scan on plain `f32` slices, multi-threaded over channels with rayon.
//!
//! Layouts are those of the public API except B and C, which the callers pass transposed to
//! `(batch, groups, len, n)` so that the inner loop over the state index is contiguous (it is
//! written in 8-lane blocks so LLVM vectorises it, [`exp_f32`] included).

use rayon::prelude::*;

use super::math::{exp_f32, silu, silu_grad, softplus, softplus_grad, FlushDenormals};

/// Sizes of a selective-scan problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// batch size
    pub batch: usize,
    /// channels
    pub d: usize,
    /// sequence length
    pub len: usize,
    /// state size
    pub n: usize,
    /// groups of B/C
    pub groups: usize,
}

/// The transition as an affine map of `e = exp(Δ A)`: `ā = scale · e + offset`, with
/// `dā/d(Δ A) = scale · e`. Both [`crate::TransitionRange`]s are one formula this way, so the
/// kernels need no second copy of their loops: `(1, 0)` gives `e · 1 + 0 = e` exactly in IEEE
/// arithmetic (the mamba range stays bit-identical to a kernel without the map), `(2, -1)` gives
/// Grazzi et al.'s `2 e - 1`. The kernels record `e`, not `ā`: `ā + 1` would lose the digits of
/// a small `e` (`ā` near -1) that the slope `2 e` keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// multiplies `exp(Δ A)`
    pub scale: f32,
    /// added after the scaling
    pub offset: f32,
}

impl Transition {
    /// The map of `range`.
    pub fn of(range: crate::TransitionRange) -> Self {
        match range {
            crate::TransitionRange::ZeroOne => Self {
                scale: 1.0,
                offset: 0.0,
            },
            crate::TransitionRange::MinusOneOne => Self {
                scale: 2.0,
                offset: -1.0,
            },
        }
    }
}

impl Default for Transition {
    fn default() -> Self {
        Self::of(crate::TransitionRange::ZeroOne)
    }
}

/// Borrowed inputs (see the module docs for layouts).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// sizes
    pub dims: Dims,
    /// (batch, d, len)
    pub u: &'a [f32],
    /// (batch, d, len)
    pub delta: &'a [f32],
    /// (d, n)
    pub a: &'a [f32],
    /// B transposed: (batch, groups, len, n)
    pub b_t: &'a [f32],
    /// C transposed: (batch, groups, len, n)
    pub c_t: &'a [f32],
    /// (d)
    pub d_skip: Option<&'a [f32]>,
    /// (batch, d, len)
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

/// All gradients; `b_t`, `c_t` in the transposed layout (batch, groups, len, n).
#[derive(Debug, Clone, Default)]
pub struct Grads {
    /// (batch, d, len)
    pub u: Vec<f32>,
    /// (batch, d, len)
    pub delta: Vec<f32>,
    /// (d, n)
    pub a: Vec<f32>,
    /// (batch, groups, len, n)
    pub b_t: Vec<f32>,
    /// (batch, groups, len, n)
    pub c_t: Vec<f32>,
    /// (d)
    pub d_skip: Vec<f32>,
    /// (batch, d, len), empty without z
    pub z: Vec<f32>,
    /// (d)
    pub delta_bias: Vec<f32>,
    /// (batch, d, n)
    pub h0: Vec<f32>,
}

impl Input<'_> {
    #[inline]
    fn group_of(&self, dd: usize) -> usize {
        dd / (self.dims.d / self.dims.groups)
    }

    /// Fills the per-step rows of channel `(bb, dd)`: `dt` = Δ_t; `dsp` = dΔ_t/draw_t (only
    /// when `dsp` is non-empty); `gate`/`dgate` = silu(z_t) and its derivative (when z is given
    /// and the slices are non-empty).
    fn rows(&self, path: Path, ch: usize, dd: usize, r: &mut Rows) {
        let len = self.dims.len;
        let raw = &self.delta[ch * len..(ch + 1) * len];
        let bias = self.delta_bias.map_or(0.0, |v| v[dd]);
        let z = self.z.map(|z| &z[ch * len..(ch + 1) * len]);
        #[cfg(target_arch = "x86_64")]
        if let Path::Avx(_) = path {
            // SAFETY: `Path::Avx` is only chosen when `avx::available()`.
            unsafe {
                super::avx::dt_row(raw, bias, self.softplus, &mut r.dt);
                if r.want_grads && self.softplus {
                    super::avx::softplus_grad_row(raw, bias, &mut r.dsp);
                }
                if let Some(z) = z {
                    super::avx::gate_rows(z, &mut r.gate, &mut r.dgate);
                }
            }
            return;
        }
        let _ = path;
        for (t, &x) in raw.iter().enumerate() {
            let x = x + bias;
            r.dt[t] = if self.softplus { softplus(x) } else { x };
            if r.want_grads && self.softplus {
                r.dsp[t] = softplus_grad(x);
            }
        }
        if let Some(z) = z {
            for (t, &zt) in z.iter().enumerate() {
                r.gate[t] = silu(zt);
                r.dgate[t] = silu_grad(zt);
            }
        }
    }
}

/// Which implementation of the per-channel loops runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// AVX2+FMA with the state in `n / 8` registers (n = 8, 16, 32 or 64).
    Avx(usize),
    /// SSE2 (x86-64 baseline) 4-lane blocks plus a scalar tail, any n.
    Baseline,
}

impl Path {
    fn choose(n: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if super::avx::available() && n.is_multiple_of(8) && matches!(n / 8, 1 | 2 | 4 | 8) {
            return Path::Avx(n / 8);
        }
        let _ = n;
        Path::Baseline
    }
}

/// Per-channel scratch rows (length len each).
struct Rows {
    want_grads: bool,
    dt: Vec<f32>,
    dsp: Vec<f32>,
    gate: Vec<f32>,
    dgate: Vec<f32>,
    ys: Vec<f32>,
}

impl Rows {
    fn new(len: usize, want_grads: bool) -> Self {
        let v = || vec![0.0f32; len];
        Self {
            want_grads,
            dt: v(),
            dsp: v(),
            gate: v(),
            dgate: v(),
            ys: v(),
        }
    }
}

/// One step of the state update for one channel; returns `sum_k C[k] h[k]`.
/// `h = ā * h + du * b` with `ā` = `tr` of `exp(dt*a)`; when `es` is given, the factors
/// `exp(dt*a)` are stored in it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step(
    h: &mut [f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    dt: f32,
    du: f32,
    tr: Transition,
    es: Option<&mut [f32]>,
) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is baseline on x86-64; every pointer access is inside the slices
        // (`full <= n` and all slices have length >= n, checked by the asserts).
        unsafe { step_sse2(h, a, b, c, dt, du, tr, es) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        step_scalar(h, a, b, c, dt, du, tr, es, 0)
    }
}

/// Scalar step for the state indices `from..n`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_scalar(
    h: &mut [f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    dt: f32,
    du: f32,
    tr: Transition,
    mut es: Option<&mut [f32]>,
    from: usize,
) -> f32 {
    let mut y = 0.0f32;
    for k in from..h.len() {
        let e = exp_f32(dt * a[k]);
        h[k] = (e * tr.scale + tr.offset) * h[k] + du * b[k];
        y += c[k] * h[k];
        if let Some(es) = es.as_deref_mut() {
            es[k] = e;
        }
    }
    y
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn step_sse2(
    h: &mut [f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    dt: f32,
    du: f32,
    tr: Transition,
    mut es: Option<&mut [f32]>,
) -> f32 {
    use std::arch::x86_64::*;
    let n = h.len();
    assert!(
        a.len() >= n && b.len() >= n && c.len() >= n && es.as_ref().is_none_or(|e| e.len() >= n)
    );
    let full = n / 4 * 4;
    let (vdt, vdu) = (_mm_set1_ps(dt), _mm_set1_ps(du));
    let (vscale, voffset) = (_mm_set1_ps(tr.scale), _mm_set1_ps(tr.offset));
    let mut acc = _mm_setzero_ps();
    let mut k = 0;
    while k < full {
        let e = super::math::exp_ps(_mm_mul_ps(vdt, _mm_loadu_ps(a.as_ptr().add(k))));
        let abar = _mm_add_ps(_mm_mul_ps(e, vscale), voffset);
        let hk = _mm_add_ps(
            _mm_mul_ps(abar, _mm_loadu_ps(h.as_ptr().add(k))),
            _mm_mul_ps(vdu, _mm_loadu_ps(b.as_ptr().add(k))),
        );
        _mm_storeu_ps(h.as_mut_ptr().add(k), hk);
        acc = _mm_add_ps(acc, _mm_mul_ps(hk, _mm_loadu_ps(c.as_ptr().add(k))));
        if let Some(es) = es.as_deref_mut() {
            _mm_storeu_ps(es.as_mut_ptr().add(k), e);
        }
        k += 4;
    }
    let mut lanes = [0.0f32; 4];
    _mm_storeu_ps(lanes.as_mut_ptr(), acc);
    lanes.iter().sum::<f32>() + step_scalar(h, a, b, c, dt, du, tr, es, full)
}

/// Per-step outputs of the reverse recurrence (all length n).
struct RevStep<'a> {
    gh: &'a mut [f32],
    dct: &'a mut [f32],
    dbt: &'a mut [f32],
    da: &'a mut [f32],
}

/// Per-step inputs of the reverse recurrence (all length n).
struct RevInputs<'a> {
    h_t: &'a [f32],
    h_prev: &'a [f32],
    e: &'a [f32],
    a: &'a [f32],
    b: &'a [f32],
    c: &'a [f32],
}

/// One reverse step over the state index: updates `gh` (dL/dh, from t to t-1), dC, dB, dA and
/// returns `(dL/dΔ_t, Σ_k g_k B_k)`. `i.e` holds `exp(Δ A)`; `tr` maps it to `ā` (the factor of
/// `gh`) and to the slope `dā/d(Δ A) = tr.scale · e` (in dΔ and dA).
#[inline(always)]
#[allow(unused_assignments)] // the zero initial values are only read on non-x86-64 targets
fn reverse_step(o: RevStep, i: RevInputs, dy: f32, dt: f32, u: f32, tr: Transition) -> (f32, f32) {
    let n = o.gh.len();
    assert!([
        o.dct.len(),
        o.dbt.len(),
        o.da.len(),
        i.h_t.len(),
        i.h_prev.len(),
        i.e.len(),
        i.a.len(),
        i.b.len(),
        i.c.len()
    ]
    .iter()
    .all(|&l| l >= n));
    let dtu = dt * u;
    let (mut ddt, mut dub) = (0.0f32, 0.0f32);
    let mut from = 0;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is baseline on x86-64; all accesses are at k..k+4 <= n, within every slice
    // (lengths asserted above).
    unsafe {
        use std::arch::x86_64::*;
        let full = n / 4 * 4;
        let (vdy, vdt, vdtu, vu) = (
            _mm_set1_ps(dy),
            _mm_set1_ps(dt),
            _mm_set1_ps(dtu),
            _mm_set1_ps(u),
        );
        let (vscale, voffset) = (_mm_set1_ps(tr.scale), _mm_set1_ps(tr.offset));
        let (mut vddt, mut vdub) = (_mm_setzero_ps(), _mm_setzero_ps());
        let ld = |s: &[f32], k: usize| _mm_loadu_ps(s.as_ptr().add(k));
        let mut k = 0;
        while k < full {
            let gk = _mm_add_ps(ld(o.gh, k), _mm_mul_ps(vdy, ld(i.c, k)));
            _mm_storeu_ps(
                o.dct.as_mut_ptr().add(k),
                _mm_add_ps(ld(o.dct, k), _mm_mul_ps(vdy, ld(i.h_t, k))),
            );
            _mm_storeu_ps(
                o.dbt.as_mut_ptr().add(k),
                _mm_add_ps(ld(o.dbt, k), _mm_mul_ps(gk, vdtu)),
            );
            let ek = ld(i.e, k);
            let eh = _mm_mul_ps(_mm_mul_ps(ek, vscale), ld(i.h_prev, k));
            let bk = ld(i.b, k);
            vddt = _mm_add_ps(
                vddt,
                _mm_mul_ps(
                    gk,
                    _mm_add_ps(_mm_mul_ps(ld(i.a, k), eh), _mm_mul_ps(bk, vu)),
                ),
            );
            _mm_storeu_ps(
                o.da.as_mut_ptr().add(k),
                _mm_add_ps(ld(o.da, k), _mm_mul_ps(_mm_mul_ps(gk, vdt), eh)),
            );
            vdub = _mm_add_ps(vdub, _mm_mul_ps(gk, bk));
            let abar = _mm_add_ps(_mm_mul_ps(ek, vscale), voffset);
            _mm_storeu_ps(o.gh.as_mut_ptr().add(k), _mm_mul_ps(gk, abar));
            k += 4;
        }
        let mut lanes = [0.0f32; 4];
        _mm_storeu_ps(lanes.as_mut_ptr(), vddt);
        ddt = lanes.iter().sum();
        _mm_storeu_ps(lanes.as_mut_ptr(), vdub);
        dub = lanes.iter().sum();
        from = full;
    }
    for k in from..n {
        let gk = o.gh[k] + dy * i.c[k];
        o.dct[k] += dy * i.h_t[k];
        o.dbt[k] += gk * dtu;
        let eh = i.e[k] * tr.scale * i.h_prev[k];
        ddt += gk * (i.a[k] * eh + i.b[k] * u);
        o.da[k] += gk * dt * eh;
        dub += gk * i.b[k];
        o.gh[k] = gk * (i.e[k] * tr.scale + tr.offset);
    }
    (ddt, dub)
}

/// Forward scan of one channel (see [`super::avx::forward_channel`]); `ys` gets
/// `Σ_k C[t,k] h_t[k]`; `record` = `(hs, es)` stores states and factors `exp(Δ A)`.
#[allow(clippy::too_many_arguments)]
fn scan_channel(
    path: Path,
    tr: Transition,
    a: &[f32],
    b_t: &[f32],
    c_t: &[f32],
    dt: &[f32],
    u: &[f32],
    h: &mut [f32],
    ys: &mut [f32],
    mut record: Option<(&mut [f32], &mut [f32])>,
) {
    #[cfg(target_arch = "x86_64")]
    if let Path::Avx(nv) = path {
        use super::avx::{forward_channel, Channel};
        let ch = Channel {
            a,
            b_t,
            c_t,
            dt,
            u,
            tr,
        };
        // SAFETY: `Path::Avx` is only chosen when `avx::available()`.
        unsafe {
            match nv {
                1 => forward_channel::<1>(&ch, h, ys, record),
                2 => forward_channel::<2>(&ch, h, ys, record),
                4 => forward_channel::<4>(&ch, h, ys, record),
                _ => forward_channel::<8>(&ch, h, ys, record),
            }
        }
        return;
    }
    let _ = path;
    let n = h.len();
    for t in 0..dt.len() {
        let es = record.as_mut().map(|(_, es)| &mut es[t * n..(t + 1) * n]);
        ys[t] = step(
            h,
            a,
            &b_t[t * n..(t + 1) * n],
            &c_t[t * n..(t + 1) * n],
            dt[t],
            dt[t] * u[t],
            tr,
            es,
        );
        if let Some((hs, _)) = record.as_mut() {
            hs[t * n..(t + 1) * n].copy_from_slice(h);
        }
    }
}

/// Forward: returns `(out (batch*d*len), final state (batch*d*n))`.
///
/// One rayon task per channel; every output element is computed by one fixed sequence of
/// operations, so the result does not depend on the thread count or scheduling.
pub fn forward(inp: &Input) -> (Vec<f32>, Vec<f32>) {
    let Dims {
        batch,
        d,
        len,
        n,
        groups,
    } = inp.dims;
    let path = Path::choose(n);
    let mut out = vec![0.0f32; batch * d * len];
    let mut last = vec![0.0f32; batch * d * n];
    out.par_chunks_mut(len)
        .zip(last.par_chunks_mut(n))
        .enumerate()
        .for_each_init(
            || Rows::new(len, false),
            |rows, (ch, (y, h))| {
                let _ftz = FlushDenormals::new();
                let (bb, dd) = (ch / d, ch % d);
                let bc0 = (bb * groups + inp.group_of(dd)) * len * n;
                match inp.h0 {
                    Some(h0) => h.copy_from_slice(&h0[ch * n..(ch + 1) * n]),
                    None => h.fill(0.0),
                }
                inp.rows(path, ch, dd, rows);
                let u = &inp.u[ch * len..(ch + 1) * len];
                scan_channel(
                    path,
                    inp.transition,
                    &inp.a[dd * n..(dd + 1) * n],
                    &inp.b_t[bc0..bc0 + len * n],
                    &inp.c_t[bc0..bc0 + len * n],
                    &rows.dt,
                    u,
                    h,
                    &mut rows.ys,
                    None,
                );
                let skip = inp.d_skip.map_or(0.0, |v| v[dd]);
                for ((yt, &s), &ut) in y.iter_mut().zip(&rows.ys).zip(u) {
                    *yt = s + skip * ut;
                }
                if inp.z.is_some() {
                    for (yt, &g) in y.iter_mut().zip(&rows.gate) {
                        *yt *= g;
                    }
                }
            },
        );
    (out, last)
}

/// Splits `v` into consecutive mutable pieces of the given sizes.
fn split_sizes<T>(mut v: &mut [T], sizes: impl Iterator<Item = usize>) -> Vec<&mut [T]> {
    let mut parts = Vec::new();
    for s in sizes {
        let (head, tail) = v.split_at_mut(s);
        parts.push(head);
        v = tail;
    }
    parts
}

/// Channels per backward task. Fixed (never derived from the thread count) so that the partial
/// sums of dB, dC, dA, dD and dΔ-bias, and the order in which they are added, are the same on
/// every run: the backward is bit-deterministic whatever the pool size or scheduling.
const CHANNELS_PER_TASK: usize = 16;

/// One task of the backward: channels `d0..d1` of batch `bb`, all in one group.
#[derive(Clone, Copy)]
struct Task {
    bb: usize,
    d0: usize,
    d1: usize,
}

/// Per-task partial reductions.
struct Partial {
    db_t: Vec<f32>,
    dc_t: Vec<f32>,
    da: Vec<f32>,
    d_skip: Vec<f32>,
    delta_bias: Vec<f32>,
}

/// Backward of `sum(dout * out) + sum(dlast * final_state)`; recomputes the forward states
/// per channel (kept in a per-task buffer of `len * n` floats, never for the whole batch).
///
/// Deterministic: tasks are fixed blocks of `CHANNELS_PER_TASK` channels; each task sums its
/// channels in order, and the partials are added in task order.
pub fn backward(inp: &Input, dout: &[f32], dlast: &[f32]) -> Grads {
    let Dims {
        batch,
        d,
        len,
        n,
        groups,
    } = inp.dims;
    let per_group = d / groups;
    let mut tasks = Vec::new();
    for bb in 0..batch {
        for g in 0..groups {
            let mut d0 = g * per_group;
            while d0 < (g + 1) * per_group {
                let d1 = (d0 + CHANNELS_PER_TASK).min((g + 1) * per_group);
                tasks.push(Task { bb, d0, d1 });
                d0 = d1;
            }
        }
    }
    let mut du = vec![0.0f32; batch * d * len];
    let mut ddelta = vec![0.0f32; batch * d * len];
    let mut dz = vec![0.0f32; if inp.z.is_some() { batch * d * len } else { 0 }];
    let mut dh0 = vec![0.0f32; batch * d * n];
    let sizes = |per: usize| tasks.iter().map(move |t| (t.d1 - t.d0) * per);
    let du_parts = split_sizes(&mut du, sizes(len));
    let dd_parts = split_sizes(&mut ddelta, sizes(len));
    let dz_parts: Vec<&mut [f32]> = if inp.z.is_some() {
        split_sizes(&mut dz, sizes(len))
    } else {
        tasks.iter().map(|_| <&mut [f32]>::default()).collect()
    };
    let dh0_parts = split_sizes(&mut dh0, sizes(n));

    let partials: Vec<Partial> = tasks
        .par_iter()
        .zip(du_parts)
        .zip(dd_parts)
        .zip(dz_parts)
        .zip(dh0_parts)
        .map(|((((task, du_p), dd_p), dz_p), dh0_p)| {
            backward_task(inp, *task, dout, dlast, du_p, dd_p, dz_p, dh0_p)
        })
        .collect();

    let mut g = Grads {
        u: du,
        delta: ddelta,
        z: dz,
        h0: dh0,
        a: vec![0.0; d * n],
        b_t: vec![0.0; batch * groups * len * n],
        c_t: vec![0.0; batch * groups * len * n],
        d_skip: vec![0.0; d],
        delta_bias: vec![0.0; d],
    };
    // dB/dC: one (batch, group) block per rayon task, its partials added in task order.
    let per_block: Vec<Vec<&Partial>> = {
        let mut v: Vec<Vec<&Partial>> = (0..batch * groups).map(|_| Vec::new()).collect();
        for (t, p) in tasks.iter().zip(&partials) {
            v[t.bb * groups + inp.group_of(t.d0)].push(p);
        }
        v
    };
    g.b_t
        .par_chunks_mut(len * n)
        .zip(g.c_t.par_chunks_mut(len * n))
        .zip(per_block.par_iter())
        .for_each(|((db, dc), parts)| {
            for p in parts {
                for (dst, src) in db.iter_mut().zip(&p.db_t) {
                    *dst += src;
                }
                for (dst, src) in dc.iter_mut().zip(&p.dc_t) {
                    *dst += src;
                }
            }
        });
    for (task, p) in tasks.iter().zip(&partials) {
        let Task { d0, d1, .. } = *task;
        for (dst, src) in g.a[d0 * n..d1 * n].iter_mut().zip(&p.da) {
            *dst += src;
        }
        for (i, dd) in (d0..d1).enumerate() {
            g.d_skip[dd] += p.d_skip[i];
            g.delta_bias[dd] += p.delta_bias[i];
        }
    }
    g
}

/// Reverse scan of one channel: fills `ddt` (dL/dΔ_t) and `dub` (Σ_k g_k B_k) per step,
/// accumulates dA (`da`), dB/dC rows, and turns `gh` from dL/dh_final into dL/dh0.
#[allow(clippy::too_many_arguments)]
fn reverse_channel(
    path: Path,
    tr: Transition,
    a: &[f32],
    b_t: &[f32],
    c_t: &[f32],
    dt: &[f32],
    u: &[f32],
    hs: &[f32],
    es: &[f32],
    h0: &[f32],
    dy: &[f32],
    gh: &mut [f32],
    da: &mut [f32],
    db_t: &mut [f32],
    dc_t: &mut [f32],
    ddt: &mut [f32],
    dub: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if let Path::Avx(nv) = path {
        use super::avx::{reverse_channel, Channel, Reverse};
        let ch = Channel {
            a,
            b_t,
            c_t,
            dt,
            u,
            tr,
        };
        let out = Reverse {
            gh,
            da,
            db_t,
            dc_t,
            ddt,
            dub,
        };
        // SAFETY: `Path::Avx` is only chosen when `avx::available()`.
        unsafe {
            match nv {
                1 => reverse_channel::<1>(&ch, hs, es, h0, dy, out),
                2 => reverse_channel::<2>(&ch, hs, es, h0, dy, out),
                4 => reverse_channel::<4>(&ch, hs, es, h0, dy, out),
                _ => reverse_channel::<8>(&ch, hs, es, h0, dy, out),
            }
        }
        return;
    }
    let _ = path;
    let n = gh.len();
    for t in (0..dt.len()).rev() {
        let r = t * n..(t + 1) * n;
        let h_prev = if t > 0 { &hs[(t - 1) * n..t * n] } else { h0 };
        let (x, y) = reverse_step(
            RevStep {
                gh: &mut *gh,
                dct: &mut dc_t[r.clone()],
                dbt: &mut db_t[r.clone()],
                da: &mut *da,
            },
            RevInputs {
                h_t: &hs[r.clone()],
                h_prev,
                e: &es[r.clone()],
                a,
                b: &b_t[r.clone()],
                c: &c_t[r],
            },
            dy[t],
            dt[t],
            u[t],
            tr,
        );
        ddt[t] = x;
        dub[t] = y;
    }
}

#[allow(clippy::too_many_arguments)]
fn backward_task(
    inp: &Input,
    task: Task,
    dout: &[f32],
    dlast: &[f32],
    du_p: &mut [f32],
    dd_p: &mut [f32],
    dz_p: &mut [f32],
    dh0_p: &mut [f32],
) -> Partial {
    let _ftz = FlushDenormals::new();
    let Dims {
        d, len, n, groups, ..
    } = inp.dims;
    let path = Path::choose(n);
    let Task { bb, d0, d1 } = task;
    let g = inp.group_of(d0);
    let bc0 = (bb * groups + g) * len * n;
    let b_t = &inp.b_t[bc0..bc0 + len * n];
    let c_t = &inp.c_t[bc0..bc0 + len * n];
    let mut p = Partial {
        db_t: vec![0.0; len * n],
        dc_t: vec![0.0; len * n],
        da: vec![0.0; (d1 - d0) * n],
        d_skip: vec![0.0; d1 - d0],
        delta_bias: vec![0.0; d1 - d0],
    };
    // Recomputed forward of one channel: states h_t and factors exp(Δ_t A) for every t (the
    // transition ā is formed from them again in the reverse pass).
    let mut hs = vec![0.0f32; len * n];
    let mut es = vec![0.0f32; len * n];
    let mut rows = Rows::new(len, true);
    let mut dy = vec![0.0f32; len];
    let mut ddt = vec![0.0f32; len];
    let mut dub = vec![0.0f32; len];
    let mut h = vec![0.0f32; n];
    let h0_zero = vec![0.0f32; n];
    for (i, dd) in (d0..d1).enumerate() {
        let ch = bb * d + dd;
        let x0 = ch * len;
        let a = &inp.a[dd * n..(dd + 1) * n];
        let u = &inp.u[x0..x0 + len];
        let h0 = inp.h0.map_or(&h0_zero[..], |v| &v[ch * n..(ch + 1) * n]);
        let skip = inp.d_skip.map_or(0.0, |v| v[dd]);
        inp.rows(path, ch, dd, &mut rows);
        h.copy_from_slice(h0);
        scan_channel(
            path,
            inp.transition,
            a,
            b_t,
            c_t,
            &rows.dt,
            u,
            &mut h,
            &mut rows.ys,
            Some((&mut hs, &mut es)),
        );
        // Output gradient per step (through the gate) and the skip term.
        let dout_c = &dout[x0..x0 + len];
        let mut dskip_acc = 0.0f32;
        for t in 0..len {
            let dyt = match inp.z {
                Some(_) => {
                    dz_p[i * len + t] = dout_c[t] * (rows.ys[t] + skip * u[t]) * rows.dgate[t];
                    dout_c[t] * rows.gate[t]
                }
                None => dout_c[t],
            };
            dy[t] = dyt;
            dskip_acc += dyt * u[t];
        }
        let gh = &mut dh0_p[i * n..(i + 1) * n];
        gh.copy_from_slice(&dlast[ch * n..(ch + 1) * n]);
        reverse_channel(
            path,
            inp.transition,
            a,
            b_t,
            c_t,
            &rows.dt,
            u,
            &hs,
            &es,
            h0,
            &dy,
            gh,
            &mut p.da[i * n..(i + 1) * n],
            &mut p.db_t,
            &mut p.dc_t,
            &mut ddt,
            &mut dub,
        );
        let mut dbias_acc = 0.0f32;
        for t in 0..len {
            du_p[i * len + t] = dub[t] * rows.dt[t] + skip * dy[t];
            let draw = if inp.softplus {
                ddt[t] * rows.dsp[t]
            } else {
                ddt[t]
            };
            dd_p[i * len + t] = draw;
            dbias_acc += draw;
        }
        p.d_skip[i] = dskip_acc;
        p.delta_bias[i] = dbias_acc;
    }
    p
}
