//! The linear recurrences of the SD-SSM paper's models: thin wrappers over `kleene-scan`'s ops
//! (fast paths per backend, hand-written backward, float64 references there), and the dense
//! one-step form.

use burn::prelude::*;

use kleene_scan::ScanBackend;

/// Complex diagonal recurrence `h_t = a_t ⊙ h_{t-1} + x_t` over complex numbers given as
/// (real, imaginary) parts, `(batch, len, channels)` each, from `h0 = (re, im)` of shape
/// `(batch, channels)`. Returns `(re h, im h)`.
#[allow(clippy::type_complexity)]
pub fn complex_diagonal<B: ScanBackend>(
    a: (Tensor<B, 3>, Tensor<B, 3>),
    x: (Tensor<B, 3>, Tensor<B, 3>),
    h0: (Tensor<B, 2>, Tensor<B, 2>),
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    kleene_scan::complex_diagonal_recurrence(a.0, a.1, x.0, x.1, Some(h0))
}

/// SD-SSM recurrence with one matrix per token: `h_t = M[x_t] h_{t-1} + bias[x_t]`,
/// `h_{-1} = 0`; `m: (vocab, n, n)` (row = output state), `bias: (vocab, n)`,
/// `tokens: (batch, len)`. Returns `h: (batch, len, n)`.
pub fn dense_per_token<B: ScanBackend>(
    m: Tensor<B, 3>,
    bias: Tensor<B, 2>,
    tokens: Tensor<B, 2, Int>,
) -> Tensor<B, 3> {
    kleene_scan::dense_recurrence(m, bias, tokens, None)
}

/// One dense step `A h + x` for `a: (batch, n, n)`, `h, x: (batch, n)`.
pub fn dense_step<B: Backend>(a: Tensor<B, 3>, h: Tensor<B, 2>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    let [batch, n] = h.dims();
    a.matmul(h.reshape([batch, n, 1])).reshape([batch, n]) + x
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn_ndarray::NdArray;
    use kleene_scan::diagonal_recurrence;

    type B = NdArray<f32>;

    /// Reference loop for `h[t] = a[t] * h[t-1] + x[t]` along dim 1 (test oracle).
    fn linear_recurrence_sequential<B: Backend>(a: Tensor<B, 3>, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let t = x.dims()[1];
        let mut h = x.clone().narrow(1, 0, 1);
        let mut outs = Vec::with_capacity(t);
        outs.push(h.clone());
        for i in 1..t {
            h = a.clone().narrow(1, i, 1) * h + x.clone().narrow(1, i, 1);
            outs.push(h.clone());
        }
        Tensor::cat(outs, 1)
    }

    #[test]
    fn chunk_scan_matches_loop() {
        let device = Default::default();
        let a = Tensor::<B, 3>::random([2, 9, 3], Distribution::Uniform(-1.0, 1.0), &device);
        let x = Tensor::<B, 3>::random([2, 9, 3], Distribution::Normal(0.0, 1.0), &device);
        let p = diagonal_recurrence(a.clone(), x.clone(), None)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let s = linear_recurrence_sequential(a.clone(), x.clone())
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let av = a.into_data().to_vec::<f32>().unwrap();
        let xv = x.into_data().to_vec::<f32>().unwrap();
        for b in 0..2 {
            for c in 0..3 {
                let mut h = 0.0f64;
                for t in 0..9 {
                    let i = (b * 9 + t) * 3 + c;
                    h = av[i] as f64 * h + xv[i] as f64;
                    assert!((p[i] as f64 - h).abs() < 1e-5);
                    assert!((s[i] as f64 - h).abs() < 1e-5);
                }
            }
        }
    }
}
