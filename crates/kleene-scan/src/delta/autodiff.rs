//! `Autodiff<B, C>`: the delta rule (and the fused DeltaProduct) is one graph node; its backward calls the inner backend's
//! hand-written [`DeltaRuleBackend::delta_rule_backward`], which recomputes the states (nothing
//! but the inputs is kept, no state per step).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::ops::FloatTensor;

use super::{DeltaProductPrimitives, DeltaRuleBackend, DeltaRulePrimitives};
use crate::autodiff::{or_placeholder, register};

#[derive(Debug)]
struct DeltaRuleBackward;

impl<B: DeltaRuleBackend> Backward<B, 7> for DeltaRuleBackward {
    type State = DeltaRulePrimitives<B>;

    fn backward(self, ops: Ops<Self::State, 7>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let g = B::delta_rule_backward(ops.state, grad);
        let [q, k, v, a, b, w, s0] = ops.parents.map(|p| p.map(|n| n.id));
        register::<B>(grads, q, Some(g.q));
        register::<B>(grads, k, Some(g.k));
        register::<B>(grads, v, Some(g.v));
        register::<B>(grads, a, Some(g.a));
        register::<B>(grads, b, Some(g.b));
        register::<B>(grads, w, g.w);
        register::<B>(grads, s0, g.initial_state);
    }
}

#[derive(Debug)]
struct DeltaProductBackward;

impl<B: DeltaRuleBackend> Backward<B, 6> for DeltaProductBackward {
    type State = DeltaProductPrimitives<B>;

    fn backward(self, ops: Ops<Self::State, 6>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let g = B::delta_product_backward(ops.state, grad);
        let [q, k, v, beta, alpha, s0] = ops.parents.map(|p| p.map(|n| n.id));
        register::<B>(grads, q, Some(g.q));
        register::<B>(grads, k, Some(g.k));
        register::<B>(grads, v, Some(g.v));
        register::<B>(grads, beta, Some(g.beta));
        register::<B>(grads, alpha, g.alpha);
        register::<B>(grads, s0, g.initial_state);
    }
}

impl<B: DeltaRuleBackend, C: CheckpointStrategy> DeltaRuleBackend for Autodiff<B, C> {
    fn delta_product_fused() -> bool {
        B::delta_product_fused()
    }

    fn delta_product_forward(input: DeltaProductPrimitives<Self>) -> FloatTensor<Self> {
        let q = &input.q;
        let nodes = [
            input.q.node.clone(),
            input.k.node.clone(),
            input.v.node.clone(),
            input.beta.node.clone(),
            or_placeholder::<B, C>(&input.alpha, q).node.clone(),
            or_placeholder::<B, C>(&input.initial_state, q).node.clone(),
        ];
        let inner = DeltaProductPrimitives::<B> {
            q: input.q.primitive,
            k: input.k.primitive,
            v: input.v.primitive,
            beta: input.beta.primitive,
            alpha: input.alpha.map(|t| t.primitive),
            initial_state: input.initial_state.map(|t| t.primitive),
            scale: input.scale,
        };
        match DeltaProductBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::delta_product_forward(inner.clone());
                prep.finish(inner, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::delta_product_forward(inner)),
        }
    }

    fn delta_rule_forward(input: DeltaRulePrimitives<Self>) -> FloatTensor<Self> {
        let q = &input.q;
        let nodes = [
            input.q.node.clone(),
            input.k.node.clone(),
            input.v.node.clone(),
            input.a.node.clone(),
            input.b.node.clone(),
            or_placeholder::<B, C>(&input.w, q).node.clone(),
            or_placeholder::<B, C>(&input.initial_state, q).node.clone(),
        ];
        let inner = DeltaRulePrimitives::<B> {
            q: input.q.primitive,
            k: input.k.primitive,
            v: input.v.primitive,
            a: input.a.primitive,
            b: input.b.primitive,
            w: input.w.map(|t| t.primitive),
            initial_state: input.initial_state.map(|t| t.primitive),
        };
        match DeltaRuleBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::delta_rule_forward(inner.clone());
                prep.finish(inner, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::delta_rule_forward(inner)),
        }
    }
}
