//! Exact, rejection-free sampling from the published bracket grammar.
//!
//! The published sampler draws `gen(0, hi)` and keeps results with `len >= lo`:
//! `gen(c, max)` is empty if `c >= max`; otherwise with probability 1/2 it is
//! `open gen(c+2, max) close`, with 1/4 `gen(c, max) gen(c, max)`, with 1/4 empty, and any
//! result longer than `max` becomes empty. Most of its work is thrown away (subtrees that
//! overflow `max`, strings shorter than `lo`: about 25 grammar nodes per kept symbol).
//!
//! Here the length law of `gen(c, max)` is computed once per `max` (a small fixed-point
//! per level c), and strings are sampled top-down *conditioned on their length*: first the
//! length from the law restricted to the window, then at each node the branch and the split
//! of the length between the two halves of a concatenation, in proportion to their
//! probabilities. Every string comes out with exactly the probability the published
//! sampler gives it, conditioned on the window, without any rejected work.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The length law of `gen(c, max)` for every level c = 0, 2, 4, … and the tables to
/// sample a string of a given length. Lengths are counted in bracket pairs.
pub(crate) struct LengthLaw {
    /// Pairs in the longest allowed string: `max / 2`.
    k: usize,
    /// `law[l][m]`: probability that `gen(2l, max)` has m pairs (l = 0..=levels, the last
    /// level being the empty string only).
    law: Vec<Vec<f64>>,
    /// `nest[l][m]`: probability of "nest, and the result has m pairs".
    nest: Vec<Vec<f64>>,
    /// `split_cum[l][m][i]`: cumulative weights of splitting m pairs into (i, m - i) in a
    /// concatenation at level l (weights law[l][i] * law[l][m-i]).
    split_cum: Vec<Vec<Vec<f64>>>,
    /// Cumulative law of the top level: `top_cum[m] = P(gen(0) has <= m pairs)`.
    top_cum: Vec<f64>,
}

impl LengthLaw {
    pub(crate) fn new(max: usize) -> Self {
        let k = max / 2;
        // Levels with c = 2l < max; level `levels` (c >= max) yields the empty string.
        let levels = max.div_ceil(2);
        let mut law = vec![vec![0.0; k + 1]; levels + 1];
        let mut nest = vec![vec![0.0; k + 1]; levels + 1];
        law[levels][0] = 1.0;
        for l in (0..levels).rev() {
            let next = law[l + 1].clone();
            // Nest: open gen(c+2) close; overflows when the inner string has k pairs.
            let mut a = vec![0.0; k + 1];
            for m in 1..=k {
                a[m] = 0.5 * next[m - 1];
            }
            let nest_overflow = 0.5 * next[k];
            // Fixed point for x = P(empty); f(m) for m >= 1 solved given x (the two
            // splits with an empty half contribute 2 x f(m) / 4). The same-level
            // concatenations form a subcritical branching process (mean 1/2), so the
            // iteration converges geometrically.
            let mut x: f64 = 0.25 + nest_overflow;
            let mut f = vec![0.0; k + 1];
            for _ in 0..400 {
                for m in 1..=k {
                    let mut s = 0.0;
                    for i in 1..m {
                        s += f[i] * f[m - i];
                    }
                    f[m] = (a[m] + 0.25 * s) / (1.0 - 0.5 * x);
                }
                // Pairs (i, j), i, j >= 1, with i + j > k: suffix sums of f.
                let mut suffix = vec![0.0; k + 2];
                for j in (1..=k).rev() {
                    suffix[j] = suffix[j + 1] + f[j];
                }
                let overflow: f64 = (1..=k).map(|i| f[i] * suffix[(k + 1 - i).max(1)]).sum();
                let x_new = 0.25 + nest_overflow + 0.25 * (x * x + overflow);
                let done = (x_new - x).abs() <= 1e-16 * x_new;
                x = x_new;
                if done {
                    break;
                }
            }
            f[0] = x;
            law[l] = f;
            nest[l] = a;
        }
        let split_cum = (0..=levels)
            .map(|l| {
                (0..=k)
                    .map(|m| {
                        let mut acc = 0.0;
                        (0..=m)
                            .map(|i| {
                                acc += law[l][i] * law[l][m - i];
                                acc
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut acc = 0.0;
        let top_cum = law[0]
            .iter()
            .map(|p| {
                acc += p;
                acc
            })
            .collect();
        LengthLaw {
            k,
            law,
            nest,
            split_cum,
            top_cum,
        }
    }

    /// Probability that `gen(0, max)` has exactly `m` pairs.
    #[cfg(test)]
    pub(crate) fn top(&self, m: usize) -> f64 {
        self.law[0][m]
    }

    /// Draws a number of pairs from the top-level law restricted to `m_lo..=m_hi`;
    /// None when the window has no mass.
    pub(crate) fn draw_pairs(
        &self,
        m_lo: usize,
        m_hi: usize,
        rng: &mut ChaCha8Rng,
    ) -> Option<usize> {
        let m_hi = m_hi.min(self.k);
        if m_lo > m_hi {
            return None;
        }
        let below = if m_lo == 0 {
            0.0
        } else {
            self.top_cum[m_lo - 1]
        };
        let mass = self.top_cum[m_hi] - below;
        if mass <= 0.0 {
            return None;
        }
        let u = below + rng.random::<f64>() * mass;
        let m = m_lo + self.top_cum[m_lo..=m_hi].partition_point(|&c| c <= u);
        Some(m.min(m_hi))
    }

    /// Appends a string of exactly `m` pairs drawn from `gen(2l, max)` conditioned on its
    /// length. `pick` chooses the bracket pair of each nest node.
    pub(crate) fn emit(
        &self,
        l: usize,
        m: usize,
        rng: &mut ChaCha8Rng,
        pick: &mut dyn FnMut(&mut ChaCha8Rng) -> (u8, u8),
        out: &mut Vec<u8>,
    ) {
        if m == 0 {
            return;
        }
        let total = self.law[l][m];
        let u = rng.random::<f64>() * total;
        if u < self.nest[l][m] {
            let (open, close) = pick(rng);
            out.push(open);
            self.emit(l + 1, m - 1, rng, pick, out);
            out.push(close);
        } else {
            let cum = &self.split_cum[l][m];
            let v = rng.random::<f64>() * cum[m];
            let i = cum.partition_point(|&c| c <= v).min(m);
            self.emit(l, i, rng, pick, out);
            self.emit(l, m - i, rng, pick, out);
        }
    }
}
