//! Star-free regular languages with a fixed block structure:
//! aa*bb*cc*dd*ee*, {a,b}*d{b,c}* and {0,1,2}*02*.

use rand_chacha::ChaCha8Rng;

use super::sampling::uniform;
use super::{Drawn, Language};

/// aa*bb*cc*dd*ee*: each of a..e at least once, in order.
/// Target: each character mapped to the next letter of `abcdeT` (class `b` = {a,b} legal
/// after an `a`, ..., `T` = {e, end} after an `e`).
pub(crate) struct LetterRuns;

const RUN_LETTERS: &[u8] = b"abcde";

impl LetterRuns {
    /// Index of the letter of each byte, None outside a..e.
    fn index(c: u8) -> Option<usize> {
        RUN_LETTERS.iter().position(|&l| l == c)
    }
}

impl Language for LetterRuns {
    fn alphabet(&self) -> &[u8] {
        RUN_LETTERS
    }
    fn chunk(&self) -> usize {
        1
    }
    fn classes(&self) -> Vec<String> {
        ["T", "b", "c", "d", "e"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn is_member(&self, s: &[u8]) -> bool {
        // Must read a+ b+ c+ d+ e+: each step stays on a letter or moves to the next one.
        let mut cur: Option<usize> = None;
        for &c in s {
            let Some(i) = Self::index(c) else {
                return false;
            };
            let ok = match cur {
                None => i == 0,
                Some(p) => i == p || i == p + 1,
            };
            if !ok {
                return false;
            }
            cur = Some(i);
        }
        cur == Some(4)
    }
    fn target(&self, s: &[u8], out: &mut Vec<u8>) {
        for &c in s {
            out.push(match c {
                b'a' => b'b',
                b'b' => b'c',
                b'c' => b'd',
                b'd' => b'e',
                _ => b'T',
            });
        }
    }
    fn next_symbols(&self, s: &[u8]) -> Vec<Vec<bool>> {
        let mut cur: Option<usize> = None;
        let mut viable = true;
        s.iter()
            .map(|&c| {
                let i = Self::index(c).unwrap_or(usize::MAX);
                viable &= match cur {
                    None => i == 0,
                    Some(p) => i == p || i == p + 1,
                };
                cur = Some(i);
                (0..5).map(|a| viable && (a == i || a == i + 1)).collect()
            })
            .collect()
    }
    /// `budget = hi - lo + 1`; per letter `c = U{1..budget}` (0 once the budget is spent),
    /// the letter written `lo/5 + c` times, `budget -= c`.
    fn draw(
        &self,
        lo: usize,
        hi: usize,
        _f: u64,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> Drawn {
        out.clear();
        let mut budget = (hi + 1).saturating_sub(lo);
        for &l in RUN_LETTERS {
            let c = if budget > 0 {
                uniform(rng, 1, budget)
            } else {
                0
            };
            out.resize(out.len() + lo / 5 + c, l);
            budget -= c;
        }
        Drawn::Candidate
    }
    fn accept(&self, s: &[u8], lo: usize, hi: usize) -> bool {
        (lo..=hi).contains(&s.len()) && s.contains(&b'e') && self.is_member(s)
    }
}

/// `P* m Q*` for symbol sets P, Q and a marker m: {a,b}*d{b,c}* and {0,1,2}*02*.
pub(crate) struct PreMidPost {
    pre: &'static [u8],
    mid: u8,
    post: &'static [u8],
    alphabet: &'static [u8],
    style: Style,
}

enum Style {
    /// {a,b}*d{b,c}*: bits over (a,b,c,d): `1101` before the `d`, `0110` from it on.
    LegalBits,
    /// {0,1,2}*02*: `e` iff the prefix is in L (and, faithful, the symbol is `2`).
    ContinueEnd { exact: bool },
}

impl PreMidPost {
    pub(crate) fn ab_d_bc() -> Self {
        PreMidPost {
            pre: b"ab",
            mid: b'd',
            post: b"bc",
            alphabet: b"abcd",
            style: Style::LegalBits,
        }
    }

    /// Faithful: a prefix ending in the `0` itself is labelled `c` although it is in L
    /// (the published quirk); exact: `e` exactly when the prefix is in L.
    pub(crate) fn zero_one_two(exact: bool) -> Self {
        PreMidPost {
            pre: b"012",
            mid: b'0',
            post: b"2",
            alphabet: b"012",
            style: Style::ContinueEnd { exact },
        }
    }
}

impl Language for PreMidPost {
    fn alphabet(&self) -> &[u8] {
        self.alphabet
    }
    fn chunk(&self) -> usize {
        match self.style {
            Style::LegalBits => 4,
            Style::ContinueEnd { .. } => 1,
        }
    }
    fn classes(&self) -> Vec<String> {
        match self.style {
            Style::LegalBits => vec!["0110".into(), "1101".into()],
            Style::ContinueEnd { .. } => vec!["c".into(), "e".into()],
        }
    }
    fn is_member(&self, s: &[u8]) -> bool {
        if s.iter().any(|c| !self.alphabet.contains(c)) {
            return false;
        }
        match self.style {
            Style::LegalBits => match s.iter().position(|&c| c == self.mid) {
                Some(i) => {
                    s[..i].iter().all(|c| self.pre.contains(c))
                        && s[i + 1..].iter().all(|c| self.post.contains(c))
                }
                None => false,
            },
            // {0,1,2}*02*: the last symbol that is not 2 is a 0.
            Style::ContinueEnd { .. } => s.iter().rev().find(|&&c| c != b'2') == Some(&b'0'),
        }
    }
    fn target(&self, s: &[u8], out: &mut Vec<u8>) {
        match self.style {
            Style::LegalBits => {
                let mut seen = false;
                for &c in s {
                    seen |= c == self.mid;
                    out.extend_from_slice(if seen { b"0110" } else { b"1101" });
                }
            }
            Style::ContinueEnd { exact } => {
                let mut st = false;
                for &c in s {
                    match c {
                        b'0' => st = true,
                        b'1' => st = false,
                        _ => {}
                    }
                    let e = st && (exact || c == b'2');
                    out.push(if e { b'e' } else { b'c' });
                }
            }
        }
    }
    fn next_symbols(&self, s: &[u8]) -> Vec<Vec<bool>> {
        match self.style {
            Style::LegalBits => {
                let mut seen = false;
                let mut viable = true;
                s.iter()
                    .map(|&c| {
                        if c == self.mid {
                            viable &= !seen;
                            seen = true;
                        } else if seen {
                            viable &= self.post.contains(&c);
                        } else {
                            viable &= self.pre.contains(&c);
                        }
                        self.alphabet
                            .iter()
                            .map(|a| {
                                viable
                                    && if seen {
                                        self.post.contains(a)
                                    } else {
                                        self.pre.contains(a) || *a == self.mid
                                    }
                            })
                            .collect()
                    })
                    .collect()
            }
            // Every prefix over {0,1,2} can be completed by appending `0`.
            Style::ContinueEnd { .. } => vec![vec![true; 3]; s.len()],
        }
    }
    /// `pre ~ U{0..hi-2}` symbols from P, the marker, `post ~ U{0..hi-2-pre}` from Q.
    fn draw(
        &self,
        _lo: usize,
        hi: usize,
        _f: u64,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> Drawn {
        out.clear();
        let max_pre = hi.saturating_sub(2);
        let pre = uniform(rng, 0, max_pre);
        for _ in 0..pre {
            out.push(self.pre[uniform(rng, 0, self.pre.len() - 1)]);
        }
        out.push(self.mid);
        let post = uniform(rng, 0, max_pre - pre);
        for _ in 0..post {
            out.push(self.post[uniform(rng, 0, self.post.len() - 1)]);
        }
        Drawn::Candidate
    }
}
