//! The block shared by `delta_net`, `gated_delta_net` and
//! `gated_delta_product` (not a mixer of its own): flash-linear-attention's
//! `GatedDeltaProduct` layer, of which DeltaNet (one Householder, no forget gate) and Gated
//! DeltaNet (one Householder, forget gate) are special cases with the same parameters.
//!
//! Per token `x` (`H` heads, key width `K`, value width `V`, `n = num_householder`):
//! ```text
//! q = silu(conv_q(W_q x)),  k_j = silu(conv_k(W_k x))_j,  v_j = silu(conv_v(W_v x))_j   (j < n)
//! q̂, k̂_j = L2-normalised per head (x / sqrt(Σx² + 1e-6));   β_j = σ(W_b x)_j  (×2 with
//!          allow_neg_eigval: β ∈ (0, 2), eigenvalue 1 − β ∈ (−1, 1))
//! α = exp(−exp(A_log) · softplus(W_a x + dt_bias))          (forget gate; else α = 1)
//! S ← α S;  for j < n: S ← S + k̂_j β_j (v_j − Sᵀk̂_j)ᵀ;  o = Sᵀ q̂ / √K
//! y = W_o · concat_h( RMSNorm_V(o_h) · w_norm [· silu(W_g x)_h] )
//! ```
//! The projections' feature layout is fla's: the micro-step index `j` slowest, then the head,
//! then the channel. The recurrence (normalisation included) is kleene-scan's
//! [`kleene_scan::delta_product`] in those layouts: the delta rule over the micro-sequence of `n`
//! sub-steps per token (`a = −k̂`, `b = α β k̂`, decay `α` at sub-step 0, write `(k̂, β v)`, the
//! query read at the last sub-step), fused on the CPU backends, in `forward` and `step` alike.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, silu, softplus};
use burn::tensor::Distribution;
use kleene_scan::{causal_conv1d, delta_product, DeltaProductInput, DeltaRuleInput, ScanBackend};

use crate::init::{dt_bias_log_uniform, linear_normal, normal, out_std, param_from_vec, INIT_STD};

