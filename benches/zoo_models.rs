//! Forward + backward of kleene-zoo models on ndarray (autodiff), one training-step's worth of
//! model work (no optimizer):
//! - Mamba: d_model 64, 2 layers (d_state 16, d_conv 4, expand 2), batch 32, length 256;
//! - SD-SSM: N 64, K 8, p 1.2, vocab 3 (parity + query), batch 32, length 256.
//!
//! `cargo bench --bench zoo_models` (see docs/benchmarks.md for the recorded numbers).

use burn::backend::Autodiff;
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use criterion::{criterion_group, criterion_main, Criterion};
use kleene_zoo::{MambaConfig, ModelConfig, SdSsmConfig, SequenceModel};
use rand::{Rng, SeedableRng};

type Nd = burn_ndarray::NdArray<f32>;
type Ad = Autodiff<Nd>;

const BATCH: usize = 32;
const LEN: usize = 256;

fn bench_model(c: &mut Criterion, name: &str, cfg: ModelConfig, vocab: usize, out: usize) {
    let device = Default::default();
    Ad::seed(&device, 0);
    let model = cfg.init::<Ad>(vocab, out, &device).expect("valid config");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let ids: Vec<i64> = (0..BATCH * LEN)
        .map(|_| rng.random_range(0..vocab as i64))
        .collect();
    let tokens = Tensor::<Ad, 2, Int>::from_data(TensorData::new(ids, [BATCH, LEN]), &device);
    let weights =
        Tensor::<Ad, 3>::random([BATCH, LEN, out], Distribution::Normal(0.0, 1.0), &device);
    c.bench_function(name, |b| {
        b.iter(|| {
            let y = model.forward(tokens.clone());
            let grads = (y * weights.clone()).sum().backward();
            std::hint::black_box(grads);
        })
    });
}

fn zoo_models(c: &mut Criterion) {
    // Recycle op buffers instead of mapping them per op (see kleene_train::alloc).
    kleene::train::alloc::tune_cpu_allocator();
    let mamba = ModelConfig::Mamba(MambaConfig {
        d_model: 64,
        n_layers: 2,
        ..MambaConfig::default()
    });
    bench_model(c, "mamba_d64_l2_fwd_bwd_b32_len256", mamba, 16, 16);
    let sdssm = ModelConfig::Sdssm(SdSsmConfig {
        state_size: 64,
        num_transition_matrices: 8,
        ..SdSsmConfig::default()
    });
    bench_model(c, "sdssm_n64_k8_fwd_bwd_b32_len256", sdssm, 3, 2);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = zoo_models
}
criterion_main!(benches);
