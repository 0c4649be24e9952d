//! AVX2 + FMA (8-lane) versions of the selective scan's hot loops, chosen at run time with
//! [`available`] (the crate is built for the x86-64 baseline, SSE2, so these live behind
//! `#[target_feature]`).
//!
//! Two kinds of code:
//! * row functions ([`dt_row`], [`gate_rows`], [`sigmoid_row`]) that apply softplus / silu /
//!   sigmoid to a whole channel's time series in 8-lane blocks (the tail is padded into one more
//!   block, so every element goes through the same vector code);
//! * per-channel scan loops ([`forward_channel`], [`reverse_channel`]) for `n = 8 * NV`, with the
//!   state, `A` and the running gradients held in `[__m256; NV]` arrays that stay in registers.
//!
//! Numerics: [`exp8`] is the same Cody–Waite reduction as [`super::math::exp_f32`] with a
//! degree-7 polynomial and FMA (max relative error about 1 ulp); [`log_ge1`] reduces to a
//! mantissa in [√½, √2) and sums the atanh series to s⁹ (error about 1 ulp); softplus uses
//! `log1p(e) = log(1+e) + (e − ((1+e) − 1)) / (1+e)`, exact to a few ulp for every `e >= 0`.

use std::arch::x86_64::*;

/// Whether this CPU has AVX2 and FMA (cached by `std`).
#[inline]
pub fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn set(x: f32) -> __m256 {
    _mm256_set1_ps(x)
}

/// `exp(x)` on 8 lanes; arguments below -87.3 give exactly 0 (never a denormal).
#[inline]
#[target_feature(enable = "avx2,fma")]
pub fn exp8(x: __m256) -> __m256 {
    let xc = _mm256_min_ps(_mm256_max_ps(x, set(-87.3)), set(88.7));
    let shifter = set(12_582_912.0);
    let t = _mm256_fmadd_ps(xc, set(std::f32::consts::LOG2_E), shifter);
    let k = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B40_0000));
    let kf = _mm256_sub_ps(t, shifter);
    let r = _mm256_fnmadd_ps(kf, set(0.693_145_75), xc);
    let r = _mm256_fnmadd_ps(kf, set(1.428_606_8e-6), r);
    let mut p = set(1.0 / 5040.0);
    p = _mm256_fmadd_ps(p, r, set(1.0 / 720.0));
    p = _mm256_fmadd_ps(p, r, set(1.0 / 120.0));
    p = _mm256_fmadd_ps(p, r, set(1.0 / 24.0));
    p = _mm256_fmadd_ps(p, r, set(1.0 / 6.0));
    p = _mm256_fmadd_ps(p, r, set(0.5));
    p = _mm256_fmadd_ps(p, r, set(1.0));
    p = _mm256_fmadd_ps(p, r, set(1.0));
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        k,
        _mm256_set1_epi32(127),
    )));
    let v = _mm256_mul_ps(p, scale);
    _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(x, set(-87.3)), v)
}

/// `ln(w)` on 8 lanes for normal `w >= 1` (finite).
#[inline]
#[target_feature(enable = "avx2,fma")]
pub fn log_ge1(w: __m256) -> __m256 {
    let bits = _mm256_castps_si256(w);
    let mut k = _mm256_sub_epi32(_mm256_srli_epi32::<23>(bits), _mm256_set1_epi32(127));
    let mut m = _mm256_castsi256_ps(_mm256_or_si256(
        _mm256_and_si256(bits, _mm256_set1_epi32(0x007F_FFFF)),
        _mm256_set1_epi32(0x3F80_0000),
    ));
    // m in [1, 2): move m > √2 down to [√½, 1) so that |s| <= 0.1716 below.
    let big = _mm256_cmp_ps::<_CMP_GT_OQ>(m, set(std::f32::consts::SQRT_2));
    m = _mm256_blendv_ps(m, _mm256_mul_ps(m, set(0.5)), big);
    k = _mm256_sub_epi32(k, _mm256_castps_si256(big)); // mask lanes are -1
    let kf = _mm256_cvtepi32_ps(k);
    // ln m = 2 atanh(s), s = (m-1)/(m+1): 2s (1 + s²/3 + s⁴/5 + s⁶/7 + s⁸/9)
    let s = _mm256_div_ps(_mm256_sub_ps(m, set(1.0)), _mm256_add_ps(m, set(1.0)));
    let s2 = _mm256_mul_ps(s, s);
    let mut p = set(1.0 / 9.0);
    p = _mm256_fmadd_ps(p, s2, set(1.0 / 7.0));
    p = _mm256_fmadd_ps(p, s2, set(1.0 / 5.0));
    p = _mm256_fmadd_ps(p, s2, set(1.0 / 3.0));
    p = _mm256_mul_ps(p, s2);
    let two_s = _mm256_add_ps(s, s);
    let ln_m = _mm256_fmadd_ps(two_s, p, two_s);
    // k ln2 with ln2 split so that k * LN2_HI is exact
    let lo = _mm256_fmadd_ps(kf, set(1.428_606_8e-6), ln_m);
    _mm256_fmadd_ps(kf, set(0.693_145_75), lo)
}