/// The part of a delta-rule mixer file that only depends on its config's `shape(d_model)`:
/// `validate`, `init`, the module (a [`DeltaBlock`]) and its [`crate::SequenceLayer`] impl.
/// The calling file must `use burn::prelude::*` and `DeltaBlock` (the derive needs plain paths).
macro_rules! delta_mixer {
    ($(#[doc = $doc:literal])* $module:ident, $config:ident) => {
        impl $config {
            /// Checks every field; errors name the field.
            pub fn validate(&self, d_model: usize) -> Result<(), $crate::ZooError> {
                self.shape(d_model).map(|_| ())
            }

            /// Builds the layer (`n_layer` scales `o_proj`'s init).
            pub fn init<B: burn::prelude::Backend>(
                &self,
                d_model: usize,
                n_layer: usize,
                device: &B::Device,
            ) -> Result<$module<B>, $crate::ZooError> {
                Ok($module {
                    block: $crate::layers::delta_block::DeltaBlock::new(
                        &self.shape(d_model)?,
                        n_layer,
                        device,
                    ),
                })
            }
        }

        $(#[doc = $doc])*
        #[derive(Module, Debug)]
        pub struct $module<B: Backend> {
            pub block: DeltaBlock<B>,
        }

        impl<B: $crate::ScanBackend> $crate::SequenceLayer<B> for $module<B> {
            type State = $crate::layers::delta_block::DeltaState<B>;

            fn forward(&self, x: burn::prelude::Tensor<B, 3>) -> burn::prelude::Tensor<B, 3> {
                self.block.forward(x)
            }

            fn init_state(&self, batch: usize, device: &B::Device) -> Self::State {
                self.block.zero_state(batch, device)
            }

            fn step(
                &self,
                x: burn::prelude::Tensor<B, 2>,
                state: Self::State,
            ) -> (burn::prelude::Tensor<B, 2>, Self::State) {
                self.block.step(x, state)
            }
        }
    };
}
pub(crate) use delta_mixer;

/// Sizes and switches of a [`DeltaBlock`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeltaBlockShape {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Number of heads `H`.
    pub heads: usize,
    /// Key width per head `K`.
    pub head_k: usize,
    /// Value width per head `V`.
    pub head_v: usize,
    /// Householder sub-steps per token `n` (>= 1).
    pub householder: usize,
    /// The forget gate `α` (Gated DeltaNet / DeltaProduct).
    pub forget_gate: bool,
    /// The output gate `silu(W_g x)` after the norm.
    pub output_gate: bool,
    /// Causal depthwise convolutions of width `conv_size` before q, k, v (`None`: SiLU only).
    pub conv_size: Option<usize>,
    /// β ∈ (0, 2) instead of (0, 1).
    pub allow_neg_eigval: bool,
    /// Epsilon of the per-head output RMSNorm.
    pub norm_eps: f64,
}

/// Projections, convolutions, gates and output norm of the delta-rule layers (module docs).
#[derive(Module, Debug)]
pub struct DeltaBlock<B: Backend> {
    pub q_proj: Linear<B>,
    pub k_proj: Linear<B>,
    pub v_proj: Linear<B>,
    pub b_proj: Linear<B>,
    /// Forget-gate input projection (`H` outputs), with `A_log` and `dt_bias` per head.
    pub a_proj: Option<Linear<B>>,
    pub a_log: Option<Param<Tensor<B, 1>>>,
    pub dt_bias: Option<Param<Tensor<B, 1>>>,
    /// Depthwise conv weights `(channels, conv_size)`; the last column multiplies the current input.
    pub q_conv: Option<Param<Tensor<B, 2>>>,
    pub k_conv: Option<Param<Tensor<B, 2>>>,
    pub v_conv: Option<Param<Tensor<B, 2>>>,
    pub g_proj: Option<Linear<B>>,
    /// Per-head RMSNorm weight `(V)`, shared by the heads.
    pub o_norm: Param<Tensor<B, 1>>,
    pub o_proj: Linear<B>,
    heads: usize,
    head_k: usize,
    head_v: usize,
    householder: usize,
    allow_neg_eigval: bool,
    norm_eps: f64,
}

/// Recurrent state of a delta-rule layer: the matrix state `S (B, H, K, V)` and, with the short
/// convolutions, the last `conv_size − 1` inputs of each conv `(B, conv_size − 1, channels)`.
#[derive(Debug, Clone)]
pub struct DeltaState<B: Backend> {
    pub s: Tensor<B, 4>,
    pub conv: Option<[Tensor<B, 3>; 3]>,
}

/// The projected inputs of the recurrence, `(B, L, ·)`, after conv and activation.
struct Projected<B: Backend> {
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
}

impl<B: Backend> DeltaBlock<B> {
    /// fla's init inside its models: every Linear and conv `N(0, 0.02²)`, `o_proj` additionally
    /// scaled by `1/√(2·n_layer)`; `A = U(0, 16)`, `A_log = ln A`; `dt_bias` with `dt` log-uniform in [1e-3, 0.1] floored at 1e-4;
    /// norm weight 1.
    pub fn new(shape: &DeltaBlockShape, n_layer: usize, device: &B::Device) -> Self {
        let (d, h, n) = (shape.d_model, shape.heads, shape.householder);
        let (key, value) = (h * shape.head_k, h * shape.head_v);
        let conv = |c: usize| shape.conv_size.map(|w| normal([c, w], INIT_STD, device));
        let a_log = || {
            let a: Vec<f32> = Tensor::<B, 1>::random([h], Distribution::Uniform(0.0, 16.0), device)
                .into_data()
                .convert::<f32>()
                .into_vec::<f32>()
                .expect("f32 data")
                .iter()
                .map(|a| a.max(1e-6).ln())
                .collect();
            param_from_vec(a, [h], device)
        };
        Self {
            q_proj: linear_normal(d, key, false, INIT_STD, device),
            k_proj: linear_normal(d, n * key, false, INIT_STD, device),
            v_proj: linear_normal(d, n * value, false, INIT_STD, device),
            b_proj: linear_normal(d, n * h, false, INIT_STD, device),
            a_proj: shape
                .forget_gate
                .then(|| linear_normal(d, h, false, INIT_STD, device)),
            a_log: shape.forget_gate.then(a_log),
            dt_bias: shape.forget_gate.then(|| {
                param_from_vec(
                    dt_bias_log_uniform::<B>(h, 0.001, 0.1, 1e-4, device),
                    [h],
                    device,
                )
            }),
            q_conv: conv(key),
            k_conv: conv(n * key),
            v_conv: conv(n * value),
            g_proj: shape
                .output_gate
                .then(|| linear_normal(d, value, false, INIT_STD, device)),
            o_norm: Param::from_tensor(Tensor::ones([shape.head_v], device)),
            o_proj: linear_normal(value, d, false, out_std(n_layer), device),
            heads: h,
            head_k: shape.head_k,
            head_v: shape.head_v,
            householder: n,
            allow_neg_eigval: shape.allow_neg_eigval,
            norm_eps: shape.norm_eps,
        }
    }

    /// Householder sub-steps per token.
    pub fn householder(&self) -> usize {
        self.householder
    }

    fn conv_weights(&self) -> Option<[Tensor<B, 2>; 3]> {
        match (&self.q_conv, &self.k_conv, &self.v_conv) {
            (Some(q), Some(k), Some(v)) => Some([q.val(), k.val(), v.val()]),
            _ => None,
        }
    }
}

impl<B: ScanBackend> DeltaBlock<B> {
    /// The zero state for `batch` sequences.
    pub fn zero_state(&self, batch: usize, device: &B::Device) -> DeltaState<B> {
        let (h, n) = (self.heads, self.householder);
        let widths = [h * self.head_k, n * h * self.head_k, n * h * self.head_v];
        DeltaState {
            s: Tensor::zeros([batch, h, self.head_k, self.head_v], device),
            conv: self.conv_weights().and_then(|ws| {
                let w = ws[0].dims()[1];
                (w > 1).then(|| widths.map(|c| Tensor::zeros([batch, w - 1, c], device)))
            }),
        }
    }

    /// q, k, v for a whole sequence `x (B, L, d)` (convs from zero history).
    fn project(&self, x: Tensor<B, 3>) -> Projected<B> {
        let raw = [
            self.q_proj.forward(x.clone()),
            self.k_proj.forward(x.clone()),
            self.v_proj.forward(x),
        ];
        let [q, k, v] = match self.conv_weights() {
            Some(ws) => {
                let mut out = raw.into_iter().zip(ws).map(|(u, w)| {
                    let bias = Tensor::zeros([w.dims()[0]], &u.device());
                    causal_conv1d(u, w, bias, true)
                });
                [(); 3].map(|_| out.next().expect("three convs"))
            }
            None => raw.map(silu),
        };
        Projected { q, k, v }
    }

    /// The recurrence and output for projected inputs (`x` for the gates), from state `s0`.
    fn mix(
        &self,
        x: Tensor<B, 3>,
        p: Projected<B>,
        s0: Tensor<B, 4>,
    ) -> (Tensor<B, 3>, Tensor<B, 4>) {
        let (o, s) = delta_product(self.recurrence_inputs(x.clone(), p, s0));
        (self.output(x, o), s)
    }

    /// The inputs of kleene-scan's delta rule for a whole sequence `x (B, L, d)` from the zero
    /// state: the micro-sequence of `L · num_householder` sub-steps, whose transitions
    /// `diag(w) + b aᵀ` are the layer's (for inspecting its spectrum).
    pub fn transition_inputs(&self, x: Tensor<B, 3>) -> DeltaRuleInput<B> {
        let [batch, ..] = x.dims();
        let s0 = self.zero_state(batch, &x.device()).s;
        let p = self.project(x.clone());
        self.recurrence_inputs(x, p, s0).micro_inputs()
    }

    /// The recurrence's inputs in the projections' own layouts (fla's: sub-step, head, channel).
    fn recurrence_inputs(
        &self,
        x: Tensor<B, 3>,
        p: Projected<B>,
        s0: Tensor<B, 4>,
    ) -> DeltaProductInput<B> {
        let [batch, len, _] = x.dims();
        let (h, kk, vv, n) = (self.heads, self.head_k, self.head_v, self.householder);
        let mut beta = sigmoid(self.b_proj.forward(x.clone()));
        if self.allow_neg_eigval {
            beta = beta.mul_scalar(2.0);
        }
        DeltaProductInput {
            q: p.q.reshape([batch, len, h, kk]),
            k: p.k.reshape([batch, len, n, h, kk]),
            v: p.v.reshape([batch, len, n, h, vv]),
            beta: beta.reshape([batch, len, n, h]),
            alpha: self.forget(x),
            initial_state: Some(s0),
            scale: 1.0 / (kk as f32).sqrt(),
        }
    }

    /// `α (B, L, H)` of the forget gate.
    fn forget(&self, x: Tensor<B, 3>) -> Option<Tensor<B, 3>> {
        let (a_proj, a_log, dt_bias) = (
            self.a_proj.as_ref()?,
            self.a_log.as_ref()?,
            self.dt_bias.as_ref()?,
        );
        let h = self.heads;
        let gate = softplus(a_proj.forward(x) + dt_bias.val().reshape([1, 1, h]), 1.0)
            * a_log.val().exp().reshape([1, 1, h]);
        Some(gate.neg().exp())
    }

    /// Per-head RMSNorm (and output gate) of `o (B, L, H, V)`, heads concatenated, `o_proj`.
    fn output(&self, x: Tensor<B, 3>, o: Tensor<B, 4>) -> Tensor<B, 3> {
        let [batch, len, h, vv] = o.dims();
        let rms = o
            .clone()
            .powi_scalar(2)
            .mean_dim(3)
            .add_scalar(self.norm_eps)
            .sqrt();
        let mut o = (o / rms) * self.o_norm.val().reshape([1, 1, 1, vv]);
        if let Some(g) = &self.g_proj {
            o = o * silu(g.forward(x).reshape([batch, len, h, vv]));
        }
        self.o_proj.forward(o.reshape([batch, len, h * vv]))
    }

    /// Whole sequence from the zero state.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, ..] = x.dims();
        let s0 = self.zero_state(batch, &x.device()).s;
        let p = self.project(x.clone());
        self.mix(x, p, s0).0
    }

    /// One token `x (B, d)`.
    pub fn step(&self, x: Tensor<B, 2>, state: DeltaState<B>) -> (Tensor<B, 2>, DeltaState<B>) {
        let [batch, d] = x.dims();
        let x3 = x.reshape([batch, 1, d]);
        let raw = [
            self.q_proj.forward(x3.clone()),
            self.k_proj.forward(x3.clone()),
            self.v_proj.forward(x3.clone()),
        ];
        let (p, conv) = match (self.conv_weights(), state.conv) {
            (Some(ws), buffers) => {
                let mut next = Vec::with_capacity(3);
                let mut out = Vec::with_capacity(3);
                for (i, (u, w)) in raw.into_iter().zip(ws).enumerate() {
                    let width = w.dims()[1];
                    let window = match &buffers {
                        Some(b) => Tensor::cat(vec![b[i].clone(), u], 1),
                        None => u,
                    }; // (B, width, C), oldest first
                    let bias = Tensor::zeros([w.dims()[0]], &window.device());
                    let y = causal_conv1d(window.clone(), w, bias, true).narrow(1, width - 1, 1);
                    out.push(y);
                    if width > 1 {
                        next.push(window.narrow(1, 1, width - 1));
                    }
                }
                let mut out = out.into_iter();
                let p = Projected {
                    q: out.next().expect("q"),
                    k: out.next().expect("k"),
                    v: out.next().expect("v"),
                };
                let conv = buffers.map(|_| {
                    let mut n = next.into_iter();
                    [(); 3].map(|_| n.next().expect("three buffers"))
                });
                (p, conv)
            }
            (None, _) => {
                let [q, k, v] = raw.map(silu);
                (Projected { q, k, v }, None)
            }
        };
        let (y, s) = self.mix(x3, p, state.s);
        (y.reshape([batch, d]), DeltaState { s, conv })
    }
}

