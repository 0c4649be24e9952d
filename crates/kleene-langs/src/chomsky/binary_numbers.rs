//! Arbitrary-precision natural numbers for the binary tasks (operands reach `2^498` at
//! DM's test length 500), and the two-operand input format that binary addition and
//! binary multiplication share (DM's `binary_addition.py` helpers).

use std::cmp::Ordering;

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

use super::transduction::uniform_between;

/// A natural number as little-endian 64-bit limbs without high zero limbs (zero has no
/// limbs). Only what the tasks need: bits in and out, `+`, `*`, comparison, `isqrt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Natural {
    limbs: Vec<u64>,
}

impl Natural {
    fn from_limbs(mut limbs: Vec<u64>) -> Self {
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        Natural { limbs }
    }

    /// Zero.
    pub(crate) fn zero() -> Self {
        Natural { limbs: Vec::new() }
    }

    /// Whether this is zero.
    pub(crate) fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    /// The number whose bit `i` is `bits[i]` (little-endian); every entry is 0 or 1.
    pub(crate) fn from_le_bits(bits: &[u32]) -> Self {
        let mut limbs = vec![0u64; bits.len().div_ceil(64)];
        for (i, &b) in bits.iter().enumerate() {
            limbs[i / 64] |= u64::from(b & 1) << (i % 64);
        }
        Natural::from_limbs(limbs)
    }

    /// The number written by `bits`, most significant bit first.
    pub(crate) fn from_be_bits(bits: &[u32]) -> Self {
        let le: Vec<u32> = bits.iter().rev().copied().collect();
        Natural::from_le_bits(&le)
    }

    /// Number of bits without leading zeros (0 for zero).
    pub(crate) fn bit_len(&self) -> usize {
        match self.limbs.last() {
            Some(&top) => 64 * self.limbs.len() - top.leading_zeros() as usize,
            None => 0,
        }
    }

    fn bit(&self, i: usize) -> u32 {
        self.limbs
            .get(i / 64)
            .map_or(0, |&limb| ((limb >> (i % 64)) & 1) as u32)
    }

    fn with_bit_set(&self, i: usize) -> Self {
        let mut limbs = self.limbs.clone();
        if limbs.len() <= i / 64 {
            limbs.resize(i / 64 + 1, 0);
        }
        limbs[i / 64] |= 1 << (i % 64);
        Natural { limbs }
    }

    /// The `width` low bits, least significant first (high zeros kept; DM's `zfill`).
    pub(crate) fn le_bits(&self, width: usize) -> Vec<u32> {
        (0..width).map(|i| self.bit(i)).collect()
    }

    /// The `width` low bits, most significant first.
    pub(crate) fn be_bits(&self, width: usize) -> Vec<u32> {
        (0..width).rev().map(|i| self.bit(i)).collect()
    }

    /// Little-endian bits without high zeros; zero is `[0]` (DM's
    /// `numbers_to_fixed_length_binary(x, length=0)`).
    pub(crate) fn le_bits_trimmed(&self) -> Vec<u32> {
        self.le_bits(self.bit_len().max(1))
    }

    /// `self + other`.
    pub(crate) fn add(&self, other: &Natural) -> Natural {
        let len = self.limbs.len().max(other.limbs.len());
        let mut limbs = Vec::with_capacity(len + 1);
        let mut carry = 0u64;
        for i in 0..len {
            let a = self.limbs.get(i).copied().unwrap_or(0);
            let b = other.limbs.get(i).copied().unwrap_or(0);
            let (s1, c1) = a.overflowing_add(b);
            let (s2, c2) = s1.overflowing_add(carry);
            limbs.push(s2);
            carry = u64::from(c1) + u64::from(c2);
        }
        limbs.push(carry);
        Natural::from_limbs(limbs)
    }

    /// `self * other` (schoolbook; operands have at most a few dozen limbs).
    pub(crate) fn mul(&self, other: &Natural) -> Natural {
        let mut limbs = vec![0u64; self.limbs.len() + other.limbs.len()];
        for (i, &a) in self.limbs.iter().enumerate() {
            let mut carry = 0u128;
            for (j, &b) in other.limbs.iter().enumerate() {
                let t = u128::from(a) * u128::from(b) + u128::from(limbs[i + j]) + carry;
                limbs[i + j] = t as u64;
                carry = t >> 64;
            }
            limbs[i + other.limbs.len()] = carry as u64;
        }
        Natural::from_limbs(limbs)
    }

