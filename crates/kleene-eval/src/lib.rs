//! Evaluation (placeholder: see issue 6).
