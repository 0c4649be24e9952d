//! Models on disk (issue 21): `save_model`/`load_model` round trips on the inference backend,
//! and every mismatch a library user met (another kind, another size, another vocabulary, a
//! damaged file, a checkpoint of another model) is an error naming the difference, never a
//! panic or a silent load.

use burn::prelude::*;
use kleene_train::model_file::{
    load_model, load_model_as, load_record_checked, record_bytes, save_model,
};
use kleene_train::run::{init_seeded, CpuBackend, CpuInference};
use kleene_train::trainer::{load_checkpoint_model, load_checkpoint_model_as};
use kleene_train::{RunConfig, TrainOptions};
use kleene_zoo::{AnyModel, MambaConfig, ModelConfig, SdSsmConfig, SequenceModel};

type B = CpuInference;

fn mamba(d_state: usize) -> ModelConfig {
    ModelConfig::Mamba(MambaConfig {
        d_model: 8,
        n_layers: 1,
        d_state,
        ..Default::default()
    })
}

fn build(cfg: &ModelConfig, seed: u64) -> AnyModel<B> {
    let device = Default::default();
    init_seeded::<B, _, _>(&device, seed, || cfg.init::<B>(5, 3, &device)).unwrap()
}

/// Random (seeded) token ids in 0..5, shape (2, 7).
fn tokens() -> Tensor<B, 2, Int> {
    let ids: Vec<i64> = (0..14).map(|i| (i * 7 + 3) % 5).collect();
    Tensor::<B, 1, Int>::from_ints(ids.as_slice(), &Default::default()).reshape([2, 7])
}

#[test]
fn a_saved_model_loads_with_the_same_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.kleene");
    let cfg = mamba(4);
    let model = build(&cfg, 3);
    save_model(&model, &cfg, 5, 3, &path).unwrap();
    let (loaded, header) = load_model::<B>(&path, &Default::default()).unwrap();
    assert_eq!(header.model, cfg);
    assert_eq!((header.input_vocab, header.output_dim), (5, 3));
    let a = model.forward(tokens()).into_data();
    let b = loaded.forward(tokens()).into_data();
    assert_eq!(
        a, b,
        "the loaded model computes exactly what the saved one did"
    );
    // A model of another seed differs: the comparison above is not vacuous.
    let other = build(&cfg, 4).forward(tokens()).into_data();
    assert_ne!(a, other);
    // The expected config passes too.
    load_model_as::<B>(&path, &cfg, 5, 3, &Default::default()).unwrap();
}

#[test]
fn a_model_file_of_another_model_is_refused_naming_the_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.kleene");
    let cfg = mamba(8);
    save_model(&build(&cfg, 0), &cfg, 5, 3, &path).unwrap();
    let device = Default::default();
    let err = load_model_as::<B>(&path, &mamba(16), 5, 3, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("d_state = 8 (expected 16)"), "{err}");
    let sdssm = ModelConfig::Sdssm(SdSsmConfig::default());
    let err = load_model_as::<B>(&path, &sdssm, 5, 3, &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model kind `mamba` (expected `sdssm`)"),
        "{err}"
    );
    let err = load_model_as::<B>(&path, &cfg, 7, 3, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("input vocabulary 5 (expected 7)"), "{err}");
}

#[test]
fn damaged_model_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.kleene");
    let cfg = mamba(4);
    save_model(&build(&cfg, 0), &cfg, 5, 3, &path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let device = Default::default();
    let mut flipped = good.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x40;
    std::fs::write(&path, &flipped).unwrap();
    let err = load_model::<B>(&path, &device).unwrap_err().to_string();
    assert!(err.contains("checksum"), "{err}");
    std::fs::write(&path, b"{\"format\": \"x\"").unwrap();
    let err = load_model::<B>(&path, &device).unwrap_err().to_string();
    assert!(err.contains("not a kleene model file"), "{err}");
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    assert!(load_model::<B>(&path, &device).is_err());
}

#[test]
fn records_of_another_kind_or_shape_are_errors_not_panics() {
    let path = std::path::Path::new("model.bin");
    let device = Default::default();
    // An SD-SSM record into a Mamba (Burn's load_record panics on another enum variant).
    let sdssm = ModelConfig::Sdssm(SdSsmConfig {
        state_size: 4,
        ..Default::default()
    });
    let bytes = record_bytes::<B, _>(&build(&sdssm, 0));
    let err = load_record_checked::<B, _>(build(&mamba(4), 0), bytes, &device, path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("model"), "{err}");
    // d_state 8 into d_state 16: Burn would load it silently and the next forward panic.
    let bytes = record_bytes::<B, _>(&build(&mamba(8), 0));
    let err = load_record_checked::<B, _>(build(&mamba(16), 0), bytes, &device, path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("shape") && err.contains("16"), "{err}");
}

#[test]
fn checkpoints_load_into_an_inference_model_and_refuse_another_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RunConfig::new("parity-check", mamba(4));
    cfg.task.train_max_len = Some(6);
    cfg.training.steps = 3;
    cfg.training.batch_size = 4;
    cfg.eval.protocol = kleene_train::config::EvalProtocol::Lengths;
    cfg.eval.max_len = 4;
    cfg.eval.samples_per_len = 2;
    let run_dir = dir.path().join("run");
    kleene_train::run(
        kleene_train::BackendKind::Ndarray,
        &cfg,
        &run_dir,
        &TrainOptions::default(),
        |_| {},
    )
    .unwrap();
    let device = Default::default();
    let task = kleene_langs::task_by_name("parity-check").unwrap();
    let vocab = kleene_train::trainer::input_vocab(task.as_ref());
    let out = kleene_train::trainer::output_dim(task.as_ref(), cfg.training.loss).unwrap();
    let fresh = || build_for(&mamba(4), vocab, out);
    let (model, step) = load_checkpoint_model::<B, _>(fresh(), &run_dir, &device).unwrap();
    assert_eq!(step, 3);
    let (same, _) =
        load_checkpoint_model_as::<B, _>(fresh(), &mamba(4), &run_dir, &device).unwrap();
    let x = Tensor::<B, 2, Int>::from_ints([[0, 1, 1, 0]], &device);
    assert_eq!(
        model.forward(x.clone()).into_data(),
        same.forward(x).into_data()
    );
    let err = load_checkpoint_model_as::<B, _>(
        build_for(&mamba(8), vocab, out),
        &mamba(8),
        &run_dir,
        &device,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("trained with another model") && err.contains("d_state = 4 (expected 8)"),
        "{err}"
    );
    // Without the config check, the shapes still catch it.
    let err = load_checkpoint_model::<B, _>(build_for(&mamba(8), vocab, out), &run_dir, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("shape"), "{err}");
    // The training backend reads it as well.
    let dev = Default::default();
    let m = mamba(4).init::<CpuBackend>(vocab, out, &dev).unwrap();
    load_checkpoint_model::<CpuBackend, _>(m, &run_dir, &dev).unwrap();
}

fn build_for(cfg: &ModelConfig, vocab: usize, out: usize) -> AnyModel<B> {
    let device = Default::default();
    cfg.init::<B>(vocab, out, &device).unwrap()
}
