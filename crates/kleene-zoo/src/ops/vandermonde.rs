//! Diagonal complex SSMs with a real input (S4D, H3): the whole-sequence convolution kernel in
//! Vandermonde form and the one-step recurrence it unrolls.

use burn::prelude::*;

/// Kernel of a diagonal complex SSM in Vandermonde form:
/// `K[c, l] = 2 Re sum_n ct[c, n] * exp(l * (log_mag[c, n] + i phase[c, n]))`, `l = 0..len`.
///
/// All inputs `(D, N)`; output `(D, len)`.
pub fn vandermonde_kernel<B: Backend>(
    log_mag: Tensor<B, 2>,
    phase: Tensor<B, 2>,
    ct_re: Tensor<B, 2>,
    ct_im: Tensor<B, 2>,
    len: usize,
) -> Tensor<B, 2> {
    let [d, n] = log_mag.dims();
    let device = log_mag.device();
    let lags = Tensor::<B, 1, Int>::arange(0..len as i64, &device)
        .float()
        .reshape([1, 1, len]);
    let mag = (log_mag.reshape([d, n, 1]) * lags.clone()).exp();
    let angle = phase.reshape([d, n, 1]) * lags;
    let p_re = mag.clone() * angle.clone().cos();
    let p_im = mag * angle.sin();
    let k = ct_re.reshape([d, n, 1]) * p_re - ct_im.reshape([d, n, 1]) * p_im;
    k.sum_dim(1).reshape([d, len]).mul_scalar(2.0)
}

/// One step of a diagonal complex SSM: `s = a * s + x` (x real, broadcast over modes),
/// `y = 2 Re sum_n ct[n] s[n]`. `a, ct: (D, N)`, `s: (B, D, N)`, `x: (B, D)`.
#[allow(clippy::too_many_arguments)]
pub fn diag_ssm_step<B: Backend>(
    a_re: Tensor<B, 2>,
    a_im: Tensor<B, 2>,
    ct_re: Tensor<B, 2>,
    ct_im: Tensor<B, 2>,
    s_re: Tensor<B, 3>,
    s_im: Tensor<B, 3>,
    x: Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 3>, Tensor<B, 3>) {
    let [b, d] = x.dims();
    let a_re = a_re.unsqueeze::<3>();
    let a_im = a_im.unsqueeze::<3>();
    let new_re = a_re.clone() * s_re.clone() - a_im.clone() * s_im.clone() + x.reshape([b, d, 1]);
    let new_im = a_re * s_im + a_im * s_re;
    let y = (ct_re.unsqueeze::<3>() * new_re.clone() - ct_im.unsqueeze::<3>() * new_im.clone())
        .sum_dim(2)
        .reshape([b, d])
        .mul_scalar(2.0);
    (y, new_re, new_im)
}
