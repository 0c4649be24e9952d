//! CPU diagonal recurrences (real and complex) on `f32` slices, layout (batch, len, dim),
//! multi-threaded over the batch; the inner loop runs over the contiguous `dim` axis.

use rayon::prelude::*;

use super::math::FlushDenormals;

/// `h_t = a_t * h_{t-1} + b_t`; returns all states (batch*len*dim).
pub fn forward(
    batch: usize,
    len: usize,
    dim: usize,
    a: &[f32],
    b: &[f32],
    h0: Option<&[f32]>,
) -> Vec<f32> {
    let mut out = vec![0.0f32; batch * len * dim];
    out.par_chunks_mut(len * dim)
        .enumerate()
        .for_each(|(bb, h)| {
            let _ftz = FlushDenormals::new();
            let off = bb * len * dim;
            let zero = vec![0.0f32; dim];
            let first: &[f32] = h0.map_or(&zero[..], |v| &v[bb * dim..(bb + 1) * dim]);
            for t in 0..len {
                let at = &a[off + t * dim..off + (t + 1) * dim];
                let bt = &b[off + t * dim..off + (t + 1) * dim];
                // the previous state is the row just written (no copy)
                let (done, rest) = h.split_at_mut(t * dim);
                let prev = if t == 0 {
                    first
                } else {
                    &done[(t - 1) * dim..]
                };
                let ht = &mut rest[..dim];
                for j in 0..dim {
                    ht[j] = at[j] * prev[j] + bt[j];
                }
            }
        });
    out
}

/// Backward of `sum(dh * h)`: returns `(da, db, dh0)` given the forward states `h`.
pub fn backward(
    batch: usize,
    len: usize,
    dim: usize,
    a: &[f32],
    h: &[f32],
    h0: Option<&[f32]>,
    dh: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut da = vec![0.0f32; batch * len * dim];
    let mut db = vec![0.0f32; batch * len * dim];
    let mut dh0 = vec![0.0f32; batch * dim];
    da.par_chunks_mut(len * dim)
        .zip(db.par_chunks_mut(len * dim))
        .zip(dh0.par_chunks_mut(dim))
        .enumerate()
        .for_each(|(bb, ((da, db), g))| {
            let _ftz = FlushDenormals::new();
            let off = bb * len * dim;
            let zero = vec![0.0f32; dim];
            let first: &[f32] = h0.map_or(&zero[..], |v| &v[bb * dim..(bb + 1) * dim]);
            g.fill(0.0);
            for t in (0..len).rev() {
                let r = off + t * dim..off + (t + 1) * dim;
                let prev = if t > 0 {
                    &h[off + (t - 1) * dim..off + t * dim]
                } else {
                    first
                };
                let (at, dht) = (&a[r.clone()], &dh[r]);
                let (dat, dbt) = (
                    &mut da[t * dim..(t + 1) * dim],
                    &mut db[t * dim..(t + 1) * dim],
                );
                for j in 0..dim {
                    let gj = g[j] + dht[j];
                    dbt[j] = gj;
                    dat[j] = gj * prev[j];
                    g[j] = gj * at[j];
                }
            }
        });
    (da, db, dh0)
}

/// Complex `h_t = a_t h_{t-1} + b_t`; returns `(h_re, h_im)`.
#[allow(clippy::too_many_arguments)]
pub fn complex_forward(
    batch: usize,
    len: usize,
    dim: usize,
    ar: &[f32],
    ai: &[f32],
    br: &[f32],
    bi: &[f32],
    h0: Option<(&[f32], &[f32])>,
) -> (Vec<f32>, Vec<f32>) {
    let mut hr = vec![0.0f32; batch * len * dim];
    let mut hi = vec![0.0f32; batch * len * dim];
    hr.par_chunks_mut(len * dim)
        .zip(hi.par_chunks_mut(len * dim))
        .enumerate()
        .for_each(|(bb, (hr, hi))| {
            let _ftz = FlushDenormals::new();
            let off = bb * len * dim;
            let (mut pr, mut pi) = match h0 {
                Some((r, i)) => (
                    r[bb * dim..(bb + 1) * dim].to_vec(),
                    i[bb * dim..(bb + 1) * dim].to_vec(),
                ),
                None => (vec![0.0f32; dim], vec![0.0f32; dim]),
            };
            for t in 0..len {
                let r = off + t * dim..off + (t + 1) * dim;
                let (art, ait, brt, bit) = (&ar[r.clone()], &ai[r.clone()], &br[r.clone()], &bi[r]);
                let (hrt, hit) = (
                    &mut hr[t * dim..(t + 1) * dim],
                    &mut hi[t * dim..(t + 1) * dim],
                );
                for j in 0..dim {
                    let nr = art[j] * pr[j] - ait[j] * pi[j] + brt[j];
                    let ni = art[j] * pi[j] + ait[j] * pr[j] + bit[j];
                    pr[j] = nr;
                    pi[j] = ni;
                    hrt[j] = nr;
                    hit[j] = ni;
                }
            }
        });
    (hr, hi)
}

