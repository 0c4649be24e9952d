//! The training loop: batches -> forward -> loss -> backward -> clip -> optimiser step,
//! with metrics, checkpoints, exact resume and a NaN/Inf guard.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::model_file::{load_record_checked, record_bytes};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressDrawTarget};
use kleene_langs::io::write_atomic;
use kleene_langs::Task;
use kleene_zoo::SequenceModel;

use crate::checkpoint::{Checkpoint, CheckpointFiles, CheckpointState, BURN_VERSION};
use crate::config::DataSource;
use crate::config::RunConfig;
use crate::data::{Batch, BatchSource};
use crate::loss::{loss, scored_rows, LossKind, RowTargets};
use crate::metrics::{IntervalAccum, MetricsLine, MetricsWriter};
use crate::optim::TrainOptimizer;
use crate::progress::step_bar;
use crate::resume::{check_record_format, check_resume, check_run_dir, model_fingerprint};
use crate::schedule::PlateauState;
use crate::TrainError;

/// Options of one `train` call that are not part of the config.
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Continue from the run directory's checkpoint.
    pub resume: bool,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Stop after this many steps in this process (the run stays resumable): used to test
    /// interruption and to split long runs across jobs. `None` = run to `training.steps`.
    pub stop_after: Option<u64>,
}

/// What a finished (or stopped) training call returns.
pub struct TrainOutcome<M> {
    pub model: M,
    /// Steps completed in total (including those before a resume).
    pub step: u64,
    /// The last metrics line written.
    pub last: Option<MetricsLine>,
    /// The last checkpoint written.
    pub checkpoint: Option<PathBuf>,
}

/// Resolves the training length window: config overrides, else the task's `train` split.
pub fn train_window(task: &dyn Task, cfg: &RunConfig) -> Result<(usize, usize), TrainError> {
    let split = task.splits().into_iter().find(|s| s.name == "train");
    let min = cfg
        .task
        .train_min_len
        .or(split.as_ref().map(|s| s.min_len))
        .ok_or_else(|| {
            TrainError::invalid(
                "task.train_min_len",
                format!(
                    "task `{}` has no `train` split: set the window",
                    task.name()
                ),
            )
        })?;
    let max = cfg
        .task
        .train_max_len
        .or(split.as_ref().map(|s| s.max_len))
        .ok_or_else(|| {
            TrainError::invalid(
                "task.train_max_len",
                format!(
                    "task `{}` has no `train` split: set the window",
                    task.name()
                ),
            )
        })?;
    // Length 0 has no tokens to train on; a task split starting at 0 trains from 1.
    let min = min.max(1);
    if max < min {
        // Name the field the config set (the other bound came from the task's split).
        let field = if cfg.task.train_max_len.is_some() {
            "task.train_max_len"
        } else {
            "task.train_min_len"
        };
        return Err(TrainError::invalid(
            field,
            format!(
                "the training window {min}..={max} of task `{}` is empty (task.train_min_len must be >= 1 and at most task.train_max_len)",
                task.name()
            ),
        ));
    }
    Ok((min, max))
}

/// The model's output width for a task and loss: classes, or symbols for BCE.
pub fn output_dim(task: &dyn Task, loss: LossKind) -> Result<usize, TrainError> {
    match loss {
        LossKind::Bce => {
            let mut rng = kleene_langs::seeded_rng(0);
            let split = task.splits().into_iter().next();
            let (a, b) = split.map(|s| (s.min_len, s.max_len)).unwrap_or((1, 8));
            let ex = task.sample(a, b, &mut rng)?;
            let sets = task.next_symbol_sets(&ex.tokens).ok_or_else(|| {
                TrainError::invalid(
                    "training.loss",
                    format!(
                        "`bce` needs next-symbol sets, which task `{}` does not define",
                        task.name()
                    ),
                )
            })?;
            Ok(sets.first().map(|s| s.len()).unwrap_or(0))
        }
        _ => Ok(task.classes().len()),
    }
}

