//! In-context n-gram baselines with back-off (spec §1.9.1, `ngram.py`
//! `predict_with_n_gram_back_off` with `backoff=True, addone=False, uniform=False`).
//!
//! At every input position the model is re-estimated from the prefix: the prefix is
//! split at `|` into texts, each text is left-padded with `N-1` pad characters, and all
//! n-grams (n = 1..N, pads included) are counted. The candidates are the symbols seen so
//! far. A candidate `c` whose n-gram `hc` was seen gets `C_n(hc) / C_(n-1)(h)`; the
//! others share the left-over mass `beta = 1 - sum of those`, in proportion to their
//! back-off scores at order n-1 (context `h` without its first character). Order 1 is
//! `C_1(c) / sum C_1` (pads counted in the total). The result is not renormalised when
//! every candidate was seen (the mass of "no successor yet" is dropped), as upstream.
//!
//! Counts are kept incrementally, so one pass over a sequence costs O(T * N * |V|).

use super::metrics::RegbenchScores;
use super::problem::RegbenchProblem;
use super::{SEPARATOR, VOCAB_SIZE};
use crate::LangError;

/// Id used for the pad character (`.`, which never occurs inside a sequence).
const PAD: u8 = 0;
const BASE: usize = VOCAB_SIZE;

/// An in-context n-gram predictor of order `N` (2..=4; the paper uses 2 and 3).
#[derive(Clone, Debug)]
pub struct InContextNGram {
    order: usize,
    uniform: bool,
}

/// Counts of one prefix.
struct Counts {
    order: usize,
    /// `tables[n-1][index of an n-gram]`.
    tables: Vec<Vec<u32>>,
    total_unigrams: u32,
    /// Last up to `order - 1` characters of the current padded text (oldest first).
    recent: [u8; 3],
    have: usize,
    /// Symbols seen so far (bit = id).
    seen: u32,
}

impl Counts {
    fn new(order: usize) -> Self {
        Counts {
            order,
            tables: (1..=order).map(|n| vec![0; BASE.pow(n as u32)]).collect(),
            total_unigrams: 0,
            recent: [PAD; 3],
            have: 0,
            seen: 0,
        }
    }

    fn index(chars: &[u8]) -> usize {
        chars.iter().fold(0, |i, &c| i * BASE + c as usize)
    }

    /// Appends one character to the current padded text and counts every n-gram that
    /// ends at it.
    fn push(&mut self, c: u8) {
        let keep = self.order - 1;
        for n in 1..=self.order {
            if self.have + 1 >= n {
                let h = &self.recent[self.have - (n - 1)..self.have];
                let idx = Self::index(h) * BASE + c as usize;
                self.tables[n - 1][idx] += 1;
            }
        }
        self.total_unigrams += 1;
        if keep > 0 {
            if self.have == keep {
                self.recent.copy_within(1..keep, 0);
                self.recent[keep - 1] = c;
            } else {
                self.recent[self.have] = c;
                self.have += 1;
            }
        }
    }

    /// Starts a new text: left padding with `order - 1` pads.
    fn start_text(&mut self) {
        self.have = 0;
        for _ in 0..self.order - 1 {
            self.push(PAD);
        }
    }

    /// Back-off scores at order `n` with context `ctx` (`n - 1` characters) for every
    /// seen symbol, written into `out`; `orders[c]` receives the order that scored `c`.
    fn level(
        &self,
        n: usize,
        ctx: &[u8],
        out: &mut [f64; VOCAB_SIZE],
        orders: &mut [u8; VOCAB_SIZE],
    ) {
        let seen = self.seen;
        if n == 1 {
            let total = f64::from(self.total_unigrams.max(1));
            for (c, o) in out.iter_mut().enumerate() {
                if seen >> c & 1 == 1 {
                    *o = f64::from(self.tables[0][c]) / total;
                    orders[c] = 1;
                }
            }
            return;
        }
        let h = Self::index(ctx);
        let denom = f64::from(self.tables[n - 2][h]);
        let row = &self.tables[n - 1][h * BASE..(h + 1) * BASE];
        let mut seen_mass = 0.0;
        let mut unseen = 0u32;
        for c in 0..VOCAB_SIZE {
            if seen >> c & 1 == 1 {
                if row[c] > 0 && denom > 0.0 {
                    let p = f64::from(row[c]) / denom;
                    out[c] = p;
                    orders[c] = n as u8;
                    seen_mass += p;
                } else {
                    unseen |= 1 << c;
                }
            }
        }
        if unseen != 0 {
            let beta = 1.0 - seen_mass;
            let mut lower = [0.0; VOCAB_SIZE];
            let mut lower_orders = [0u8; VOCAB_SIZE];
            self.level(n - 1, &ctx[1..], &mut lower, &mut lower_orders);
            let z: f64 = (0..VOCAB_SIZE)
                .filter(|&u| unseen >> u & 1 == 1)
                .map(|u| lower[u])
                .sum();
            for u in 0..VOCAB_SIZE {
                if unseen >> u & 1 == 1 {
                    out[u] = if z > 0.0 { beta * lower[u] / z } else { 0.0 };
                    orders[u] = lower_orders[u];
                }
            }
        }
    }
}

impl InContextNGram {
    /// Order `N` in 2..=4.
    pub fn new(order: usize) -> Result<Self, LangError> {
        if !(2..=4).contains(&order) {
            return Err(LangError::InvalidConfig {
                task: "regbench".into(),
                field: "ngram order".into(),
                reason: format!("must be in 2..=4, got {order}"),
            });
        }
        Ok(InContextNGram {
            order,
            uniform: false,
        })
    }

    /// The `uniform=True` variant: within each back-off order, the non-zero
    /// probabilities are replaced by their mean. Not used in the paper's figures.
    pub fn with_uniform(mut self, uniform: bool) -> Self {
        self.uniform = uniform;
        self
    }

    pub fn order(&self) -> usize {
        self.order
    }

    /// One distribution over the 20 ids per input position; row `t` is predicted from
    /// `input[..=t]` (aligned like model logits).
    pub fn predict(&self, input: &[u32]) -> Vec<[f64; VOCAB_SIZE]> {
        let mut counts = Counts::new(self.order);
        counts.start_text();
        let mut rows = Vec::with_capacity(input.len());
        for &tok in input {
            if tok == SEPARATOR {
                counts.start_text();
            } else {
                let c = tok.min(VOCAB_SIZE as u32 - 1) as u8;
                counts.push(c);
                counts.seen |= 1 << c;
            }
            let mut row = [0.0; VOCAB_SIZE];
            let mut orders = [0u8; VOCAB_SIZE];
            let keep = self.order - 1;
            let ctx = counts.recent;
            counts.level(self.order, &ctx[..keep], &mut row, &mut orders);
            if self.uniform {
                for n in 1..=self.order as u8 {
                    let members = (0..VOCAB_SIZE).filter(|&c| orders[c] == n && row[c] != 0.0);
                    let (sum, count) = members.fold((0.0, 0usize), |(s, k), c| (s + row[c], k + 1));
                    if count > 0 {
                        for c in 0..VOCAB_SIZE {
                            if orders[c] == n && row[c] != 0.0 {
                                row[c] = sum / count as f64;
                            }
                        }
                    }
                }
            }
            rows.push(row);
        }
        rows
    }

    /// Paper accuracy, TVD and training-log accuracy over a set of problems.
    pub fn evaluate(&self, problems: &[RegbenchProblem]) -> RegbenchScores {
        let mut scores = RegbenchScores::default();
        for p in problems {
            let rows = self.predict(p.input());
            scores.add_problem(p, &rows);
        }
        scores
    }
}
