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

    /// Effective step size Δ and the raw pre-softplus value.
    #[inline]
    fn dt(&self, dd: usize, raw: f32) -> (f32, f32) {
        let r = raw + self.delta_bias.map_or(0.0, |v| v[dd]);
        (if self.softplus { softplus(r) } else { r }, r)
    }
}

/// One step of the state update for one channel; returns `sum_k C[k] h[k]`.
/// `h = exp(dt*a) * h + du * b`; when `es` is given, the factors `exp(dt*a)` are stored in it.
#[inline(always)]
fn step(
    h: &mut [f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    dt: f32,
    du: f32,
    es: Option<&mut [f32]>,
) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is baseline on x86-64; every pointer access is inside the slices
        // (`full <= n` and all slices have length >= n, checked by the asserts).
        unsafe { step_sse2(h, a, b, c, dt, du, es) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        step_scalar(h, a, b, c, dt, du, es, 0)
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
    mut es: Option<&mut [f32]>,
    from: usize,
) -> f32 {
    let mut y = 0.0f32;
    for k in from..h.len() {
        let e = exp_f32(dt * a[k]);
        h[k] = e * h[k] + du * b[k];
        y += c[k] * h[k];
        if let Some(es) = es.as_deref_mut() {
            es[k] = e;
        }
    }
    y
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn step_sse2(
    h: &mut [f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    dt: f32,
    du: f32,
    mut es: Option<&mut [f32]>,
) -> f32 {
    use std::arch::x86_64::*;
    let n = h.len();
    assert!(
        a.len() >= n && b.len() >= n && c.len() >= n && es.as_ref().is_none_or(|e| e.len() >= n)
    );
    let full = n / 4 * 4;
    let (vdt, vdu) = (_mm_set1_ps(dt), _mm_set1_ps(du));
    let mut acc = _mm_setzero_ps();
    let mut k = 0;
    while k < full {
        let e = super::math::exp_ps(_mm_mul_ps(vdt, _mm_loadu_ps(a.as_ptr().add(k))));
        let hk = _mm_add_ps(
            _mm_mul_ps(e, _mm_loadu_ps(h.as_ptr().add(k))),
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
    lanes.iter().sum::<f32>() + step_scalar(h, a, b, c, dt, du, es, full)
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
/// returns `(dL/dΔ_t, Σ_k g_k B_k)`.
#[inline(always)]
#[allow(unused_assignments)] // the zero initial values are only read on non-x86-64 targets
fn reverse_step(o: RevStep, i: RevInputs, dy: f32, dt: f32, u: f32) -> (f32, f32) {
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
            let eh = _mm_mul_ps(ek, ld(i.h_prev, k));
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
            _mm_storeu_ps(o.gh.as_mut_ptr().add(k), _mm_mul_ps(gk, ek));
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
        let eh = i.e[k] * i.h_prev[k];
        ddt += gk * (i.a[k] * eh + i.b[k] * u);
        o.da[k] += gk * dt * eh;
        dub += gk * i.b[k];
        o.gh[k] = gk * i.e[k];
    }
    (ddt, dub)
}

/// Forward: returns `(out (batch*d*len), final state (batch*d*n))`.
pub fn forward(inp: &Input) -> (Vec<f32>, Vec<f32>) {
    let Dims {
        batch,
        d,
        len,
        n,
        groups,
    } = inp.dims;
    let mut out = vec![0.0f32; batch * d * len];
    let mut last = vec![0.0f32; batch * d * n];
    out.par_chunks_mut(len)
        .zip(last.par_chunks_mut(n))
        .enumerate()
        .for_each(|(ch, (y, h))| {
            let _ftz = FlushDenormals::new();
            let (bb, dd) = (ch / d, ch % d);
            let g = inp.group_of(dd);
            let bc0 = (bb * groups + g) * len * n;
            let a = &inp.a[dd * n..(dd + 1) * n];
            match inp.h0 {
                Some(h0) => h.copy_from_slice(&h0[ch * n..(ch + 1) * n]),
                None => h.fill(0.0),
            }
            let skip = inp.d_skip.map_or(0.0, |v| v[dd]);
            let x0 = ch * len;
            for t in 0..len {
                let u = inp.u[x0 + t];
                let (dt, _) = inp.dt(dd, inp.delta[x0 + t]);
                let bt = &inp.b_t[bc0 + t * n..bc0 + (t + 1) * n];
                let ct = &inp.c_t[bc0 + t * n..bc0 + (t + 1) * n];
                let mut yt = step(h, a, bt, ct, dt, dt * u, None) + skip * u;
                if let Some(z) = inp.z {
                    yt *= silu(z[x0 + t]);
                }
                y[t] = yt;
            }
        });
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

/// One task of the backward: channels `d0..d1` of batch `bb`, all in one group.
#[derive(Clone, Copy)]
struct Task {
    bb: usize,
    d0: usize,
    d1: usize,
}

/// Per-task partial reductions.
struct Partial {
    task: Task,
    db_t: Vec<f32>,
    dc_t: Vec<f32>,
    da: Vec<f32>,
    d_skip: Vec<f32>,
    delta_bias: Vec<f32>,
}

/// Backward of `sum(dout * out) + sum(dlast * final_state)`; recomputes the forward states
/// per channel (kept in a per-task buffer of `len * n` floats, never for the whole batch).
pub fn backward(inp: &Input, dout: &[f32], dlast: &[f32]) -> Grads {
    let Dims {
        batch,
        d,
        len,
        n,
        groups,
    } = inp.dims;
    let per_group = d / groups;
    // Enough tasks to keep every thread busy, never crossing a group (dB/dC partial per task).
    let target = 4 * rayon::current_num_threads();
    let chunks_per_group = target.div_ceil(batch * groups).clamp(1, per_group);
    let chunk = per_group.div_ceil(chunks_per_group);
    let mut tasks = Vec::new();
    for bb in 0..batch {
        for g in 0..groups {
            let mut d0 = g * per_group;
            while d0 < (g + 1) * per_group {
                let d1 = (d0 + chunk).min((g + 1) * per_group);
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
    for p in partials {
        let Task { bb, d0, d1 } = p.task;
        let off = (bb * groups + inp.group_of(d0)) * len * n;
        for (dst, src) in g.b_t[off..off + len * n].iter_mut().zip(&p.db_t) {
            *dst += src;
        }
        for (dst, src) in g.c_t[off..off + len * n].iter_mut().zip(&p.dc_t) {
            *dst += src;
        }
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
    let Task { bb, d0, d1 } = task;
    let g = inp.group_of(d0);
    let bc0 = (bb * groups + g) * len * n;
    let b_t = &inp.b_t[bc0..bc0 + len * n];
    let c_t = &inp.c_t[bc0..bc0 + len * n];
    let mut p = Partial {
        task,
        db_t: vec![0.0; len * n],
        dc_t: vec![0.0; len * n],
        da: vec![0.0; (d1 - d0) * n],
        d_skip: vec![0.0; d1 - d0],
        delta_bias: vec![0.0; d1 - d0],
    };
    // Recomputed forward of one channel: states h_t and factors exp(Δ_t A) for every t.
    let mut hs = vec![0.0f32; len * n];
    let mut es = vec![0.0f32; len * n];
    let mut ys = vec![0.0f32; len];
    let mut h = vec![0.0f32; n];
    let mut gh = vec![0.0f32; n];
    let h0_zero = vec![0.0f32; n];
    for (i, dd) in (d0..d1).enumerate() {
        let ch = bb * d + dd;
        let x0 = ch * len;
        let a = &inp.a[dd * n..(dd + 1) * n];
        let h0 = inp.h0.map_or(&h0_zero[..], |v| &v[ch * n..(ch + 1) * n]);
        let skip = inp.d_skip.map_or(0.0, |v| v[dd]);
        h.copy_from_slice(h0);
        for t in 0..len {
            let u = inp.u[x0 + t];
            let (dt, _) = inp.dt(dd, inp.delta[x0 + t]);
            let bt = &b_t[t * n..(t + 1) * n];
            let ct = &c_t[t * n..(t + 1) * n];
            ys[t] = step(
                &mut h,
                a,
                bt,
                ct,
                dt,
                dt * u,
                Some(&mut es[t * n..(t + 1) * n]),
            ) + skip * u;
            hs[t * n..(t + 1) * n].copy_from_slice(&h);
        }
        // Reverse pass: gh = dL/dh_t.
        gh.copy_from_slice(&dlast[ch * n..(ch + 1) * n]);
        let da = &mut p.da[i * n..(i + 1) * n];
        let (mut dskip_acc, mut dbias_acc) = (0.0f32, 0.0f32);
        for t in (0..len).rev() {
            let u = inp.u[x0 + t];
            let (dt, raw) = inp.dt(dd, inp.delta[x0 + t]);
            let dy = match inp.z {
                Some(z) => {
                    let zt = z[x0 + t];
                    dz_p[i * len + t] = dout[x0 + t] * ys[t] * silu_grad(zt);
                    dout[x0 + t] * silu(zt)
                }
                None => dout[x0 + t],
            };
            dskip_acc += dy * u;
            let h_t = &hs[t * n..(t + 1) * n];
            let h_prev = if t > 0 { &hs[(t - 1) * n..t * n] } else { h0 };
            let e = &es[t * n..(t + 1) * n];
            let bt = &b_t[t * n..(t + 1) * n];
            let ct = &c_t[t * n..(t + 1) * n];
            let dbt = &mut p.db_t[t * n..(t + 1) * n];
            let dct = &mut p.dc_t[t * n..(t + 1) * n];
            let (ddt, dub) = reverse_step(
                RevStep {
                    gh: &mut gh,
                    dct,
                    dbt,
                    da: &mut *da,
                },
                RevInputs {
                    h_t,
                    h_prev,
                    e,
                    a,
                    b: bt,
                    c: ct,
                },
                dy,
                dt,
                u,
            );
            du_p[i * len + t] = dub * dt + skip * dy;
            let draw = if inp.softplus {
                ddt * softplus_grad(raw)
            } else {
                ddt
            };
            dd_p[i * len + t] = draw;
            dbias_acc += draw;
        }
        dh0_p[i * n..(i + 1) * n].copy_from_slice(&gh);
        p.d_skip[i] = dskip_acc;
        p.delta_bias[i] = dbias_acc;
    }
    p
}