impl DeltaBlockShape {
    /// Checks the sizes; errors name the field as `<layer>.<field>`.
    pub fn validate(&self, layer: &str) -> Result<(), crate::ZooError> {
        use crate::validate::{ensure, positive};
        ensure(self.d_model > 0, "d_model", "must be > 0")?;
        positive(&format!("{layer}.n_heads"), self.heads)?;
        positive(&format!("{layer}.head_dim"), self.head_k)?;
        positive(&format!("{layer}.expand_v"), self.head_v)?;
        positive(&format!("{layer}.num_householder"), self.householder)?;
        if let Some(w) = self.conv_size {
            positive(&format!("{layer}.conv_size"), w)?;
        }
        ensure(
            self.norm_eps.is_finite() && self.norm_eps > 0.0,
            &format!("{layer}.norm_eps"),
            format!("must be finite and > 0, got {}", self.norm_eps),
        )
    }
}

/// The shape of the gated layers (Gated DeltaNet, Gated DeltaProduct): key width per head
/// `head_dim` (default `d_model / n_heads`), value width `head_dim · expand_v`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gated_shape(
    layer: &str,
    d_model: usize,
    n_heads: usize,
    head_dim: Option<usize>,
    expand_v: usize,
    householder: usize,
    forget_gate: bool,
    output_gate: bool,
    conv_size: Option<usize>,
    allow_neg_eigval: bool,
    norm_eps: f64,
) -> Result<DeltaBlockShape, crate::ZooError> {
    use crate::validate::{ensure, positive};
    positive(&format!("{layer}.n_heads"), n_heads)?;
    positive(&format!("{layer}.expand_v"), expand_v)?;
    let head_k = match head_dim {
        Some(k) => k,
        None => {
            ensure(
                d_model.is_multiple_of(n_heads),
                &format!("{layer}.n_heads"),
                format!("must divide d_model ({d_model}) when head_dim is not set, got {n_heads}"),
            )?;
            d_model / n_heads
        }
    };
    let shape = DeltaBlockShape {
        d_model,
        heads: n_heads,
        head_k,
        head_v: head_k * expand_v,
        householder,
        forget_gate,
        output_gate,
        conv_size,
        allow_neg_eigval,
        norm_eps,
    };
    shape.validate(layer)?;
    Ok(shape)
}