/// mamba's softplus `x <= 20 ? log1p(exp(x)) : x` on 8 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub fn softplus8(x: __m256) -> __m256 {
    let e = exp8(_mm256_min_ps(x, set(20.0)));
    let w = _mm256_add_ps(e, set(1.0));
    // log1p(e) = log(w) + (e - (w - 1)) / w  (the rounding of 1 + e, corrected to first order)
    let corr = _mm256_div_ps(_mm256_sub_ps(e, _mm256_sub_ps(w, set(1.0))), w);
    let sp = _mm256_add_ps(log_ge1(w), corr);
    _mm256_blendv_ps(sp, x, _mm256_cmp_ps::<_CMP_GT_OQ>(x, set(20.0)))
}

/// `1 / (1 + exp(-x))` on 8 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub fn sigmoid8(x: __m256) -> __m256 {
    _mm256_div_ps(
        set(1.0),
        _mm256_add_ps(set(1.0), exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))),
    )
}

/// Applies `f` to `src` in 8-lane blocks, the tail padded with `pad` into one more block.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn map_rows<const OUTS: usize>(
    src: &[f32],
    pad: f32,
    outs: [&mut [f32]; OUTS],
    f: impl Fn(__m256) -> [__m256; OUTS],
) {
    let len = src.len();
    assert!(outs.iter().all(|o| o.len() >= len));
    let full = len / 8 * 8;
    let mut i = 0;
    while i < full {
        // SAFETY: i + 8 <= full <= len <= every slice's length (asserted above).
        let r = f(unsafe { _mm256_loadu_ps(src.as_ptr().add(i)) });
        for (o, v) in outs.iter().zip(r) {
            unsafe { _mm256_storeu_ps(o.as_ptr().add(i) as *mut f32, v) };
        }
        i += 8;
    }
    if full < len {
        let mut buf = [pad; 8];
        buf[..len - full].copy_from_slice(&src[full..]);
        // SAFETY: `buf` holds 8 floats.
        let r = f(unsafe { _mm256_loadu_ps(buf.as_ptr()) });
        let mut outs = outs;
        for (o, v) in outs.iter_mut().zip(r) {
            let mut tmp = [0.0f32; 8];
            unsafe { _mm256_storeu_ps(tmp.as_mut_ptr(), v) };
            o[full..len].copy_from_slice(&tmp[..len - full]);
        }
    }
}

/// `dt[t] = softplus(raw[t] + bias)` (or without softplus `raw[t] + bias`) and, when given,
/// `pre[t] = raw[t] + bias` (the pre-activation, for the backward).
#[target_feature(enable = "avx2,fma")]
pub fn dt_row(raw: &[f32], bias: f32, softplus: bool, dt: &mut [f32]) {
    let vb = set(bias);
    if softplus {
        map_rows(raw, 0.0, [dt], |x| [softplus8(_mm256_add_ps(x, vb))]);
    } else {
        map_rows(raw, 0.0, [dt], |x| [_mm256_add_ps(x, vb)]);
    }
}

/// `sig[t] = sigmoid(raw[t] + bias)` if `raw[t] + bias <= 20`, else 1: softplus's derivative.
#[target_feature(enable = "avx2,fma")]
pub fn softplus_grad_row(raw: &[f32], bias: f32, sig: &mut [f32]) {
    let vb = set(bias);
    map_rows(raw, 0.0, [sig], |x| {
        let r = _mm256_add_ps(x, vb);
        [_mm256_blendv_ps(
            sigmoid8(r),
            set(1.0),
            _mm256_cmp_ps::<_CMP_GT_OQ>(r, set(20.0)),
        )]
    });
}

/// `gate[t] = silu(z[t])` and `dgate[t] = silu'(z[t])`.
#[target_feature(enable = "avx2,fma")]
pub fn gate_rows(z: &[f32], gate: &mut [f32], dgate: &mut [f32]) {
    map_rows(z, 0.0, [gate, dgate], |x| {
        let s = sigmoid8(x);
        // silu = x s, silu' = s (1 + x (1 - s))
        let g = _mm256_mul_ps(x, s);
        let dg = _mm256_mul_ps(s, _mm256_fmadd_ps(x, _mm256_sub_ps(set(1.0), s), set(1.0)));
        [g, dg]
    });
}

