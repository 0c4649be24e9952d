//! What a new user of kleene as a library does (issue 21), through `kleene::` paths only:
//! a typed config, training and evaluation, the trained model reloaded on the inference
//! backend and stepped over 5,000 tokens, a model file saved and loaded, and a formal language
//! of their own registered by name and then trained, swept and reported like a built-in one.

use kleene::prelude::*;

/// The user's own language: after each symbol of a 0/1 string, whether 1s have been at least
/// as many as 0s so far (a counter language).
struct Majority;

impl Task for Majority {
    fn name(&self) -> &str {
        "running-majority"
    }
    fn description(&self) -> &str {
        "after each bit: are the 1s so far at least as many as the 0s?"
    }
    fn vocab(&self) -> Vec<String> {
        vec!["0".into(), "1".into()]
    }
    fn classes(&self) -> Vec<String> {
        vec!["no".into(), "yes".into()]
    }
    fn target_kind(&self) -> TargetKind {
        TargetKind::PerPosition
    }
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut ChaCha8Rng,
    ) -> Result<Example, LangError> {
        let len = rng.random_range(min_len.max(1)..=max_len.max(1));
        let tokens: Vec<u32> = (0..len).map(|_| rng.random_range(0..2)).collect();
        let mut balance = 0i64;
        let classes = tokens
            .iter()
            .map(|&t| {
                balance += if t == 1 { 1 } else { -1 };
                u32::from(balance >= 0)
            })
            .collect();
        Ok(Example {
            tokens,
            target: Target::PerPosition(classes),
        })
    }
    fn splits(&self) -> Vec<SplitSpec> {
        vec![
            SplitSpec {
                name: "train".into(),
                min_len: 1,
                max_len: 12,
                size: 256,
            },
            SplitSpec {
                name: "longer".into(),
                min_len: 13,
                max_len: 40,
                size: 64,
            },
        ]
    }
}

/// Registers [`Majority`] once for the whole test binary.
fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| kleene::langs::register_task(|| Box::new(Majority), &["majority"]).unwrap());
}

fn small_mamba() -> ModelConfig {
    ModelConfig::Mamba(MambaConfig {
        d_model: 8,
        n_layers: 1,
        d_state: 4,
        ..Default::default()
    })
}

#[test]
fn a_registered_task_trains_and_reports_by_name() {
    register();
    // Found by its name and its alias; a second registration of the name is refused.
    assert_eq!(task_by_name("majority").unwrap().name(), "running-majority");
    let again = kleene::langs::register_task(|| Box::new(Majority), &[]).unwrap_err();
    assert!(again.to_string().contains("already"), "{again}");
    let clash = kleene::langs::register_task(|| Box::new(Majority), &["parity"]);
    assert!(clash.is_err());

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RunConfig::new("running-majority", small_mamba());
    cfg.training.steps = 30;
    cfg.training.batch_size = 8;
    let summary = run(
        BackendKind::Ndarray,
        &cfg,
        &dir.path().join("run"),
        &TrainOptions::default(),
        |_| {},
    )
    .unwrap();
    assert_eq!(summary.steps, 30);
    // The task's own splits were evaluated (protocol `splits`, every split but `train`).
    let names: Vec<&str> = summary
        .report
        .rows
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["longer"]);
    assert!((0.0..=1.0).contains(&summary.report.rows[0].pos_acc));

    // A sweep over it, by name: every grid point validated against the task and trained.
    std::fs::write(
        dir.path().join("base.toml"),
        "[task]\nname = \"majority\"\n[model]\nkind = \"mamba\"\nd_model = 8\nn_layers = 1\nd_state = 4\n\
         [training]\nsteps = 5\nbatch_size = 4\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        format!(
            "base = \"base.toml\"\nout_dir = \"{}\"\n[grid]\n\"training.seed\" = [0, 1]\n",
            dir.path().join("sweep").display()
        ),
    )
    .unwrap();
    let sweep = kleene::train::sweep::load(&dir.path().join("s.toml")).unwrap();
    sweep.write_manifest().unwrap();
    for r in &sweep.runs {
        kleene::train::run::model_config(&r.config).unwrap();
        run(
            BackendKind::Ndarray,
            &r.config,
            &r.run_dir,
            &TrainOptions::default(),
            |_| {},
        )
        .unwrap();
    }
    match sweep.write_report().unwrap() {
        kleene::train::sweep::SweepReport::Written { report, .. } => {
            assert!(report.to_markdown().contains("running-majority"));
        }
        other => panic!("report not written: {other:?}"),
    }
}

#[test]
fn a_trained_model_reloads_for_inference_steps_and_saves() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RunConfig::new("parity-check", small_mamba());
    cfg.task.train_max_len = Some(8);
    cfg.training.steps = 10;
    cfg.training.batch_size = 8;
    cfg.eval.protocol = EvalProtocol::Lengths;
    cfg.eval.max_len = 8;
    cfg.eval.samples_per_len = 4;
    let run_dir = dir.path().join("run");
    run(
        BackendKind::Ndarray,
        &cfg,
        &run_dir,
        &TrainOptions::default(),
        |_| {},
    )
    .unwrap();

    // The checkpoint, on the inference backend, checked against the config.
    let task = task_by_name("parity-check").unwrap();
    let vocab = kleene::train::trainer::input_vocab(task.as_ref());
    let out = kleene::train::trainer::output_dim(task.as_ref(), cfg.training.loss).unwrap();
    let device = Default::default();
    let fresh = cfg.model.init::<CpuInference>(vocab, out, &device).unwrap();
    let (model, step) = load_checkpoint_model_as(fresh, &cfg.model, &run_dir, &device).unwrap();
    assert_eq!(step, 10);

    // 5,000 recurrent steps in constant memory; the first 16 equal the parallel forward.
    let mut rng = seeded_rng(7);
    let ids: Vec<i64> = (0..5000).map(|_| rng.random_range(0..2)).collect();
    let mut state = model.init_state(1, &device);
    let mut first = Vec::new();
    for (t, &id) in ids.iter().enumerate() {
        let (y, next) = model.step(Tensor::from_ints([id], &device), state);
        state = next;
        if t < 16 {
            first.push(y);
        }
    }
    let stepped: Vec<f32> = Tensor::cat(first, 0).into_data().to_vec().unwrap();
    let whole = Tensor::<CpuInference, 1, Int>::from_ints(&ids[..16], &device).reshape([1, 16]);
    let parallel: Vec<f32> = model.forward(whole).into_data().to_vec().unwrap();
    for (a, b) in stepped.iter().zip(&parallel) {
        assert!((a - b).abs() < 1e-4, "step {a} vs forward {b}");
    }

    // A model file round trip.
    let path = dir.path().join("parity.kleene");
    save_model(&model, &cfg.model, vocab, out, &path).unwrap();
    let (loaded, header) = load_model::<CpuInference>(&path, &device).unwrap();
    assert_eq!(header.model, cfg.model);
    let x = Tensor::<CpuInference, 2, Int>::from_ints([[0, 1, 1, 0, 1]], &device);
    assert_eq!(
        model.forward(x.clone()).into_data(),
        loaded.forward(x).into_data()
    );
}
