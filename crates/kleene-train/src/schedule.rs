//! Learning-rate schedules, as closed forms of the step (plus the small state of
//! halve-on-plateau, which is saved in every checkpoint so a resume continues it).

use serde::{Deserialize, Serialize};

use crate::TrainError;

/// A learning-rate schedule. `t` below is the 0-based optimizer step, `lr` the base
/// learning rate of the run, `S` the total number of steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// `lr_t = lr` (SD-SSM, Sarrof et al.).
    #[default]
    Constant,
    /// timm `CosineLRScheduler` as REGBENCH uses it (warm-up is *not* a prefix: the cosine
    /// runs over `t` from 0, so it has already advanced at the end of the warm-up):
    /// `t < W`: `lr_t = warmup_lr_init + t (lr - warmup_lr_init) / W`;
    /// else `lr_t = min_lr + (lr - min_lr)(1 + cos(pi t / S)) / 2` with `min_lr = min_lr_ratio * lr`.
    Cosine {
        /// `W`, in steps. Default 0.
        #[serde(default)]
        warmup_steps: u64,
        /// Default 1e-6 (timm/REGBENCH).
        #[serde(default = "default_warmup_lr_init")]
        warmup_lr_init: f64,
        /// Default 0.1 (REGBENCH `lr_min = 0.1 lr`).
        #[serde(default = "default_min_lr_ratio")]
        min_lr_ratio: f64,
    },
    /// `transformers.get_linear_schedule_with_warmup` (associative recall):
    /// `t < W`: `lr t / W`; else `lr max(0, (S - t) / (S - W))`.
    Linear {
        #[serde(default)]
        warmup_steps: u64,
    },
    /// PyTorch `ReduceLROnPlateau(mode=min, factor, patience, threshold, threshold_mode=rel)`
    /// stepped every `interval` steps on the mean training loss of that interval (the bounded-Dyck
    /// recipe steps it per epoch on the dev loss).
    Plateau {
        /// Default 0.5 (halve).
        #[serde(default = "default_factor")]
        factor: f64,
        /// Default 0.
        #[serde(default)]
        patience: u32,
        /// Relative improvement needed, default 1e-4.
        #[serde(default = "default_threshold")]
        threshold: f64,
        /// Steps per plateau check, default 1000.
        #[serde(default = "default_interval")]
        interval: u64,
    },
}

fn default_warmup_lr_init() -> f64 {
    1e-6
}
fn default_min_lr_ratio() -> f64 {
    0.1
}
fn default_factor() -> f64 {
    0.5
}
fn default_threshold() -> f64 {
    1e-4
}
fn default_interval() -> u64 {
    1000
}

/// The mutable part of a plateau schedule; saved with each checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct PlateauState {
    /// Product of all reductions so far (1.0 = none).
    pub scale: f64,
    /// Best interval loss seen.
    pub best: Option<f64>,
    /// Intervals since the last improvement.
    pub bad_intervals: u32,
    /// Sum and count of the losses of the current interval.
    pub interval_sum: f64,
    pub interval_count: u64,
}