/// Sum of the 8 lanes in a fixed order.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

/// One channel's inputs for the scan loops (`n = 8 * NV`; rows of B/C are `n` apart).
pub struct Channel<'a> {
    /// (n)
    pub a: &'a [f32],
    /// (len, n)
    pub b_t: &'a [f32],
    /// (len, n)
    pub c_t: &'a [f32],
    /// Δ per step (len)
    pub dt: &'a [f32],
    /// (len)
    pub u: &'a [f32],
    /// `ā` from `exp(Δ A)`
    pub tr: super::selective::Transition,
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn load<const NV: usize>(s: &[f32]) -> [__m256; NV] {
    assert!(s.len() >= 8 * NV);
    // SAFETY: 8 * NV floats are in bounds (asserted).
    std::array::from_fn(|j| unsafe { _mm256_loadu_ps(s.as_ptr().add(8 * j)) })
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn store<const NV: usize>(v: &[__m256; NV], s: &mut [f32]) {
    assert!(s.len() >= 8 * NV);
    for (j, x) in v.iter().enumerate() {
        // SAFETY: 8 * NV floats are in bounds (asserted).
        unsafe { _mm256_storeu_ps(s.as_mut_ptr().add(8 * j), *x) };
    }
}

/// Forward scan of one channel: `h` (n) is the initial state on entry and the final state on
/// return; `ys[t] = Σ_k C[t,k] h_t[k]` (before the skip term and the gate). When `record` is
/// given, the states `h_t` and factors `exp(Δ_t A)` (not `ā`) are stored in it, `(len, n)` each.
#[target_feature(enable = "avx2,fma")]
pub fn forward_channel<const NV: usize>(
    ch: &Channel,
    h: &mut [f32],
    ys: &mut [f32],
    mut record: Option<(&mut [f32], &mut [f32])>,
) {
    let n = 8 * NV;
    let len = ch.dt.len();
    assert!(ch.b_t.len() >= len * n && ch.c_t.len() >= len * n);
    assert!(ch.u.len() >= len && ys.len() >= len);
    if let Some((hs, es)) = &record {
        assert!(hs.len() >= len * n && es.len() >= len * n);
    }
    let av = load::<NV>(ch.a);
    let mut hv = load::<NV>(h);
    let (scale, offset) = (set(ch.tr.scale), set(ch.tr.offset));
    for t in 0..len {
        let dt = ch.dt[t];
        let (vdt, vdu) = (set(dt), set(dt * ch.u[t]));
        let bt = load::<NV>(&ch.b_t[t * n..]);
        let ct = load::<NV>(&ch.c_t[t * n..]);
        let mut acc = _mm256_setzero_ps();
        let mut ev = [_mm256_setzero_ps(); NV];
        for j in 0..NV {
            ev[j] = exp8(_mm256_mul_ps(vdt, av[j]));
            let abar = _mm256_fmadd_ps(ev[j], scale, offset);
            hv[j] = _mm256_fmadd_ps(abar, hv[j], _mm256_mul_ps(vdu, bt[j]));
            acc = _mm256_fmadd_ps(hv[j], ct[j], acc);
        }
        if let Some((hs, es)) = &mut record {
            store(&hv, &mut hs[t * n..]);
            store(&ev, &mut es[t * n..]);
        }
        ys[t] = hsum(acc);
    }
    store(&hv, h);
}

/// Per-channel outputs of [`reverse_channel`].
pub struct Reverse<'a> {
    /// dL/dh: on entry the gradient of the final state, on return that of the initial state (n)
    pub gh: &'a mut [f32],
    /// dA of this channel, accumulated into (n)
    pub da: &'a mut [f32],
    /// dB rows, accumulated into (len, n)
    pub db_t: &'a mut [f32],
    /// dC rows, accumulated into (len, n)
    pub dc_t: &'a mut [f32],
    /// dL/dΔ_t (len), overwritten
    pub ddt: &'a mut [f32],
    /// Σ_k g_k B_k per step (len), overwritten (du = this · Δ + D · dy)
    pub dub: &'a mut [f32],
}

