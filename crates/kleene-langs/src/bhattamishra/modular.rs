//! Counting-modulo languages: Parity, (aa)*, (aaaa)*, (abab)* (non-star-free).
//! Targets are prefix-membership bits (chunk 1).

use rand_chacha::ChaCha8Rng;

use super::sampling::{geometric_binary, uniform};
use super::{Drawn, Language};

/// Strings over {0,1} with an even number of `1`s.
pub(crate) struct Parity;

impl Language for Parity {
    fn alphabet(&self) -> &[u8] {
        b"01"
    }
    fn chunk(&self) -> usize {
        1
    }
    fn classes(&self) -> Vec<String> {
        vec!["0".into(), "1".into()]
    }
    fn is_member(&self, s: &[u8]) -> bool {
        s.iter().all(|&c| c == b'0' || c == b'1')
            && s.iter().filter(|&&c| c == b'1').count() % 2 == 0
    }
    fn target(&self, s: &[u8], out: &mut Vec<u8>) {
        let mut even = true;
        for &c in s {
            even ^= c == b'1';
            out.push(if even { b'1' } else { b'0' });
        }
    }
    fn next_symbols(&self, s: &[u8]) -> Vec<Vec<bool>> {
        vec![vec![true, true]; s.len()]
    }
    fn draw(
        &self,
        lo: usize,
        hi: usize,
        _f: u64,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> Drawn {
        geometric_binary(lo, hi, b'0', b'1', rng, out);
        Drawn::Candidate
    }
    /// The published generator checks the window and novelty *before* fixing parity.
    fn accept(&self, s: &[u8], lo: usize, hi: usize) -> bool {
        (lo..=hi).contains(&s.len())
    }
    /// Appends a `1` to odd strings; drops them if that makes them longer than `hi`.
    fn finalize(&self, s: &mut Vec<u8>, hi: usize) -> bool {
        if s.iter().filter(|&&c| c == b'1').count() % 2 == 1 {
            s.push(b'1');
        }
        s.len() <= hi
    }
}

/// `u*` for a fixed unit `u` (`aa`, `aaaa`, `abab`).
pub(crate) struct UnitStar {
    unit: &'static [u8],
    alphabet: &'static [u8],
}

impl UnitStar {
    pub(crate) fn new(unit: &'static [u8]) -> Self {
        let alphabet: &'static [u8] = if unit.contains(&b'b') { b"ab" } else { b"a" };
        UnitStar { unit, alphabet }
    }
}

impl Language for UnitStar {
    fn alphabet(&self) -> &[u8] {
        self.alphabet
    }
    fn chunk(&self) -> usize {
        1
    }
    fn classes(&self) -> Vec<String> {
        vec!["0".into(), "1".into()]
    }
    fn is_member(&self, s: &[u8]) -> bool {
        let u = self.unit;
        s.len().is_multiple_of(u.len()) && s.iter().enumerate().all(|(i, &c)| c == u[i % u.len()])
    }
    fn target(&self, s: &[u8], out: &mut Vec<u8>) {
        let u = self.unit;
        let mut ok = true;
        for (i, &c) in s.iter().enumerate() {
            ok &= c == u[i % u.len()];
            out.push(if ok && (i + 1) % u.len() == 0 {
                b'1'
            } else {
                b'0'
            });
        }
    }
    fn next_symbols(&self, s: &[u8]) -> Vec<Vec<bool>> {
        let u = self.unit;
        let mut ok = true;
        s.iter()
            .enumerate()
            .map(|(i, &c)| {
                ok &= c == u[i % u.len()];
                let want = u[(i + 1) % u.len()];
                self.alphabet.iter().map(|&a| ok && a == want).collect()
            })
            .collect()
    }
    /// `units = (lo + U{0..hi-lo}) / |u|`, string `u^units`.
    fn draw(
        &self,
        lo: usize,
        hi: usize,
        _f: u64,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> Drawn {
        out.clear();
        let units = (lo + uniform(rng, 0, hi.saturating_sub(lo))) / self.unit.len();
        for _ in 0..units {
            out.extend_from_slice(self.unit);
        }
        Drawn::Candidate
    }
}
