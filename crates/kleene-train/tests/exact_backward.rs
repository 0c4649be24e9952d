//! Bit-reproducible training needs exact backward passes. Burn's division and `log`
//! backward multiply by `float_recip`, which burn-ndarray's `simd` feature computes with the
//! approximate `_mm256_rcp_ps` (about 12 correct bits) on the SIMD-aligned middle of a buffer
//! only, so the gradients depended on the allocation's address. The workspace builds
//! burn-ndarray without `simd`; these tests fail if it comes back.

use burn::backend::Autodiff;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn_ndarray::{NdArray, NdArrayDevice};
use rand::{Rng, SeedableRng};

type B = Autodiff<NdArray<f32>>;

/// Positive random values in [0.5, 4), away from zero.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(0.5f32..4.0)).collect()
}

fn grad_of(x: &[f32], f: impl Fn(Tensor<B, 1>) -> Tensor<B, 1>) -> Vec<f32> {
    let device = NdArrayDevice::Cpu;
    let t =
        Tensor::<B, 1>::from_data(TensorData::new(x.to_vec(), [x.len()]), &device).require_grad();
    let g = f(t.clone()).backward();
    t.grad(&g).unwrap().into_data().to_vec::<f32>().unwrap()
}

#[test]
fn log_and_division_gradients_are_correctly_rounded_reciprocals() {
    // Several lengths and offsets so that buffers start at different alignments.
    for (n, seed) in [(1000, 1), (997, 2), (64, 3), (33, 4)] {
        let x = values(n, seed);
        let exact: Vec<u32> = x.iter().map(|v| (1.0f32 / v).to_bits()).collect();
        let bits = |v: Vec<f32>| v.iter().map(|g| g.to_bits()).collect::<Vec<u32>>();
        // d/dx sum(log x) = 1/x.
        assert_eq!(bits(grad_of(&x, |t| t.log().sum())), exact, "log, n = {n}");
        // d/dy sum(y / x) at y = x: 1/x (the lhs gradient of a division).
        let xs = x.clone();
        let got = grad_of(&x, move |t| {
            let d = Tensor::<B, 1>::from_data(
                TensorData::new(xs.clone(), [xs.len()]),
                &NdArrayDevice::Cpu,
            );
            (t / d).sum()
        });
        assert_eq!(bits(got), exact, "division, n = {n}");
    }
}

#[test]
fn cross_entropy_gradient_is_the_same_every_time() {
    let device = NdArrayDevice::Cpu;
    let (r, c) = (96, 5);
    let x = values(r * c, 9);
    let classes: Vec<i64> = (0..r as i64).map(|i| i * 7 % c as i64).collect();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let t =
            Tensor::<B, 2>::from_data(TensorData::new(x.clone(), [r, c]), &device).require_grad();
        let idx = Tensor::<B, 2, Int>::from_data(TensorData::new(classes.clone(), [r, 1]), &device);
        let loss = log_softmax(t.clone(), 1).gather(1, idx).mean().neg();
        let g = loss.backward();
        let grad = t.grad(&g).unwrap().into_data().to_vec::<f32>().unwrap();
        seen.insert(grad.iter().map(|v| v.to_bits()).collect::<Vec<u32>>());
    }
    assert_eq!(
        seen.len(),
        1,
        "{} different gradients for one input",
        seen.len()
    );
}
