//! Reshaping a sequence: heads, time steps, delays.

use burn::prelude::*;

/// Split the last dim `(B, L, H*dh)` into heads `(B, H, L, dh)`.
pub fn to_heads<B: Backend>(x: Tensor<B, 3>, heads: usize) -> Tensor<B, 4> {
    let [b, l, hd] = x.dims();
    x.reshape([b, l, heads, hd / heads]).swap_dims(1, 2)
}

/// Inverse of [`to_heads`].
pub fn from_heads<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 3> {
    let [b, h, l, dh] = x.dims();
    x.swap_dims(1, 2).reshape([b, l, h * dh])
}

/// Splits `x: (B, L, D)` into its `L` time steps `(B, D)`, by recursive halving.
///
/// Burn's autodiff backward of `narrow`/`slice` (and of `split`, `chunk`, `iter_dim`, which are
/// built on it) allocates a zero gradient of the *whole input* and writes the slice into it,
/// so taking `L` single steps straight from `x` costs `O(L)` each, `O(L^2)` in all. Halving
/// keeps every slice's parent at most twice its size: `O(L log L)` for the backward.
pub fn unstack_time<B: Backend>(x: Tensor<B, 3>) -> Vec<Tensor<B, 2>> {
    fn split<B: Backend>(x: Tensor<B, 3>, out: &mut Vec<Tensor<B, 2>>) {
        let [b, l, d] = x.dims();
        if l == 1 {
            out.push(x.reshape([b, d]));
        } else {
            let mid = l / 2;
            split(x.clone().narrow(1, 0, mid), out);
            split(x.narrow(1, mid, l - mid), out);
        }
    }
    let mut out = Vec::with_capacity(x.dims()[1]);
    split(x, &mut out);
    out
}

/// `[first, x[:, ..L-1]]` along dim 1: the sequence delayed by one step, `first: (B, 1, D)`
/// filling the first position (a token shift, or "state before step t" from "state after").
pub fn shift_in_time<B: Backend>(x: Tensor<B, 3>, first: Tensor<B, 3>) -> Tensor<B, 3> {
    let l = x.dims()[1];
    if l > 1 {
        Tensor::cat(vec![first, x.narrow(1, 0, l - 1)], 1)
    } else {
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn_ndarray::NdArray;

    type B = NdArray<f32>;

    #[test]
    fn unstack_time_returns_every_step_in_order() {
        let device = Default::default();
        for l in [1usize, 2, 7, 16] {
            let x = Tensor::<B, 3>::random([2, l, 3], Distribution::Normal(0.0, 1.0), &device);
            let xv = x.clone().into_data().to_vec::<f32>().unwrap();
            let steps = unstack_time(x);
            assert_eq!(steps.len(), l);
            for (t, step) in steps.into_iter().enumerate() {
                assert_eq!(step.dims(), [2, 3]);
                let sv = step.into_data().to_vec::<f32>().unwrap();
                for b in 0..2 {
                    for c in 0..3 {
                        assert_eq!(sv[b * 3 + c], xv[(b * l + t) * 3 + c], "l={l} t={t}");
                    }
                }
            }
        }
    }
}
