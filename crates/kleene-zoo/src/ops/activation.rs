//! Activations and norms built from tensor ops, so every autodiff backend differentiates
//! them the same way.

use burn::prelude::*;

/// GELU with the erf, `x/2 (1 + erf(x/√2))`, built from tensor ops so that autodiff
/// differentiates it exactly.
///
/// Why not `burn::tensor::activation::gelu`: its forward is exact but Burn 0.21's default
/// `gelu_backward` (used by burn-ndarray, burn-wgpu and burn-cuda) is the derivative of the
/// tanh approximation, off by up to ~1e-3 relative in a model's gradients, while burn-flex
/// implements the exact one: the gradients would depend on the backend.
pub fn gelu_erf<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let cdf = x
        .clone()
        .div_scalar(std::f64::consts::SQRT_2)
        .erf()
        .add_scalar(1.0);
    x * cdf.mul_scalar(0.5)
}

/// LayerNorm over the last dimension without affine parameters.
pub fn layer_norm_plain<B: Backend, const D: usize>(x: Tensor<B, D>, eps: f64) -> Tensor<B, D> {
    let mean = x.clone().mean_dim(D - 1);
    let centred = x - mean;
    let var = (centred.clone() * centred.clone()).mean_dim(D - 1);
    centred / var.add_scalar(eps).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use burn_ndarray::NdArray;

    type B = NdArray<f32>;

    /// `gelu_erf` and its gradient (in f32) against the closed forms in f64:
    /// GELU(x) = x Φ(x), GELU'(x) = Φ(x) + x φ(x), with erf from its Maclaurin series
    /// (converges for every x; to ~1e-15 for |x| <= 4 in f64).
    #[test]
    fn gelu_erf_value_and_gradient_are_exact() {
        // f32, not NdArray<f64>: the device's default float dtype is shared with the f32
        // backend that other tests in this process use.
        type Ad = burn::backend::Autodiff<B>;
        fn erf64(x: f64) -> f64 {
            // Maclaurin series: erf x = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)); converges for all x.
            let (mut term, mut sum, mut n) = (x, x, 0.0f64);
            while term.abs() > 1e-18 * sum.abs().max(1e-300) {
                n += 1.0;
                term *= -x * x / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        }
        let device = Default::default();
        let xs: Vec<f64> = (0..41).map(|i| -4.0 + 0.2 * i as f64 + 0.013).collect();
        let x32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
        let x = Tensor::<Ad, 1>::from_data(TensorData::new(x32.clone(), [xs.len()]), &device)
            .require_grad();
        let y = gelu_erf(x.clone());
        let grad = x.grad(&y.clone().sum().backward()).unwrap();
        let y = y.into_data().to_vec::<f32>().unwrap();
        let g = grad.into_data().to_vec::<f32>().unwrap();
        for (i, &x) in x32.iter().enumerate() {
            let (v, y, g) = (x as f64, y[i] as f64, g[i] as f64);
            let cdf = 0.5 * (1.0 + erf64(v / std::f64::consts::SQRT_2));
            let pdf = (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt();
            assert!(
                (y - v * cdf).abs() < 2e-6,
                "value at {v}: {y} vs {}",
                v * cdf
            );
            // Burn's own gelu backward (tanh form) is off by up to 8.7e-4 here.
            let want = cdf + v * pdf;
            assert!((g - want).abs() < 2e-6, "gradient at {v}: {g} vs {want}");
        }
    }
}
