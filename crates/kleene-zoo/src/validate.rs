//! Checks of config values; every error names the field.

use crate::ZooError;

/// `ZooError::InvalidConfig` for `field`.
pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> ZooError {
    ZooError::InvalidConfig {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// `Err(invalid(field, reason))` unless `ok`.
pub(crate) fn ensure(ok: bool, field: &str, reason: impl Into<String>) -> Result<(), ZooError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(field, reason))
    }
}

/// Checks `0 <= p < 1` for a dropout probability.
pub(crate) fn ensure_prob(p: f64, field: &str) -> Result<(), ZooError> {
    ensure(
        p.is_finite() && (0.0..1.0).contains(&p),
        field,
        format!("must be in [0, 1), got {p}"),
    )
}

/// Checks `0 < lo <= hi`, both finite.
pub(crate) fn ensure_range(
    lo: f64,
    hi: f64,
    field_lo: &str,
    field_hi: &str,
) -> Result<(), ZooError> {
    ensure(
        lo.is_finite() && lo > 0.0,
        field_lo,
        format!("must be finite and > 0, got {lo}"),
    )?;
    ensure(
        hi.is_finite() && hi >= lo,
        field_hi,
        format!("must be finite and >= {field_lo} ({lo}), got {hi}"),
    )
}

/// `Err` unless `value >= 1`.
pub(crate) fn positive(field: &str, value: usize) -> Result<(), ZooError> {
    ensure(value > 0, field, "must be at least 1")
}

/// `Err` unless `value` is finite and `> 0`.
pub(crate) fn positive_f(field: &str, value: f64) -> Result<(), ZooError> {
    ensure(
        value.is_finite() && value > 0.0,
        field,
        format!("must be a finite number > 0, got {value}"),
    )
}
