//! Gated linear attention, the core of GLA, RetNet and linear attention:
//!
//! `S[t] = diag(exp(g[t])) S[t-1] + k[t]^T v[t]`, `S[-1] = 0`, `o[t] = q[t] S[t]`.
//!
//! Three forms, as flash-linear-attention's `fla/ops/gla/{chunk, fused_recurrent, naive}.py`:
//! [`chunked_gated_attention`] (training), [`gated_attention_step`] (one token) and
//! [`gated_attention_naive`] (the step, looped over time: the reference of the tests).

use burn::prelude::*;
use kleene_scan::{diagonal_recurrence, ScanBackend};

use super::causal_mask::future_mask;
use super::sequence::shift_in_time;

/// Chunkwise-parallel gated linear attention (the GLA / RetNet / linear-attention core):
///
/// `S[t] = diag(exp(g[t])) S[t-1] + k[t]^T v[t]`, `S[-1] = 0`, `o[t] = q[t] S[t]`,
///
/// with `q, k, g: (B, H, L, dk)` (`g <= 0` is a log decay per key channel) and
/// `v: (B, H, L, dv)`. Inside a chunk the decays are factored as `q * exp(G_t)` and
/// `k * exp(-G_s)` with `G` the within-chunk cumulative log decay, so `chunk * max|g|` must
/// stay well below ~80 to avoid f32 overflow; across chunks the `(dk, dv)` states follow a
/// diagonal linear recurrence (`kleene_scan::diagonal_recurrence`). Work is `O(L * chunk * (dk + dv) + L/chunk * dk * dv)`.
pub fn chunked_gated_attention<B: ScanBackend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    g: Tensor<B, 4>,
    chunk: usize,
) -> Tensor<B, 4> {
    let [b, h, l, dk] = q.dims();
    let dv = v.dims()[3];
    let device = q.device();
    let n = l.div_ceil(chunk);
    let lp = n * chunk;
    let pad = |x: Tensor<B, 4>, width: usize| {
        if lp == l {
            x
        } else {
            Tensor::cat(vec![x, Tensor::zeros([b, h, lp - l, width], &device)], 2)
        }
    };
    let q = pad(q, dk).reshape([b, h, n, chunk, dk]);
    let k = pad(k, dk).reshape([b, h, n, chunk, dk]);
    let v = pad(v, dv).reshape([b, h, n, chunk, dv]);
    let g = pad(g, dk).reshape([b, h, n, chunk, dk]);

    let gc = g.cumsum(3); // inclusive within-chunk cumulative log decay
    let q_hat = q * gc.clone().exp();
    let k_hat = k.clone() * gc.clone().neg().exp();
    let future = future_mask::<B>(chunk, &device)
        .reshape([1, 1, 1, chunk, chunk])
        .expand([b, h, n, chunk, chunk]);
    let scores = q_hat
        .clone()
        .matmul(k_hat.swap_dims(3, 4))
        .mask_fill(future, 0.0);
    let o_intra = scores.matmul(v.clone());

    // Chunk summaries: decay over the whole chunk and the chunk's own contribution.
    let g_last = gc.clone().narrow(3, chunk - 1, 1); // (b, h, n, 1, dk)
    let k_tail = k * (g_last.clone() - gc).exp();
    let contrib = k_tail.swap_dims(3, 4).matmul(v); // (b, h, n, dk, dv)
    let decay = g_last
        .exp()
        .swap_dims(3, 4)
        .expand([b, h, n, dk, dv])
        .reshape([b * h, n, dk * dv]);
    let states_after = diagonal_recurrence(decay, contrib.reshape([b * h, n, dk * dv]), None);
    let states_before = shift_in_time(states_after, Tensor::zeros([b * h, 1, dk * dv], &device))
        .reshape([b, h, n, dk, dv]);
    let o_inter = q_hat.matmul(states_before);
    (o_intra + o_inter).reshape([b, h, lp, dv]).narrow(2, 0, l)
}

