//! GPU benchmark of the selective-scan kernels (and the delta-rule kernels, time and bytes/s of
//! their inputs and outputs) on burn-cuda (non-fused `CubeBackend<CudaRuntime>`):
//! for fp32 and bf16 I/O, forward and backward, prints the time per call, the achieved bytes/s of
//! compulsory HBM traffic and the fraction of the H100 roofline of
//! `shared/spec/selective-scan-kernel.md` §4.5 (floor = max(memory at 3.35 TB/s, exp at 4.2e12/s)).
//!
//! `cargo run --release --features cuda --example scan_gpu_bench [-- iters]`
//! (needs an NVIDIA GPU; see docs/benchmarks.md for recorded results).

use std::time::Instant;

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, FloatDType, Tensor, TensorPrimitive};
use kleene_scan::cube::Cuda;
use kleene_scan::{DeltaRuleBackend, DeltaRulePrimitives, ScanBackend, SelectiveScanPrimitives};

const HBM_BYTES_PER_S: f64 = 3.35e12;
const EXP_PER_S: f64 = 4.2e12;

fn prim<B: Backend, const D: usize>(
    t: Tensor<B, D>,
    dtype: FloatDType,
) -> burn::tensor::ops::FloatTensor<B> {
    t.cast(dtype).into_primitive().tensor()
}

fn inputs<B: ScanBackend>(
    b: usize,
    l: usize,
    d: usize,
    n: usize,
    dtype: FloatDType,
    dev: &B::Device,
) -> SelectiveScanPrimitives<B> {
    let r = |shape: [usize; 3], lo, hi| {
        Tensor::<B, 3>::random(shape, Distribution::Uniform(lo, hi), dev)
    };
    SelectiveScanPrimitives {
        u: prim(r([b, d, l], -1.0, 1.0), dtype),
        delta: prim(r([b, d, l], -4.5, -2.0), dtype),
        a: prim(
            Tensor::<B, 2>::random([d, n], Distribution::Uniform(-16.0, -1.0), dev),
            dtype,
        ),
        b: prim(
            Tensor::<B, 4>::random([b, 1, n, l], Distribution::Uniform(-1.0, 1.0), dev),
            dtype,
        ),
        c: prim(
            Tensor::<B, 4>::random([b, 1, n, l], Distribution::Uniform(-1.0, 1.0), dev),
            dtype,
        ),
        d_skip: Some(prim(
            Tensor::<B, 1>::random([d], Distribution::Uniform(0.5, 1.5), dev),
            dtype,
        )),
        z: Some(prim(r([b, d, l], -1.0, 1.0), dtype)),
        delta_bias: Some(prim(
            Tensor::<B, 1>::random([d], Distribution::Uniform(-1.0, 1.0), dev),
            dtype,
        )),
        delta_softplus: true,
        initial_state: None,
        layout: kleene_scan::ScanLayout::ChannelsFirst,
        transition_range: kleene_scan::TransitionRange::ZeroOne,
    }
}

fn time<B: Backend, T>(iters: usize, dev: &B::Device, mut f: impl FnMut() -> T) -> f64 {
    for _ in 0..3 {
        drop(f());
    }
    let _ = B::sync(dev);
    let start = Instant::now();
    for _ in 0..iters {
        drop(f());
    }
    let _ = B::sync(dev);
    start.elapsed().as_secs_f64() / iters as f64
}

