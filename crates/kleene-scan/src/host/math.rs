//! Scalar helpers for the CPU kernels: a vectorisable `exp`, softplus/silu, and the
//! flush-denormals-to-zero guard.

/// `exp(x)` for f32, branch-free so that LLVM vectorises loops calling it.
///
/// Cody–Waite range reduction `x = k ln2 + r`, |r| <= ln2/2, degree-6 Taylor polynomial for
/// `exp(r)` (truncation error < 2e-8 relative), scaling by `2^k` through the exponent bits.
/// Max relative error about 2 ulp over the whole range. Arguments below -87.3 return exactly 0
/// (instead of a denormal, see [`FlushDenormals`]); above 88.7 they saturate at ~f32::MAX·…
/// (the caller never exceeds that: the scan's arguments are `Δ·A <= 0` in practice).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const SHIFTER: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let xc = x.clamp(-87.3, 88.7);
    let t = xc * LOG2E + SHIFTER;
    let k_bits = t.to_bits() as i32 - 0x4B40_0000; // the rounded integer k
    let kf = t - SHIFTER;
    let r = xc - kf * LN2_HI - kf * LN2_LO;
    // exp(r) ~ 1 + r + r^2/2 + ... + r^6/720 (Horner)
    let p = 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    let scale = f32::from_bits(((k_bits + 127) << 23) as u32);
    let v = p * scale;
    if x < -87.3 {
        0.0
    } else {
        v
    }
}

/// Four lanes of [`exp_f32`] with SSE2 intrinsics (same algorithm and constants, bit-identical
/// up to FMA contraction, which SSE2 does not have). LLVM does not auto-vectorise the scalar
/// version inside the scan loop, and `exp` dominates the scan's cost.
///
/// # Safety
/// SSE2 is part of the x86-64 baseline, so this is always safe to call on x86-64.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn exp_ps(x: std::arch::x86_64::__m128) -> std::arch::x86_64::__m128 {
    use std::arch::x86_64::*;
    let xc = _mm_min_ps(_mm_max_ps(x, _mm_set1_ps(-87.3)), _mm_set1_ps(88.7));
    let shifter = _mm_set1_ps(12_582_912.0);
    let t = _mm_add_ps(
        _mm_mul_ps(xc, _mm_set1_ps(std::f32::consts::LOG2_E)),
        shifter,
    );
    let k = _mm_sub_epi32(_mm_castps_si128(t), _mm_set1_epi32(0x4B40_0000));
    let kf = _mm_sub_ps(t, shifter);
    let r = _mm_sub_ps(
        _mm_sub_ps(xc, _mm_mul_ps(kf, _mm_set1_ps(0.693_145_75))),
        _mm_mul_ps(kf, _mm_set1_ps(1.428_606_8e-6)),
    );
    let mut p = _mm_set1_ps(1.0 / 720.0);
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0 / 120.0));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0 / 24.0));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0 / 6.0));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(0.5));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(1.0));
    let scale = _mm_castsi128_ps(_mm_slli_epi32::<23>(_mm_add_epi32(k, _mm_set1_epi32(127))));
    let v = _mm_mul_ps(p, scale);
    // x < -87.3 -> exactly 0 (never a denormal)
    _mm_andnot_ps(_mm_cmplt_ps(x, _mm_set1_ps(-87.3)), v)
}

/// mamba's softplus: `x <= 20 ? log1p(exp(x)) : x`.
#[inline]
pub fn softplus(x: f32) -> f32 {
    if x <= 20.0 {
        x.exp().ln_1p()
    } else {
        x
    }
}

/// Derivative of [`softplus`]: `sigmoid(x)` (1 above the threshold).
#[inline]
pub fn softplus_grad(x: f32) -> f32 {
    if x <= 20.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        1.0
    }
}

/// `x * sigmoid(x)`.
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// Derivative of [`silu`]: `σ(x) (1 + x (1 − σ(x)))`.
#[inline]
pub fn silu_grad(x: f32) -> f32 {
    let s = 1.0 / (1.0 + (-x).exp());
    s * (1.0 + x * (1.0 - s))
}

/// While alive, the current thread flushes denormal results to zero and treats denormal inputs as
/// zero (x86-64 MXCSR FTZ + DAZ bits); the previous mode is restored on drop.
///
/// Why: the scan multiplies its state by `exp(Δ·A) < 1` at every step, so over long sequences the
/// state decays into denormal floats, and x86 arithmetic on denormals is tens of times slower.
/// Flushing them changes results only below 1.2e-38 in magnitude. On other architectures the
/// guard does nothing and the kernels rely on [`exp_f32`] returning exact zeros for tiny factors.
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

impl FlushDenormals {
    /// Sets FTZ/DAZ on this thread.
    #[allow(deprecated)] // _mm_getcsr/_mm_setcsr: the only stable way to reach MXCSR
    #[inline]
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            // SAFETY: reading/writing MXCSR is always allowed on x86-64 (SSE2 is baseline);
            // only the FTZ (bit 15) and DAZ (bit 6) flags are changed, and restored in Drop.
            let saved = unsafe { _mm_getcsr() };
            unsafe { _mm_setcsr(saved | 0x8040) };
            Self { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self {}
        }
    }
}

impl Default for FlushDenormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushDenormals {
    #[allow(deprecated)]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: restores the MXCSR value read in `new` on this same thread.
        unsafe {
            std::arch::x86_64::_mm_setcsr(self.saved)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = exp_f32(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 3e-7, "worst relative error {worst:e}");
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::*;
            let mut x = -86.0f32;
            while x < 88.0 {
                let mut out = [0.0f32; 4];
                // SAFETY: SSE2 is baseline on x86-64.
                unsafe {
                    _mm_storeu_ps(
                        out.as_mut_ptr(),
                        exp_ps(_mm_setr_ps(x, x + 0.25, -100.0, x * 0.5)),
                    )
                };
                for (got, arg) in out.iter().zip([x, x + 0.25, -100.0, x * 0.5]) {
                    let want = (arg as f64).exp();
                    let err = if want < 1e-37 {
                        *got as f64
                    } else {
                        ((*got as f64 - want) / want).abs()
                    };
                    assert!(err < 3e-7, "exp_ps({arg}) = {got}, want {want}");
                }
                x += 0.37;
            }
        }
        assert_eq!(exp_f32(-100.0), 0.0);
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn flush_guard_flushes_and_restores() {
        let tiny = std::hint::black_box(1e-30f32);
        let before = std::hint::black_box(tiny * 1e-10);
        {
            let _g = FlushDenormals::new();
            let during = std::hint::black_box(tiny) * std::hint::black_box(1e-10f32);
            #[cfg(target_arch = "x86_64")]
            assert_eq!(during, 0.0);
            let _ = during;
        }
        let after = std::hint::black_box(tiny) * std::hint::black_box(1e-10f32);
        assert_eq!(before.to_bits(), after.to_bits());
        assert!(after > 0.0);
    }
}
