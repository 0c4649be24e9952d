//! The training loop: batches -> forward -> loss -> backward -> clip -> optimiser step,
//! with metrics, checkpoints, exact resume and a NaN/Inf guard.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressStyle};
use kleene_langs::io::write_atomic;
use kleene_langs::Task;
use kleene_zoo::{ModelConfig, SequenceModel};

use crate::checkpoint::{Checkpoint, CheckpointFiles, CheckpointState};
use crate::config::DataSource;
use crate::config::RunConfig;
use crate::data::{Batch, BatchSource};
use crate::loss::{loss, scored_rows, LossKind, RowTargets};
use crate::metrics::{IntervalAccum, MetricsLine, MetricsWriter};
use crate::optim::TrainOptimizer;
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

/// Sequence-level accuracy: a sequence is correct when all its scored rows are.
pub fn sequence_correct(batch: &Batch, rows_ok: &[bool]) -> Vec<bool> {
    let mut ok = vec![true; batch.batch_size];
    for (r, &good) in rows_ok.iter().enumerate() {
        if !good {
            ok[batch.row_seq[r]] = false;
        }
    }
    ok
}

fn model_bytes<B: AutodiffBackend, M: AutodiffModule<B>>(model: &M) -> Vec<u8> {
    let rec = BinBytesRecorder::<FullPrecisionSettings>::default();
    Recorder::<B>::record(&rec, model.clone().into_record(), ()).expect("in-memory record")
}

fn load_model_bytes<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: M,
    bytes: Vec<u8>,
    device: &B::Device,
    path: &Path,
) -> Result<M, TrainError> {
    let rec = BinBytesRecorder::<FullPrecisionSettings>::default();
    let record = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Recorder::<B>::load::<M::Record>(&rec, bytes, device)
    }))
    .map_err(|_| TrainError::checkpoint(path, "model record does not match this model"))?
    .map_err(|e| TrainError::checkpoint(path, format!("model record: {e}")))?;
    Ok(model.load_record(record))
}

/// The `[model]` a checkpoint records (`CheckpointState::model_toml`): every field, as TOML.
fn model_fingerprint(cfg: &RunConfig) -> String {
    toml::to_string(&cfg.model).unwrap_or_default()
}

/// One line for a model in a message: `kind key=value ...` with every field.
fn model_line(model: &ModelConfig) -> String {
    toml::Table::try_from(model)
        .map(|t| crate::evaluate::table_label(&t))
        .unwrap_or_else(|_| format!("{model:?}"))
}

/// Refuses a checkpoint whose model record the current zoo cannot read (its record format,
/// for the model its `model_toml` names); an unreadable `model_toml` is left to the caller.
pub fn check_record_format(state: &CheckpointState, dir: &Path) -> Result<(), TrainError> {
    match toml::from_str::<ModelConfig>(&state.model_toml) {
        Ok(model) => model
            .check_record_format(state.record_format)
            .map_err(|why| TrainError::checkpoint(dir.join("model.bin"), why)),
        Err(_) => Ok(()),
    }
}

/// Refuses a resume whose config has another model or seed than the checkpoint `dir`.
///
/// The stored `model_toml` is compared as a [`ModelConfig`], not as text: checkpoints
/// written before `[model]` was typed hold the table as written (only the keys set, in the
/// file's order), and resume when it means the same model.
pub fn check_resume(
    state: &CheckpointState,
    cfg: &RunConfig,
    dir: &Path,
) -> Result<(), TrainError> {
    match toml::from_str::<ModelConfig>(&state.model_toml) {
        Ok(stored) if stored == cfg.model => {}
        Ok(stored) => {
            return Err(TrainError::checkpoint(
                dir,
                format!(
                    "it was written with a different [model] than this config: the checkpoint has `{}`, this config `{}`",
                    model_line(&stored),
                    model_line(&cfg.model)
                ),
            ))
        }
        Err(e) => {
            return Err(TrainError::checkpoint(
                dir,
                format!(
                    "its [model] `{}` is not a model config of this version ({}): it cannot be compared with this config's `{}`, so it is not resumed; choose another out_dir",
                    state.model_toml.trim().replace('\n', "; "),
                    e.message().trim(),
                    model_line(&cfg.model)
                ),
            ))
        }
    }
    // The task: a checkpoint trained on another one would be trained on (or, with another
    // vocabulary, fail in the loss on) data it was not made for.
    let trained_on = state.task.clone().or_else(|| {
        // Older checkpoints: the run's config.toml, which a resume only rewrites after this.
        let run_dir = dir.parent()?;
        RunConfig::load(&run_dir.join("config.toml"))
            .ok()
            .map(|c| c.task.name)
    });
    if let Some(task) = trained_on {
        if task != cfg.task.name {
            return Err(TrainError::checkpoint(
                dir,
                format!(
                    "it was trained on task `{task}`, this config has task.name = `{}`; choose another out_dir",
                    cfg.task.name
                ),
            ));
        }
    }
    if state.seed != cfg.training.seed {
        return Err(TrainError::checkpoint(
            dir,
            format!(
                "it was written with training.seed = {}, this config has {}",
                state.seed, cfg.training.seed
            ),
        ));
    }
    Ok(())
}