/// One recurrent step of [`chunked_gated_attention`]: `q, k, g: (B, H, dk)`, `v: (B, H, dv)`,
/// `state: (B, H, dk, dv)`. Returns `(o: (B, H, dv), new_state)`.
pub fn gated_attention_step<B: Backend>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    g: Tensor<B, 3>,
    state: Tensor<B, 4>,
) -> (Tensor<B, 3>, Tensor<B, 4>) {
    let [b, h, dk] = q.dims();
    let dv = v.dims()[2];
    let state = state * g.exp().reshape([b, h, dk, 1])
        + k.reshape([b, h, dk, 1]) * v.reshape([b, h, 1, dv]);
    let o = q
        .reshape([b, h, 1, dk])
        .matmul(state.clone())
        .reshape([b, h, dv]);
    (o, state)
}

/// The recurrence itself, one [`gated_attention_step`] per position from a zero state (the
/// reference of [`chunked_gated_attention`]); same shapes.
pub fn gated_attention_naive<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    g: Tensor<B, 4>,
) -> Tensor<B, 4> {
    let [b, h, l, dk] = q.dims();
    let dv = v.dims()[3];
    let mut state = Tensor::zeros([b, h, dk, dv], &q.device());
    let mut outs = Vec::with_capacity(l);
    let at =
        |x: &Tensor<B, 4>, t: usize, width: usize| x.clone().narrow(2, t, 1).reshape([b, h, width]);
    for t in 0..l {
        let (o, next) = gated_attention_step(
            at(&q, t, dk),
            at(&k, t, dk),
            at(&v, t, dv),
            at(&g, t, dk),
            state,
        );
        state = next;
        outs.push(o.reshape([b, h, 1, dv]));
    }
    Tensor::cat(outs, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn_ndarray::NdArray;

    type B = NdArray<f32>;

    fn values(x: Tensor<B, 4>) -> Vec<f32> {
        x.into_data().to_vec::<f32>().unwrap()
    }

    /// Chunked and naive forms against a float64 loop over the recurrence, random inputs,
    /// lengths that do and do not fill the last chunk.
    #[test]
    fn chunked_and_naive_match_float64_recurrence() {
        let device = Default::default();
        let (b, h, dk, dv) = (2usize, 2usize, 3usize, 4usize);
        for (l, chunk) in [(1usize, 4usize), (7, 4), (8, 4), (13, 5)] {
            let rnd = |w: usize, lo: f64, hi: f64| {
                Tensor::<B, 4>::random([b, h, l, w], Distribution::Uniform(lo, hi), &device)
            };
            let (q, k, v, g) = (
                rnd(dk, -1.0, 1.0),
                rnd(dk, -1.0, 1.0),
                rnd(dv, -1.0, 1.0),
                rnd(dk, -1.5, -0.01),
            );
            let chunked = values(chunked_gated_attention(
                q.clone(),
                k.clone(),
                v.clone(),
                g.clone(),
                chunk,
            ));
            let naive = values(gated_attention_naive(
                q.clone(),
                k.clone(),
                v.clone(),
                g.clone(),
            ));
            let (q, k, v, g) = (values(q), values(k), values(v), values(g));
            for bh in 0..b * h {
                let mut s = vec![0f64; dk * dv];
                for t in 0..l {
                    let row = |x: &[f32], w: usize, i: usize| x[(bh * l + t) * w + i] as f64;
                    for i in 0..dk {
                        for j in 0..dv {
                            s[i * dv + j] = row(&g, dk, i).exp() * s[i * dv + j]
                                + row(&k, dk, i) * row(&v, dv, j);
                        }
                    }
                    for j in 0..dv {
                        let want: f64 = (0..dk).map(|i| row(&q, dk, i) * s[i * dv + j]).sum();
                        let at = (bh * l + t) * dv + j;
                        assert!(
                            (chunked[at] as f64 - want).abs() < 1e-4,
                            "chunked l={l} chunk={chunk} t={t}"
                        );
                        assert!((naive[at] as f64 - want).abs() < 1e-5, "naive l={l} t={t}");
                    }
                }
            }
        }
    }
}
