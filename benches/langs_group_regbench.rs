//! Generation throughput of the SD-SSM group tasks (A5) and REGBENCH, in strings/s and
//! symbols/s. Run:
//! `CARGO_TARGET_DIR=/work/target cargo bench --bench langs_group_regbench -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use kleene::langs::regbench::{InContextNGram, Regbench, RegbenchConfig};
use kleene::langs::regular::{self, RegularConfig};
use kleene::langs::{SplitSpec, Task};

fn count_symbols(examples: &[kleene::langs::Example]) -> u64 {
    examples.iter().map(|e| e.tokens.len() as u64).sum()
}

fn bench_a5(c: &mut Criterion) {
    let task = regular::task_from_name("a5", RegularConfig::default()).unwrap();
    let workloads = [
        (
            "train_len_1_40",
            SplitSpec {
                name: "train".into(),
                min_len: 1,
                max_len: 40,
                size: 10_000,
            },
        ),
        (
            "test_len_500",
            SplitSpec {
                name: "test-500".into(),
                min_len: 500,
                max_len: 500,
                size: 512,
            },
        ),
    ];
    let mut group = c.benchmark_group("a5");
    for (label, split) in &workloads {
        let symbols = count_symbols(&task.generate_split(split, 0).unwrap());
        group.throughput(Throughput::Elements(split.size as u64));
        group.bench_function(format!("{label}/strings"), |b| {
            b.iter(|| black_box(task.generate_split(split, 0).unwrap()))
        });
        group.throughput(Throughput::Elements(symbols));
        group.bench_function(format!("{label}/symbols"), |b| {
            b.iter(|| black_box(task.generate_split(split, 0).unwrap()))
        });
    }
    group.finish();
}

fn bench_regbench(c: &mut Criterion) {
    // 1000 training problems out of a deduplicated pool of 2000 DFAs (train + test + val).
    let config = RegbenchConfig {
        num_examples: 1000,
        num_test_examples: 1000,
        ..RegbenchConfig::default()
    };
    let task = Regbench::new(config.clone()).unwrap();
    // A fresh task per iteration: `Regbench` caches the DFA pool of the last seed, and
    // the measurement should include sampling it.
    let fresh = || Regbench::new(config.clone()).unwrap();
    let train = task
        .splits()
        .into_iter()
        .find(|s| s.name == "train")
        .unwrap();
    let symbols = count_symbols(&task.generate_split(&train, 0).unwrap());
    let mut group = c.benchmark_group("regbench");
    group.sample_size(10);
    group.throughput(Throughput::Elements(train.size as u64));
    group.bench_function("train_1k/problems", |b| {
        b.iter(|| black_box(fresh().generate_split(&train, 0).unwrap()))
    });
    group.throughput(Throughput::Elements(symbols));
    group.bench_function("train_1k/symbols", |b| {
        b.iter(|| black_box(fresh().generate_split(&train, 0).unwrap()))
    });
    // DFA sampling + minimisation + canonical dedup alone (2000 languages).
    group.throughput(Throughput::Elements(2000));
    group.bench_function("dfa_pool_2k/dfas", |b| {
        b.iter(|| black_box(task.dfa_pool(0).unwrap()))
    });
    // In-context 3-gram baseline over 100 test problems.
    let test = SplitSpec {
        size: 100,
        ..task
            .splits()
            .into_iter()
            .find(|s| s.name == "test")
            .unwrap()
    };
    let problems = task.problems(&test, 0).unwrap();
    let positions: u64 = problems.iter().map(|p| p.input().len() as u64).sum();
    let trigram = InContextNGram::new(3).unwrap();
    group.throughput(Throughput::Elements(positions));
    group.bench_function("ngram3_100_problems/positions", |b| {
        b.iter(|| black_box(trigram.evaluate(&problems)))
    });
    group.finish();
}

criterion_group!(benches, bench_a5, bench_regbench);
criterion_main!(benches);
