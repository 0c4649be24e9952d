//! End-to-end training-loop tests on NdArray with a test-only model and tasks.

mod common;

use std::path::Path;

use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn_ndarray::NdArray;
use common::*;
use kleene_langs::Task;
use kleene_train::checkpoint::Checkpoint;
use kleene_train::metrics::read_metrics;
use kleene_train::run::init_seeded;
use kleene_train::trainer::{input_vocab, output_dim};
use kleene_train::{
    evaluate, train, EvaluateOptions, LossKind, RunConfig, TrainError, TrainOptions,
};

type B = Autodiff<NdArray<f32>>;

/// Seeds and draws the initial weights through `init_seeded` (one process-wide lock, every
/// lazily initialised parameter drawn at once), so parallel test threads cannot interleave
/// their draws.
fn fresh_model(task: &dyn Task, cfg: &RunConfig) -> TinyModel<B> {
    let device = Default::default();
    init_seeded::<B, _, std::convert::Infallible>(&device, cfg.training.seed, || {
        Ok(TinyModel::new(
            input_vocab(task),
            8,
            output_dim(task, cfg.training.loss).unwrap(),
            &device,
        ))
    })
    .unwrap()
}

fn run(
    task: &dyn Task,
    cfg: &RunConfig,
    dir: &Path,
    opts: TrainOptions,
) -> Result<kleene_train::TrainOutcome<TinyModel<B>>, TrainError> {
    let model = fresh_model(task, cfg);
    train::<B, _>(model, task, cfg, dir, &opts, &Default::default())
}

/// All float parameter values in visiting order (the record bytes also hold the
/// parameter ids, which are random per process).
fn weights(model: &TinyModel<B>) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor<B> for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
            self.0.extend(p.val().into_data().to_vec::<f32>().unwrap());
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

#[test]
fn learns_echo_and_evaluates_longer_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("echo", 60, "");
    let out = run(&EchoTask, &cfg, dir.path(), TrainOptions::default()).unwrap();
    let last = out.last.unwrap();
    assert_eq!(last.step, 60);
    let valid = out.model.valid();
    let opts = EvaluateOptions {
        eval: cfg.eval.clone(),
        loss: LossKind::CrossEntropy,
        train_window: (1, 8),
        step: out.step,
    };
    let report =
        evaluate::<NdArray<f32>, _>(&valid, &EchoTask, &opts, &Default::default(), |_| {}).unwrap();
    assert_eq!(report.rows.len(), 1); // every split but `train`
    assert_eq!(report.rows[0].name, "longer");
    assert_eq!(report.rows[0].examples, 64);
    assert!(report.rows[0].seq_acc > 0.99, "{:?}", report.rows);
    assert!(report
        .to_markdown()
        .contains("| longer (longer) | 9..=16 | 64 |"));
}