    fn cmp_value(&self, other: &Natural) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }

    /// `⌊√self⌋` (Python's `math.isqrt`), one result bit at a time from the top: keep a
    /// bit when the square of the candidate does not exceed `self`.
    pub(crate) fn isqrt(&self) -> Natural {
        let mut root = Natural::zero();
        for i in (0..self.bit_len().div_ceil(2)).rev() {
            let candidate = root.with_bit_set(i);
            if candidate.mul(&candidate).cmp_value(self) != Ordering::Greater {
                root = candidate;
            }
        }
        root
    }

    /// Uniform on `0..2^bits` from `bits` random bits (64 per draw, the surplus of the
    /// last word dropped).
    fn random_bits(bits: usize, rng: &mut ChaCha8Rng) -> Natural {
        let mut limbs: Vec<u64> = (0..bits.div_ceil(64)).map(|_| rng.next_u64()).collect();
        if !bits.is_multiple_of(64) {
            if let Some(top) = limbs.last_mut() {
                *top &= (1u64 << (bits % 64)) - 1;
            }
        }
        Natural::from_limbs(limbs)
    }

    /// Uniform on `1..=2^bits - 1` (DM's `random.randint(1, 2**bits - 1)`), `bits >= 1`,
    /// by redrawing zero.
    pub(crate) fn random_nonzero(bits: usize, rng: &mut ChaCha8Rng) -> Natural {
        // Callers pass operand widths >= 1 (zero bits would have no non-zero value).
        debug_assert!(bits >= 1, "no non-zero number has 0 bits");
        loop {
            let x = Natural::random_bits(bits, rng);
            if !x.is_zero() {
                return x;
            }
        }
    }
}

/// Input symbol between the two operands (`+` or `*`).
pub(crate) const SEPARATOR: u32 = 2;
/// Output class after the result's last bit.
pub(crate) const TERMINATION: u32 = 2;

/// What an input of binary addition or multiplication holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Operands {
    /// `n <= 2`: one number written in `n` little-endian bits, no separator (DM's
    /// degenerate short case).
    Single(Natural),
    /// `n >= 3`: `bits(a), SEPARATOR, bits(b)`, each operand at least 1.
    Pair(Natural, Natural),
}

/// DM's sampler of `_sample_expressions_and_results` inputs.
///
/// - `n <= 2`: `c ~ U{0..2^n - 2}` (numpy's exclusive high end leaves out `2^n - 1`),
///   written in `n` little-endian bits;
/// - `n >= 3`: `ℓ₁ ~ U{1..n-2}`, `ℓ₂ = n - 1 - ℓ₁`, `a ~ U{1..2^ℓ₁-1}`,
///   `b ~ U{1..2^ℓ₂-1}`, each written in exactly ℓ bits, little-endian (high zeros kept).
pub(crate) fn sample_operands(len: usize, rng: &mut ChaCha8Rng) -> (Vec<u32>, Operands) {
    if len <= 2 {
        let c = rng.random_range(0..(1u32 << len) - 1);
        let value = Natural::from_le_bits(&[c & 1, (c >> 1) & 1]);
        return (value.le_bits(len), Operands::Single(value));
    }
    let len_a = uniform_between(1, len - 2, rng);
    let len_b = len - 1 - len_a;
    let a = Natural::random_nonzero(len_a, rng);
    let b = Natural::random_nonzero(len_b, rng);
    let mut input = a.le_bits(len_a);
    input.push(SEPARATOR);
    input.extend(b.le_bits(len_b));
    (input, Operands::Pair(a, b))
}

/// Reads an input back, refusing what [`sample_operands`] cannot produce.
pub(crate) fn parse_operands(input: &[u32]) -> Result<Operands, String> {
    let n = input.len();
    if let Some(p) = input.iter().position(|&t| t > SEPARATOR) {
        return Err(format!(
            "token {} at position {p} is not 0, 1 or the separator",
            input[p]
        ));
    }
    let separators: Vec<usize> = (0..n).filter(|&p| input[p] == SEPARATOR).collect();
    match separators[..] {
        [] => {
            if n == 0 || n > 2 {
                return Err(format!(
                    "an input of length {n} needs the separator {SEPARATOR}"
                ));
            }
            // numpy's `randint(0, 2**n - 1)` never draws the all-ones value.
            if input.iter().all(|&b| b == 1) {
                return Err(format!(
                    "DM's short inputs are below 2^{n} - 1, found {input:?}"
                ));
            }
            Ok(Operands::Single(Natural::from_le_bits(input)))
        }
        [p] => {
            if p == 0 || p == n - 1 {
                return Err(format!(
                    "separator at position {p}: both operands need at least one bit"
                ));
            }
            let a = Natural::from_le_bits(&input[..p]);
            let b = Natural::from_le_bits(&input[p + 1..]);
            if a.is_zero() || b.is_zero() {
                return Err("both operands are at least 1 in DM's sampler, found a zero".into());
            }
            Ok(Operands::Pair(a, b))
        }
        _ => Err(format!(
            "one separator is allowed, found {} (at positions {separators:?})",
            separators.len()
        )),
    }
}

/// `bits`, then the termination class, then zeros up to `output_len`.
pub(crate) fn terminated(mut bits: Vec<u32>, output_len: usize) -> Vec<u32> {
    bits.push(TERMINATION);
    bits.resize(output_len, 0);
    bits
}
