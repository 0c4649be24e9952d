//! Generation throughput of the Bhattamishra suite and flip-flop, in strings/s and
//! symbols/s, for the published splits **including de-duplication** (and the shared
//! corpus of corpus-split languages), and the conversion to token/class ids.
//! Run (numbers in docs/benchmarks.md, "## kleene-langs"):
//! `CARGO_TARGET_DIR=/work/target cargo bench --bench langs_generation -- --warm-up-time 1 --measurement-time 3`
//!
//! Every language's full published splits: `cargo run --release -p kleene-langs --example gen_all_bhattamishra`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use kleene::langs::bhattamishra::{Fidelity, SuiteLanguage, SuiteTask};
use kleene::langs::flipflop::{FlipFlop, FlipFlopConfig};
use kleene::langs::{Example, SplitSpec, Task};

fn counts(splits: &[(SplitSpec, Vec<Example>)]) -> (u64, u64) {
    let strings = splits.iter().map(|(_, e)| e.len() as u64).sum();
    let symbols = splits
        .iter()
        .flat_map(|(_, e)| e.iter().map(|x| x.tokens.len() as u64))
        .sum();
    (strings, symbols)
}

fn bench_suite(c: &mut Criterion) {
    let mut group = c.benchmark_group("bhattamishra_published_splits");
    group.sample_size(10);
    for lang in [
        SuiteLanguage::Parity,
        SuiteLanguage::Dyck1,
        SuiteLanguage::Shuffle4,
        SuiteLanguage::Boolean5,
    ] {
        let task = SuiteTask::new(lang, Fidelity::Faithful);
        let (strings, symbols) = counts(&task.generate_all_splits(0).unwrap());
        for (unit, n) in [("strings", strings), ("symbols", symbols)] {
            group.throughput(Throughput::Elements(n));
            group.bench_function(format!("{}/{unit}", lang.folder()), |b| {
                b.iter(|| task.generate_all_splits(black_box(1)).unwrap())
            });
        }
    }
    group.finish();
}

fn bench_flipflop(c: &mut Criterion) {
    let task = FlipFlop::new(FlipFlopConfig::default()).unwrap();
    let mut group = c.benchmark_group("flipflop");
    group.sample_size(10);
    // The in-distribution validation split: 16K sequences of FFL(0.8), 512 symbols each.
    let split = task.splits().into_iter().find(|s| s.name == "val").unwrap();
    for (unit, n) in [
        ("strings", split.size as u64),
        ("symbols", split.size as u64 * 512),
    ] {
        group.throughput(Throughput::Elements(n));
        group.bench_function(format!("val_16k/{unit}"), |b| {
            b.iter(|| task.generate_split(black_box(&split), 1).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_suite, bench_flipflop);
criterion_main!(benches);
