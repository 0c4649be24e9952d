//! `Autodiff<B, C>` implementation of [`ScanBackend`]: each op is one graph node whose backward
//! calls the inner backend's hand-written backward method.
//!
//! Optional inputs that are absent still need a parent slot (the number of parents is a const
//! generic); they get an untracked 1-element placeholder, which never receives a gradient.
//! States are stored (`compute_bound`): the inputs themselves (shared buffers, no copy) and, for the
//! recurrences, the forward output (which is the op's output anyway). The selective scan stores
//! no states: its backward recomputes them.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, FloatTensorOps, IntTensor};
use burn::tensor::{FloatDType, Shape, TensorMetadata};

use crate::backend::SelectiveScanPrimitives;
use crate::ScanBackend;

type AdTensor<B, C> = FloatTensor<Autodiff<B, C>>;

/// An optional input, or an untracked placeholder when it is absent (only its graph node is used).
pub(crate) fn or_placeholder<B: Backend, C: CheckpointStrategy>(
    t: &Option<AdTensor<B, C>>,
    like: &AdTensor<B, C>,
) -> AdTensor<B, C> {
    match t {
        Some(t) => t.clone(),
        None => {
            let dtype: FloatDType = like.primitive.dtype().into();
            let device = B::float_device(&like.primitive);
            <Autodiff<B, C> as FloatTensorOps<Autodiff<B, C>>>::float_zeros(
                Shape::new([1]),
                &device,
                dtype,
            )
        }
    }
}

pub(crate) fn register<B: Backend>(
    grads: &mut Gradients,
    node: Option<NodeId>,
    grad: Option<FloatTensor<B>>,
) {
    if let (Some(node), Some(grad)) = (node, grad) {
        grads.register::<B>(node, grad);
    }
}

#[derive(Debug)]
struct SelectiveScanBackward;

impl<B: ScanBackend> Backward<B, 9> for SelectiveScanBackward {
    type State = SelectiveScanPrimitives<B>;

    fn backward(self, ops: Ops<Self::State, 9>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let g = B::selective_scan_backward(ops.state, grad);
        let [u, delta, a, b, c, d_skip, z, delta_bias, h0] = ops.parents.map(|p| p.map(|n| n.id));
        register::<B>(grads, u, Some(g.u));
        register::<B>(grads, delta, Some(g.delta));
        register::<B>(grads, a, Some(g.a));
        register::<B>(grads, b, Some(g.b));
        register::<B>(grads, c, Some(g.c));
        register::<B>(grads, d_skip, g.d_skip);
        register::<B>(grads, z, g.z);
        register::<B>(grads, delta_bias, g.delta_bias);
        register::<B>(grads, h0, g.initial_state);
    }
}

#[derive(Debug)]
struct DiagonalBackward;

impl<B: ScanBackend> Backward<B, 3> for DiagonalBackward {
    /// (a, h = forward output, h0)
    type State = (FloatTensor<B>, FloatTensor<B>, Option<FloatTensor<B>>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (a, h, h0) = ops.state;
        let g = B::diagonal_recurrence_backward(a, h, h0, grad);
        let [na, nb, nh0] = ops.parents.map(|p| p.map(|n| n.id));
        register::<B>(grads, na, Some(g.a));
        register::<B>(grads, nb, Some(g.b));
        register::<B>(grads, nh0, g.h0);
    }
}

#[derive(Debug)]
struct ComplexDiagonalBackward;

impl<B: ScanBackend> Backward<B, 6> for ComplexDiagonalBackward {
    /// (a_re, a_im, packed forward output, h0)
    #[allow(clippy::type_complexity)]
    type State = (
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        Option<(FloatTensor<B>, FloatTensor<B>)>,
    );

    fn backward(self, ops: Ops<Self::State, 6>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (ar, ai, h, h0) = ops.state;
        let g = B::complex_diagonal_recurrence_backward(ar, ai, h, h0, grad);
        let [nar, nai, nbr, nbi, nh0r, nh0i] = ops.parents.map(|p| p.map(|n| n.id));
        register::<B>(grads, nar, Some(g.a.0));
        register::<B>(grads, nai, Some(g.a.1));
        register::<B>(grads, nbr, Some(g.b.0));
        register::<B>(grads, nbi, Some(g.b.1));
        let (h0r, h0i) = match g.h0 {
            Some((r, i)) => (Some(r), Some(i)),
            None => (None, None),
        };
        register::<B>(grads, nh0r, h0r);
        register::<B>(grads, nh0i, h0i);
    }
}

#[derive(Debug)]
struct DenseBackward;