/// Checks that `run_dir` may receive a run, before anything is written there.
///
/// A run writes fixed names (`config.toml`, `report.md`, ...) into its directory, so a
/// directory that holds anything else than a kleene run would lose files: the working
/// directory with a user's own `config.toml` and `report.md` (`--out-dir .`) is the case
/// that happened. Accepted: a path that does not exist yet, an empty directory, or a
/// kleene run directory, i.e. one with a checkpoint, or with a `config.toml` that parses as
/// a run config and either a `metrics.jsonl` next to it or the exact text kleene writes
/// (a run stopped before its first metrics line). An empty path is refused naming
/// `out_dir`: it would resolve to the working directory. With `resume` the checkpoint
/// itself is checked later, by [`train`].
pub fn check_run_dir(run_dir: &Path, resume: bool) -> Result<(), TrainError> {
    let refuse = |reason: String| TrainError::RunDir {
        path: run_dir.to_path_buf(),
        reason,
    };
    if run_dir.as_os_str().is_empty() {
        return Err(refuse(
            "out_dir is empty, which would write the run into the working directory: set `out_dir` (or --out-dir) to a directory of its own, e.g. runs/NAME".into(),
        ));
    }
    let entries = match std::fs::read_dir(run_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if run_dir.exists() && !run_dir.is_dir() => {
            return Err(refuse(format!("exists and is not a directory ({e})")))
        }
        Err(e) => return Err(TrainError::io(run_dir, e)),
    };
    let mut names: Vec<String> = entries
        .map(|e| {
            e.map(|e| e.file_name().to_string_lossy().into_owned())
                .map_err(|e| TrainError::io(run_dir, e))
        })
        .collect::<Result<_, _>>()?;
    // A run's own lock file (left by a killed run that had written nothing else).
    names.retain(|n| n != ".lock");
    if names.is_empty() || is_kleene_run_dir(run_dir) {
        return Ok(());
    }
    names.sort();
    let shown = if names.len() > 6 {
        format!("{}, ... ({} entries)", names[..6].join(", "), names.len())
    } else {
        names.join(", ")
    };
    let what = if resume { "resumed" } else { "written" };
    Err(refuse(format!(
        "not a kleene run directory (it holds {shown}; no checkpoint, and no config.toml written by kleene): a run {what} here would overwrite files such as config.toml and report.md; choose a new or empty out_dir"
    )))
}

/// Whether `dir` holds a kleene run (see [`check_run_dir`]).
fn is_kleene_run_dir(dir: &Path) -> bool {
    if Checkpoint::find(dir).is_some() {
        return true;
    }
    let config = dir.join("config.toml");
    let Ok(text) = std::fs::read_to_string(&config) else {
        return false;
    };
    let Ok(parsed) = RunConfig::parse(&text, &config) else {
        return false;
    };
    // A user's own config parses too; only kleene writes it fully resolved, so the text
    // must round-trip unless the run's metrics are there as well.
    dir.join("metrics.jsonl").is_file() || parsed.to_toml() == text
}

