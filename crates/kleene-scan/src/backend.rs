//! The backend-extension trait and its primitive-level argument/result types.

use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{Tensor, TensorPrimitive};

use crate::input::{ScanDims, ScanLayout, TransitionRange};
use crate::{host, SelectiveScanInput};

/// Selective-scan inputs as backend primitives (see [`SelectiveScanInput`] for shapes; the
/// shapes listed here are those of [`ScanLayout::ChannelsFirst`]).
#[derive(Debug, Clone)]
pub struct SelectiveScanPrimitives<B: Backend> {
    /// (batch, d, len)
    pub u: FloatTensor<B>,
    /// (batch, d, len)
    pub delta: FloatTensor<B>,
    /// (d, n)
    pub a: FloatTensor<B>,
    /// (batch, groups, n, len)
    pub b: FloatTensor<B>,
    /// (batch, groups, n, len)
    pub c: FloatTensor<B>,
    /// (d)
    pub d_skip: Option<FloatTensor<B>>,
    /// (batch, d, len)
    pub z: Option<FloatTensor<B>>,
    /// (d)
    pub delta_bias: Option<FloatTensor<B>>,
    /// softplus on `delta + delta_bias`
    pub delta_softplus: bool,
    /// (batch, d, n)
    pub initial_state: Option<FloatTensor<B>>,
    /// Layout of `u`, `delta`, `z`, `b`, `c` and of the output.
    pub layout: ScanLayout,
    /// `exp(Δ A)` or `2 exp(Δ A) - 1`
    pub transition_range: TransitionRange,
}

impl<B: Backend> SelectiveScanPrimitives<B> {
    /// Back to tensors.
    pub fn into_input(self) -> SelectiveScanInput<B> {
        SelectiveScanInput {
            u: wrap(self.u),
            delta: wrap(self.delta),
            a: wrap(self.a),
            b: wrap(self.b),
            c: wrap(self.c),
            d_skip: self.d_skip.map(wrap),
            z: self.z.map(wrap),
            delta_bias: self.delta_bias.map(wrap),
            delta_softplus: self.delta_softplus,
            initial_state: self.initial_state.map(wrap),
            layout: self.layout,
            transition_range: self.transition_range,
        }
    }

    /// The sizes, read off the shapes of `u`, `a` and `b` in this input's layout.
    pub fn dims(&self) -> ScanDims {
        use burn::tensor::TensorMetadata;
        let (us, n) = (self.u.shape(), self.a.shape()[1]);
        let bs = self.b.shape();
        match self.layout {
            ScanLayout::ChannelsFirst => ScanDims {
                batch: us[0],
                d: us[1],
                len: us[2],
                n,
                groups: bs[1],
            },
            ScanLayout::ChannelsLast => ScanDims {
                batch: us[0],
                d: us[2],
                len: us[1],
                n,
                groups: bs[2],
            },
        }
    }
}

/// Gradients of the selective scan with respect to every input (same shapes as the inputs);
/// an optional gradient is `Some` exactly when the input was given.
#[derive(Debug, Clone)]
pub struct SelectiveScanGrads<B: Backend> {
    /// d/du
    pub u: FloatTensor<B>,
    /// d/ddelta (with respect to the raw `delta`, before bias and softplus)
    pub delta: FloatTensor<B>,
    /// d/dA
    pub a: FloatTensor<B>,
    /// d/dB
    pub b: FloatTensor<B>,
    /// d/dC
    pub c: FloatTensor<B>,
    /// d/dD
    pub d_skip: Option<FloatTensor<B>>,
    /// d/dz
    pub z: Option<FloatTensor<B>>,
    /// d/ddelta_bias
    pub delta_bias: Option<FloatTensor<B>>,
    /// d/dinitial_state
    pub initial_state: Option<FloatTensor<B>>,
}

/// Gradients of the diagonal recurrence.
#[derive(Debug, Clone)]
pub struct DiagonalGrads<B: Backend> {
    /// d/da (batch, len, dim)
    pub a: FloatTensor<B>,
    /// d/db (batch, len, dim)
    pub b: FloatTensor<B>,
    /// d/dh0 (batch, dim), when h0 was given
    pub h0: Option<FloatTensor<B>>,
}

/// Gradients of the complex diagonal recurrence (each complex gradient as (re, im)).
#[derive(Debug, Clone)]
pub struct ComplexDiagonalGrads<B: Backend> {
    /// d/da_re, d/da_im
    pub a: (FloatTensor<B>, FloatTensor<B>),
    /// d/db_re, d/db_im
    pub b: (FloatTensor<B>, FloatTensor<B>),
    /// d/dh0 (re, im), when h0 was given
    pub h0: Option<(FloatTensor<B>, FloatTensor<B>)>,
}

