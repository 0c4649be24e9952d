//! kleene-scan: the fast ops vs the tensor-op reference (`kleene_scan::reference`).
//!
//! `cargo bench --bench scan` (CPU, burn-ndarray); add `--features wgpu` for the CubeCL kernels on
//! burn-wgpu. Results and exact commands: docs/benchmarks.md, section "kleene-scan".

use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Int, Tensor};
use burn_ndarray::NdArray;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kleene_scan::{reference, ScanBackend, SelectiveScanInput};

type Cpu = NdArray<f32>;

/// Random Mamba-like inputs (A = -(1..n), softplus delta around 0.01..0.1).
fn ss_input<B: ScanBackend>(
    batch: usize,
    d: usize,
    len: usize,
    n: usize,
    dev: &B::Device,
) -> SelectiveScanInput<B> {
    let uni = |shape: Vec<usize>, lo, hi| {
        Tensor::<B, 1>::random(
            [shape.iter().product::<usize>()],
            Distribution::Uniform(lo, hi),
            dev,
        )
    };
    SelectiveScanInput {
        u: uni(vec![batch, d, len], -1.0, 1.0).reshape([batch, d, len]),
        delta: uni(vec![batch, d, len], -4.5, -2.0).reshape([batch, d, len]),
        a: (uni(vec![d, n], 1.0, n as f64).reshape([d, n]) * -1.0),
        b: uni(vec![batch, 1, n, len], -1.0, 1.0).reshape([batch, 1, n, len]),
        c: uni(vec![batch, 1, n, len], -1.0, 1.0).reshape([batch, 1, n, len]),
        d_skip: Some(uni(vec![d], 0.5, 1.5).reshape([d])),
        z: Some(uni(vec![batch, d, len], -1.0, 1.0).reshape([batch, d, len])),
        delta_bias: Some(uni(vec![d], -1.0, 1.0).reshape([d])),
        delta_softplus: true,
        initial_state: None,
        layout: kleene_scan::ScanLayout::ChannelsFirst,
        transition_range: kleene_scan::TransitionRange::ZeroOne,
    }
}

fn require_grad<B: burn::tensor::backend::AutodiffBackend + ScanBackend>(
    i: SelectiveScanInput<B>,
) -> SelectiveScanInput<B> {
    SelectiveScanInput {
        u: i.u.require_grad(),
        delta: i.delta.require_grad(),
        a: i.a.require_grad(),
        b: i.b.require_grad(),
        c: i.c.require_grad(),
        d_skip: i.d_skip.map(|t| t.require_grad()),
        z: i.z.map(|t| t.require_grad()),
        delta_bias: i.delta_bias.map(|t| t.require_grad()),
        ..i
    }
}

fn sync<B: Backend>(t: Tensor<B, 3>) -> f32 {
    // Reading one value forces lazy backends to finish. (Reading a whole gradient back instead
    // timed burn-ndarray's element-wise copy of a shared tensor, ~0.1 s at B8 L1024 D256.)
    use burn::tensor::ElementConversion;
    t.slice([0..1, 0..1, 0..1]).into_scalar().elem::<f32>()
}

fn label(b: usize, l: usize, d: usize, n: usize) -> String {
    format!("B{b}_L{l}_D{d}_N{n}")
}