/// Trains `model` on `task` as `cfg` says, writing into `run_dir`.
///
/// `model` must be freshly initialised from `cfg.training.seed`; on resume its weights are
/// replaced by the checkpoint's.
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
    check_run_dir(run_dir, opts.resume)?;
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
        check_resume(&state, cfg, &dir)?;
        check_record_format(&state, &dir)?;
        model = load_model_bytes::<B, M>(model, files.model, device, &dir.join("model.bin"))?;
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
            "the run directory already holds a checkpoint: pass --resume to continue it, or choose another out_dir",
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
        let pb = ProgressBar::new(t.steps);
        pb.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps  {msg}")
                .unwrap()
                .progress_chars("=> "),
        );
        pb.set_position(start);
        pb
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
                burn_version: "0.21.0".into(),
                record_format: kleene_zoo::RECORD_FORMAT,
                task: Some(cfg.task.name.clone()),
            },
            &CheckpointFiles {
                model: model_bytes::<B, M>(model),
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
            return Err(TrainError::NonFiniteLoss {
                step,
                value,
                last_good: last_checkpoint,
            });
        }
        let ok = row_correct(t.loss, x.detach(), &batch);
        let seq_ok = sequence_correct(&batch, &ok);
        acc.rows_ok += ok.iter().filter(|&&b| b).count() as u64;
        acc.rows += ok.len() as u64;
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

