//! CPU dense (SD-SSM) recurrence `h_t = M[tok_t] h_{t-1} + bias[tok_t]` on `f32` slices,
//! multi-threaded over the batch. Token ids outside `0..vocab` are clamped into range (memory
//! safety; the public `try_dense_recurrence` rejects them).

use rayon::prelude::*;

use super::math::FlushDenormals;

const LANES: usize = 8;

#[inline]
fn dot(row: &[f32], h: &[f32]) -> f32 {
    let n = h.len();
    let full = n / LANES * LANES;
    let mut acc = [0.0f32; LANES];
    for base in (0..full).step_by(LANES) {
        for l in 0..LANES {
            acc[l] += row[base + l] * h[base + l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for k in full..n {
        s += row[k] * h[k];
    }
    s
}

#[inline]
fn token(tokens: &[i64], i: usize, vocab: usize) -> usize {
    tokens[i].clamp(0, vocab as i64 - 1) as usize
}

#[allow(clippy::too_many_arguments)]
/// Forward: m (vocab, n, n), bias (vocab, n), tokens (batch, len), h0 (batch, n) -> (batch, len, n).
pub fn forward(
    vocab: usize,
    n: usize,
    batch: usize,
    len: usize,
    m: &[f32],
    bias: &[f32],
    tokens: &[i64],
    h0: Option<&[f32]>,
) -> Vec<f32> {
    let mut out = vec![0.0f32; batch * len * n];
    out.par_chunks_mut(len * n)
        .enumerate()
        .for_each(|(bb, hs)| {
            let _ftz = FlushDenormals::new();
            let mut h = h0.map_or(vec![0.0f32; n], |v| v[bb * n..(bb + 1) * n].to_vec());
            for t in 0..len {
                let v = token(tokens, bb * len + t, vocab);
                let mv = &m[v * n * n..(v + 1) * n * n];
                let ht = &mut hs[t * n..(t + 1) * n];
                for i in 0..n {
                    ht[i] = dot(&mv[i * n..(i + 1) * n], &h) + bias[v * n + i];
                }
                h.copy_from_slice(ht);
            }
        });
    out
}

/// Batch rows per backward task (see [`backward`]).
const ROWS_PER_TASK: usize = 2;

/// Backward of `sum(dh * h)` given the forward states `h`: returns `(dm, dbias, dh0)`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    vocab: usize,
    n: usize,
    batch: usize,
    len: usize,
    m: &[f32],
    tokens: &[i64],
    h: &[f32],
    h0: Option<&[f32]>,
    dh: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut dh0 = vec![0.0f32; batch * n];
    // Batch chunks of a fixed size (never derived from the thread count), each with its own
    // dM/dbias partial, summed afterwards in chunk order: bit-deterministic on any pool size.
    let per = ROWS_PER_TASK;
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dh0
        .par_chunks_mut(per * n)
        .enumerate()
        .map(|(ci, dh0_chunk)| {
            let _ftz = FlushDenormals::new();
            let mut dm = vec![0.0f32; vocab * n * n];
            let mut db = vec![0.0f32; vocab * n];
            let zero = vec![0.0f32; n];
            let mut g = vec![0.0f32; n];
            let mut g_prev = vec![0.0f32; n];
            for (k, g0) in dh0_chunk.chunks_mut(n).enumerate() {
                let bb = ci * per + k;
                let off = bb * len * n;
                let first: &[f32] = h0.map_or(&zero[..], |v| &v[bb * n..(bb + 1) * n]);
                g.fill(0.0);
                for t in (0..len).rev() {
                    let v = token(tokens, bb * len + t, vocab);
                    let prev = if t > 0 {
                        &h[off + (t - 1) * n..off + t * n]
                    } else {
                        first
                    };
                    for i in 0..n {
                        g[i] += dh[off + t * n + i];
                    }
                    let mv = &m[v * n * n..(v + 1) * n * n];
                    let dmv = &mut dm[v * n * n..(v + 1) * n * n];
                    g_prev.fill(0.0);
                    for i in 0..n {
                        let gi = g[i];
                        db[v * n + i] += gi;
                        let row = &mv[i * n..(i + 1) * n];
                        let drow = &mut dmv[i * n..(i + 1) * n];
                        for j in 0..n {
                            drow[j] += gi * prev[j];
                            g_prev[j] += gi * row[j];
                        }
                    }
                    std::mem::swap(&mut g, &mut g_prev);
                }
                g0.copy_from_slice(&g);
            }
            (dm, db)
        })
        .collect();
    let mut dm = vec![0.0f32; vocab * n * n];
    let mut db = vec![0.0f32; vocab * n];
    for (pm, pb) in partials {
        dm.iter_mut().zip(&pm).for_each(|(d, s)| *d += s);
        db.iter_mut().zip(&pb).for_each(|(d, s)| *d += s);
    }
    (dm, db, dh0)
}
