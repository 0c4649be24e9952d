//! Training throughput (tokens/s) of one full step — forward, per-position cross-entropy,
//! backward, AdamW — on NdArray (CPU) for Mamba (d_model 64, 2 layers) and SD-SSM, batch 32,
//! lengths 64..1024. Goal: >= 10x a plain PyTorch Mamba-1 with a sequential scan
//! (~5,100 tokens/s at L = 64 on this machine), flat in L.
//!
//!     cargo bench --bench train_throughput
//!     cargo bench --bench train_throughput --features flex   # adds burn-flex groups

use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kleene::scan::ScanBackend;
use kleene::train::loss::{loss, scored_rows, LossKind, RowTargets};
use kleene::train::run::CpuBackend;
use kleene::zoo::{ModelConfig, SequenceModel};
use rand::{Rng, SeedableRng};

const BATCH: usize = 32;
const VOCAB: usize = 8;
const CLASSES: usize = 4;

/// One group `train_step/{name}` (NdArray) or `train_step/{backend}/{name}` per model.
/// The backend must be eager (NdArray, burn-flex): the step has finished when `step` returns.
fn step_bench<B: AutodiffBackend + ScanBackend>(
    c: &mut Criterion,
    name: &str,
    model_toml: &str,
    lengths: &[usize],
) {
    kleene::train::alloc::tune_cpu_allocator();
    let device = Default::default();
    let mut group = c.benchmark_group(format!("train_step/{name}"));
    group.sample_size(10);
    for &len in lengths {
        B::seed(&device, 0);
        let cfg = ModelConfig::from_toml_str(model_toml).unwrap();
        let mut model = cfg.init::<B>(VOCAB, CLASSES, &device).unwrap();
        let mut optim = AdamWConfig::new().init::<B, _>();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(len as u64);
        let tokens: Vec<i64> = (0..BATCH * len)
            .map(|_| rng.random_range(0..VOCAB as i64))
            .collect();
        let classes: Vec<i64> = (0..BATCH * len)
            .map(|_| rng.random_range(0..CLASSES as i64))
            .collect();
        let n = BATCH * len;
        let tok = Tensor::<B, 2, Int>::from_data(TensorData::new(tokens, [BATCH, len]), &device);
        let targets = RowTargets::<B> {
            rows: Tensor::from_data(
                TensorData::new((0..n as i64).collect::<Vec<_>>(), [n]),
                &device,
            ),
            classes: Tensor::from_data(TensorData::new(classes, [n]), &device),
            dense: None,
        };
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::from_parameter(len), |b| {
            b.iter(|| {
                let x = scored_rows(model.forward(tok.clone()), targets.rows.clone());
                let l = loss(LossKind::CrossEntropy, x, &targets);
                let grads = GradientsParams::from_grads(l.backward(), &model);
                model = optim.step(1e-4, model.clone(), grads);
            })
        });
    }
    group.finish();
}

const MAMBA: &str = "kind = \"mamba\"\nd_model = 64\nn_layers = 2\n";
const SDSSM: &str = "kind = \"sdssm\"\n";
const LENGTHS: [usize; 3] = [64, 256, 1024];

fn benches(c: &mut Criterion) {
    step_bench::<CpuBackend>(c, "mamba_d64_l2", MAMBA, &LENGTHS);
    step_bench::<CpuBackend>(c, "sdssm_n64_k8", SDSSM, &LENGTHS);
    #[cfg(feature = "flex")]
    {
        use kleene::train::run::FlexBackend;
        step_bench::<FlexBackend>(c, "flex/mamba_d64_l2", MAMBA, &LENGTHS);
        step_bench::<FlexBackend>(c, "flex/sdssm_n64_k8", SDSSM, &LENGTHS);
    }
}

criterion_group!(train_throughput, benches);
criterion_main!(train_throughput);
