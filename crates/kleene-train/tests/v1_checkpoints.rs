//! Checkpoints written before the zoo reshaping (record format 1), one per model kind, made
//! by kleene at commit 8484c17 (`tests/fixtures/v1_checkpoints/README.md`): every kind whose
//! parameter layout was kept loads, re-records to the same bytes, and re-evaluates to the
//! table that version wrote; `icl` checkpoints (whose layout changed) are refused with a
//! message naming the record format, never loaded into a wrong model.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use kleene_eval::RunResult;
use kleene_train::checkpoint::Checkpoint;
use kleene_train::run::{eval_run_dir, CpuBackend};
use kleene_train::RunConfig;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v1_checkpoints")
        .join(name)
}

/// A writable copy of a fixture run directory (evaluation rewrites its reports).
fn copy_run(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixture(name);
    for sub in ["", "checkpoint"] {
        let dir = tmp.path().join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(src.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    tmp
}

fn result(path: &Path) -> RunResult {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn format_1_checkpoints_of_unchanged_kinds_load_and_evaluate_as_before() {
    for name in [
        "mamba",
        "sdssm",
        "complex_diagonal",
        "rnn",
        "lstm",
        "transformer",
    ] {
        let run = copy_run(name);
        let before = result(&fixture(name).join("result.json"));
        let report = eval_run_dir::<CpuBackend>(run.path(), &Default::default(), |_| {})
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // The same counts on every split as the version that trained it (the rates to the
        // last bits serde_json keeps: its default float parsing is not exact to the ulp).
        assert!(!before.splits.is_empty(), "{name}");
        assert_eq!(report.result.splits.len(), before.splits.len(), "{name}");
        for (now, then) in report.result.splits.iter().zip(&before.splits) {
            assert_eq!(now.split, then.split, "{name}");
            assert_eq!(now.counts.sequences, then.counts.sequences, "{name}");
            assert_eq!(
                now.counts.sequences_correct, then.counts.sequences_correct,
                "{name}"
            );
            assert_eq!(
                now.counts.positions_correct, then.counts.positions_correct,
                "{name}"
            );
            assert!(
                (now.counts.relaxed_sum - then.counts.relaxed_sum).abs() < 1e-12,
                "{name}: relaxed sum {} vs {}",
                now.counts.relaxed_sum,
                then.counts.relaxed_sum
            );
        }

        // The record decodes into today's model and encodes back to the same bytes: the
        // parameter layout is unchanged (a shifted layout would not round-trip).
        let cfg = RunConfig::load(&run.path().join("config.toml")).unwrap();
        let dir = Checkpoint::find(run.path()).unwrap();
        let (_, files) = Checkpoint::load(&dir).unwrap();
        let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
        let device = Default::default();
        let task = kleene_langs::task_by_name(&cfg.task.name).unwrap();
        let fresh = kleene_train::run::model_config(&cfg)
            .unwrap()
            .init::<CpuBackend>(task.vocab().len(), task.classes().len(), &device)
            .unwrap();
        let record = Recorder::<CpuBackend>::load(&recorder, files.model.clone(), &device).unwrap();
        let loaded = fresh.load_record(record);
        let again = Recorder::<CpuBackend>::record(&recorder, loaded.into_record(), ()).unwrap();
        assert!(again == files.model, "{name}: re-recorded bytes differ");
    }
}

#[test]
fn format_1_icl_checkpoints_are_refused_with_the_reason() {
    for name in ["icl_retnet", "icl_mamba_faithful"] {
        let run = copy_run(name);
        let err = eval_run_dir::<CpuBackend>(run.path(), &Default::default(), |_| {})
            .err()
            .unwrap_or_else(|| panic!("{name}: a format-1 icl checkpoint was loaded"))
            .to_string();
        assert!(err.contains("record format 1"), "{name}: {err}");
        assert!(err.contains("model.bin"), "{name}: {err}");
        // Nothing was rewritten.
        assert_eq!(
            std::fs::read(run.path().join("result.json")).unwrap(),
            std::fs::read(fixture(name).join("result.json")).unwrap()
        );
    }
}
