//! Bracket languages: Dyck-1, Shuffle-2/4/6 and D_n (n = 2, 3, 4, 12).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

use super::dyck_law::LengthLaw;

use super::sampling::{standard_normal, uniform};
use super::{Drawn, Language};

/// Bracket pairs in the published order; Shuffle-k uses the first k.
const PAIRS: [(u8, u8); 6] = [
    (b'(', b')'),
    (b'[', b']'),
    (b'{', b'}'),
    (b'<', b'>'),
    (b'+', b'-'),
    (b'a', b'b'),
];
// Grammar probabilities of the published sampler (p = 0.5, q = 0.25): nest with 1/2,
// concatenate with 1/4, stop with 1/4 (drawn as random bits in `Brackets::gen`).

/// Random bits taken from the ChaCha stream 64 at a time.
pub(crate) struct Bits<'a> {
    rng: &'a mut ChaCha8Rng,
    word: u64,
    left: u32,
}

#[cfg_attr(not(test), allow(dead_code))]
impl<'a> Bits<'a> {
    pub(crate) fn new(rng: &'a mut ChaCha8Rng) -> Self {
        Bits {
            rng,
            word: 0,
            left: 0,
        }
    }

    /// The next `n` (1..=8) random bits as an integer.
    #[inline]
    pub(crate) fn take(&mut self, n: u32) -> u64 {
        if self.left < n {
            self.word = self.rng.next_u64();
            self.left = 64;
        }
        let v = self.word & ((1u64 << n) - 1);
        self.word >>= n;
        self.left -= n;
        v
    }
}

/// A pending call of the bracket grammar: where its output starts, its `cur`, and what
/// remains to do when its current child returns.
pub(crate) struct Frame {
    start: usize,
    cur: usize,
    step: Step,
}

#[derive(Clone, Copy)]
#[allow(clippy::enum_variant_names)]
enum Step {
    /// Inside `open_j gen(cur+2) close_j`: push the closer.
    AfterNest(u8),
    /// Inside `gen(cur) gen(cur)`: run the second half.
    AfterFirst,
    /// Both halves done.
    AfterSecond,
}

/// Dyck-1 (k = 1) and Shuffle-k.
///
/// Faithful mode: the published sampler is the Dyck-k grammar, so the language is nested
/// Dyck-k. Definition mode: Shuffle-k proper, the shuffle of k Dyck-1 languages (each
/// bracket type balanced on its own, types may cross, e.g. `([)]`); the sampler draws a
/// grammar string as in the faithful mode and then interleaves its k per-type
/// subsequences uniformly at random, so lengths are distributed as in the files.
/// Targets are the same in both modes: bit j = (#open_j - #close_j > 0), i.e. close j may
/// come next in the shuffle (chunk k; Dyck-1 uses a single bit).
pub(crate) struct Brackets {
    k: usize,
    exact: bool,
    alphabet: Vec<u8>,
    /// byte -> (pair index, is_open), pair index 255 when outside the alphabet.
    kind: [(u8, bool); 256],
    /// Length laws of the grammar per `max`, built on first use.
    laws: Mutex<HashMap<usize, Arc<LengthLaw>>>,
}

impl Brackets {
    /// The length law for `max` (computed once per `max`, then shared).
    fn law(&self, max: usize) -> Arc<LengthLaw> {
        let mut laws = self.laws.lock().unwrap_or_else(|e| e.into_inner());
        laws.entry(max)
            .or_insert_with(|| Arc::new(LengthLaw::new(max)))
            .clone()
    }

    /// One string of the published sampler itself (`gen(0, hi)`, no window): the
    /// reference the length-conditioned sampler is tested against.
    #[cfg(test)]
    fn draw_reference(&self, hi: usize, rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
        out.clear();
        let mut bits = Bits::new(rng);
        let mut stack = Vec::with_capacity(64);
        self.gen(hi, &mut bits, out, &mut stack);
    }

    pub(crate) fn new(k: usize, exact: bool) -> Self {
        let mut alphabet: Vec<u8> = PAIRS[..k].iter().flat_map(|&(o, c)| [o, c]).collect();
        alphabet.sort_unstable();
        let mut kind = [(255u8, false); 256];
        for (j, &(o, c)) in PAIRS[..k].iter().enumerate() {
            kind[o as usize] = (j as u8, true);
            kind[c as usize] = (j as u8, false);
        }
        Brackets {
            k,
            exact: exact && k > 1,
            alphabet,
            kind,
            laws: Mutex::new(HashMap::new()),
        }
    }

