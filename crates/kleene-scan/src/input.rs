//! The tensor-level input of the selective scan.

use burn::tensor::Tensor;

use crate::backend::SelectiveScanPrimitives;
use crate::error::{expect_shape, ScanError};
use crate::{float, ScanBackend};

/// Inputs of the Mamba-1 selective scan (mamba's `selective_scan_ref` argument for argument).
///
/// `y_t = sum_n C_t[n] h_t[n] + D u_t`, `h_t[n] = exp(Δ_t A[n]) h_{t-1}[n] + Δ_t B_t[n] u_t`,
/// `Δ = softplus(delta + delta_bias)` if `delta_softplus` (softplus with mamba's threshold 20),
/// `out = y * silu(z)` when `z` is given.
#[derive(Debug, Clone)]
pub struct SelectiveScanInput<B: burn::tensor::backend::Backend> {
    /// (batch, d, len)
    pub u: Tensor<B, 3>,
    /// (batch, d, len), before bias/softplus
    pub delta: Tensor<B, 3>,
    /// (d, n), real (mamba uses `-exp(A_log)`)
    pub a: Tensor<B, 2>,
    /// (batch, groups, n, len); `groups` divides `d`, channel `c` uses group `c / (d / groups)`
    pub b: Tensor<B, 4>,
    /// (batch, groups, n, len)
    pub c: Tensor<B, 4>,
    /// (d) skip connection `D`; `None` = 0
    pub d_skip: Option<Tensor<B, 1>>,
    /// (batch, d, len) gate: `out = y * silu(z)`; `None` = no gate
    pub z: Option<Tensor<B, 3>>,
    /// (d) added to `delta` before the softplus; `None` = 0
    pub delta_bias: Option<Tensor<B, 1>>,
    /// Apply softplus to `delta + delta_bias`.
    pub delta_softplus: bool,
    /// (batch, d, n) state before the first step; `None` = 0
    pub initial_state: Option<Tensor<B, 3>>,
}

/// Sizes of a validated selective-scan input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanDims {
    /// Batch size.
    pub batch: usize,
    /// Channels.
    pub d: usize,
    /// Sequence length.
    pub len: usize,
    /// State size per channel.
    pub n: usize,
    /// Groups of B/C.
    pub groups: usize,
}

impl<B: ScanBackend> SelectiveScanInput<B> {
    /// The minimal input: no D, no z, no delta bias, no softplus, zero initial state.
    pub fn new(
        u: Tensor<B, 3>,
        delta: Tensor<B, 3>,
        a: Tensor<B, 2>,
        b: Tensor<B, 4>,
        c: Tensor<B, 4>,
    ) -> Self {
        Self {
            u,
            delta,
            a,
            b,
            c,
            d_skip: None,
            z: None,
            delta_bias: None,
            delta_softplus: false,
            initial_state: None,
        }
    }

    /// Checks all shapes against `u` and `a`; returns the sizes.
    pub fn validate(&self) -> Result<ScanDims, ScanError> {
        const OP: &str = "selective_scan";
        let [batch, d, len] = self.u.dims();
        let [d_a, n] = self.a.dims();
        crate::error::expect_nonempty(OP, "u", &self.u.dims())?;
        crate::error::expect_nonempty(OP, "a", &self.a.dims())?;
        expect_shape(OP, "a", &[d_a, n], &[d, n])?;
        expect_shape(OP, "delta", &self.delta.dims(), &[batch, d, len])?;
        let groups = self.b.dims()[1];
        if groups == 0 || d % groups != 0 {
            return Err(ScanError::Groups { op: OP, groups, d });
        }
        expect_shape(OP, "b", &self.b.dims(), &[batch, groups, n, len])?;
        expect_shape(OP, "c", &self.c.dims(), &[batch, groups, n, len])?;
        if let Some(t) = &self.d_skip {
            expect_shape(OP, "d_skip", &t.dims(), &[d])?;
        }
        if let Some(t) = &self.z {
            expect_shape(OP, "z", &t.dims(), &[batch, d, len])?;
        }
        if let Some(t) = &self.delta_bias {
            expect_shape(OP, "delta_bias", &t.dims(), &[d])?;
        }
        if let Some(t) = &self.initial_state {
            expect_shape(OP, "initial_state", &t.dims(), &[batch, d, n])?;
        }
        Ok(ScanDims {
            batch,
            d,
            len,
            n,
            groups,
        })
    }

    /// The backend-level form (primitives) of this input.
    pub fn into_primitives(self) -> SelectiveScanPrimitives<B> {
        SelectiveScanPrimitives {
            u: float(self.u),
            delta: float(self.delta),
            a: float(self.a),
            b: float(self.b),
            c: float(self.c),
            d_skip: self.d_skip.map(float),
            z: self.z.map(float),
            delta_bias: self.delta_bias.map(float),
            delta_softplus: self.delta_softplus,
            initial_state: self.initial_state.map(float),
        }
    }
}
