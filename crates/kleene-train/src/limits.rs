//! Sizes that would hang or exhaust memory are refused before a run starts (issue 17:
//! `steps = 9223372036854775807` and `n_layers = 100000` ran with no message, a training or
//! evaluation length of 10⁹, `batch_size = 100000000` and `d_model = 1000000` aborted on
//! allocation).
//!
//! Two kinds of check, both naming the field:
//! - documented bounds where no memory estimate helps: `training.steps` ≤ [`MAX_STEPS`]
//!   (at ≥ 1 ms a step, more would run for weeks), `model.n_layers` ≤ [`MAX_LAYERS`]
//!   (building the layers alone takes minutes beyond it; published models have ≤ 100) and
//!   the tokens of the length curve and of the long lengths ≤ [`MAX_EVAL_TOKENS`] each (a
//!   curve to 10⁶ by 1 fits in memory but would run for weeks);
//! - a rough memory estimate of training and of evaluation ([`estimate`]) compared with the
//!   machine's memory (`MemTotal` of `/proc/meminfo`; no check where that is unknown).
//!
//! The estimate is deliberately an under-estimate (what every model of the zoo needs at
//! least), so a run that fits is never refused; a refused one would certainly not fit.

use crate::config::RunConfig;
use crate::TrainError;

/// Most optimiser steps a run may ask for.
pub const MAX_STEPS: u64 = 1_000_000_000;
/// Most layers a model may have.
pub const MAX_LAYERS: u64 = 1024;
/// Most tokens an evaluation protocol may read: 10¹² (days on a GPU, weeks on a CPU).
pub const MAX_EVAL_TOKENS: f64 = 1e12;

/// Tokens read by the length curve (`per_length` sequences of every length
/// `min_len, min_len + step, ..., ≤ max_len`).
pub fn curve_tokens(min_len: usize, max_len: usize, step: usize, per_length: usize) -> f64 {
    if max_len < min_len || step == 0 {
        return 0.0;
    }
    let n = ((max_len - min_len) / step + 1) as f64;
    let last = min_len as f64 + (n - 1.0) * step as f64;
    per_length as f64 * n * (min_len as f64 + last) / 2.0
}

/// Refuses evaluation protocols that would read more than [`MAX_EVAL_TOKENS`]:
/// `curve` and `long` are the tokens of the length curve and of the long lengths.
pub fn check_eval_tokens(curve: f64, long: f64) -> Result<(), TrainError> {
    for (field, tokens) in [("eval.max_len", curve), ("eval.long_lengths", long)] {
        if tokens > MAX_EVAL_TOKENS {
            return Err(TrainError::invalid(
                field,
                format!(
                    "the evaluation would read {tokens:.2e} tokens, above the bound of {MAX_EVAL_TOKENS:.0e} (it would run for weeks): fewer or shorter lengths, a larger eval.len_step, or fewer samples per length"
                ),
            ));
        }
    }
    Ok(())
}

/// f32 values kept per token and layer by a training step at least (the layer's input,
/// its projections, norm and residual: every zoo layer keeps several `d_model`-wide
/// tensors for its backward).
const TRAIN_VALUES_PER_TOKEN_LAYER: f64 = 8.0;
/// Values alive per token in a forward-only pass (a layer's input and output).
const EVAL_VALUES_PER_TOKEN: f64 = 2.0;
/// f32 copies of every parameter while training: weights, gradients, two Adam moments.
const TRAIN_COPIES: f64 = 4.0;

/// The model's width and depth as its config gives them: `d_model` (else `hidden_size`,
/// else `state_size`), and `n_layers` (1 when the kind has none).
fn model_shape(cfg: &RunConfig) -> (f64, u64) {
    let table = toml::Table::try_from(&cfg.model).unwrap_or_default();
    let int = |key: &str| table.get(key).and_then(|v| v.as_integer());
    let width = ["d_model", "hidden_size", "state_size"]
        .iter()
        .find_map(|k| int(k))
        .unwrap_or(1)
        .max(1) as f64;
    let layers = int("n_layers").unwrap_or(1).max(1) as u64;
    (width, layers)
}

/// A lower estimate of the bytes a run needs: `(training, evaluation)`.
///
/// Parameters ≥ `n_layers · d_model² + vocab · d_model` (every layer has at least one
/// `d_model × d_model` weight). Training keeps `TRAIN_COPIES` of them plus
/// `TRAIN_VALUES_PER_TOKEN_LAYER` values per token and layer of a batch of
/// `training.batch_size` sequences of the window's longest length; evaluation keeps the
/// weights plus `EVAL_VALUES_PER_TOKEN` per token of `eval.batch_size` sequences of
/// `eval_max_len`. All f32.
pub fn estimate(
    cfg: &RunConfig,
    vocab: usize,
    train_max_len: usize,
    eval_max_len: usize,
) -> (f64, f64) {
    let (d, layers) = model_shape(cfg);
    let l = layers as f64;
    let params = l * d * d + vocab as f64 * d;
    let train_tokens = cfg.training.batch_size as f64 * train_max_len as f64;
    let train = 4.0 * (TRAIN_COPIES * params + TRAIN_VALUES_PER_TOKEN_LAYER * train_tokens * d * l);
    let eval_tokens = cfg.eval.batch_size as f64 * eval_max_len as f64;
    let eval = 4.0 * (params + EVAL_VALUES_PER_TOKEN * eval_tokens * d);
    (train, eval)
}