/// Gradients of the complex recurrence: `(da_re, da_im, db_re, db_im, dh0_re, dh0_im)`.
pub type ComplexGrads = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

/// Backward of `sum(dr * h_re + di * h_im)`: with `g = dL/dh` as a complex number,
/// `g_{t-1} = conj(a_t) g_t`, `da_t = conj(h_{t-1}) g_t`, `db_t = g_t`.
#[allow(clippy::too_many_arguments)]
pub fn complex_backward(
    batch: usize,
    len: usize,
    dim: usize,
    ar: &[f32],
    ai: &[f32],
    hr: &[f32],
    hi: &[f32],
    h0: Option<(&[f32], &[f32])>,
    dr: &[f32],
    di: &[f32],
) -> ComplexGrads {
    let x = batch * len * dim;
    let (mut dar, mut dai, mut dbr, mut dbi) = (
        vec![0.0f32; x],
        vec![0.0f32; x],
        vec![0.0f32; x],
        vec![0.0f32; x],
    );
    let (mut g0r, mut g0i) = (vec![0.0f32; batch * dim], vec![0.0f32; batch * dim]);
    let c = len * dim;
    dar.par_chunks_mut(c)
        .zip(dai.par_chunks_mut(c))
        .zip(dbr.par_chunks_mut(c))
        .zip(dbi.par_chunks_mut(c))
        .zip(g0r.par_chunks_mut(dim).zip(g0i.par_chunks_mut(dim)))
        .enumerate()
        .for_each(|(bb, ((((dar, dai), dbr), dbi), (gr, gi)))| {
            let _ftz = FlushDenormals::new();
            let off = bb * len * dim;
            let zero = vec![0.0f32; dim];
            let (fr, fi): (&[f32], &[f32]) = match h0 {
                Some((r, i)) => (&r[bb * dim..(bb + 1) * dim], &i[bb * dim..(bb + 1) * dim]),
                None => (&zero, &zero),
            };
            gr.fill(0.0);
            gi.fill(0.0);
            for t in (0..len).rev() {
                let r = off + t * dim..off + (t + 1) * dim;
                let (pr, pi) = if t > 0 {
                    (
                        &hr[off + (t - 1) * dim..off + t * dim],
                        &hi[off + (t - 1) * dim..off + t * dim],
                    )
                } else {
                    (fr, fi)
                };
                let (art, ait, drt, dit) = (&ar[r.clone()], &ai[r.clone()], &dr[r.clone()], &di[r]);
                let s = t * dim..(t + 1) * dim;
                let (dart, dait) = (&mut dar[s.clone()], &mut dai[s.clone()]);
                let (dbrt, dbit) = (&mut dbr[s.clone()], &mut dbi[s]);
                for j in 0..dim {
                    let (g_r, g_i) = (gr[j] + drt[j], gi[j] + dit[j]);
                    dbrt[j] = g_r;
                    dbit[j] = g_i;
                    dart[j] = g_r * pr[j] + g_i * pi[j];
                    dait[j] = g_i * pr[j] - g_r * pi[j];
                    gr[j] = g_r * art[j] + g_i * ait[j];
                    gi[j] = g_i * art[j] - g_r * ait[j];
                }
            }
        });
    (dar, dai, dbr, dbi, g0r, g0i)
}
