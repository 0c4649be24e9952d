//! Training (placeholder: see issue 6).
