//! Selective-scan and linear-recurrence ops (placeholder: see issue 3).