fn selective_scan_cpu(c: &mut Criterion) {
    let dev = Default::default();
    let mut g = c.benchmark_group("selective_scan_fwd/ndarray");
    g.sample_size(10);
    for &(b, l, d, n) in &[
        (8, 1024, 256, 16),
        (2, 256, 64, 16),
        (1, 8192, 64, 16),
        (4, 256, 64, 64),
    ] {
        let inp = ss_input::<Cpu>(b, d, l, n, &dev);
        g.bench_with_input(
            BenchmarkId::new("kernel", label(b, l, d, n)),
            &inp,
            |bench, inp| bench.iter(|| sync(kleene_scan::selective_scan(inp.clone()).0)),
        );
        g.bench_with_input(
            BenchmarkId::new("reference", label(b, l, d, n)),
            &inp,
            |bench, inp| bench.iter(|| sync(reference::selective_scan(inp.clone()).0)),
        );
    }
    g.finish();

    let mut g = c.benchmark_group("selective_scan_fwd_bwd/ndarray");
    g.sample_size(10);
    for &(b, l, d, n) in &[(8, 1024, 256, 16), (2, 256, 64, 16)] {
        let inp = require_grad(ss_input::<Autodiff<Cpu>>(b, d, l, n, &dev));
        g.bench_with_input(
            BenchmarkId::new("kernel", label(b, l, d, n)),
            &inp,
            |bench, inp| {
                bench.iter(|| {
                    let grads = kleene_scan::selective_scan(inp.clone()).0.sum().backward();
                    inp.u.grad(&grads).map(sync)
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("reference", label(b, l, d, n)),
            &inp,
            |bench, inp| {
                bench.iter(|| {
                    let grads = reference::selective_scan(inp.clone()).0.sum().backward();
                    inp.u.grad(&grads).map(sync)
                })
            },
        );
    }
    g.finish();
}

/// The same fwd+bwd at a Mamba training shape (d_model 64: 128 channels) with the activations
/// channels-last, as a model has them: the channels-last kernel, against swapping them to
/// channels-first views for the channels-first kernel (what a Mamba block did before).
fn selective_scan_layouts_cpu(c: &mut Criterion) {
    type Ad = Autodiff<Cpu>;
    let dev = Default::default();
    let mut g = c.benchmark_group("selective_scan_fwd_bwd_layout/ndarray");
    g.sample_size(10);
    let (b, l, d, n) = (32, 1024, 128, 16);
    let cf = ss_input::<Ad>(b, d, l, n, &dev);
    // Materialised channels-last copies (contiguous, like a Linear's output).
    fn owned<const D: usize>(t: Tensor<Ad, D>) -> Tensor<Ad, D> {
        Tensor::from_data(t.into_data(), &Default::default())
    }
    let x = |t: Tensor<Ad, 3>| owned(t.swap_dims(1, 2));
    let bc = |t: Tensor<Ad, 4>| owned(t.permute([0, 3, 1, 2]));
    let cl = require_grad(SelectiveScanInput {
        u: x(cf.u.clone()),
        delta: x(cf.delta.clone()),
        b: bc(cf.b.clone()),
        c: bc(cf.c.clone()),
        z: cf.z.clone().map(x),
        layout: kleene_scan::ScanLayout::ChannelsLast,
        ..cf.clone()
    });
    g.bench_function(
        BenchmarkId::new("channels_last_kernel", label(b, l, d, n)),
        |bench| {
            bench.iter(|| {
                let grads = kleene_scan::selective_scan(cl.clone()).0.sum().backward();
                cl.u.grad(&grads).map(sync)
            })
        },
    );
    g.bench_function(
        BenchmarkId::new("channels_first_kernel_on_swapped_views", label(b, l, d, n)),
        |bench| {
            bench.iter(|| {
                let cf_views = SelectiveScanInput {
                    layout: kleene_scan::ScanLayout::ChannelsFirst,
                    ..cl.clone().into_channels_first()
                };
                let out = kleene_scan::selective_scan(cf_views).0.swap_dims(1, 2);
                let grads = out.sum().backward();
                cl.u.grad(&grads).map(sync)
            })
        },
    );
    g.finish();
}

fn recurrences_cpu(c: &mut Criterion) {
    let dev = Default::default();
    let (b, l, dim) = (8, 1024, 256);
    let a = Tensor::<Cpu, 3>::random([b, l, dim], Distribution::Uniform(0.5, 0.99), &dev);
    let x = Tensor::<Cpu, 3>::random([b, l, dim], Distribution::Uniform(-1.0, 1.0), &dev);
    let mut g = c.benchmark_group("diagonal_recurrence_fwd/ndarray");
    g.sample_size(10);
    let id = format!("B{b}_L{l}_D{dim}");
    g.bench_function(BenchmarkId::new("kernel", &id), |bench| {
        bench.iter(|| sync(kleene_scan::diagonal_recurrence(a.clone(), x.clone(), None)))
    });
    g.bench_function(BenchmarkId::new("reference", &id), |bench| {
        bench.iter(|| sync(reference::diagonal_recurrence(a.clone(), x.clone(), None)))
    });
    g.finish();

    let (vocab, n, b, l) = (4, 64, 32, 256);
    let m = Tensor::<Cpu, 3>::random([vocab, n, n], Distribution::Uniform(-0.12, 0.12), &dev);
    let bias = Tensor::<Cpu, 2>::random([vocab, n], Distribution::Uniform(-1.0, 1.0), &dev);
    let toks =
        Tensor::<Cpu, 2, Int>::random([b, l], Distribution::Uniform(0.0, vocab as f64), &dev);
    let mut g = c.benchmark_group("dense_recurrence_fwd/ndarray");
    g.sample_size(10);
    let id = format!("V{vocab}_N{n}_B{b}_L{l}");
    g.bench_function(BenchmarkId::new("kernel", &id), |bench| {
        bench.iter(|| {
            sync(kleene_scan::dense_recurrence(
                m.clone(),
                bias.clone(),
                toks.clone(),
                None,
            ))
        })
    });
    g.bench_function(BenchmarkId::new("reference", &id), |bench| {
        bench.iter(|| {
            sync(reference::dense_recurrence(
                m.clone(),
                bias.clone(),
                toks.clone(),
                None,
            ))
        })
    });
    g.finish();
}

#[cfg(feature = "wgpu")]
fn selective_scan_wgpu(c: &mut Criterion) {
    type Gpu = kleene_scan::cube::Wgpu;
    let dev = Default::default();
    let mut g = c.benchmark_group("selective_scan_fwd/wgpu");
    g.sample_size(10);
    for &(b, l, d, n) in &[(2, 256, 64, 16), (1, 1024, 32, 16)] {
        let inp = ss_input::<Gpu>(b, d, l, n, &dev);
        g.bench_with_input(
            BenchmarkId::new("kernel", label(b, l, d, n)),
            &inp,
            |bench, inp| bench.iter(|| sync(kleene_scan::selective_scan(inp.clone()).0)),
        );
        g.bench_with_input(
            BenchmarkId::new("reference", label(b, l, d, n)),
            &inp,
            |bench, inp| bench.iter(|| sync(reference::selective_scan(inp.clone()).0)),
        );
    }
    g.finish();
}

#[cfg(feature = "wgpu")]
criterion_group!(
    benches,
    selective_scan_cpu,
    selective_scan_layouts_cpu,
    recurrences_cpu,
    selective_scan_wgpu
);
#[cfg(not(feature = "wgpu"))]
criterion_group!(
    benches,
    selective_scan_cpu,
    selective_scan_layouts_cpu,
    recurrences_cpu
);
criterion_main!(benches);