    /// `gen(0, max)` of the published sampler, appending to `out`: `gen(cur, max)` is
    /// empty if `cur >= max`, else with probability 1/2 `open_j gen(cur+2) close_j` (j
    /// uniform), 1/4 `gen(cur) gen(cur)`, 1/4 empty; a result longer than `max` is replaced
    /// by the empty string.
    ///
    /// The branch probabilities 1/2, 1/4, 1/4 and the pair choice for k = 1, 2, 4 are
    /// dyadic, so they are drawn exactly from single random bits ([`Bits`]): one ChaCha
    /// word serves ~30 grammar nodes (this is where the generation time goes).
    ///
    /// Written as a loop over an explicit stack of pending calls (same semantics as the
    /// recursive definition, no call overhead, no recursion-depth limit).
    #[cfg_attr(not(test), allow(dead_code))]
    fn gen(&self, max: usize, bits: &mut Bits<'_>, out: &mut Vec<u8>, stack: &mut Vec<Frame>) {
        stack.clear();
        // `Some(cur)`: enter gen(cur); `None`: the innermost pending call's child returned.
        let mut enter: Option<usize> = Some(0);
        loop {
            if let Some(cur) = enter.take() {
                if cur < max {
                    let start = out.len();
                    if bits.take(1) == 0 {
                        // Nest (probability 1/2): open + gen(cur + 2) + close.
                        let j = self.pick_pair(bits);
                        out.push(PAIRS[j].0);
                        stack.push(Frame {
                            start,
                            cur,
                            step: Step::AfterNest(j as u8),
                        });
                        enter = Some(cur + 2);
                        continue;
                    } else if bits.take(1) == 0 {
                        // Concatenate (1/4): gen(cur) + gen(cur).
                        stack.push(Frame {
                            start,
                            cur,
                            step: Step::AfterFirst,
                        });
                        enter = Some(cur);
                        continue;
                    }
                    // Stop (1/4): the empty string.
                }
            }
            // A call returned: resume its parent.
            let Some(frame) = stack.last_mut() else {
                return;
            };
            match frame.step {
                Step::AfterFirst => {
                    frame.step = Step::AfterSecond;
                    enter = Some(frame.cur);
                    continue;
                }
                Step::AfterNest(j) => out.push(PAIRS[j as usize].1),
                Step::AfterSecond => {}
            }
            let start = frame.start;
            stack.pop();
            if out.len() - start > max {
                out.truncate(start);
            }
        }
    }

    #[cfg_attr(not(test), allow(dead_code))]
    /// A uniform pair index in `0..k` (rejection sampling over 3 bits for k = 6).
    #[inline]
    fn pick_pair(&self, bits: &mut Bits<'_>) -> usize {
        match self.k {
            1 => 0,
            2 => bits.take(1) as usize,
            4 => bits.take(2) as usize,
            k => loop {
                let v = bits.take(3) as usize;
                if v < k {
                    break v;
                }
            },
        }
    }

    /// Interleaves the per-type subsequences of `s` uniformly at random (each
    /// interleaving of the k subsequences is equally likely).
    fn riffle(&self, s: &mut [u8], rng: &mut ChaCha8Rng) {
        let mut parts: Vec<Vec<u8>> = vec![Vec::new(); self.k];
        for &c in s.iter() {
            parts[self.kind[c as usize].0 as usize].push(c);
        }
        let mut pos = vec![0usize; self.k];
        let mut remaining = s.len();
        for slot in s.iter_mut() {
            // Pick a type with probability proportional to its remaining symbols.
            let mut r = uniform(rng, 0, remaining - 1);
            let mut j = 0;
            loop {
                let left = parts[j].len() - pos[j];
                if r < left {
                    break;
                }
                r -= left;
                j += 1;
            }
            *slot = parts[j][pos[j]];
            pos[j] += 1;
            remaining -= 1;
        }
    }
}