fn main() {
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dev = Default::default();
    println!("shape                      dtype pass  time_us   GB/s  floor_us  frac_of_roofline");
    for &(b, l, d, n) in &[
        (8, 2048, 2048, 16),
        (32, 4096, 256, 16),
        (64, 256, 256, 16),
        (2, 256, 512, 64),
    ] {
        for (dtype, size, name) in [
            (FloatDType::F32, 4.0, "fp32"),
            (FloatDType::BF16, 2.0, "bf16"),
        ] {
            let p = inputs::<Cuda>(b, l, d, n, dtype, &dev);
            let elems = (b * l * d) as f64;
            let exps = elems * n as f64;
            let bc_bytes = 2.0 * (b * n * l) as f64 * size;
            // fwd with z: reads u, delta, z; writes out (and B, C once).
            let fwd_bytes = elems * size * 4.0 + bc_bytes;
            // bwd with z: reads u, delta, z, dout; writes du, ddelta, dz (+ B, C, dB, dC).
            let bwd_bytes = elems * size * 7.0 + 2.0 * bc_bytes;
            let t_fwd = time::<Cuda, _>(iters, &dev, || Cuda::selective_scan_forward(p.clone()));
            let out = Cuda::selective_scan_forward(p.clone());
            let grad = Tensor::<Cuda, 1>::from_primitive(TensorPrimitive::Float(out))
                .ones_like()
                .into_primitive()
                .tensor();
            let t_bwd = time::<Cuda, _>(iters, &dev, || {
                Cuda::selective_scan_backward(p.clone(), grad.clone())
            });
            for (pass, t, bytes) in [("fwd", t_fwd, fwd_bytes), ("bwd", t_bwd, bwd_bytes)] {
                let floor = (bytes / HBM_BYTES_PER_S).max(exps / EXP_PER_S);
                println!(
                    "B{b:<3} L{l:<5} D{d:<5} N{n:<3} {name}  {pass}  {:>8.1} {:>6.0} {:>8.1}  {:>5.1}%",
                    t * 1e6,
                    bytes / t / 1e9,
                    floor * 1e6,
                    100.0 * floor / t
                );
            }
        }
    }
    delta_rule(iters, &dev);
}

/// The generalized delta rule (DeltaNet's recurrence), fp32: forward and backward per call and
/// the bytes/s of its compulsory traffic (inputs read, outputs written; the state stays on chip).
fn delta_rule(iters: usize, dev: &<Cuda as burn::tensor::backend::BackendTypes>::Device) {
    println!("\ndelta rule (fp32)          pass  time_us   GB/s");
    for &(b, h, l, k, v) in &[
        (8, 4, 2048, 64, 64),
        (32, 8, 512, 64, 128),
        (8, 4, 512, 16, 16),
    ] {
        let r = |c: usize, lo, hi| {
            prim(
                Tensor::<Cuda, 4>::random([b, h, l, c], Distribution::Uniform(lo, hi), dev),
                FloatDType::F32,
            )
        };
        let p = DeltaRulePrimitives::<Cuda> {
            q: r(k, -0.5, 0.5),
            k: r(k, -0.5, 0.5),
            v: r(v, -0.5, 0.5),
            a: r(k, -0.5, 0.5),
            b: r(k, -0.5, 0.5),
            w: Some(r(k, 0.5, 1.0)),
            initial_state: None,
        };
        let (keys, vals) = ((b * h * l * k) as f64, (b * h * l * v) as f64);
        // fwd: reads q, k, a, b, w, v; writes o. bwd: reads those and do, writes six gradients.
        let fwd_bytes = 4.0 * (5.0 * keys + 2.0 * vals);
        let bwd_bytes = 4.0 * (10.0 * keys + 3.0 * vals);
        let t_fwd = time::<Cuda, _>(iters, dev, || Cuda::delta_rule_forward(p.clone()));
        let out = Cuda::delta_rule_forward(p.clone());
        let grad = Tensor::<Cuda, 1>::from_primitive(TensorPrimitive::Float(out))
            .ones_like()
            .into_primitive()
            .tensor();
        let t_bwd = time::<Cuda, _>(iters, dev, || {
            Cuda::delta_rule_backward(p.clone(), grad.clone())
        });
        for (pass, t, bytes) in [("fwd", t_fwd, fwd_bytes), ("bwd", t_bwd, bwd_bytes)] {
            println!(
                "B{b:<3} H{h:<2} L{l:<5} K{k:<4} V{v:<4} {pass}  {:>8.1} {:>6.0}",
                t * 1e6,
                bytes / t / 1e9
            );
        }
    }
}