/// Input vocabulary size the model needs: the task's symbols plus one padding id.
pub fn input_vocab(task: &dyn Task) -> usize {
    task.vocab().len() + 1
}

/// The device tensors of a host batch.
pub fn batch_tensors<B: Backend>(
    batch: &Batch,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, RowTargets<B>) {
    let tokens = Tensor::<B, 2, Int>::from_data(
        TensorData::new(batch.tokens.clone(), [batch.batch_size, batch.seq_len]),
        device,
    );
    let r = batch.rows.len();
    let targets = RowTargets {
        rows: Tensor::from_data(TensorData::new(batch.rows.clone(), [r]), device),
        classes: Tensor::from_data(TensorData::new(batch.classes.clone(), [r]), device),
        dense: batch.dense.as_ref().map(|d| {
            Tensor::<B, 2>::from_data(TensorData::new(d.clone(), [r, batch.out_dim]), device)
        }),
    };
    (tokens, targets)
}

/// Per-row correctness of scored logits `x: (R, C)`: argmax == class (CE, MSE), or the
/// thresholded set equals the target set (BCE).
pub fn row_correct<B: Backend>(kind: LossKind, x: Tensor<B, 2>, batch: &Batch) -> Vec<bool> {
    match kind {
        LossKind::Bce => {
            let c = batch.out_dim;
            let pred: Vec<bool> = x.greater_elem(0.0).into_data().to_vec().unwrap();
            let dense = batch.dense.as_ref().expect("bce batch has sets");
            (0..batch.rows.len())
                .map(|r| (0..c).all(|k| pred[r * c + k] == (dense[r * c + k] > 0.5)))
                .collect()
        }
        _ => {
            let pred = x
                .argmax(1)
                .into_data()
                .convert::<i64>()
                .to_vec::<i64>()
                .unwrap();
            pred.iter()
                .zip(&batch.classes)
                .map(|(p, c)| p == c)
                .collect()
        }
    }
}

/// Sequence-level accuracy: a sequence is correct when all its rows in the accuracy
/// ([`Batch::in_accuracy`]) are.
pub fn sequence_correct(batch: &Batch, rows_ok: &[bool]) -> Vec<bool> {
    let mut ok = vec![true; batch.batch_size];
    for (r, &good) in rows_ok.iter().enumerate() {
        if !good && batch.in_accuracy[r] {
            ok[batch.row_seq[r]] = false;
        }
    }
    ok
}

/// `(correct, counted)` rows of the accuracy metrics: the rows in the task's accuracy mask.
pub fn accuracy_rows(batch: &Batch, rows_ok: &[bool]) -> (u64, u64) {
    rows_ok
        .iter()
        .zip(&batch.in_accuracy)
        .filter(|(_, &counted)| counted)
        .fold((0, 0), |(ok, n), (&good, _)| (ok + u64::from(good), n + 1))
}

