//! Tomita grammars 1-7 (spec §1.4 "Tomita grammars"): DFAs over {0,1}.
//!
//! Tomita 1, 2, 3, 4, 7 are labelled with two bits [`0` legal, `1` legal] per position,
//! where a symbol is legal iff the DFA after reading it is not in the code's dead set.
//! For Tomita-3 the published dead set includes the rejecting state q3, so "legal" means
//! "the extended string is in L" (faithful); the definition mode only counts the sink.
//! Tomita 5 and 6 are labelled with the prefix-membership bit.

use rand_chacha::ChaCha8Rng;

use super::sampling::{coin, geometric_binary, uniform};
use super::{Drawn, Language};

/// One Tomita grammar as a complete DFA over {0,1}.
pub(crate) struct Tomita {
    n: u8,
    /// `delta[q][b]` for b = 0 ('0') and 1 ('1'); state 0 is the start.
    delta: Vec<[u8; 2]>,
    accepting: Vec<bool>,
    /// States after which a symbol counts as illegal in the target bits.
    dead_for_target: Vec<bool>,
    /// States from which an accepting state is reachable.
    live: Vec<bool>,
}

impl Tomita {
    pub(crate) fn new(n: u8, exact: bool) -> Self {
        // (delta, accepting, dead set used by the published targets)
        let (delta, accepting, dead): (Vec<[u8; 2]>, Vec<bool>, Vec<bool>) = match n {
            // 1*: q0 accepting, q1 sink.
            1 => (vec![[1, 0], [1, 1]], vec![true, false], vec![false, true]),
            // (10)*: q0 --1--> q1 --0--> q0; q2 sink.
            2 => (
                vec![[2, 1], [0, 2], [2, 2]],
                vec![true, false, false],
                vec![false, false, true],
            ),
            // q0..q2 accepting, q3 rejecting (odd 1-run then odd 0-run so far), q4 sink.
            3 => (
                vec![[0, 1], [3, 0], [3, 1], [2, 4], [4, 4]],
                vec![true, true, true, false, false],
                if exact {
                    vec![false, false, false, false, true]
                } else {
                    vec![false, false, false, true, true]
                },
            ),
            // trailing zeros 0, 1, 2; q3 sink (saw 000).
            4 => (
                vec![[1, 0], [2, 0], [3, 0], [3, 3]],
                vec![true, true, true, false],
                vec![false, false, false, true],
            ),
            // (#0 mod 2, #1 mod 2) as q = 2*a + b.
            5 => (
                vec![[2, 1], [3, 0], [0, 3], [1, 2]],
                vec![true, false, false, false],
                vec![false; 4],
            ),
            // (#0 - #1) mod 3.
            6 => (
                vec![[1, 2], [2, 0], [0, 1]],
                vec![true, false, false],
                vec![false; 3],
            ),
            // 0*1*0*1*: q0 = 0*, q1 = 0*1+, q2 = 0*1+0+, q3 = 0*1+0+1+, q4 sink.
            7 => (
                vec![[0, 1], [2, 1], [2, 3], [4, 3], [4, 4]],
                vec![true, true, true, true, false],
                vec![false, false, false, false, true],
            ),
            _ => panic!("Tomita grammars are numbered 1 to 7"),
        };
        let live = live_states(&delta, &accepting);
        Tomita {
            n,
            delta,
            accepting,
            dead_for_target: dead,
            live,
        }
    }

    #[inline]
    fn step(&self, q: u8, c: u8) -> u8 {
        self.delta[q as usize][(c - b'0') as usize]
    }

    fn membership_target(&self) -> bool {
        self.n == 5 || self.n == 6
    }
}

/// States from which an accepting state is reachable (backward fixpoint).
fn live_states(delta: &[[u8; 2]], accepting: &[bool]) -> Vec<bool> {
    let mut live = accepting.to_vec();
    loop {
        let mut changed = false;
        for q in 0..delta.len() {
            if !live[q] && delta[q].iter().any(|&r| live[r as usize]) {
                live[q] = true;
                changed = true;
            }
        }
        if !changed {
            return live;
        }
    }
}