impl Language for Brackets {
    fn alphabet(&self) -> &[u8] {
        &self.alphabet
    }
    fn chunk(&self) -> usize {
        self.k
    }
    fn classes(&self) -> Vec<String> {
        (0..1usize << self.k)
            .map(|v| format!("{:0width$b}", v, width = self.k))
            .collect()
    }
    fn is_member(&self, s: &[u8]) -> bool {
        if self.exact {
            let mut counts = [0i64; 6];
            for &c in s {
                let (j, open) = self.kind[c as usize];
                if j == 255 {
                    return false;
                }
                counts[j as usize] += if open { 1 } else { -1 };
                if counts[j as usize] < 0 {
                    return false;
                }
            }
            counts.iter().all(|&c| c == 0)
        } else {
            let mut stack = Vec::with_capacity(s.len());
            for &c in s {
                let (j, open) = self.kind[c as usize];
                if j == 255 {
                    return false;
                }
                if open {
                    stack.push(j);
                } else if stack.pop() != Some(j) {
                    return false;
                }
            }
            stack.is_empty()
        }
    }
    fn target(&self, s: &[u8], out: &mut Vec<u8>) {
        let mut counts = [0i64; 6];
        for &c in s {
            let (j, open) = self.kind[c as usize];
            if j != 255 {
                counts[j as usize] += if open { 1 } else { -1 };
            }
            for &x in &counts[..self.k] {
                out.push(if x != 0 { b'1' } else { b'0' });
            }
        }
    }
    fn next_symbols(&self, s: &[u8]) -> Vec<Vec<bool>> {
        let mut stack: Vec<u8> = Vec::new();
        let mut counts = [0i64; 6];
        let mut viable = true;
        s.iter()
            .map(|&c| {
                let (j, open) = self.kind[c as usize];
                if open {
                    stack.push(j);
                    counts[j as usize] += 1;
                } else {
                    counts[j as usize] -= 1;
                    if counts[j as usize] < 0 {
                        viable = false;
                    }
                    if !self.exact {
                        // Nested: the closer must match the innermost open bracket.
                        if stack.pop() != Some(j) {
                            viable = false;
                        }
                    }
                }
                self.alphabet
                    .iter()
                    .map(|&a| {
                        let (i, is_open) = self.kind[a as usize];
                        viable
                            && (is_open
                                || if self.exact {
                                    counts[i as usize] > 0
                                } else {
                                    stack.last() == Some(&i)
                                })
                    })
                    .collect()
            })
            .collect()
    }
    /// Draws from the published sampler's distribution conditioned on the window
    /// (see [`LengthLaw`]): the kept strings are distributed exactly as those of the
    /// published "draw `gen(0, hi)`, keep if `len >= lo`" loop.
    fn draw(
        &self,
        lo: usize,
        hi: usize,
        _f: u64,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> Drawn {
        out.clear();
        let law = self.law(hi);
        let Some(m) = law.draw_pairs(lo.div_ceil(2), hi / 2, rng) else {
            return Drawn::Exhausted;
        };
        let k = self.k;
        let mut pick = |rng: &mut ChaCha8Rng| {
            let j = if k == 1 { 0 } else { rng.random_range(0..k) };
            PAIRS[j]
        };
        law.emit(0, m, rng, &mut pick, out);
        if self.exact && !out.is_empty() {
            self.riffle(out, rng);
        }
        Drawn::Candidate
    }
}

/// D_n over {a, b}: D_0 = {ε}, D_n = (a D_{n-1} b)*; balanced strings whose depth
/// (#a - #b) stays within [0, n]. Target bits [a legal, b legal]: `10` at depth 0,
/// `01` at depth n, `11` in between.
pub(crate) struct DepthBounded {
    n: i64,
}

/// `mean_ratio` and `std_ratio` of the published sampler.
const MEAN_RATIO: f64 = 0.75;
const STD_RATIO: f64 = 0.1;
/// The mean ratio drops by 0.02 after every 20000 rejected candidates.
const RATIO_STEP_EVERY: u64 = 20_000;

impl DepthBounded {
    pub(crate) fn new(n: i64) -> Self {
        DepthBounded { n }
    }