/// Trains `model` on `task` as `cfg` says, writing into `run_dir`.
///
/// `model` must be freshly initialised from `cfg.training.seed`; on resume its weights are
/// replaced by the checkpoint's. [`crate::run()`] does all of this (and the evaluation) from a
/// config; `train` is for a model you build yourself.
///
/// ```
/// use burn_ndarray::NdArray;
/// use kleene_train::run::{init_seeded, CpuBackend};
/// use kleene_train::trainer::{input_vocab, load_checkpoint_model_as, output_dim};
/// use kleene_train::{train, RunConfig, TrainOptions};
/// use kleene_zoo::{MambaConfig, ModelConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = ModelConfig::Mamba(MambaConfig { d_model: 8, n_layers: 1, d_state: 4, ..Default::default() });
/// let mut cfg = RunConfig::new("parity-check", config.clone());
/// cfg.training.steps = 5;
/// let task = kleene_langs::task_by_name(&cfg.task.name)?;
/// let (vocab, out) = (input_vocab(task.as_ref()), output_dim(task.as_ref(), cfg.training.loss)?);
/// let device = Default::default();
/// let model = init_seeded::<CpuBackend, _, _>(&device, cfg.training.seed, || {
///     config.init::<CpuBackend>(vocab, out, &device)
/// })?;
/// let dir = std::env::temp_dir().join(format!("kleene-doc-train-{}", std::process::id()));
/// let outcome = train::<CpuBackend, _>(model, task.as_ref(), &cfg, &dir, &TrainOptions::default(), &device)?;
/// assert_eq!(outcome.step, 5);
///
/// // The checkpoint reloads on the inference backend, checked against the config.
/// let fresh = config.init::<NdArray<f32>>(vocab, out, &device)?;
/// let (_model, step) = load_checkpoint_model_as::<NdArray<f32>, _>(fresh, &config, &dir, &device)?;
/// assert_eq!(step, 5);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
pub fn train<B, M>(
    model: M,
    task: &dyn Task,
    cfg: &RunConfig,
    run_dir: &Path,
    opts: &TrainOptions,
    device: &B::Device,
) -> Result<TrainOutcome<M>, TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B> + SequenceModel<B>,
{
    let t = &cfg.training;
    let (min_len, max_len) = train_window(task, cfg)?;
    let out_dim = model.out_dim();
    let expected = output_dim(task, t.loss)?;
    // A model may output more values than there are classes (Mamba without a head uses
    // its d_model outputs as logits); next-symbol sets need the exact width.
    if out_dim < expected || (t.loss == LossKind::Bce && out_dim != expected) {
        return Err(TrainError::invalid(
            "model",
            format!(
                "the model outputs {out_dim} values, task `{}` with loss {:?} needs {expected}",
                task.name(),
                t.loss
            ),
        ));
    }
    let pad_id = task.vocab().len() as u32;
    check_run_dir(run_dir, cfg, opts.resume)?;
    std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
    // One writer per run directory, held until training and its checkpoints are done.
    let _lock = crate::run_lock::RunLock::acquire(run_dir)?;

    let mut model = model;
    let mut optim = TrainOptimizer::<M, B>::new(t, &model);
    let mut plateau = PlateauState::default();
    let mut acc = IntervalAccum::default();
    let mut start = 0u64;
    let mut last_checkpoint = None;
    if opts.resume {
        let dir = Checkpoint::find(run_dir).ok_or_else(|| {
            TrainError::checkpoint(Checkpoint::dir(run_dir), "no checkpoint to resume from")
        })?;
        let (state, files) = Checkpoint::load(&dir)?;
        check_resume(&state, cfg, task, &dir)?;
        check_record_format(&state, &dir)?;
        model = load_record_checked::<B, M>(model, files.model, device, &dir.join("model.bin"))?;
        // Loading a record restores the saved parameter ids: group the parameters again.
        optim = TrainOptimizer::<M, B>::new(t, &model);
        optim = optim.load_bytes(files.optim_decay, files.optim_no_decay, device)?;
        plateau = state.plateau;
        acc = state.accum;
        start = state.step;
        last_checkpoint = Some(dir);
    } else if Checkpoint::find(run_dir).is_some() {
        return Err(TrainError::checkpoint(
            Checkpoint::dir(run_dir),
            "the run directory already holds a checkpoint: resume it (`kleene train --resume`, `TrainOptions::resume`) or choose another out_dir",
        ));
    }
    // Metrics first: on resume a damaged metrics file stops the run before config.toml is
    // rewritten.
    let mut metrics = MetricsWriter::open(run_dir, opts.resume.then_some(start))?;
    write_atomic(&run_dir.join("config.toml"), cfg.to_toml().as_bytes())
        .map_err(TrainError::from_lang)?;
    // A task's split windows may count something other than tokens (REGBENCH: strings per
    // problem), so the train split is filtered by token length only when the config sets a
    // window; without one the split is used whole.
    let explicit_window = cfg.task.train_min_len.is_some() || cfg.task.train_max_len.is_some();
    let (data_min, data_max) = match t.data {
        DataSource::Split if !explicit_window => (0, usize::MAX),
        _ => (min_len, max_len),
    };
    let mut source = BatchSource::new(
        task,
        t.data,
        t.curriculum,
        t.batch_size,
        data_min,
        data_max,
        t.seed,
    )?;

    let end = match opts.stop_after {
        Some(n) => (start + n).min(t.steps),
        None => t.steps,
    };
    let bar = if opts.progress {
        step_bar(t.steps, start, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };

    let clock = Instant::now();
    let mut interval_clock = Instant::now();
    let mut last_line = None;
    let mut lr = t.lr;
    let save = |model: &M,
                optim: &TrainOptimizer<M, B>,
                step: u64,
                plateau: &PlateauState,
                acc: &IntervalAccum| {
        let (optim_decay, optim_no_decay) = optim.to_bytes();
        Checkpoint::save(
            run_dir,
            CheckpointState {
                step,
                plateau: plateau.clone(),
                accum: acc.clone(),
                model_toml: model_fingerprint(cfg),
                seed: t.seed,
                checksums: Vec::new(),
                burn_version: BURN_VERSION.into(),
                record_format: kleene_zoo::RECORD_FORMAT,
                task: Some(cfg.task.name.clone()),
                config: Some(cfg.to_toml()),
                state_checksum: None,
            },
            &CheckpointFiles {
                model: record_bytes::<B, M>(model),
                optim_decay,
                optim_no_decay,
            },
        )
    };

    for step in start..end {
        let examples = source.examples(step)?;
        let batch = Batch::from_examples(&examples, task, t.loss, pad_id, out_dim)?;
        let (tok, targets) = batch_tensors::<B>(&batch, device);
        let logits = model.forward(tok);
        let x = scored_rows(logits, targets.rows.clone());
        let l = loss(t.loss, x.clone(), &targets);
        let value: f64 = l.clone().into_scalar().elem();
        if !value.is_finite() {
            bar.abandon();
            // `step` steps are done; the loss is of the next one, counted from 1 as the
            // metric lines and checkpoints count (the last good checkpoint is at most `step`).
            return Err(TrainError::NonFiniteLoss {
                step: step + 1,
                value,
                last_good: last_checkpoint,
            });
        }
        let ok = row_correct(t.loss, x.detach(), &batch);
        let seq_ok = sequence_correct(&batch, &ok);
        let (rows_ok, rows) = accuracy_rows(&batch, &ok);
        acc.rows_ok += rows_ok;
        acc.rows += rows;
        acc.seqs_ok += seq_ok.iter().filter(|&&b| b).count() as u64;
        acc.seqs += seq_ok.len() as u64;
        acc.tokens += batch.real_tokens() as u64;

        lr = t.schedule.lr(t.lr, step, t.steps, &plateau);
        let grads = l.backward();
        let (m, norm) = optim.step(lr, model, grads);
        model = m;
        let last_norm = norm;
        acc.loss_sum += value;
        acc.steps += 1;
        let done = step + 1;
        t.schedule.observe(done, value, &mut plateau);

        // Lines fall on multiples of log_every and the last step only, so an interrupted
        // and resumed run writes the same lines as an uninterrupted one.
        if done % t.log_every == 0 || done == t.steps {
            let secs = interval_clock.elapsed().as_secs_f64().max(1e-9);
            let line = MetricsLine {
                step: done,
                loss: acc.loss_sum / acc.steps.max(1) as f64,
                lr,
                acc: acc.rows_ok as f64 / acc.rows.max(1) as f64,
                seq_acc: acc.seqs_ok as f64 / acc.seqs.max(1) as f64,
                grad_norm: last_norm,
                tokens_per_s: acc.tokens as f64 / secs,
                elapsed_s: clock.elapsed().as_secs_f64(),
            };
            metrics.write(&line)?;
            bar.set_message(format!(
                "loss {:.4}  acc {:.3}  seq {:.3}  lr {:.2e}  {:.0} tok/s",
                line.loss, line.acc, line.seq_acc, line.lr, line.tokens_per_s
            ));
            last_line = Some(line);
            acc = IntervalAccum::default();
            interval_clock = Instant::now();
        }
        bar.set_position(done);
        let checkpoint_now =
            (t.checkpoint_every > 0 && done % t.checkpoint_every == 0) || done == end;
        if checkpoint_now {
            last_checkpoint = Some(save(&model, &optim, done, &plateau, &acc)?);
        }
        // SIGINT/SIGTERM (after `interrupt::install`): stop at a step boundary with a
        // checkpoint of it, as `stop_after` does, so `--resume` continues exactly.
        if let Some(signal) = crate::interrupt::requested() {
            let checkpoint = match (checkpoint_now, &last_checkpoint) {
                (true, Some(dir)) => dir.clone(),
                _ => save(&model, &optim, done, &plateau, &acc)?,
            };
            bar.abandon();
            return Err(TrainError::Interrupted {
                signal,
                step: done,
                checkpoint,
            });
        }
    }
    let _ = lr;
    bar.finish_and_clear();
    Ok(TrainOutcome {
        model,
        step: end.max(start),
        last: last_line,
        checkpoint: last_checkpoint,
    })
}

/// Loads only the model weights of a run's checkpoint (for evaluation), into `model` on any
/// backend (training or inference). A record of another model kind or with other parameter
/// shapes is an error naming the difference, never a panic; [`load_checkpoint_model_as`]
/// also compares the checkpoint's recorded model config with the caller's.
pub fn load_checkpoint_model<B, M>(
    model: M,
    run_dir: &Path,
    device: &B::Device,
) -> Result<(M, u64), TrainError>
where
    B: Backend,
    M: Module<B>,
{
    load_checkpoint_weights(model, None, run_dir, device)
}

/// [`load_checkpoint_model`] after checking that the checkpoint was trained with `expected`
/// (its `[model]`, parsed): another kind or any other field is an error naming the fields.
pub fn load_checkpoint_model_as<B, M>(
    model: M,
    expected: &kleene_zoo::ModelConfig,
    run_dir: &Path,
    device: &B::Device,
) -> Result<(M, u64), TrainError>
where
    B: Backend,
    M: Module<B>,
{
    load_checkpoint_weights(model, Some(expected), run_dir, device)
}

/// Reads the checkpoint of `run_dir` once: its model config compared with `expected` (if
/// any), its record format checked, its weights loaded into `model`.
fn load_checkpoint_weights<B, M>(
    model: M,
    expected: Option<&kleene_zoo::ModelConfig>,
    run_dir: &Path,
    device: &B::Device,
) -> Result<(M, u64), TrainError>
where
    B: Backend,
    M: Module<B>,
{
    let dir = Checkpoint::find(run_dir).ok_or_else(|| {
        TrainError::checkpoint(
            Checkpoint::dir(run_dir),
            "no checkpoint in this run directory",
        )
    })?;
    let (state, files) = Checkpoint::load(&dir)?;
    if let Some(expected) = expected {
        let stored: kleene_zoo::ModelConfig = toml::from_str(&state.model_toml).map_err(|e| {
            TrainError::checkpoint(
                &dir,
                format!(
                    "its [model] is not a model config of this version: {}",
                    e.message().trim()
                ),
            )
        })?;
        let differences = crate::model_file::config_differences(&stored, expected);
        if !differences.is_empty() {
            return Err(TrainError::checkpoint(
                &dir,
                format!(
                    "it was trained with another model: {}",
                    differences.join(", ")
                ),
            ));
        }
    }
    check_record_format(&state, &dir)?;
    let model = load_record_checked::<B, M>(model, files.model, device, &dir.join("model.bin"))?;
    Ok((model, state.step))
}
