//! The tensor-level input of the selective scan.

use burn::tensor::Tensor;

use crate::backend::SelectiveScanPrimitives;
use crate::error::{expect_shape, ScanError};
use crate::{float, ScanBackend};

/// Memory layout of the per-step tensors of a selective scan (`u`, `delta`, `z`, the output,
/// `B`, `C`); `A`, `D`, the delta bias and the states are the same in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanLayout {
    /// mamba's layout: `u`, `delta`, `z`, out `(batch, d, len)`; `B`, `C` `(batch, groups, n, len)`.
    #[default]
    ChannelsFirst,
    /// A model's activation layout (what a `Linear` produces): `u`, `delta`, `z`, out
    /// `(batch, len, d)`; `B`, `C` `(batch, len, groups, n)`. A Mamba block then needs no
    /// transposes around the scan; the CPU kernel vectorises across channels in this layout.
    ChannelsLast,
}

/// Range of the per-step transition `ā` of the selective scan (the eigenvalues of its diagonal
/// state matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransitionRange {
    /// mamba: `ā = exp(Δ A)`, in (0, 1] for `Δ A <= 0`.
    #[default]
    ZeroOne,
    /// Grazzi et al. (ICLR 2025), "Unlocking State-Tracking in Linear RNNs Through Negative
    /// Eigenvalues": `ā = 2 exp(Δ A) - 1`, in (-1, 1] for `Δ A <= 0`. A transition near -1 flips
    /// the state's sign, which lets one channel track parity; the input term `Δ B u` is unchanged.
    MinusOneOne,
}

/// Inputs of the Mamba-1 selective scan (mamba's `selective_scan_ref` argument for argument).
///
/// Shapes below are for [`ScanLayout::ChannelsFirst`]; see [`ScanLayout::ChannelsLast`] for the
/// other layout.
///
/// `y_t = sum_n C_t[n] h_t[n] + D u_t`, `h_t[n] = ā_t[n] h_{t-1}[n] + Δ_t B_t[n] u_t` with
/// `ā_t[n] = exp(Δ_t A[n])` (or `2 exp(Δ_t A[n]) - 1`, see [`TransitionRange`]),
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
    /// Layout of `u`, `delta`, `z`, `b`, `c` and of the output.
    pub layout: ScanLayout,
    /// Whether the transition is `exp(Δ A)` or `2 exp(Δ A) - 1`.
    pub transition_range: TransitionRange,
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
            layout: ScanLayout::ChannelsFirst,
            transition_range: TransitionRange::ZeroOne,
        }
    }

    /// Checks all shapes against `u` and `a`; returns the sizes.
    pub fn validate(&self) -> Result<ScanDims, ScanError> {
        const OP: &str = "selective_scan";
        let u = self.u.dims();
        let (batch, d, len) = match self.layout {
            ScanLayout::ChannelsFirst => (u[0], u[1], u[2]),
            ScanLayout::ChannelsLast => (u[0], u[2], u[1]),
        };
        let [d_a, n] = self.a.dims();
        crate::error::expect_nonempty(OP, "u", &u)?;
        crate::error::expect_nonempty(OP, "a", &self.a.dims())?;
        expect_shape(OP, "a", &[d_a, n], &[d, n])?;
        let groups = match self.layout {
            ScanLayout::ChannelsFirst => self.b.dims()[1],
            ScanLayout::ChannelsLast => self.b.dims()[2],
        };
        if groups == 0 || d % groups != 0 {
            return Err(ScanError::Groups { op: OP, groups, d });
        }
        let dims = ScanDims {
            batch,
            d,
            len,
            n,
            groups,
        };
        let x = dims.x_shape(self.layout);
        expect_shape(OP, "delta", &self.delta.dims(), &x)?;
        let bc = dims.bc_shape(self.layout);
        expect_shape(OP, "b", &self.b.dims(), &bc)?;
        expect_shape(OP, "c", &self.c.dims(), &bc)?;
        if let Some(t) = &self.d_skip {
            expect_shape(OP, "d_skip", &t.dims(), &[d])?;
        }
        if let Some(t) = &self.z {
            expect_shape(OP, "z", &t.dims(), &x)?;
        }
        if let Some(t) = &self.delta_bias {
            expect_shape(OP, "delta_bias", &t.dims(), &[d])?;
        }
        if let Some(t) = &self.initial_state {
            expect_shape(OP, "initial_state", &t.dims(), &[batch, d, n])?;
        }
        Ok(dims)
    }
}

impl<B: burn::tensor::backend::Backend> SelectiveScanInput<B> {
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
            layout: self.layout,
            transition_range: self.transition_range,
        }
    }

    /// The same problem in [`ScanLayout::ChannelsFirst`] (views; nothing is copied here).
    pub fn into_channels_first(self) -> Self {
        if self.layout == ScanLayout::ChannelsFirst {
            return self;
        }
        let x = |t: Tensor<B, 3>| t.swap_dims(1, 2);
        // (batch, len, groups, n) -> (batch, groups, n, len)
        let bc = |t: Tensor<B, 4>| t.permute([0, 2, 3, 1]);
        Self {
            u: x(self.u),
            delta: x(self.delta),
            b: bc(self.b),
            c: bc(self.c),
            z: self.z.map(x),
            layout: ScanLayout::ChannelsFirst,
            ..self
        }
    }
}

impl ScanDims {
    /// Shape of `u`, `delta`, `z` and the output in `layout`.
    pub fn x_shape(&self, layout: ScanLayout) -> [usize; 3] {
        match layout {
            ScanLayout::ChannelsFirst => [self.batch, self.d, self.len],
            ScanLayout::ChannelsLast => [self.batch, self.len, self.d],
        }
    }

    /// Shape of `b` and `c` in `layout`.
    pub fn bc_shape(&self, layout: ScanLayout) -> [usize; 4] {
        match layout {
            ScanLayout::ChannelsFirst => [self.batch, self.groups, self.n, self.len],
            ScanLayout::ChannelsLast => [self.batch, self.len, self.groups, self.n],
        }
    }
}
