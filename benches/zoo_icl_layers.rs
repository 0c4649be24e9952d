//! ICL-zoo layers (kleene-zoo part 2): one forward + backward per layer at d_model 64,
//! L 512, batch 8 on `Autodiff<NdArray<f32>>`, and the chunked (linear-time) forms of
//! RetNet, GLA and linear attention and the RWKV scan at L = 512, 2048, 8192, 32768, and the
//! REGBENCH LSTM loop at L = 512, 2048, 8192 (batch 2).
//!
//! The length-scaling groups (`*_scaling_*`) report **process CPU time** (all threads,
//! `CLOCK_PROCESS_CPUTIME_ID`), not wall time: on a shared machine the time spent waiting for
//! a core otherwise swamps the ratios. Run them with `RAYON_NUM_THREADS=1` so that CPU time
//! is the work done (idle rayon workers spin).
//!
//! Run: `RAYON_NUM_THREADS=1 cargo bench --bench zoo_icl_layers` (see docs/benchmarks.md).

use std::time::Duration;

use burn::backend::Autodiff;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn_ndarray::NdArray;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

mod cpu_time;
use cpu_time::iter_cpu;

use kleene_zoo::layers::*;
use kleene_zoo::SequenceLayer;

type AD = Autodiff<NdArray<f32>>;

const D_MODEL: usize = 64;

fn fwd_bwd<L: SequenceLayer<AD>>(layer: &L, x: &Tensor<AD, 3>) {
    let y = layer.forward(x.clone());
    let grads = y.sum().backward();
    std::hint::black_box(grads);
}

fn input(batch: usize, len: usize) -> Tensor<AD, 3> {
    Tensor::random(
        [batch, len, D_MODEL],
        Distribution::Normal(0.0, 1.0),
        &Default::default(),
    )
    .require_grad()
}

fn layers(c: &mut Criterion) {
    // Recycle op buffers instead of mapping them per op (see kleene_train::alloc).
    kleene::train::alloc::tune_cpu_allocator();
    let device = Default::default();
    let x = input(8, 512);
    let mut group = c.benchmark_group("icl_fwd_bwd_d64_L512_B8");
    // Mamba and attention are timed inside their models by `benches/zoo_models.rs`.
    for &name in MixerConfig::NAMES
        .iter()
        .filter(|n| !matches!(**n, "mamba" | "attention"))
    {
        let mut cfg = MixerConfig::default_for(name).unwrap();
        if let MixerConfig::Retnet(r) = &mut cfg {
            r.n_heads = 2;
        }
        let mixer = cfg.init::<AD>(D_MODEL, 2, &device).unwrap();
        group.bench_function(name, |b| b.iter(|| fwd_bwd(&mixer, &x)));
    }
    let retnet_chunked = RetentionConfig {
        n_heads: 2,
        form: RetentionForm::Chunked,
        chunk_size: 64,
    }
    .init::<AD>(D_MODEL, 2, &device)
    .unwrap();
    group.bench_function("retnet_chunked", |b| {
        b.iter(|| fwd_bwd(&retnet_chunked, &x))
    });
    let linear_chunked = LinearAttentionConfig {
        form: LinearAttentionForm::Chunked,
        ..Default::default()
    }
    .init::<AD>(D_MODEL, 2, &device)
    .unwrap();
    group.bench_function("linear_attention_chunked", |b| {
        b.iter(|| fwd_bwd(&linear_chunked, &x))
    });
    group.finish();
}

