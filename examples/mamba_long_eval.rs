//! Streams one sequence of 100,000 tokens through a Mamba model in recurrent mode (one
//! `step` per token, constant-size state) and prints the peak resident memory (VmHWM) after
//! 10^3, 10^4 and 10^5 tokens: it stays flat, i.e. memory does not grow with the length.
//!
//! `cargo run --release --example mamba_long_eval [-- d_model n_layers]`
//! (default: d_model 64, 2 layers, the benchmark size; weights random, as evaluation
//! cost does not depend on their values).

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use kleene_zoo::{MambaConfig, ModelConfig, SequenceModel};
use rand::{Rng, SeedableRng};

type Nd = burn_ndarray::NdArray<f32>;

/// Peak resident set size in KiB (`VmHWM` of /proc/self/status); `None` off Linux.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let d_model = args.first().copied().unwrap_or(64);
    let n_layers = args.get(1).copied().unwrap_or(2);
    let vocab = 16;
    let device = Default::default();
    Nd::seed(&device, 0);
    let cfg = ModelConfig::Mamba(MambaConfig {
        d_model,
        n_layers,
        ..MambaConfig::default()
    });
    let model = cfg.init::<Nd>(vocab, vocab, &device).expect("valid config");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut state = model.init_state(1, &device);
    let checkpoints = [1_000usize, 10_000, 100_000];
    let start = Instant::now();
    println!("Mamba d_model {d_model}, {n_layers} layers, recurrent mode, batch 1");
    println!("peak RSS before streaming: {:?} KiB", peak_rss_kib());
    let mut checksum = 0f64;
    for t in 1..=checkpoints[checkpoints.len() - 1] {
        let token = Tensor::<Nd, 1, Int>::from_data(
            TensorData::new(vec![rng.random_range(0..vocab as i64)], [1]),
            &device,
        );
        let (y, s) = model.step(token, state);
        state = s;
        if checkpoints.contains(&t) {
            checksum += y.into_data().convert::<f32>().to_vec::<f32>().unwrap()[0] as f64;
            println!(
                "after {t:>6} tokens: peak RSS {:>8} KiB, {:.1} s elapsed, {:.1} µs/token",
                peak_rss_kib().map_or("n/a".into(), |v| v.to_string()),
                start.elapsed().as_secs_f64(),
                start.elapsed().as_secs_f64() * 1e6 / t as f64,
            );
        }
    }
    println!("(checksum {checksum:.6})");
}