    /// `gen(n, len)`: while shorter than `len`, append `a gen(n-1, len') b` with
    /// `len' = int(len * m * (1 + s * N(0,1)))`. Returns false as soon as the whole
    /// string exceeds `cap` (it would be rejected anyway).
    fn gen(
        &self,
        n: i64,
        len: i64,
        m: f64,
        cap: usize,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> bool {
        if n == 0 || len <= 0 {
            return true;
        }
        let start = out.len();
        while ((out.len() - start) as i64) < len {
            let inner = (len as f64 * m * (1.0 + STD_RATIO * standard_normal(rng))) as i64;
            out.push(b'a');
            if !self.gen(n - 1, inner, m, cap, rng, out) {
                return false;
            }
            out.push(b'b');
            if out.len() > cap {
                return false;
            }
        }
        true
    }
}

impl Language for DepthBounded {
    fn alphabet(&self) -> &[u8] {
        b"ab"
    }
    fn chunk(&self) -> usize {
        2
    }
    fn classes(&self) -> Vec<String> {
        vec!["01".into(), "10".into(), "11".into()]
    }
    fn is_member(&self, s: &[u8]) -> bool {
        let mut d = 0i64;
        for &c in s {
            d += match c {
                b'a' => 1,
                b'b' => -1,
                _ => return false,
            };
            if d < 0 || d > self.n {
                return false;
            }
        }
        d == 0
    }
    fn target(&self, s: &[u8], out: &mut Vec<u8>) {
        let mut d = 0i64;
        for &c in s {
            d += if c == b'a' { 1 } else { -1 };
            out.push(if d < self.n { b'1' } else { b'0' });
            out.push(if d > 0 { b'1' } else { b'0' });
        }
    }
    fn next_symbols(&self, s: &[u8]) -> Vec<Vec<bool>> {
        let mut d = 0i64;
        let mut viable = true;
        s.iter()
            .map(|&c| {
                d += if c == b'a' { 1 } else { -1 };
                viable &= (0..=self.n).contains(&d);
                vec![viable && d < self.n, viable && d > 0]
            })
            .collect()
    }
    /// The mean-ratio fallback depends on how many candidates the list rejected so far.
    fn sequential(&self) -> bool {
        true
    }
    fn draw(
        &self,
        _lo: usize,
        hi: usize,
        failures: u64,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> Drawn {
        out.clear();
        let m = MEAN_RATIO - 0.02 * (failures / RATIO_STEP_EVERY) as f64;
        if m < 0.0 {
            return Drawn::Exhausted;
        }
        let len = (hi as f64 * m * (1.0 + STD_RATIO * standard_normal(rng))) as i64;
        if self.gen(self.n, len, m, hi, rng, out) {
            Drawn::Candidate
        } else {
            Drawn::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeded_rng;

    /// The length law is a probability distribution and matches the published sampler's
    /// empirical length distribution.
    #[test]
    fn length_law_matches_the_published_sampler() {
        for (k, max) in [(1usize, 50usize), (2, 100)] {
            let b = Brackets::new(k, false);
            let law = b.law(max);
            let total: f64 = (0..=max / 2).map(|m| law.top(m)).sum();
            assert!((total - 1.0).abs() < 1e-12, "mass {total}");
            let n = 200_000;
            let mut counts = vec![0usize; max / 2 + 1];
            let mut rng = seeded_rng(17);
            let mut buf = Vec::new();
            for _ in 0..n {
                b.draw_reference(max, &mut rng, &mut buf);
                counts[buf.len() / 2] += 1;
            }
            // Every length bin agrees within 5 standard errors (+ a small floor).
            for (m, &count) in counts.iter().enumerate() {
                let p = law.top(m);
                let emp = count as f64 / n as f64;
                let se = (p * (1.0 - p) / n as f64).sqrt();
                assert!(
                    (emp - p).abs() < 5.0 * se + 2e-5,
                    "k={k} max={max} m={m}: law {p} vs sampler {emp}"
                );
            }
        }
    }

    /// Conditioned on a window, string frequencies agree with the published loop
    /// ("draw gen(0, hi), keep if len >= lo") on short strings.
    #[test]
    fn conditioned_strings_match_the_published_loop() {
        let b = Brackets::new(2, false);
        let (lo, hi) = (2usize, 8usize);
        let n = 100_000;
        let mut rng = seeded_rng(5);
        let mut buf = Vec::new();
        let mut reference: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut kept = 0;
        while kept < n {
            b.draw_reference(hi, &mut rng, &mut buf);
            if buf.len() >= lo {
                *reference.entry(buf.clone()).or_default() += 1;
                kept += 1;
            }
        }
        let mut ours: HashMap<Vec<u8>, usize> = HashMap::new();
        for _ in 0..n {
            assert!(matches!(
                b.draw(lo, hi, 0, &mut rng, &mut buf),
                Drawn::Candidate
            ));
            *ours.entry(buf.clone()).or_default() += 1;
        }
        // Total variation distance between the two empirical laws is at sampling-noise level.
        let keys: std::collections::HashSet<_> =
            reference.keys().chain(ours.keys()).cloned().collect();
        let tvd: f64 = keys
            .iter()
            .map(|s| {
                let a = *reference.get(s).unwrap_or(&0) as f64 / n as f64;
                let c = *ours.get(s).unwrap_or(&0) as f64 / n as f64;
                (a - c).abs()
            })
            .sum::<f64>()
            / 2.0;
        assert!(
            tvd < 0.02,
            "total variation {tvd} over {} strings",
            keys.len()
        );
        // A specific check: `()` vs `(())` vs `()()` ratios.
        for s in [&b"()"[..], b"(())", b"()()", b"[]()"] {
            let a = *reference.get(s).unwrap_or(&0) as f64;
            let c = *ours.get(s).unwrap_or(&0) as f64;
            assert!(
                (a - c).abs() < 5.0 * (a.max(1.0)).sqrt() + 20.0,
                "{:?}: {a} vs {c}",
                String::from_utf8_lossy(s)
            );
        }
    }
}
