//! Causal masks.

use burn::prelude::*;

/// `(l, l)` mask that is `true` strictly above the diagonal (key position `s` after query `t`).
pub fn future_mask<B: Backend>(l: usize, device: &B::Device) -> Tensor<B, 2, Bool> {
    let rows = Tensor::<B, 1, Int>::arange(0..l as i64, device)
        .reshape([l, 1])
        .expand([l, l]);
    let cols = Tensor::<B, 1, Int>::arange(0..l as i64, device)
        .reshape([1, l])
        .expand([l, l]);
    cols.greater(rows)
}