/// Gradients of the dense recurrence.
#[derive(Debug, Clone)]
pub struct DenseGrads<B: Backend> {
    /// d/dM (vocab, n, n)
    pub m: FloatTensor<B>,
    /// d/dbias (vocab, n)
    pub bias: FloatTensor<B>,
    /// d/dh0 (batch, n), when h0 was given
    pub h0: Option<FloatTensor<B>>,
}

fn wrap<B: Backend, const D: usize>(p: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

/// Backend extension with the scan ops on primitives. Shapes are validated by the public
/// functions in the crate root; implementations may assume them.
///
/// Outputs are packed so that every op has exactly one output tensor (this keeps the autodiff
/// graph to one node per op):
/// * selective scan: a flat 1-D tensor `[y (batch*d*len, row-major) | final state (batch*d*n)]`;
/// * complex recurrence: `(2, batch, len, dim)` = `[re, im]`.
///
/// Each backward receives the gradient of that packed output and returns the gradients of all
/// inputs. The default bodies are the multi-threaded plain-Rust [`host`] implementation (a host
/// round trip on non-CPU backends); the CubeCL backends override them with kernels, `Autodiff`
/// wires the backward methods into Burn's graph.
pub trait ScanBackend:
    crate::conv::CausalConvBackend
    + crate::delta::DeltaRuleBackend
    + crate::pd::PdScanBackend
    + crate::slstm::SlstmBackend
{
    /// Selective scan forward; returns the packed `[y | final state]`.
    fn selective_scan_forward(input: SelectiveScanPrimitives<Self>) -> FloatTensor<Self> {
        host::selective_scan_forward::<Self>(input)
    }

    /// Selective scan backward (recomputes the states); `grad` is the gradient of the packed output.
    fn selective_scan_backward(
        input: SelectiveScanPrimitives<Self>,
        grad: FloatTensor<Self>,
    ) -> SelectiveScanGrads<Self> {
        host::selective_scan_backward::<Self>(input, grad)
    }

    /// Diagonal recurrence forward; returns all states (batch, len, dim).
    fn diagonal_recurrence_forward(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        h0: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        host::diagonal_recurrence_forward::<Self>(a, b, h0)
    }

    /// Diagonal recurrence backward; `h` is the forward output, `grad` its gradient.
    fn diagonal_recurrence_backward(
        a: FloatTensor<Self>,
        h: FloatTensor<Self>,
        h0: Option<FloatTensor<Self>>,
        grad: FloatTensor<Self>,
    ) -> DiagonalGrads<Self> {
        host::diagonal_recurrence_backward::<Self>(a, h, h0, grad)
    }

    /// Complex diagonal recurrence forward; returns `(2, batch, len, dim)` = `[h_re, h_im]`.
    fn complex_diagonal_recurrence_forward(
        a_re: FloatTensor<Self>,
        a_im: FloatTensor<Self>,
        b_re: FloatTensor<Self>,
        b_im: FloatTensor<Self>,
        h0: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
    ) -> FloatTensor<Self> {
        host::complex_diagonal_recurrence_forward::<Self>(a_re, a_im, b_re, b_im, h0)
    }

    /// Complex diagonal recurrence backward; `h` is the packed forward output, `grad` its gradient.
    fn complex_diagonal_recurrence_backward(
        a_re: FloatTensor<Self>,
        a_im: FloatTensor<Self>,
        h: FloatTensor<Self>,
        h0: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
        grad: FloatTensor<Self>,
    ) -> ComplexDiagonalGrads<Self> {
        host::complex_diagonal_recurrence_backward::<Self>(a_re, a_im, h, h0, grad)
    }

    /// Dense recurrence forward; returns all states (batch, len, n).
    fn dense_recurrence_forward(
        m: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        tokens: IntTensor<Self>,
        h0: Option<FloatTensor<Self>>,
    ) -> FloatTensor<Self> {
        host::dense_recurrence_forward::<Self>(m, bias, tokens, h0)
    }

    /// Dense recurrence backward; `h` is the forward output, `grad` its gradient.
    fn dense_recurrence_backward(
        m: FloatTensor<Self>,
        tokens: IntTensor<Self>,
        h: FloatTensor<Self>,
        h0: Option<FloatTensor<Self>>,
        grad: FloatTensor<Self>,
    ) -> DenseGrads<Self> {
        host::dense_recurrence_backward::<Self>(m, tokens, h, h0, grad)
    }
}

impl<E, I, Q> ScanBackend for burn_ndarray::NdArray<E, I, Q>
where
    E: burn_ndarray::FloatNdArrayElement,
    I: burn_ndarray::IntNdArrayElement,
    Q: burn_ndarray::QuantElement,
    burn_ndarray::NdArrayTensor: From<burn_ndarray::SharedArray<E>>,
    burn_ndarray::NdArrayTensor: From<burn_ndarray::SharedArray<I>>,
{
}

/// burn-flex: the default bodies (the CPU kernels of [`crate::host`], inputs borrowed in place).
#[cfg(feature = "flex")]
impl ScanBackend for burn_flex::Flex {}
