//! Long causal depthwise convolution with a per-channel kernel as long as the sequence (H3's and
//! S4D's SSM kernels, Hyena's implicit filters): an exact block-Toeplitz form (no FFT) and the
//! gather-based reference. The step forms live in the layers (an SSM state or a filter buffer).

use burn::prelude::*;

use super::causal_mask::future_mask;

/// Block length of [`causal_conv`].
pub const CONV_BLOCK: usize = 64;

/// Long causal depthwise convolution with a per-channel kernel (exact, no FFT).
///
/// `u: (B, L, D)`, `kernel: (D, >= L)`; `y[b, t, c] = sum_{s <= t} kernel[c, t - s] * u[b, s, c]`.
/// See [`causal_conv_blocked`]; the block length is [`CONV_BLOCK`].
pub fn causal_conv<B: Backend>(u: Tensor<B, 3>, kernel: Tensor<B, 2>) -> Tensor<B, 3> {
    causal_conv_blocked(u, kernel, CONV_BLOCK)
}

/// Block-Toeplitz causal convolution: the sequence is cut into `n` blocks of `block` positions
/// and output block `q` is `sum_m T_m u_{q-m}` with `T_m[t, s] = k[m·block + t - s]` (zero for a
/// negative lag). Work `O(L^2 D B / 2)` in `n` batched matmuls, memory `O(L · block · D)` for the
/// `T_m` (a full `L x L` Toeplitz matrix per channel would need `O(L^2 D)`).
///
/// The `T_m` are built without a large gather: each is read out of its window
/// `w_m = k[m·block - block + 1 ..= m·block + block - 1]` padded to `z` of length `2·block`,
/// repeated and re-read with row stride `2·block - 1`, so row `s`, column `t` holds
/// `z[block - 1 + t - s]`.
pub fn causal_conv_blocked<B: Backend>(
    u: Tensor<B, 3>,
    kernel: Tensor<B, 2>,
    block: usize,
) -> Tensor<B, 3> {
    let [b, l, d] = u.dims();
    let device = u.device();
    let c = block.max(1).min(l);
    let n = l.div_ceil(c);
    let lp = n * c;
    // kp = [0 (c-1), k[0..l], 0 (lp - l)]
    let mut parts = Vec::with_capacity(3);
    if c > 1 {
        parts.push(Tensor::zeros([d, c - 1], &device));
    }
    parts.push(kernel.narrow(1, 0, l));
    if lp > l {
        parts.push(Tensor::zeros([d, lp - l], &device));
    }
    let kp = Tensor::cat(parts, 1);
    // Window m: kp[m c .. m c + 2c - 1].
    let starts = Tensor::<B, 1, Int>::arange(0..n as i64, &device)
        .mul_scalar(c as i64)
        .reshape([n, 1])
        .expand([n, 2 * c - 1]);
    let offsets = Tensor::<B, 1, Int>::arange(0..(2 * c - 1) as i64, &device)
        .reshape([1, 2 * c - 1])
        .expand([n, 2 * c - 1]);
    let windows = kp
        .select(1, (starts + offsets).reshape([n * (2 * c - 1)]))
        .reshape([d, n, 2 * c - 1]);
    let z = Tensor::cat(vec![windows, Tensor::zeros([d, n, 1], &device)], 2); // (d, n, 2c)
    let t_mats = z
        .repeat_dim(2, c + 1)
        .narrow(2, c - 1, c * (2 * c - 1))
        .reshape([d, n, c, 2 * c - 1])
        .narrow(3, 0, c) // [.., s, t] = k[m c + t - s]
        .swap_dims(2, 3); // [.., t, s]
    let u = if lp > l {
        Tensor::cat(vec![u, Tensor::zeros([b, lp - l, d], &device)], 1)
    } else {
        u
    };
    let ub = u.permute([2, 1, 0]).reshape([d, n, c, b]);
    let mut y: Option<Tensor<B, 4>> = None;
    for m in 0..n {
        let src = ub.clone().narrow(1, 0, n - m);
        let t_m = t_mats.clone().narrow(1, m, 1).expand([d, n - m, c, c]);
        let term = t_m.matmul(src); // output blocks m..n
        let term = if m > 0 {
            Tensor::cat(vec![Tensor::zeros([d, m, c, b], &device), term], 1)
        } else {
            term
        };
        y = Some(match y {
            None => term,
            Some(acc) => acc + term,
        });
    }
    y.expect("at least one block")
        .reshape([d, lp, b])
        .permute([2, 1, 0])
        .narrow(1, 0, l)
}

/// Reference: the full `(L, L)` Toeplitz matrix per channel, gathered from the kernel (`O(L^2 D)`
/// memory; for tests of [`causal_conv`]).
pub fn causal_conv_naive<B: Backend>(u: Tensor<B, 3>, kernel: Tensor<B, 2>) -> Tensor<B, 3> {
    let [_, l, d] = u.dims();
    let device = u.device();
    let rows = Tensor::<B, 1, Int>::arange(0..l as i64, &device)
        .reshape([l, 1])
        .expand([l, l]);
    let cols = Tensor::<B, 1, Int>::arange(0..l as i64, &device)
        .reshape([1, l])
        .expand([l, l]);
    let lag = (rows - cols).clamp_min(0).reshape([l * l]);
    let toeplitz = kernel
        .narrow(1, 0, l)
        .select(1, lag)
        .reshape([d, l, l])
        .mask_fill(
            future_mask::<B>(l, &device)
                .unsqueeze::<3>()
                .expand([d, l, l]),
            0.0,
        );
    toeplitz.matmul(u.permute([2, 1, 0])).permute([2, 1, 0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn_ndarray::NdArray;

    type B = NdArray<f32>;

    #[test]
    fn causal_conv_matches_gather_and_direct_sum() {
        let device = Default::default();
        for (l, block) in [(1usize, 64usize), (2, 1), (7, 3), (9, 3), (7, 64), (13, 4)] {
            let u = Tensor::<B, 3>::random([2, l, 3], Distribution::Normal(0.0, 1.0), &device);
            let k = Tensor::<B, 2>::random([3, l + 2], Distribution::Normal(0.0, 1.0), &device);
            let fast = causal_conv(u.clone(), k.clone())
                .into_data()
                .to_vec::<f32>()
                .unwrap();
            let slow = causal_conv_naive(u.clone(), k.clone())
                .into_data()
                .to_vec::<f32>()
                .unwrap();
            let uv = u.into_data().to_vec::<f32>().unwrap();
            let kv = k.into_data().to_vec::<f32>().unwrap();
            for b in 0..2 {
                for t in 0..l {
                    for c in 0..3 {
                        let want: f64 = (0..=t)
                            .map(|s| {
                                kv[c * (l + 2) + t - s] as f64 * uv[(b * l + s) * 3 + c] as f64
                            })
                            .sum();
                        let i = (b * l + t) * 3 + c;
                        assert!(
                            (fast[i] as f64 - want).abs() < 1e-5,
                            "blocked l={l} block={block}"
                        );
                        assert!((slow[i] as f64 - want).abs() < 1e-5, "gather l={l}");
                    }
                }
            }
        }
    }
}
