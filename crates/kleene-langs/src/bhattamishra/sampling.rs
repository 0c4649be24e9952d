//! Small sampling helpers shared by the suite's samplers. All draws go through the
//! portable ChaCha8 stream, so the same seed gives the same strings everywhere.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Uniform integer in `lo..=hi` (`lo` when `hi < lo`).
#[inline]
pub(crate) fn uniform(rng: &mut ChaCha8Rng, lo: usize, hi: usize) -> usize {
    if hi <= lo {
        return lo;
    }
    rng.random_range(lo as u64..=hi as u64) as usize
}

/// Uniform float in `[0, 1)`.
#[inline]
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>()
}

/// A fair coin.
#[inline]
pub(crate) fn coin(rng: &mut ChaCha8Rng) -> bool {
    rng.random::<bool>()
}

/// One standard normal draw (Box–Muller; one of the pair is discarded to stay stateless).
#[inline]
pub(crate) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    // 1 - U lies in (0, 1], so the log is finite.
    let u1 = 1.0 - unit(rng);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The "geometric" binary-string sampler of Parity and Tomita-5/6: with
/// `Lm = (lo + hi) / 2` and `p = Lm / (2 (Lm + 1))`, emit `zero` or `one` with probability
/// `p` each and stop with probability `1 - 2p`; also stop once the length reaches `hi`.
pub(crate) fn geometric_binary(
    lo: usize,
    hi: usize,
    zero: u8,
    one: u8,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<u8>,
) {
    out.clear();
    let lm = ((lo + hi) / 2) as f64;
    let p = lm / (2.0 * (lm + 1.0));
    while out.len() < hi {
        let r = unit(rng);
        if r < p {
            out.push(zero);
        } else if r < 2.0 * p {
            out.push(one);
        } else {
            break;
        }
    }
}