/// The machine's memory in bytes (`MemTotal`), where `/proc/meminfo` tells.
pub fn machine_memory() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / f64::from(1u32 << 30))
}

/// Refuses steps and layers beyond their bounds, and (given the machine's `memory`) a run
/// whose [`estimate`] exceeds it, naming the field that dominates the estimate.
/// `eval_max_len` is the longest sequence evaluated in parallel (the curve's `max_len`, the
/// evaluated splits' longest); lengths evaluated through the recurrent step are left out.
pub fn check(
    cfg: &RunConfig,
    vocab: usize,
    train_max_len: usize,
    eval_max_len: usize,
    memory: Option<f64>,
) -> Result<(), TrainError> {
    let t = &cfg.training;
    if t.steps > MAX_STEPS {
        return Err(TrainError::invalid(
            "training.steps",
            format!(
                "{} is above the bound of {MAX_STEPS} steps (at a millisecond a step or more, it would run for weeks)",
                t.steps
            ),
        ));
    }
    let (d, layers) = model_shape(cfg);
    if layers > MAX_LAYERS {
        return Err(TrainError::invalid(
            "model.n_layers",
            format!("{layers} is above the bound of {MAX_LAYERS} layers"),
        ));
    }
    let Some(memory) = memory else {
        return Ok(());
    };
    let (train, eval) = estimate(cfg, vocab, train_max_len, eval_max_len);
    let params = layers as f64 * d * d + vocab as f64 * d;
    let weights = 4.0 * TRAIN_COPIES * params;
    let of_machine = format!("more than this machine's {} of memory", gib(memory));
    if train > memory {
        let field = if weights >= train / 2.0 {
            "model.d_model"
        } else if t.batch_size >= train_max_len {
            "training.batch_size"
        } else {
            "task.train_max_len"
        };
        return Err(TrainError::invalid(
            field,
            format!(
                "training would need at least {} ({} for ≥ {params:.3e} parameters with gradients and Adam moments at width {d} × {layers} layers, {} for the activations of training.batch_size = {} sequences of length {train_max_len}), {of_machine}",
                gib(train),
                gib(weights),
                gib(train - weights),
                t.batch_size
            ),
        ));
    }
    if eval > memory {
        let field = if 4.0 * params >= eval / 2.0 {
            "model.d_model"
        } else if cfg.eval.batch_size >= eval_max_len {
            "eval.batch_size"
        } else {
            "eval.max_len"
        };
        return Err(TrainError::invalid(
            field,
            format!(
                "evaluation would need at least {} for eval.batch_size = {} sequences of length {eval_max_len} at width {d}, {of_machine}",
                gib(eval),
                cfg.eval.batch_size
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(model: &str, training: &str, eval: &str) -> RunConfig {
        let text = format!(
            "[task]\nname = \"tomita-2\"\n[model]\nkind = \"mamba\"\n{model}\n[training]\n{training}\n[eval]\n{eval}\n"
        );
        RunConfig::parse(&text, Path::new("t.toml")).unwrap()
    }

    const GIB: f64 = (1u64 << 30) as f64;

    #[test]
    fn sizes_that_hang_or_exhaust_memory_are_refused_naming_the_field() {
        let memory = Some(16.0 * GIB);
        let ok = cfg("d_model = 64\nn_layers = 2", "", "");
        check(&ok, 3, 50, 100, memory).unwrap();
        for (c, train_len, eval_len, field) in [
            (
                cfg("", "steps = 9223372036854775807", ""),
                50,
                100,
                "training.steps",
            ),
            (cfg("n_layers = 100000", "", ""), 50, 100, "model.n_layers"),
            (cfg("d_model = 1000000", "", ""), 50, 100, "model.d_model"),
            (
                cfg("", "batch_size = 100000000", ""),
                50,
                100,
                "training.batch_size",
            ),
            (cfg("", "", ""), 1_000_000_000, 100, "task.train_max_len"),
            (cfg("", "", ""), 50, 1_000_000_000, "eval.max_len"),
        ] {
            let err = check(&c, 3, train_len, eval_len, memory)
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
        // The estimate names the machine's memory; without it only the bounds apply.
        let big = cfg("d_model = 1000000", "", "");
        let err = check(&big, 3, 50, 100, memory).unwrap_err().to_string();
        assert!(
            err.contains("16.0 GiB") && err.contains("at least"),
            "{err}"
        );
        check(&big, 3, 50, 100, None).unwrap();
    }

    #[test]
    fn evaluations_that_would_run_for_weeks_are_refused() {
        // The default curve 1..=100, 128 per length; the paper's 512 per length to 500.
        assert_eq!(curve_tokens(1, 100, 1, 128), 128.0 * 5050.0);
        check_eval_tokens(curve_tokens(1, 500, 1, 512), 64.0 * 1e5).unwrap();
        let err = check_eval_tokens(curve_tokens(1, 1_000_000, 1, 128), 0.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("eval.max_len") && err.contains("tokens"),
            "{err}"
        );
        let err = check_eval_tokens(0.0, 64.0 * 1e12).unwrap_err().to_string();
        assert!(err.contains("eval.long_lengths"), "{err}");
    }

    #[test]
    fn the_estimate_stays_below_what_small_runs_really_use() {
        // The quickstart-sized Mamba: well under a megabyte by this estimate.
        let (train, eval) = estimate(&cfg("d_model = 32\nn_layers = 1", "", ""), 3, 50, 100);
        assert!(train < 4e6 && eval < 4e6, "{train} {eval}");
    }
}
