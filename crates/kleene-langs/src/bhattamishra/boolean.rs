//! Boolean-3 / Boolean-5: n-ary Boolean expressions in prefix (Polish) notation.
//!
//! Operators `~ + > * ^` have arities 1..=5; Boolean-n uses the first n; operands `0`, `1`.
//! The published target is the completion bit: `1` exactly where the prefix is a
//! complete expression (so `0…01` for members); this is not a next-symbol set.

use rand_chacha::ChaCha8Rng;

use super::sampling::unit;
use super::{Drawn, Language};

const OPERATORS: &[u8] = b"~+>*^";

pub(crate) struct Boolean {
    n_ops: usize,
    /// Probability of an operator (the config's `p_val`): operands come with `1 - p`.
    p_operator: f64,
    alphabet: Vec<u8>,
    /// `need` change per byte (arity - 1), i32::MIN for bytes outside the alphabet.
    delta: [i32; 256],
}

impl Boolean {
    pub(crate) fn new(n_ops: usize, p_operator: f64) -> Self {
        let mut alphabet: Vec<u8> = OPERATORS[..n_ops].to_vec();
        alphabet.extend_from_slice(b"01");
        alphabet.sort_unstable();
        let mut delta = [i32::MIN; 256];
        delta[b'0' as usize] = -1;
        delta[b'1' as usize] = -1;
        for (i, &op) in OPERATORS[..n_ops].iter().enumerate() {
            delta[op as usize] = i as i32; // arity i+1, minus the one slot it fills
        }
        Boolean {
            n_ops,
            p_operator,
            alphabet,
            delta,
        }
    }
}

impl Language for Boolean {
    fn alphabet(&self) -> &[u8] {
        &self.alphabet
    }
    fn chunk(&self) -> usize {
        1
    }
    fn classes(&self) -> Vec<String> {
        vec!["0".into(), "1".into()]
    }
    fn is_member(&self, s: &[u8]) -> bool {
        let mut need: i64 = 1;
        for (i, &c) in s.iter().enumerate() {
            let d = self.delta[c as usize];
            if d == i32::MIN {
                return false;
            }
            need += d as i64;
            if need == 0 {
                return i + 1 == s.len();
            }
        }
        false
    }
    fn target(&self, s: &[u8], out: &mut Vec<u8>) {
        let mut need: i64 = 1;
        for &c in s {
            let d = self.delta[c as usize];
            need += if d == i32::MIN { 0 } else { d as i64 };
            out.push(if need == 0 { b'1' } else { b'0' });
        }
    }
    fn next_symbols(&self, s: &[u8]) -> Vec<Vec<bool>> {
        let mut need: i64 = 1;
        let mut closed_early = false;
        s.iter()
            .map(|&c| {
                if need <= 0 {
                    closed_early = true;
                }
                let d = self.delta[c as usize];
                need += if d == i32::MIN { 0 } else { d as i64 };
                vec![!closed_early && need > 0; self.alphabet.len()]
            })
            .collect()
    }
    /// Emit up to `hi` symbols (operand with probability `1 - p`, else a uniform operator)
    /// until the expression is complete; nothing if it never completes.
    fn draw(
        &self,
        _lo: usize,
        hi: usize,
        _f: u64,
        rng: &mut ChaCha8Rng,
        out: &mut Vec<u8>,
    ) -> Drawn {
        out.clear();
        let mut need: i64 = 1;
        for _ in 0..hi {
            let r = unit(rng);
            if r >= self.p_operator {
                // Operand: reuse the same draw's position within [p, 1) for the bit.
                let bit = (r - self.p_operator) / (1.0 - self.p_operator) >= 0.5;
                out.push(if bit { b'1' } else { b'0' });
                need -= 1;
            } else {
                let i = ((r / self.p_operator) * self.n_ops as f64) as usize;
                let i = i.min(self.n_ops - 1);
                out.push(OPERATORS[i]);
                need += i as i64;
            }
            if need == 0 {
                return Drawn::Candidate;
            }
        }
        Drawn::Nothing
    }
}
