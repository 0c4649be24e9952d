//! The delta rule from Burn tensor ops, one step at a time (differentiable by Burn's own
//! autodiff, which stores every state): the baseline of the benchmarks and a second oracle for
//! the hand-written backward. O(L) ops of size `batch·heads·dk·dv`.

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

use super::DeltaRuleInput;

/// Same contract as [`super::delta_rule`]: `(o, S_final)`.
pub fn delta_rule<B: Backend>(input: DeltaRuleInput<B>) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let [batch, heads, len, dk] = input.q.dims();
    let dv = input.v.dims()[3];
    let device = input.q.device();
    let mut s = input
        .initial_state
        .unwrap_or_else(|| Tensor::zeros([batch, heads, dk, dv], &device));
    // (B, H, 1, dk) -> a column (B, H, dk, 1)
    let col = |t: &Tensor<B, 4>, i: usize| t.clone().narrow(2, i, 1).swap_dims(2, 3);
    let mut outs = Vec::with_capacity(len);
    for t in 0..len {
        let (q, k, a, b) = (
            col(&input.q, t),
            col(&input.k, t),
            col(&input.a, t),
            col(&input.b, t),
        );
        let v = input.v.clone().narrow(2, t, 1); // (B, H, 1, dv)
        let u = (a * s.clone()).sum_dim(2); // (B, H, 1, dv)
        let decayed = match &input.w {
            Some(w) => col(w, t) * s,
            None => s,
        };
        s = decayed + b * u + k * v;
        outs.push((q * s.clone()).sum_dim(2)); // (B, H, 1, dv)
    }
    (Tensor::cat(outs, 2), s)
}
