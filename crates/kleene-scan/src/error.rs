//! Errors of the public op functions.

/// What went wrong when calling one of the ops with bad inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// A tensor has the wrong shape.
    #[error("{op}: `{field}` has shape {got:?}, expected {expected:?}")]
    Shape {
        /// The op that was called.
        op: &'static str,
        /// The offending input field.
        field: &'static str,
        /// Its actual shape.
        got: Vec<usize>,
        /// The shape implied by the other inputs.
        expected: Vec<usize>,
    },
    /// The number of groups of B/C does not divide the number of channels.
    #[error("{op}: `b`/`c` have {groups} groups, which does not divide d = {d}")]
    Groups {
        /// The op that was called.
        op: &'static str,
        /// Number of groups of B and C.
        groups: usize,
        /// Number of channels.
        d: usize,
    },
    /// A token id is outside `0..vocab`.
    #[error("{op}: token id {id} at flat position {position} of `tokens` is outside 0..{vocab}")]
    TokenOutOfRange {
        /// The op that was called.
        op: &'static str,
        /// Flat (row-major) index into `tokens`.
        position: usize,
        /// The id found there.
        id: i64,
        /// Number of matrices in `m`.
        vocab: usize,
    },
    /// An index (not a token id) is outside `0..bound`.
    #[error("{op}: id {id} at flat position {position} of `{field}` is outside 0..{bound}")]
    IndexOutOfRange {
        /// The op that was called.
        op: &'static str,
        /// The offending input field.
        field: &'static str,
        /// Flat (row-major) index into the field.
        position: usize,
        /// The id found there.
        id: i64,
        /// The exclusive upper bound.
        bound: usize,
    },
    /// An optional input is required by the other inputs.
    #[error("{op}: `{field}` is required: {reason}")]
    Missing {
        /// The op that was called.
        op: &'static str,
        /// The missing input field.
        field: &'static str,
        /// Why it is needed.
        reason: &'static str,
    },
    /// A size that must be at least 1 is 0.
    #[error("{op}: `{field}` has a zero-sized dimension {got:?}; every size must be >= 1")]
    Empty {
        /// The op that was called.
        op: &'static str,
        /// The offending input field.
        field: &'static str,
        /// Its shape.
        got: Vec<usize>,
    },
    /// Tensor data could not be read back.
    #[error("could not read tensor data: {0}")]
    Data(String),
}

pub(crate) fn expect_nonempty(
    op: &'static str,
    field: &'static str,
    got: &[usize],
) -> Result<(), ScanError> {
    if got.iter().all(|&s| s > 0) {
        Ok(())
    } else {
        Err(ScanError::Empty {
            op,
            field,
            got: got.to_vec(),
        })
    }
}

pub(crate) fn expect_shape(
    op: &'static str,
    field: &'static str,
    got: &[usize],
    expected: &[usize],
) -> Result<(), ScanError> {
    if got == expected {
        Ok(())
    } else {
        Err(ScanError::Shape {
            op,
            field,
            got: got.to_vec(),
            expected: expected.to_vec(),
        })
    }
}
