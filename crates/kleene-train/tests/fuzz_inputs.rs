//! Property tests of the readers of hand-edited or damaged files (issue 17 fuzzing): the run
//! config parser (and the checks against the task behind it), the metrics reader of a resume
//! and the checkpoint loader return an error on random bytes and on mutated valid inputs;
//! they never panic. The valid inputs are the repository's configs and the corpus in
//! `tests/fuzz_corpus/`, a metrics file and a checkpoint written by a real run. A few hundred cases each (a few seconds in all); a
//! failing case is kept by proptest in `tests/fuzz_inputs.proptest-regressions` (commit it)
//! and replayed first. `PROPTEST_CASES=N` runs N cases of each instead.

mod common;

use std::path::Path;

use common::MAMBA_TOMITA2;
use kleene_train::checkpoint::Checkpoint;
use kleene_train::metrics::{kept_on_resume, read_metrics};
use kleene_train::RunConfig;
use proptest::prelude::*;

/// `PROPTEST_CASES` when set (a longer fuzzing run), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Byte edits: (position, byte, kind) with kind 0 = replace, 1 = insert, 2 = delete.
fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8)
}

fn mutate(valid: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut out = valid.to_vec();
    for &(at, byte, kind) in edits {
        let i = if out.is_empty() { 0 } else { at % out.len() };
        match kind {
            0 if !out.is_empty() => out[i] = byte,
            2 if !out.is_empty() => {
                out.remove(i);
            }
            _ => out.insert(i, byte),
        }
    }
    out
}

/// The seed inputs: a test config, the quickstart config and the corpus kept in
/// `tests/fuzz_corpus/` (configs touching most sections and value kinds).
fn configs() -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = vec![MAMBA_TOMITA2.to_string()];
    texts.push(std::fs::read_to_string(manifest.join("../../configs/quickstart.toml")).unwrap());
    let dir = manifest.join("tests/fuzz_corpus");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    texts.extend(paths.iter().map(|p| std::fs::read_to_string(p).unwrap()));
    texts
}

/// Parses `text`; when it is a config, runs the checks `kleene train` runs before training.
fn parse_and_check(text: &str) {
    if let Ok(cfg) = RunConfig::parse(text, Path::new("fuzz.toml")) {
        let _ = kleene_train::run::model_config(&cfg);
    }
}

const METRICS: &str = concat!(
    "{\"step\":10,\"loss\":0.5,\"lr\":0.001,\"acc\":0.9255952380952381,\"seq_acc\":0.5,\"tokens_per_s\":100.0,\"elapsed_s\":0.1}\n",
    "{\"step\":20,\"loss\":0.25,\"lr\":0.001,\"acc\":0.75,\"seq_acc\":0.5,\"grad_norm\":1.5,\"tokens_per_s\":100.0,\"elapsed_s\":0.2}\n",
);

/// A real checkpoint (MAMBA_TOMITA2 stopped at step 20), written once.
fn checkpoint() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = RunConfig::parse(MAMBA_TOMITA2, Path::new("t.toml")).unwrap();
        let opts = kleene_train::TrainOptions {
            stop_after: Some(20),
            ..Default::default()
        };
        kleene_train::run(
            kleene_train::BackendKind::Ndarray,
            &cfg,
            dir.path(),
            &opts,
            |_| {},
        )
        .unwrap();
        dir
    })
    .path()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn config_parser_never_panics_on_mutated_configs(pick in 0usize..64, e in edits()) {
        let texts = configs();
        let bytes = mutate(texts[pick % texts.len()].as_bytes(), &e);
        parse_and_check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn config_parser_never_panics_on_random_text(text in "\\PC{0,200}") {
        parse_and_check(&text);
    }

    #[test]
    fn metrics_reader_never_panics(e in edits(), random in prop::collection::vec(any::<u8>(), 0..300), step in 0u64..40) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        for bytes in [mutate(METRICS.as_bytes(), &e), random] {
            let _ = kept_on_resume(&path, &bytes, step);
            std::fs::write(&path, &bytes).unwrap();
            let _ = read_metrics(&path);
        }
    }
}

proptest! {
    // Each case copies and loads a checkpoint: fewer cases.
    #![proptest_config(ProptestConfig { cases: cases(64), ..ProptestConfig::default() })]

    /// Every part of a real checkpoint, mutated: the loader (checksums, the state's seal,
    /// the model record) and a resume from it refuse it, and never panic.
    #[test]
    fn checkpoint_loader_never_panics(part in 0usize..4, e in edits()) {
        let src = checkpoint();
        let dir = tempfile::tempdir().unwrap();
        for name in ["config.toml", "metrics.jsonl"] {
            std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
        }
        let ck = dir.path().join("checkpoint");
        std::fs::create_dir(&ck).unwrap();
        let names = ["state.json", "model.bin", "optim_decay.bin", "optim_no_decay.bin"];
        for name in names {
            std::fs::copy(src.join("checkpoint").join(name), ck.join(name)).unwrap();
        }
        let target = ck.join(names[part]);
        let valid = std::fs::read(&target).unwrap();
        let bytes = mutate(&valid, &e);
        std::fs::write(&target, &bytes).unwrap();
        let loaded = Checkpoint::load(&ck);
        if bytes != valid {
            prop_assert!(loaded.is_err(), "a mutated {} loaded", names[part]);
        }
        let cfg = RunConfig::parse(MAMBA_TOMITA2, Path::new("t.toml")).unwrap();
        let opts = kleene_train::TrainOptions { resume: true, stop_after: Some(0), ..Default::default() };
        let resumed = kleene_train::run(kleene_train::BackendKind::Ndarray, &cfg, dir.path(), &opts, |_| {});
        if bytes != valid {
            prop_assert!(resumed.is_err(), "resumed from a mutated {}", names[part]);
        }
    }

    /// A mutated model record under valid checksums (re-saved), so the record decoder
    /// itself sees it: a resume loads it or refuses it, and never panics or aborts.
    #[test]
    fn model_record_decoder_never_panics(e in edits()) {
        let src = checkpoint();
        let (state, mut files) = Checkpoint::load(&src.join("checkpoint")).unwrap();
        files.model = mutate(&files.model, &e);
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(src.join("config.toml"), dir.path().join("config.toml")).unwrap();
        Checkpoint::save(dir.path(), state, &files).unwrap();
        let cfg = RunConfig::parse(MAMBA_TOMITA2, Path::new("t.toml")).unwrap();
        let opts = kleene_train::TrainOptions { resume: true, stop_after: Some(0), ..Default::default() };
        let _ = kleene_train::run(kleene_train::BackendKind::Ndarray, &cfg, dir.path(), &opts, |_| {});
    }
}

/// The seed inputs are valid, so the mutations start from configs that pass every check.
#[test]
fn every_seed_config_is_valid() {
    for text in configs() {
        let cfg = RunConfig::parse(&text, Path::new("seed.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        kleene_train::run::model_config(&cfg).unwrap_or_else(|e| panic!("{e}\n{text}"));
    }
}
