//! Counter languages aⁿbⁿ, aⁿbⁿcⁿ, aⁿbⁿcⁿdⁿ (chunk 1).
//!
//! The published target is the string with its first `b` deleted plus `T`: class `a` =
//! {a, b} legal, `b`/`c`/`d` = only that letter, `T` = only end of string.
//! Windows are given in characters; the sampler draws n uniformly from
//! `ceil(lo/k)..=floor(hi/k)` (the published n windows times k).

use rand_chacha::ChaCha8Rng;

use super::sampling::uniform;
use super::{Drawn, Language};

pub(crate) struct Counter {
    k: usize,
}

const LETTERS: &[u8] = b"abcd";

impl Counter {
    pub(crate) fn new(k: usize) -> Self {
        assert!((2..=4).contains(&k));
        Counter { k }
    }

    /// Block lengths of `s` if it has the shape a+ b* c* ... in order, else None.
    fn blocks(&self, s: &[u8]) -> Option<Vec<usize>> {
        let mut counts = vec![0usize; self.k];
        let mut cur = 0usize;
        for &c in s {
            let idx = LETTERS[..self.k].iter().position(|&l| l == c)?;
            if idx < cur {
                return None;
            }
            cur = idx;
            counts[idx] += 1;
        }
        Some(counts)
    }
}

impl Language for Counter {
    fn alphabet(&self) -> &[u8] {
        &LETTERS[..self.k]
    }
    fn chunk(&self) -> usize {
        1
    }
    fn classes(&self) -> Vec<String> {
        std::iter::once("T".to_string())
            .chain(LETTERS[..self.k].iter().map(|&c| (c as char).to_string()))
            .collect()
    }
    fn is_member(&self, s: &[u8]) -> bool {
        match self.blocks(s) {
            Some(c) => c.iter().all(|&x| x == c[0]) && c[0] >= 1,
            None => false,
        }
    }
    fn target(&self, s: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        match s.iter().position(|&c| c == b'b') {
            Some(fb) => {
                out.extend_from_slice(&s[..fb]);
                out.extend_from_slice(&s[fb + 1..]);
            }
            None => out.extend_from_slice(s),
        }
        out.push(b'T');
        out.truncate(start + s.len());
    }
    fn next_symbols(&self, s: &[u8]) -> Vec<Vec<bool>> {
        let k = self.k;
        (0..s.len())
            .map(|t| {
                let mut legal = vec![false; k];
                if let Some(c) = self.blocks(&s[..=t]) {
                    let n = c[0];
                    // The last non-empty block.
                    let cur = (0..k).rev().find(|&i| c[i] > 0).unwrap_or(0);
                    if cur == 0 {
                        legal[0] = true;
                        legal[1] = true;
                    } else if c[..=cur].iter().all(|&x| x <= n) {
                        if c[cur] < n {
                            legal[cur] = true;
                        } else if cur + 1 < k {
                            legal[cur + 1] = true;
                        }
                    }
                }
                legal
            })
            .collect()
    }
    fn draw(
        &self,
        lo: usize,
        hi: usize,
        _f: u64,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> Drawn {
        out.clear();
        let (nlo, nhi) = (lo.div_ceil(self.k).max(1), hi / self.k);
        if nlo > nhi {
            return Drawn::Exhausted;
        }
        let n = uniform(rng, nlo, nhi);
        for &c in &LETTERS[..self.k] {
            out.resize(out.len() + n, c);
        }
        Drawn::Candidate
    }
}