/// Loads only the model weights of a run's checkpoint (for evaluation).
pub fn load_checkpoint_model<B, M>(
    model: M,
    run_dir: &Path,
    device: &B::Device,
) -> Result<(M, u64), TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
{
    let dir = Checkpoint::find(run_dir).ok_or_else(|| {
        TrainError::checkpoint(
            Checkpoint::dir(run_dir),
            "no checkpoint in this run directory",
        )
    })?;
    let (state, files) = Checkpoint::load(&dir)?;
    check_record_format(&state, &dir)?;
    let model = load_model_bytes::<B, M>(model, files.model, device, &dir.join("model.bin"))?;
    Ok((model, state.step))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::IntervalAccum;

    /// Resuming with another task (`--resume` after editing task.name) is refused before
    /// anything is loaded or written: from the task the checkpoint records, and for older
    /// checkpoints from the run's config.toml.
    #[test]
    fn check_resume_refuses_another_task() {
        let tmp = tempfile::tempdir().unwrap();
        let ckpt = tmp.path().join("checkpoint");
        std::fs::create_dir_all(&ckpt).unwrap();
        let model = "kind = \"mamba\"\nd_model = 8";
        let trained = cfg(model, 3);
        let mut other = trained.clone();
        other.task.name = "parity-check".into();
        let mut st = state(&model_fingerprint(&trained), 3);
        check_resume(&st, &trained, &ckpt).unwrap();
        let err = check_resume(&st, &other, &ckpt).unwrap_err().to_string();
        assert!(
            err.contains("tomita-2") && err.contains("parity-check"),
            "{err}"
        );
        // A checkpoint from before `task` was recorded: the run's config.toml tells.
        st.task = None;
        check_resume(&st, &other, &ckpt).unwrap(); // nothing to compare with
        std::fs::write(tmp.path().join("config.toml"), trained.to_toml()).unwrap();
        let err = check_resume(&st, &other, &ckpt).unwrap_err().to_string();
        assert!(
            err.contains("tomita-2") && err.contains("parity-check"),
            "{err}"
        );
        check_resume(&st, &trained, &ckpt).unwrap();
    }

    fn cfg(model: &str, seed: u64) -> RunConfig {
        let text =
            format!("[task]\nname = \"tomita-2\"\n[model]\n{model}\n[training]\nseed = {seed}\n");
        RunConfig::parse(&text, Path::new("t.toml")).unwrap()
    }

    fn state(model_toml: &str, seed: u64) -> CheckpointState {
        CheckpointState {
            step: 10,
            plateau: PlateauState::default(),
            accum: IntervalAccum::default(),
            model_toml: model_toml.into(),
            seed,
            checksums: vec![],
            burn_version: "0.21.0".into(),
            record_format: kleene_zoo::RECORD_FORMAT,
            task: Some("tomita-2".into()),
        }
    }

    /// The `model_toml` of a checkpoint written before `[model]` was typed: the table as
    /// the file wrote it.
    const OLD_STYLE: &str = "kind = \"mamba\"\nd_model = 32\nn_layers = 1\n";

    #[test]
    fn resume_accepts_an_old_style_model_table_of_the_same_model() {
        let dir = Path::new("run/checkpoint");
        // Keys in another order, a default written out: the same model.
        let c = cfg(
            "n_layers = 1\nkind = \"mamba\"\nd_state = 16\nd_model = 32",
            3,
        );
        // The typed fingerprint is not the old text (so a text comparison would refuse) ...
        assert_ne!(model_fingerprint(&c), OLD_STYLE);
        // ... but it means the same model.
        check_resume(&state(OLD_STYLE, 3), &c, dir).unwrap();
        // And a checkpoint written now resumes too.
        check_resume(&state(&model_fingerprint(&c), 3), &c, dir).unwrap();
    }

    #[test]
    fn resume_refuses_another_model_naming_both() {
        let dir = Path::new("run/checkpoint");
        let c = cfg("kind = \"mamba\"\nd_model = 64\nn_layers = 1", 3);
        let err = check_resume(&state(OLD_STYLE, 3), &c, dir)
            .unwrap_err()
            .to_string();
        assert!(err.contains("different [model]"), "{err}");
        assert!(
            err.contains("d_model=32") && err.contains("d_model=64"),
            "{err}"
        );
        assert!(err.contains("run/checkpoint"), "{err}");
        // A default that changes the model: the stored one has d_state = 16.
        let c = cfg("kind = \"mamba\"\nd_model = 32\nd_state = 8", 3);
        assert!(check_resume(&state(OLD_STYLE, 3), &c, dir).is_err());
    }

    #[test]
    fn resume_refuses_an_unreadable_model_or_another_seed() {
        let dir = Path::new("run/checkpoint");
        let c = cfg("kind = \"mamba\"\nd_model = 32", 3);
        for stored in ["kind = \"tiny\"\nd = 8\n", "not toml = = 1", ""] {
            let err = check_resume(&state(stored, 3), &c, dir)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("cannot be compared") && err.contains("mamba"),
                "{err}"
            );
        }
        let err = check_resume(&state(&model_fingerprint(&c), 4), &c, dir)
            .unwrap_err()
            .to_string();
        assert!(err.contains("training.seed = 4"), "{err}");
    }

    #[test]
    fn check_run_dir_refuses_an_empty_path_and_foreign_files_and_accepts_kleene_runs() {
        let err = check_run_dir(Path::new(""), false).unwrap_err().to_string();
        assert!(err.contains("out_dir is empty"), "{err}");
        let tmp = tempfile::tempdir().unwrap();
        check_run_dir(&tmp.path().join("new"), false).unwrap();
        check_run_dir(tmp.path(), false).unwrap();
        let file = tmp.path().join("notes.txt");
        std::fs::write(&file, "mine").unwrap();
        let err = check_run_dir(&file, false).unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
        let err = check_run_dir(tmp.path(), true).unwrap_err().to_string();
        assert!(err.contains("not a kleene run directory"), "{err}");
        assert!(err.contains("notes.txt"), "{err}");
        // A user's own (hand-written) kleene config is not kleene's run config ...
        let c = cfg("kind = \"rnn\"", 0);
        std::fs::write(
            tmp.path().join("config.toml"),
            "[task]\nname = \"tomita-2\"\n",
        )
        .unwrap();
        assert!(check_run_dir(tmp.path(), false).is_err());
        // ... the text kleene writes is, and so is any run config with its metrics.
        std::fs::write(tmp.path().join("config.toml"), c.to_toml()).unwrap();
        check_run_dir(tmp.path(), false).unwrap();
        std::fs::write(
            tmp.path().join("config.toml"),
            "[task]\nname = \"tomita-2\"\n[model]\nkind = \"rnn\"\n",
        )
        .unwrap();
        assert!(check_run_dir(tmp.path(), false).is_err());
        std::fs::write(tmp.path().join("metrics.jsonl"), "").unwrap();
        check_run_dir(tmp.path(), false).unwrap();
    }
}