impl Language for Tomita {
    fn alphabet(&self) -> &[u8] {
        if self.n == 1 {
            b"1"
        } else {
            b"01"
        }
    }

    fn chunk(&self) -> usize {
        if self.membership_target() {
            1
        } else {
            2
        }
    }

    fn classes(&self) -> Vec<String> {
        let v: &[&str] = match self.n {
            1 => &["01"],
            2 => &["01", "10"],
            3 => &["01", "10", "11"],
            4 | 7 => &["01", "11"],
            _ => &["0", "1"],
        };
        v.iter().map(|s| s.to_string()).collect()
    }

    fn is_member(&self, s: &[u8]) -> bool {
        if s.iter().any(|&c| c != b'0' && c != b'1') {
            return false;
        }
        let q = s.iter().fold(0u8, |q, &c| self.step(q, c));
        self.accepting[q as usize]
    }

    fn target(&self, s: &[u8], out: &mut Vec<u8>) {
        let mut q = 0u8;
        for &c in s {
            q = self.step(q, c);
            if self.membership_target() {
                out.push(if self.accepting[q as usize] {
                    b'1'
                } else {
                    b'0'
                });
            } else {
                for b in [b'0', b'1'] {
                    let legal = !self.dead_for_target[self.step(q, b) as usize];
                    out.push(if legal { b'1' } else { b'0' });
                }
            }
        }
    }

    fn next_symbols(&self, s: &[u8]) -> Vec<Vec<bool>> {
        let mut q = 0u8;
        s.iter()
            .map(|&c| {
                q = self.step(q, c);
                self.alphabet()
                    .iter()
                    .map(|&b| self.live[self.step(q, b) as usize])
                    .collect()
            })
            .collect()
    }

    fn draw(
        &self,
        lo: usize,
        hi: usize,
        _failures: u64,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> Drawn {
        out.clear();
        match self.n {
            1 => {
                let n = uniform(rng, lo, hi);
                out.resize(n, b'1');
            }
            2 => {
                let k = uniform(rng, lo, hi.saturating_sub(1).max(lo)).div_ceil(2);
                for _ in 0..k {
                    out.extend_from_slice(b"10");
                }
            }
            3 => {
                let len = uniform(rng, lo, hi);
                let mut last_run: Option<u8> = None;
                let mut last_one_count = 0usize;
                while out.len() < len {
                    let rem = len - out.len();
                    if coin(rng) {
                        let c = uniform(rng, 0, rem);
                        out.resize(out.len() + c, b'1');
                        if last_run == Some(b'0') && c > 0 {
                            last_one_count = c;
                        } else {
                            last_one_count += c;
                        }
                        if c > 0 {
                            last_run = Some(b'1');
                        }
                    } else {
                        let c = if last_run.is_none() || last_one_count.is_multiple_of(2) {
                            uniform(rng, 0, rem)
                        } else {
                            2 * uniform(rng, 0, rem / 2)
                        };
                        out.resize(out.len() + c, b'0');
                        if c > 0 {
                            last_run = Some(b'0');
                        }
                    }
                }
            }
            4 => {
                let len = uniform(rng, lo, hi);
                while out.len() < len {
                    let one = coin(rng);
                    if !one && out.ends_with(b"00") {
                        continue;
                    }
                    out.push(if one { b'1' } else { b'0' });
                }
            }
            5 | 6 => geometric_binary(lo, hi, b'0', b'1', rng, out),
            7 => {
                let len = hi;
                for sym in [b'0', b'1', b'0', b'1'] {
                    if out.len() == len {
                        break;
                    }
                    let c = uniform(rng, 0, len - out.len());
                    out.resize(out.len() + c, sym);
                }
            }
            _ => unreachable!(),
        }
        Drawn::Candidate
    }
}
