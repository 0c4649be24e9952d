//! The delta-rule mixers (DeltaNet, Gated DeltaNet, Gated DeltaProduct; issue 14), Mamba-2,
//! PD-SSM and the xLSTM mixers (sLSTM, mLSTM; issue 15) against the Mamba mixer at the same size: one forward + backward at d_model 64, L 512, batch 8 on
//! `Autodiff<NdArray<f32>>` (goal: within 2x Mamba), and the same against length, L = 512,
//! 2048, 8192 at batch 1 (goal: linear), in **process CPU time** (all threads,
//! `CLOCK_PROCESS_CPUTIME_ID`; run with `RAYON_NUM_THREADS=1` so CPU time is the work done).
//! Also the op alone: kleene-scan's delta rule (forward + hand-written backward) against Burn's
//! autodiff of the tensor-op reference.
//!
//! Run: `RAYON_NUM_THREADS=1 cargo bench --bench zoo_delta_layers` (see docs/benchmarks.md).

use burn::backend::Autodiff;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn_ndarray::NdArray;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

mod cpu_time;
use cpu_time::iter_cpu;

use kleene_scan::delta::reference;
use kleene_scan::{delta_rule, DeltaRuleInput};
use kleene_zoo::layers::*;
use kleene_zoo::SequenceLayer;

type AD = Autodiff<NdArray<f32>>;

const D_MODEL: usize = 64;

fn fwd_bwd<L: SequenceLayer<AD>>(layer: &L, x: &Tensor<AD, 3>) {
    let grads = layer.forward(x.clone()).sum().backward();
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

/// Mamba (the anchor), every delta-rule mixer, Mamba-2, PD-SSM and the xLSTM mixers (issue 15)
/// with their defaults at width 64.
fn mixers() -> Vec<(&'static str, Mixer<AD>)> {
    let device = Default::default();
    [
        "mamba",
        "delta_net",
        "gated_delta_net",
        "gated_delta_product",
        "mamba2",
        "pd_ssm",
        "slstm",
        "mlstm",
    ]
    .into_iter()
    .map(|name| {
        let cfg = MixerConfig::default_for(name).unwrap();
        (name, cfg.init::<AD>(D_MODEL, 2, &device).unwrap())
    })
    .collect()
}

fn layers(c: &mut Criterion) {
    kleene::train::alloc::tune_cpu_allocator();
    let x = input(8, 512);
    let mut group = c.benchmark_group("delta_fwd_bwd_cputime_d64_L512_B8");
    for (name, mixer) in mixers() {
        group.bench_function(name, |b| iter_cpu(b, || fwd_bwd(&mixer, &x)));
    }
    group.finish();
}

fn scaling(c: &mut Criterion) {
    kleene::train::alloc::tune_cpu_allocator();
    let mut group = c.benchmark_group("delta_scaling_cputime_d64_B1");
    group.sample_size(10);
    let mixers = mixers();
    for len in [512usize, 2048, 8192] {
        let x = input(1, len);
        for (name, mixer) in &mixers {
            // mLSTM's parallel form is O(L²) per head (4 × 8192² floats per matrix: GBs).
            if *name == "mlstm" && len > 2048 {
                continue;
            }
            group.bench_with_input(BenchmarkId::new(*name, len), &x, |b, x| {
                iter_cpu(b, || fwd_bwd(mixer, x))
            });
        }
    }
    group.finish();
}

/// The op alone, B 8, H 4, L 512, dk = dv = 16 (DeltaNet's heads at d 64), forward + backward.
fn op(c: &mut Criterion) {
    kleene::train::alloc::tune_cpu_allocator();
    let device = Default::default();
    let r = |d: [usize; 4]| -> Tensor<AD, 4> {
        Tensor::random(d, Distribution::Uniform(-0.5, 0.5), &device).require_grad()
    };
    let s = [8, 4, 512, 16];
    let input = DeltaRuleInput {
        q: r(s),
        k: r(s),
        v: r(s),
        a: r(s),
        b: r(s),
        w: Some(r(s).abs().neg().exp()),
        initial_state: None,
    };
    let mut group = c.benchmark_group("delta_rule_op_cputime_B8_H4_L512_K16_V16");
    group.sample_size(10);
    group.bench_function("kleene_scan", |b| {
        iter_cpu(b, || {
            let (o, _) = delta_rule(input.clone());
            std::hint::black_box(o.sum().backward());
        })
    });
    group.bench_function("tensor_op_reference", |b| {
        iter_cpu(b, || {
            let (o, _) = reference::delta_rule(input.clone());
            std::hint::black_box(o.sum().backward());
        })
    });
    group.finish();
}

criterion_group!(benches, layers, scaling, op);
criterion_main!(benches);