impl<B: ScanBackend> Backward<B, 3> for DenseBackward {
    /// (m, tokens, h = forward output, h0)
    type State = (
        FloatTensor<B>,
        IntTensor<B>,
        FloatTensor<B>,
        Option<FloatTensor<B>>,
    );

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (m, tokens, h, h0) = ops.state;
        let g = B::dense_recurrence_backward(m, tokens, h, h0, grad);
        let [nm, nbias, nh0] = ops.parents.map(|p| p.map(|n| n.id));
        register::<B>(grads, nm, Some(g.m));
        register::<B>(grads, nbias, Some(g.bias));
        register::<B>(grads, nh0, g.h0);
    }
}

impl<B: ScanBackend, C: CheckpointStrategy> ScanBackend for Autodiff<B, C> {
    fn selective_scan_forward(input: SelectiveScanPrimitives<Self>) -> FloatTensor<Self> {
        let u = &input.u;
        let nodes = [
            input.u.node.clone(),
            input.delta.node.clone(),
            input.a.node.clone(),
            input.b.node.clone(),
            input.c.node.clone(),
            or_placeholder::<B, C>(&input.d_skip, u).node.clone(),
            or_placeholder::<B, C>(&input.z, u).node.clone(),
            or_placeholder::<B, C>(&input.delta_bias, u).node.clone(),
            or_placeholder::<B, C>(&input.initial_state, u).node.clone(),
        ];
        let inner = SelectiveScanPrimitives::<B> {
            u: input.u.primitive,
            delta: input.delta.primitive,
            a: input.a.primitive,
            b: input.b.primitive,
            c: input.c.primitive,
            d_skip: input.d_skip.map(|t| t.primitive),
            z: input.z.map(|t| t.primitive),
            delta_bias: input.delta_bias.map(|t| t.primitive),
            delta_softplus: input.delta_softplus,
            initial_state: input.initial_state.map(|t| t.primitive),
            layout: input.layout,
            transition_range: input.transition_range,
        };
        match SelectiveScanBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::selective_scan_forward(inner.clone());
                prep.finish(inner, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::selective_scan_forward(inner)),
        }
    }

    fn diagonal_recurrence_forward(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        h0: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        let nodes = [
            a.node.clone(),
            b.node.clone(),
            or_placeholder::<B, C>(&h0, &a).node.clone(),
        ];
        let h0 = h0.map(|t| t.primitive);
        match DiagonalBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let h =
                    B::diagonal_recurrence_forward(a.primitive.clone(), b.primitive, h0.clone());
                prep.finish((a.primitive, h.clone(), h0), h)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::diagonal_recurrence_forward(a.primitive, b.primitive, h0))
            }
        }
    }

    fn complex_diagonal_recurrence_forward(
        a_re: FloatTensor<Self>,
        a_im: FloatTensor<Self>,
        b_re: FloatTensor<Self>,
        b_im: FloatTensor<Self>,
        h0: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
    ) -> FloatTensor<Self> {
        let (h0r, h0i) = match h0 {
            Some((r, i)) => (Some(r), Some(i)),
            None => (None, None),
        };
        let nodes = [
            a_re.node.clone(),
            a_im.node.clone(),
            b_re.node.clone(),
            b_im.node.clone(),
            or_placeholder::<B, C>(&h0r, &a_re).node.clone(),
            or_placeholder::<B, C>(&h0i, &a_re).node.clone(),
        ];
        let h0 = match (h0r, h0i) {
            (Some(r), Some(i)) => Some((r.primitive, i.primitive)),
            _ => None,
        };
        let (ar, ai) = (a_re.primitive, a_im.primitive);
        match ComplexDiagonalBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let h = B::complex_diagonal_recurrence_forward(
                    ar.clone(),
                    ai.clone(),
                    b_re.primitive,
                    b_im.primitive,
                    h0.clone(),
                );
                prep.finish((ar, ai, h.clone(), h0), h)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::complex_diagonal_recurrence_forward(
                ar,
                ai,
                b_re.primitive,
                b_im.primitive,
                h0,
            )),
        }
    }

    fn dense_recurrence_forward(
        m: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        tokens: IntTensor<Self>,
        h0: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        let nodes = [
            m.node.clone(),
            bias.node.clone(),
            or_placeholder::<B, C>(&h0, &m).node.clone(),
        ];
        let h0 = h0.map(|t| t.primitive);
        match DenseBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let h = B::dense_recurrence_forward(
                    m.primitive.clone(),
                    bias.primitive,
                    tokens.clone(),
                    h0.clone(),
                );
                prep.finish((m.primitive, tokens, h.clone(), h0), h)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::dense_recurrence_forward(
                m.primitive,
                bias.primitive,
                tokens,
                h0,
            )),
        }
    }

    // The backward methods of `Autodiff<B, C>` itself (double backward) are not supported: the
    // defaults would run them on the host without building a graph.
}