fn chunked_scaling(c: &mut Criterion) {
    // Recycle op buffers instead of mapping them per op (see kleene_train::alloc).
    kleene::train::alloc::tune_cpu_allocator();
    let device = Default::default();
    let retnet = RetentionConfig {
        n_heads: 2,
        form: RetentionForm::Chunked,
        chunk_size: 64,
    }
    .init::<AD>(D_MODEL, 2, &device)
    .unwrap();
    let gla = GlaConfig::default()
        .init::<AD>(D_MODEL, 2, &device)
        .unwrap();
    let linear = LinearAttentionConfig {
        form: LinearAttentionForm::Chunked,
        ..Default::default()
    }
    .init::<AD>(D_MODEL, 2, &device)
    .unwrap();
    let mut group = c.benchmark_group("icl_chunked_scaling_cputime_d64_B2");
    // 32768 as well: up to 2048 the working set still fits in the last-level cache, so the
    // 512 -> 2048 ratio mixes the algorithm with the cache (see docs/benchmarks.md).
    for len in [512usize, 2048, 8192, 32768] {
        let x = input(2, len);
        group.bench_with_input(BenchmarkId::new("retnet_chunked", len), &x, |b, x| {
            iter_cpu(b, || fwd_bwd(&retnet, x))
        });
        group.bench_with_input(BenchmarkId::new("gla_chunked", len), &x, |b, x| {
            iter_cpu(b, || fwd_bwd(&gla, x))
        });
        group.bench_with_input(
            BenchmarkId::new("linear_attention_chunked", len),
            &x,
            |b, x| iter_cpu(b, || fwd_bwd(&linear, x)),
        );
    }
    group.finish();
}

/// RWKV (parallel scan) and the REGBENCH LSTM (a loop over time, O(L log L) backward from the
/// step split) against length.
fn recurrent_scaling(c: &mut Criterion) {
    // Recycle op buffers instead of mapping them per op (see kleene_train::alloc).
    kleene::train::alloc::tune_cpu_allocator();
    let device = Default::default();
    let rwkv = RwkvConfig::default()
        .init::<AD>(D_MODEL, 2, &device)
        .unwrap();
    let lstm = LstmMixerConfig::default()
        .init::<AD>(D_MODEL, 2, &device)
        .unwrap();
    let mut group = c.benchmark_group("icl_recurrent_scaling_cputime_d64_B2");
    for len in [512usize, 2048, 8192, 32768] {
        let x = input(2, len);
        group.bench_with_input(BenchmarkId::new("rwkv", len), &x, |b, x| {
            iter_cpu(b, || fwd_bwd(&rwkv, x))
        });
        // ~1 ms per step on the build machine: 32768 steps would take minutes per sample.
        if len <= 8192 {
            group.bench_with_input(BenchmarkId::new("lstm", len), &x, |b, x| {
                iter_cpu(b, || fwd_bwd(&lstm, x))
            });
        }
    }
    group.finish();
}

/// Forward only (no autodiff) of the same chunked layers: separates the algorithm's scaling
/// from the cost of Burn's CPU autodiff backward.
fn chunked_scaling_forward(c: &mut Criterion) {
    // Recycle op buffers instead of mapping them per op (see kleene_train::alloc).
    kleene::train::alloc::tune_cpu_allocator();
    type Bk = NdArray<f32>;
    let device = Default::default();
    let retnet = RetentionConfig {
        n_heads: 2,
        form: RetentionForm::Chunked,
        chunk_size: 64,
    }
    .init::<Bk>(D_MODEL, 2, &device)
    .unwrap();
    let gla = GlaConfig::default()
        .init::<Bk>(D_MODEL, 2, &device)
        .unwrap();
    let linear = LinearAttentionConfig {
        form: LinearAttentionForm::Chunked,
        ..Default::default()
    }
    .init::<Bk>(D_MODEL, 2, &device)
    .unwrap();
    let mut group = c.benchmark_group("icl_chunked_scaling_forward_cputime_d64_B2");
    for len in [512usize, 2048, 8192, 32768] {
        let x = Tensor::<Bk, 3>::random([2, len, D_MODEL], Distribution::Normal(0.0, 1.0), &device);
        group.bench_with_input(BenchmarkId::new("retnet_chunked", len), &x, |b, x| {
            iter_cpu(b, || {
                std::hint::black_box(retnet.forward(x.clone()));
            })
        });
        group.bench_with_input(BenchmarkId::new("gla_chunked", len), &x, |b, x| {
            iter_cpu(b, || {
                std::hint::black_box(gla.forward(x.clone()));
            })
        });
        group.bench_with_input(
            BenchmarkId::new("linear_attention_chunked", len),
            &x,
            |b, x| {
                iter_cpu(b, || {
                    std::hint::black_box(linear.forward(x.clone()));
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = layers, chunked_scaling, recurrent_scaling, chunked_scaling_forward
}
criterion_main!(benches);
