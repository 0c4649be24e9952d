//! The PD-SSM scan from Burn tensor ops with a dense real `P` `(batch, len, n, n)` (row = output
//! index), one step at a time: `h_t = P_t (D_t ⊙ h_{t-1}) + b_t` (scatter) or
//! `h_t = D_t ⊙ (P_t h_{t-1}) + b_t` (gather). Differentiable by Burn's autodiff (which stores
//! every step), so with `P = hard + soft − soft.detach()` it is an independent oracle for the
//! op's backward, the straight-through gradient included. O(L · n²) per sequence.

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

use super::PdForm;

/// Complex `(re, im)` pair of tensors.
pub type Complex<B, const D: usize> = (Tensor<B, D>, Tensor<B, D>);

/// Every state `(h_re, h_im)` `(batch, len, n)`; `d`, `b` `(batch, len, n)` pairs, `h0`
/// `(batch, n)` pair.
pub fn pd_scan<B: Backend>(
    p: Tensor<B, 4>,
    d: Complex<B, 3>,
    b: Complex<B, 3>,
    h0: Complex<B, 2>,
    form: PdForm,
) -> Complex<B, 3> {
    let [batch, len, n, _] = p.dims();
    let (mut hr, mut hi) = h0;
    let at = |x: &Tensor<B, 3>, t: usize| x.clone().narrow(1, t, 1).reshape([batch, n]);
    // (B, n, n) @ (B, n) -> (B, n)
    let apply = |pt: &Tensor<B, 3>, v: Tensor<B, 2>| {
        pt.clone()
            .matmul(v.reshape([batch, n, 1]))
            .reshape([batch, n])
    };
    let (mut outs_re, mut outs_im) = (Vec::with_capacity(len), Vec::with_capacity(len));
    for t in 0..len {
        let pt = p.clone().narrow(1, t, 1).reshape([batch, n, n]);
        let (dr, di) = (at(&d.0, t), at(&d.1, t));
        let (br, bi) = (at(&b.0, t), at(&b.1, t));
        let (nr, ni) = match form {
            PdForm::Scatter => {
                let ur = dr.clone() * hr.clone() - di.clone() * hi.clone();
                let ui = dr * hi + di * hr;
                (apply(&pt, ur), apply(&pt, ui))
            }
            PdForm::Gather => {
                let (gr, gi) = (apply(&pt, hr), apply(&pt, hi));
                (
                    dr.clone() * gr.clone() - di.clone() * gi.clone(),
                    dr * gi + di * gr,
                )
            }
        };
        hr = nr + br;
        hi = ni + bi;
        outs_re.push(hr.clone().reshape([batch, 1, n]));
        outs_im.push(hi.clone().reshape([batch, 1, n]));
    }
    (Tensor::cat(outs_re, 1), Tensor::cat(outs_im, 1))
}