/// Reverse scan of one channel given the recorded states/factors (`hs`, `es`, (len, n)), the
/// initial state `h0` (n) and the output gradient per step `dy` (len, after the gate).
#[target_feature(enable = "avx2,fma")]
pub fn reverse_channel<const NV: usize>(
    ch: &Channel,
    hs: &[f32],
    es: &[f32],
    h0: &[f32],
    dy: &[f32],
    out: Reverse,
) {
    let n = 8 * NV;
    let len = ch.dt.len();
    assert!(hs.len() >= len * n && es.len() >= len * n && dy.len() >= len);
    assert!(out.db_t.len() >= len * n && out.dc_t.len() >= len * n);
    assert!(out.ddt.len() >= len && out.dub.len() >= len && ch.u.len() >= len);
    let av = load::<NV>(ch.a);
    let (scale, offset) = (set(ch.tr.scale), set(ch.tr.offset));
    let mut gh = load::<NV>(out.gh);
    let mut da = load::<NV>(out.da);
    // h_t of this step is h_prev of the step handled before (one load per step, not two)
    let mut h_next = if len > 0 {
        load::<NV>(&hs[(len - 1) * n..])
    } else {
        load::<NV>(h0)
    };
    for t in (0..len).rev() {
        let (dt, u, dyt) = (ch.dt[t], ch.u[t], dy[t]);
        let (vdy, vdt, vdtu, vu) = (set(dyt), set(dt), set(dt * u), set(u));
        let h_t = h_next;
        let h_prev = if t > 0 {
            load::<NV>(&hs[(t - 1) * n..])
        } else {
            load::<NV>(h0)
        };
        let e = load::<NV>(&es[t * n..]);
        let b = load::<NV>(&ch.b_t[t * n..]);
        let c = load::<NV>(&ch.c_t[t * n..]);
        let mut dct = load::<NV>(&out.dc_t[t * n..]);
        let mut dbt = load::<NV>(&out.db_t[t * n..]);
        let (mut vddt, mut vdub) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for j in 0..NV {
            let gk = _mm256_fmadd_ps(vdy, c[j], gh[j]);
            dct[j] = _mm256_fmadd_ps(vdy, h_t[j], dct[j]);
            dbt[j] = _mm256_fmadd_ps(gk, vdtu, dbt[j]);
            // dā/d(ΔA) h_{t-1}
            let eh = _mm256_mul_ps(_mm256_mul_ps(e[j], scale), h_prev[j]);
            // dΔ: g (A dā/d(ΔA) h_{t-1} + B u)
            vddt = _mm256_fmadd_ps(
                gk,
                _mm256_fmadd_ps(av[j], eh, _mm256_mul_ps(b[j], vu)),
                vddt,
            );
            da[j] = _mm256_fmadd_ps(_mm256_mul_ps(gk, vdt), eh, da[j]);
            vdub = _mm256_fmadd_ps(gk, b[j], vdub);
            gh[j] = _mm256_mul_ps(gk, _mm256_fmadd_ps(e[j], scale, offset));
        }
        h_next = h_prev;
        store(&dct, &mut out.dc_t[t * n..]);
        store(&dbt, &mut out.db_t[t * n..]);
        out.ddt[t] = hsum(vddt);
        out.dub[t] = hsum(vdub);
    }
    store(&gh, out.gh);
    store(&da, out.da);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(f: impl Fn(__m256) -> __m256, x: f32) -> f32 {
        let mut out = [0.0f32; 8];
        // SAFETY: only called when `available()`; 8 floats in `out`.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), f(_mm256_set1_ps(x))) };
        out[0]
    }

    #[test]
    fn vector_transcendentals_match_f64() {
        if !available() {
            return;
        }
        // SAFETY (all closures): AVX2+FMA checked above.
        let exp = |v| unsafe { exp8(v) };
        let sp = |v| unsafe { softplus8(v) };
        let sig = |v| unsafe { sigmoid8(v) };
        let ln = |v| unsafe { log_ge1(v) };
        let (mut we, mut ws, mut wg, mut wl) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        let mut x = -87.0f32;
        while x < 88.0 {
            let xd = x as f64;
            let rel = |got: f32, want: f64| ((got as f64 - want) / want).abs();
            we = we.max(rel(apply(exp, x), xd.exp()));
            let want_sp = if xd <= 20.0 { xd.exp().ln_1p() } else { xd };
            if want_sp > 1e-37 {
                ws = ws.max(rel(apply(sp, x), want_sp));
            }
            wg = wg.max(rel(apply(sig, x), 1.0 / (1.0 + (-xd).exp())));
            let w = 1.0 + xd.abs() * 1e3;
            wl = wl.max(rel(apply(ln, w as f32), (w as f32 as f64).ln()));
            x += 0.0173;
        }
        assert!(we < 1.5e-7, "exp8 worst relative error {we:e}");
        assert!(ws < 3e-7, "softplus8 worst relative error {ws:e}");
        assert!(wg < 3e-7, "sigmoid8 worst relative error {wg:e}");
        assert!(wl < 3e-7, "log_ge1 worst relative error {wl:e}");
        assert_eq!(apply(exp, -100.0), 0.0);
        assert_eq!(apply(sp, 30.0), 30.0);
    }
}