#[test]
fn final_and_masked_targets_train() {
    for (task, name) in [
        (&MajorityTask as &dyn Task, "majority"),
        (&MaskedTask, "masked"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(name, 80, "curriculum = \"mixed\"");
        let out = run(task, &cfg, dir.path(), TrainOptions::default()).unwrap();
        let lines = read_metrics(&dir.path().join("metrics.jsonl")).unwrap();
        let first = &lines[0];
        let last = lines.last().unwrap();
        assert!(last.loss < first.loss, "{name}: {first:?} -> {last:?}");
        assert!(last.acc > 0.8, "{name}: {last:?}");
        assert_eq!(out.step, 80);
    }
}

#[test]
fn mse_and_bce_losses_train() {
    for loss in ["mse", "bce"] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config("echo", 60, &format!("loss = \"{loss}\""));
        run(&EchoTask, &cfg, dir.path(), TrainOptions::default()).unwrap();
        let lines = read_metrics(&dir.path().join("metrics.jsonl")).unwrap();
        assert!(
            lines.last().unwrap().loss < lines[0].loss,
            "{loss}: {lines:?}"
        );
        assert!(lines.last().unwrap().acc > 0.9, "{loss}: {lines:?}");
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Bit patterns of all weights (exact comparison, NaN-safe).
fn weight_bits(model: &TinyModel<B>) -> Vec<u32> {
    weights(model).iter().map(|x| x.to_bits()).collect()
}

/// Metric lines without the wall-clock fields (`tokens_per_s`, `elapsed_s`).
fn metric_values(dir: &Path) -> Vec<(u64, u64, u64, u64, u64, Option<u64>)> {
    read_metrics(&dir.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|m| {
            (
                m.step,
                m.loss.to_bits(),
                m.lr.to_bits(),
                m.acc.to_bits(),
                m.seq_acc.to_bits(),
                m.grad_norm.map(f64::to_bits),
            )
        })
        .collect()
}

/// On NdArray (built without burn-ndarray's `simd` feature, see docs/training.md) training is
/// bit-reproducible, so a run stopped at step 23 and resumed from its checkpoint must end with
/// exactly the weights and the metric lines of an uninterrupted run: the optimiser moments,
/// data position, schedule, clipping and running metric sums all survive the restart.
#[test]
fn resumed_run_equals_uninterrupted_run() {
    let cfg = config(
        "echo",
        40,
        "weight_decay = 0.1\ngrad_clip = 0.5\nschedule = { kind = \"cosine\", warmup_steps = 5 }",
    );
    let a = tempfile::tempdir().unwrap();
    let full = run(&EchoTask, &cfg, a.path(), TrainOptions::default()).unwrap();
    let a2 = tempfile::tempdir().unwrap();
    let full2 = run(&EchoTask, &cfg, a2.path(), TrainOptions::default()).unwrap();
    assert_eq!(
        weight_bits(&full.model),
        weight_bits(&full2.model),
        "two fresh runs differ"
    );

    let b = tempfile::tempdir().unwrap();
    // Stop at 23 (not a multiple of log_every or checkpoint_every), then resume.
    let part = run(
        &EchoTask,
        &cfg,
        b.path(),
        TrainOptions {
            stop_after: Some(23),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(part.step, 23);
    let resumed = run(
        &EchoTask,
        &cfg,
        b.path(),
        TrainOptions {
            resume: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(resumed.step, 40);
    assert_eq!(
        weight_bits(&full.model),
        weight_bits(&resumed.model),
        "the resumed run's weights differ from the uninterrupted run's"
    );
    let (ma, mb) = (metric_values(a.path()), metric_values(b.path()));
    assert_eq!(ma.len(), 8);
    assert_eq!(ma, mb, "metric lines differ");
    assert_eq!(ma, metric_values(a2.path()));
    assert!(ma.iter().all(|m| m.5.is_some()), "clipping logs the norm");
    let (la, lb) = (full.last.unwrap(), resumed.last.unwrap());
    assert_eq!(
        (la.loss.to_bits(), la.acc.to_bits(), la.seq_acc.to_bits()),
        (lb.loss.to_bits(), lb.acc.to_bits(), lb.seq_acc.to_bits())
    );

    // Control: a "resume" that forgets the optimizer state and restarts the data stream
    // (a fresh 17-step run started from the step-23 weights) is far off.
    let c = tempfile::tempdir().unwrap();
    let cfg17 = RunConfig::parse(
        &cfg.to_toml().replace("steps = 40", "steps = 17"),
        Path::new("c.toml"),
    )
    .unwrap();
    let broken = train::<B, _>(
        part.model,
        &EchoTask,
        &cfg17,
        c.path(),
        &TrainOptions::default(),
        &Default::default(),
    )
    .unwrap();
    let off = max_abs_diff(&weights(&full.model), &weights(&broken.model));
    assert!(
        off > 1e-3,
        "a broken resume is only {off} away: the test could not detect it"
    );
}

#[test]
fn fresh_run_refuses_an_existing_checkpoint_and_resume_needs_one() {
    let cfg = config("echo", 10, "");
    let d = tempfile::tempdir().unwrap();
    let err = run(
        &EchoTask,
        &cfg,
        d.path(),
        TrainOptions {
            resume: true,
            ..Default::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("no checkpoint"), "{err}");
    run(&EchoTask, &cfg, d.path(), TrainOptions::default()).unwrap();
    let err = run(&EchoTask, &cfg, d.path(), TrainOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--resume"), "{err}");
}

#[test]
fn corrupt_checkpoint_gives_a_clear_error() {
    let cfg = config("echo", 10, "");
    let d = tempfile::tempdir().unwrap();
    run(
        &EchoTask,
        &cfg,
        d.path(),
        TrainOptions {
            stop_after: Some(5),
            ..Default::default()
        },
    )
    .unwrap();
    let model_bin = Checkpoint::dir(d.path()).join("model.bin");
    let mut bytes = std::fs::read(&model_bin).unwrap();
    let n = bytes.len();
    bytes.truncate(n / 2);
    std::fs::write(&model_bin, bytes).unwrap();
    let err = run(
        &EchoTask,
        &cfg,
        d.path(),
        TrainOptions {
            resume: true,
            ..Default::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("model.bin") && err.contains("corrupt"),
        "{err}"
    );

    // A checkpoint of another architecture is refused by name.
    let other = RunConfig::parse(
        &cfg.to_toml().replace("d_model = 8", "d_model = 9"),
        Path::new("other.toml"),
    )
    .unwrap();
    let d2 = tempfile::tempdir().unwrap();
    run(
        &EchoTask,
        &cfg,
        d2.path(),
        TrainOptions {
            stop_after: Some(5),
            ..Default::default()
        },
    )
    .unwrap();
    let err = run(
        &EchoTask,
        &other,
        d2.path(),
        TrainOptions {
            resume: true,
            ..Default::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("different [model]"), "{err}");
}

#[test]
fn non_finite_loss_stops_and_keeps_last_checkpoint() {
    // lr 1e30 with MSE: the first Adam step moves weights by ~1e30, the next forward
    // overflows f32 and the loss is inf/NaN.
    let cfg = config("echo", 20, "loss = \"mse\"");
    let text = cfg
        .to_toml()
        .replace("lr = 0.01", "lr = 1e30")
        .replace("checkpoint_every = 10", "checkpoint_every = 1");
    let cfg = RunConfig::parse(&text, Path::new("nan.toml")).unwrap();
    let d = tempfile::tempdir().unwrap();
    let err = run(&EchoTask, &cfg, d.path(), TrainOptions::default())
        .err()
        .unwrap();
    match &err {
        TrainError::NonFiniteLoss {
            step, last_good, ..
        } => {
            assert!(*step >= 2 && *step <= 20);
            let kept = last_good
                .as_ref()
                .expect("a checkpoint was written before the failure");
            // The message counts steps as checkpoints and metric lines do: the checkpoint
            // (every step here) holds the steps before the one whose loss was not finite
            // (issue 17: the message said the checkpoint's step).
            let (state, _) = Checkpoint::load(kept).unwrap();
            assert_eq!(state.step + 1, *step);
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
    assert!(err.to_string().contains("last good checkpoint"));
}

#[test]
fn metrics_lines_parse_and_fall_on_log_steps() {
    let cfg = config("echo", 12, "");
    let d = tempfile::tempdir().unwrap();
    run(&EchoTask, &cfg, d.path(), TrainOptions::default()).unwrap();
    let lines = read_metrics(&d.path().join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = lines.iter().map(|l| l.step).collect();
    assert_eq!(steps, vec![5, 10, 12]);
    for l in &lines {
        assert!(l.loss.is_finite() && l.tokens_per_s > 0.0 && (0.0..=1.0).contains(&l.acc));
        assert_eq!(l.lr, 0.01);
    }
    // The written config parses back to the same config.
    let again = RunConfig::load(&d.path().join("config.toml")).unwrap();
    assert_eq!(again.training, cfg.training);
}

/// Echo whose `train` split window counts "problems" 100..=200 (as REGBENCH's counts strings
/// per problem) while its examples are 1..=8 tokens long.
struct ProblemWindowEcho;

impl Task for ProblemWindowEcho {
    fn name(&self) -> &str {
        "problem-window-echo"
    }
    fn description(&self) -> &str {
        "echo with a split window in another unit"
    }
    fn vocab(&self) -> Vec<String> {
        EchoTask.vocab()
    }
    fn classes(&self) -> Vec<String> {
        EchoTask.classes()
    }
    fn target_kind(&self) -> kleene_langs::TargetKind {
        EchoTask.target_kind()
    }
    fn sample(
        &self,
        min_len: usize,
        max_len: usize,
        rng: &mut rand_chacha::ChaCha8Rng,
    ) -> Result<kleene_langs::Example, kleene_langs::LangError> {
        EchoTask.sample(min_len, max_len, rng)
    }
    fn splits(&self) -> Vec<kleene_langs::SplitSpec> {
        vec![kleene_langs::SplitSpec {
            name: "train".into(),
            min_len: 100,
            max_len: 200,
            size: 64,
        }]
    }
    fn generate_split(
        &self,
        split: &kleene_langs::SplitSpec,
        seed: u64,
    ) -> Result<Vec<kleene_langs::Example>, kleene_langs::LangError> {
        let tokens = kleene_langs::SplitSpec {
            min_len: 1,
            max_len: 8,
            ..split.clone()
        };
        EchoTask.generate_split(&tokens, seed)
    }
}

#[test]
fn split_data_is_used_whole_unless_the_config_sets_a_window() {
    // No window in the config: the split's own window (in problems) does not filter tokens.
    let cfg = config("problem-window-echo", 4, "data = \"split\"");
    let d = tempfile::tempdir().unwrap();
    let out = run(&ProblemWindowEcho, &cfg, d.path(), TrainOptions::default()).unwrap();
    assert_eq!(out.step, 4);
    // An explicit token window still filters, and says so when nothing is left.
    let text = cfg.to_toml().replace(
        "[task]\n",
        "[task]\ntrain_min_len = 50\ntrain_max_len = 60\n",
    );
    let windowed = RunConfig::parse(&text, Path::new("w.toml")).unwrap();
    assert_eq!(windowed.task.train_max_len, Some(60));
    let d = tempfile::tempdir().unwrap();
    let err = match run(
        &ProblemWindowEcho,
        &windowed,
        d.path(),
        TrainOptions::default(),
    ) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a window without examples must fail"),
    };
    assert!(
        err.contains("training.batch_size") && err.contains("50..=60"),
        "{err}"
    );
}
