//! Short causal depthwise convolution (H3's shift SSM, Hyena's short filters): whole-sequence
//! form, one step over a buffer of the last `K - 1` inputs, and a per-element reference.

use burn::prelude::*;

/// Short causal depthwise convolution: `w: (D, K)` holds the tap for lag `j` in column `j`.
///
/// `y[b, t, c] = bias[c] + sum_{j < K} w[c, j] * u[b, t - j, c]` (zero before the start).
pub fn short_conv<B: Backend>(
    u: Tensor<B, 3>,
    w: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 3> {
    let [b, l, d] = u.dims();
    let taps = w.dims()[1];
    let device = u.device();
    let padded = if taps > 1 {
        Tensor::cat(vec![Tensor::zeros([b, taps - 1, d], &device), u], 1)
    } else {
        u
    };
    let mut y: Option<Tensor<B, 3>> = None;
    for j in 0..taps {
        let term = padded.clone().narrow(1, taps - 1 - j, l)
            * w.clone().narrow(1, j, 1).reshape([1, 1, d]);
        y = Some(match y {
            None => term,
            Some(acc) => acc + term,
        });
    }
    let y = y.expect("at least one tap");
    match bias {
        Some(bias) => y + bias.reshape([1, 1, d]),
        None => y,
    }
}

/// One step of [`short_conv`]: `buffer: (B, K-1, D)` holds the previous `K-1` inputs
/// (oldest first). Returns `(y_t, new_buffer)`.
pub fn short_conv_step<B: Backend>(
    u: Tensor<B, 2>,
    buffer: Tensor<B, 3>,
    w: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> (Tensor<B, 2>, Tensor<B, 3>) {
    let [b, d] = u.dims();
    let taps = w.dims()[1];
    let window = Tensor::cat(vec![buffer, u.reshape([b, 1, d])], 1); // (B, K, D)
    let y = short_conv(window.clone(), w, bias)
        .narrow(1, taps - 1, 1)
        .reshape([b, d]);
    (y, window.narrow(1, 1, taps - 1))
}

/// Reference: the defining sum, element by element on the host (for tests). Same arguments and
/// result as [`short_conv`].
pub fn short_conv_naive<B: Backend>(
    u: &Tensor<B, 3>,
    w: &Tensor<B, 2>,
    bias: Option<&Tensor<B, 1>>,
) -> Tensor<B, 3> {
    let ([b, l, d], taps, device) = (u.dims(), w.dims()[1], u.device());
    let uv = u
        .clone()
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .expect("f64 data");
    let wv = w
        .clone()
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .expect("f64 data");
    let bv = bias.map(|t| {
        t.clone()
            .into_data()
            .convert::<f64>()
            .to_vec::<f64>()
            .expect("f64 data")
    });
    let mut y = vec![0f32; b * l * d];
    for bi in 0..b {
        for t in 0..l {
            for c in 0..d {
                let mut acc = bv.as_ref().map_or(0.0, |bv| bv[c]);
                for j in 0..taps.min(t + 1) {
                    acc += wv[c * taps + j] * uv[(bi * l + t - j) * d + c];
                }
                y[(bi * l + t) * d + c] = acc as f32;
            }
        }
    }
    Tensor::from_data(burn::tensor::TensorData::new(y, [b, l, d]), &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn_ndarray::NdArray;

    type B = NdArray<f32>;

    /// Whole-sequence and stepped forms against the defining sum, random inputs and taps.
    #[test]
    fn short_conv_and_step_match_reference() {
        let device = Default::default();
        for (l, taps) in [(1usize, 3usize), (6, 1), (6, 2), (9, 4)] {
            let u = Tensor::<B, 3>::random([2, l, 3], Distribution::Normal(0.0, 1.0), &device);
            let w = Tensor::<B, 2>::random([3, taps], Distribution::Normal(0.0, 1.0), &device);
            let bias = Tensor::<B, 1>::random([3], Distribution::Normal(0.0, 1.0), &device);
            let want = short_conv_naive(&u, &w, Some(&bias))
                .into_data()
                .to_vec::<f32>()
                .unwrap();
            let got = short_conv(u.clone(), w.clone(), Some(bias.clone()))
                .into_data()
                .to_vec::<f32>()
                .unwrap();
            for (g, r) in got.iter().zip(&want) {
                assert!((g - r).abs() < 1e-5, "l={l} taps={taps}: {g} vs {r}");
            }
            if taps > 1 {
                let mut buffer = Tensor::<B, 3>::zeros([2, taps - 1, 3], &device);
                for t in 0..l {
                    let x = u.clone().narrow(1, t, 1).reshape([2, 3]);
                    let (y, next) = short_conv_step(x, buffer, w.clone(), Some(bias.clone()));
                    buffer = next;
                    let y = y.into_data().to_vec::<f32>().unwrap();
                    for bi in 0..2 {
                        for c in 0..3 {
                            let r = want[(bi * l + t) * 3 + c];
                            assert!((y[bi * 3 + c] - r).abs() < 1e-5, "step l={l} t={t}");
                        }
                    }
                }
            }
        }
    }
}
