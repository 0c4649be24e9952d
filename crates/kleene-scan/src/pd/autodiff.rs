//! `Autodiff<B, C>`: the PD-SSM scan is one graph node; its backward calls the inner backend's
//! hand-written [`PdScanBackend::pd_scan_backward`] with the stored forward output (the states).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::ops::FloatTensor;

use super::{PdScanBackend, PdScanPrimitives};
use crate::autodiff::{or_placeholder, register};

#[derive(Debug)]
struct PdScanBackward;

impl<B: PdScanBackend> Backward<B, 7> for PdScanBackward {
    /// (inputs, forward output)
    type State = (PdScanPrimitives<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 7>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (input, h) = ops.state;
        let g = B::pd_scan_backward(input, h, grad);
        let [d_re, d_im, b_re, b_im, h0_re, h0_im, surrogate] =
            ops.parents.map(|p| p.map(|n| n.id));
        register::<B>(grads, d_re, Some(g.d.0));
        register::<B>(grads, d_im, Some(g.d.1));
        register::<B>(grads, b_re, Some(g.b.0));
        register::<B>(grads, b_im, Some(g.b.1));
        let (g0_re, g0_im) = g.initial_state.unzip();
        register::<B>(grads, h0_re, g0_re);
        register::<B>(grads, h0_im, g0_im);
        register::<B>(grads, surrogate, g.transition);
    }
}

impl<B: PdScanBackend, C: CheckpointStrategy> PdScanBackend for Autodiff<B, C> {
    fn pd_scan_forward(input: PdScanPrimitives<Self>) -> FloatTensor<Self> {
        let like = &input.d_re;
        let (h0_re, h0_im) = input.initial_state.clone().unzip();
        let nodes = [
            input.d_re.node.clone(),
            input.d_im.node.clone(),
            input.b_re.node.clone(),
            input.b_im.node.clone(),
            or_placeholder::<B, C>(&h0_re, like).node.clone(),
            or_placeholder::<B, C>(&h0_im, like).node.clone(),
            or_placeholder::<B, C>(&input.transition_surrogate, like)
                .node
                .clone(),
        ];
        let inner = PdScanPrimitives::<B> {
            index: input.index,
            d_re: input.d_re.primitive,
            d_im: input.d_im.primitive,
            b_re: input.b_re.primitive,
            b_im: input.b_im.primitive,
            initial_state: input
                .initial_state
                .map(|(re, im)| (re.primitive, im.primitive)),
            transition_surrogate: input.transition_surrogate.map(|t| t.primitive),
            surrogate: input.surrogate,
            form: input.form,
        };
        match PdScanBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let h = B::pd_scan_forward(inner.clone());
                prep.finish((inner, h.clone()), h)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::pd_scan_forward(inner)),
        }
    }
}