impl Schedule {
    /// Checks the parameters against the run length `total_steps`.
    pub fn validate(&self, total_steps: u64) -> Result<(), TrainError> {
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Cosine {
                warmup_steps,
                warmup_lr_init,
                min_lr_ratio,
            } => {
                if warmup_steps >= total_steps && total_steps > 0 {
                    return Err(TrainError::invalid(
                        "training.schedule.warmup_steps",
                        format!("{warmup_steps} must be below training.steps = {total_steps}"),
                    ));
                }
                if !(0.0..=1.0).contains(&min_lr_ratio) {
                    return Err(TrainError::invalid(
                        "training.schedule.min_lr_ratio",
                        format!("{min_lr_ratio} is not in [0, 1]"),
                    ));
                }
                if warmup_lr_init.is_nan() || warmup_lr_init < 0.0 {
                    return Err(TrainError::invalid(
                        "training.schedule.warmup_lr_init",
                        "must be >= 0",
                    ));
                }
                Ok(())
            }
            Schedule::Linear { warmup_steps } => {
                if warmup_steps >= total_steps && total_steps > 0 {
                    return Err(TrainError::invalid(
                        "training.schedule.warmup_steps",
                        format!("{warmup_steps} must be below training.steps = {total_steps}"),
                    ));
                }
                Ok(())
            }
            Schedule::Plateau {
                factor,
                threshold,
                interval,
                ..
            } => {
                if !(factor > 0.0 && factor < 1.0) {
                    return Err(TrainError::invalid(
                        "training.schedule.factor",
                        format!("{factor} is not in (0, 1)"),
                    ));
                }
                if threshold.is_nan() || threshold < 0.0 {
                    return Err(TrainError::invalid(
                        "training.schedule.threshold",
                        "must be >= 0",
                    ));
                }
                if interval == 0 {
                    return Err(TrainError::invalid(
                        "training.schedule.interval",
                        "must be >= 1",
                    ));
                }
                Ok(())
            }
        }
    }

    /// The learning rate for step `t` (0-based) of `total_steps`; `plateau` is used only by
    /// [`Schedule::Plateau`].
    pub fn lr(&self, base_lr: f64, t: u64, total_steps: u64, plateau: &PlateauState) -> f64 {
        match *self {
            Schedule::Constant => base_lr,
            Schedule::Cosine {
                warmup_steps,
                warmup_lr_init,
                min_lr_ratio,
            } => {
                if t < warmup_steps {
                    warmup_lr_init + t as f64 * (base_lr - warmup_lr_init) / warmup_steps as f64
                } else {
                    let min_lr = min_lr_ratio * base_lr;
                    let frac = t as f64 / total_steps.max(1) as f64;
                    min_lr + 0.5 * (base_lr - min_lr) * (1.0 + (std::f64::consts::PI * frac).cos())
                }
            }
            Schedule::Linear { warmup_steps } => {
                if t < warmup_steps {
                    base_lr * t as f64 / warmup_steps as f64
                } else {
                    let rest = total_steps.saturating_sub(t) as f64;
                    let span = (total_steps - warmup_steps).max(1) as f64;
                    base_lr * (rest / span).max(0.0)
                }
            }
            Schedule::Plateau { .. } => {
                let scale = if plateau.scale == 0.0 {
                    1.0
                } else {
                    plateau.scale
                };
                base_lr * scale
            }
        }
    }

    /// Feeds the loss of the step just taken (1-based count `steps_done`) to a plateau
    /// schedule; no-op for the closed-form schedules.
    pub fn observe(&self, steps_done: u64, loss: f64, state: &mut PlateauState) {
        if let Schedule::Plateau {
            factor,
            patience,
            threshold,
            interval,
        } = *self
        {
            if state.scale == 0.0 {
                state.scale = 1.0;
            }
            state.interval_sum += loss;
            state.interval_count += 1;
            if steps_done.is_multiple_of(interval) {
                let mean = state.interval_sum / state.interval_count.max(1) as f64;
                state.interval_sum = 0.0;
                state.interval_count = 0;
                match state.best {
                    // Not an improvement (NaN included).
                    Some(best)
                        if mean.partial_cmp(&(best * (1.0 - threshold)))
                            != Some(std::cmp::Ordering::Less) =>
                    {
                        state.bad_intervals += 1;
                        if state.bad_intervals > patience {
                            state.scale *= factor;
                            state.bad_intervals = 0;
                        }
                    }
                    _ => {
                        state.best = Some(mean);
                        state.bad_intervals = 0;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_is_constant() {
        let s = Schedule::Constant;
        for t in [0, 1, 99, 1000] {
            assert_eq!(s.lr(3e-4, t, 1000, &PlateauState::default()), 3e-4);
        }
    }

    /// REGBENCH: lr 2.5e-4, E = 32 steps/epoch, 200 epochs, warm-up 20 epochs.
    #[test]
    fn cosine_matches_timm_closed_form() {
        let e = 32u64;
        let total = 200 * e;
        let w = 20 * e;
        let s = Schedule::Cosine {
            warmup_steps: w,
            warmup_lr_init: 1e-6,
            min_lr_ratio: 0.1,
        };
        let lr = 2.5e-4;
        let st = PlateauState::default();
        // Start of warm-up.
        assert!((s.lr(lr, 0, total, &st) - 1e-6).abs() < 1e-15);
        // Middle of warm-up: linear.
        let mid = s.lr(lr, w / 2, total, &st);
        assert!((mid - (1e-6 + 0.5 * (lr - 1e-6))).abs() < 1e-15);
        // First step after warm-up: cosine already advanced to t = W (no prefix shift).
        let expect = 2.5e-5 + 0.5 * (lr - 2.5e-5) * (1.0 + (std::f64::consts::PI * 0.1).cos());
        assert!((s.lr(lr, w, total, &st) - expect).abs() < 1e-15);
        // Half way: mean of max and min.
        let half = s.lr(lr, total / 2, total, &st);
        assert!((half - (lr + 2.5e-5) / 2.0).abs() < 1e-15);
        // Last step approaches min_lr.
        let last = s.lr(lr, total - 1, total, &st);
        assert!(last > 2.5e-5 && last < 2.5e-5 + 1e-9);
    }

    #[test]
    fn linear_warmup_then_decay_to_zero() {
        let s = Schedule::Linear { warmup_steps: 10 };
        let st = PlateauState::default();
        assert_eq!(s.lr(1.0, 0, 110, &st), 0.0);
        assert!((s.lr(1.0, 5, 110, &st) - 0.5).abs() < 1e-15);
        assert!((s.lr(1.0, 10, 110, &st) - 1.0).abs() < 1e-15);
        assert!((s.lr(1.0, 60, 110, &st) - 0.5).abs() < 1e-15);
        assert_eq!(s.lr(1.0, 110, 110, &st), 0.0);
    }

    /// Against a hand trace of torch's ReduceLROnPlateau(factor .5, patience 0, threshold 1e-4).
    #[test]
    fn plateau_halves_after_no_improvement() {
        let s = Schedule::Plateau {
            factor: 0.5,
            patience: 0,
            threshold: 1e-4,
            interval: 2,
        };
        let mut st = PlateauState::default();
        let losses = [
            1.0, 1.0, // mean 1.0 -> best
            0.5, 0.5, // 0.5 improves
            0.6, 0.6, // worse -> halve
            0.49999, 0.49999, // improvement < 1e-4 relative -> halve again
            0.1, 0.1, // improves
        ];
        let mut lrs = Vec::new();
        for (i, &l) in losses.iter().enumerate() {
            s.observe(i as u64 + 1, l, &mut st);
            lrs.push(s.lr(1.0, i as u64 + 1, 100, &st));
        }
        assert_eq!(
            lrs,
            vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25]
        );
        assert_eq!(st.best, Some(0.1));
    }

    #[test]
    fn validation_names_the_field() {
        let s = Schedule::Cosine {
            warmup_steps: 100,
            warmup_lr_init: 1e-6,
            min_lr_ratio: 2.0,
        };
        let err = s.validate(1000).unwrap_err().to_string();
        assert!(err.contains("training.schedule.min_lr_ratio"), "{err}");
        let err = s.validate(50).unwrap_err().to_string();
        assert!(err.contains("warmup_steps"), "{err}");
    }
}
