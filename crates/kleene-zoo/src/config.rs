//! Serde model configurations with documented defaults and validation.
//!
//! A [`ModelConfig`] is an internally tagged enum: the field `kind` names the model and
//! the remaining fields configure it; every field has a default, so
//! `kind = "mamba"` alone is a valid config. In TOML:
//!
//! ```toml
//! [model]
//! kind = "mamba"
//! d_model = 64
//! n_layers = 2
//! ```
//!
//! Unknown kinds and unknown fields are rejected with a parse error that names them.

use serde::{Deserialize, Serialize};

use crate::ZooError;

/// Which model to build, with its settings. `kind` values: `mamba`, `sdssm`,
/// `complex_diagonal`, `rnn`, `lstm`, `transformer`, `icl` (the in-context-learning zoo:
/// backbone fields plus a `mixer` table tagged by `layer`, see [`crate::icl`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelConfig {
    /// Mamba-1 MixerModel (embedding, pre-norm residual Mamba blocks, final norm, head).
    Mamba(MambaConfig),
    /// Selective dense SSM (Terzić et al. 2025).
    Sdssm(SdSsmConfig),
    /// Complex-diagonal selective SSMs (the four baselines of the SD-SSM repository).
    ComplexDiagonal(ComplexDiagonalConfig),
    /// Elman RNN (tanh or ReLU), single or stacked.
    Rnn(RnnConfig),
    /// LSTM, single or stacked.
    Lstm(LstmConfig),
    /// Causal decoder-only transformer (learned positions) or "Transformer+" (rotary).
    Transformer(TransformerConfig),
    /// A REGBENCH backbone around one of the ICL-zoo mixers (S4D, H3, Hyena, RetNet, ...).
    Icl(crate::icl::IclModelConfig),
}

/// Normalisation layer of the residual stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// LayerNorm (mamba-ssm `rms_norm=False`, GPT-2).
    #[default]
    LayerNorm,
    /// RMSNorm (mamba-ssm `rms_norm=True`).
    RmsNorm,
}

/// Readout after the recurrence (SD-SSM, complex-diagonal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadoutKind {
    /// One linear map.
    Linear,
    /// `Linear -> ReLU -> Linear`.
    Mlp,
}

/// Position signal of the transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PositionKind {
    /// Learned absolute position table added to the token embedding ("transformer").
    #[default]
    Learned,
    /// Rotary embeddings on queries and keys, no position table ("transformer+").
    Rotary,
}

/// Non-linearity of the Elman RNN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RnnNonlinearity {
    /// `tanh` (PyTorch's default).
    Tanh,
    /// `relu` (the SD-SSM repository's default).
    #[default]
    Relu,
}

/// Mamba-1 MixerModel. Defaults: Sarrof et al.'s `configs/model/mamba.yaml`
/// (d_model 16, d_state 16, d_conv 4, expand 2, 1 layer, LayerNorm, eps 1e-5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MambaConfig {
    /// Residual width `d`. Default 16.
    pub d_model: usize,
    /// Number of Mamba blocks. Default 1.
    pub n_layers: usize,
    /// SSM state size `N` per channel. Default 16.
    pub d_state: usize,
    /// Causal depthwise convolution width. Default 4.
    pub d_conv: usize,
    /// Inner width factor: `d_inner = expand * d_model`. Default 2.
    pub expand: usize,
    /// Rank of the Δ projection; `None` = `ceil(d_model / 16)`. Default `None`.
    pub dt_rank: Option<usize>,
    /// Range of the initial step sizes Δ (log-uniform). Defaults 1e-3, 0.1.
    pub dt_min: f64,
    /// See `dt_min`.
    pub dt_max: f64,
    /// Lower clamp of the initial Δ. Default 1e-4.
    pub dt_init_floor: f64,
    /// Norm of the blocks and of the final norm. Default `layer_norm`.
    pub norm: NormKind,
    /// Norm epsilon. Default 1e-5.
    pub norm_eps: f64,
    /// Linear output head `d_model -> out_dim` (with bias). When `false` the final norm's
    /// output is the logit vector (Sarrof et al.'s bounded-Dyck setup); then the model's
    /// `out_dim()` is `d_model` and the requested `out_dim` must be `<= d_model`. Default true.
    pub head: bool,
}

impl Default for MambaConfig {
    fn default() -> Self {
        Self {
            d_model: 16,
            n_layers: 1,
            d_state: 16,
            d_conv: 4,
            expand: 2,
            dt_rank: None,
            dt_min: 1e-3,
            dt_max: 0.1,
            dt_init_floor: 1e-4,
            norm: NormKind::LayerNorm,
            norm_eps: 1e-5,
            head: true,
        }
    }
}

impl MambaConfig {
    /// `dt_rank` with its default resolved.
    pub fn resolved_dt_rank(&self) -> usize {
        self.dt_rank.unwrap_or(self.d_model.div_ceil(16))
    }
}

/// SD-SSM. Defaults: the README's parity run (N 64, K 8, p 1.2, linear readout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SdSsmConfig {
    /// State size `N`. Default 64.
    pub state_size: usize,
    /// Dictionary size `K` (number of transition matrices). Default 8.
    pub num_transition_matrices: usize,
    /// `p` of the column Lp normalisation, `>= 1`. Default 1.2 (the original CLI default
    /// is 1.0, but every README run sets 1.1–1.4).
    pub lp_norm: f64,
    /// `linear` (SD-SSM) or `mlp` (`SDSSM_nonlinear`). Default `linear`.
    pub readout: ReadoutKind,
    /// Hidden width of the MLP readout. Default 64.
    pub mlp_size: usize,
    /// LayerNorm epsilon before the readout. Default 1e-5.
    pub norm_eps: f64,
}

impl Default for SdSsmConfig {
    fn default() -> Self {
        Self {
            state_size: 64,
            num_transition_matrices: 8,
            lp_norm: 1.2,
            readout: ReadoutKind::Linear,
            mlp_size: 64,
            norm_eps: 1e-5,
        }
    }
}

/// Complex-diagonal selective SSM. Defaults: `complex_diagonal_with_B_nonlinear` with one
/// layer (the variant behind the paper's Table 1), N 64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplexDiagonalConfig {
    /// Complex state size `N`. Default 64.
    pub state_size: usize,
    /// Embedding width `E`; `None` = vocabulary size (the repository's `embed_size=-1`).
    pub embed_size: Option<usize>,
    /// Additive input `B e_t` in the recurrence. Default true.
    pub with_b: bool,
    /// `linear` or `mlp` readout on `[Re h; Im h]`. Default `mlp`.
    pub readout: ReadoutKind,
    /// Number of stacked blocks; `> 1` needs `with_b = true` and `readout = "mlp"`
    /// (the repository's multilayer variant). Default 1.
    pub num_layers: usize,
}

impl Default for ComplexDiagonalConfig {
    fn default() -> Self {
        Self {
            state_size: 64,
            embed_size: None,
            with_b: true,
            readout: ReadoutKind::Mlp,
            num_layers: 1,
        }
    }
}

/// Elman RNN on one-hot inputs with a bias-free linear head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RnnConfig {
    /// Hidden size. Default 64.
    pub hidden_size: usize,
    /// Stacked layers. Default 1.
    pub num_layers: usize,
    /// `relu` (default, as the SD-SSM repository) or `tanh`.
    pub nonlinearity: RnnNonlinearity,
}

impl Default for RnnConfig {
    fn default() -> Self {
        Self {
            hidden_size: 64,
            num_layers: 1,
            nonlinearity: RnnNonlinearity::Relu,
        }
    }
}

/// LSTM on one-hot inputs with a bias-free linear head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmConfig {
    /// Hidden size. Default 64.
    pub hidden_size: usize,
    /// Stacked layers. Default 1.
    pub num_layers: usize,
}

impl Default for LstmConfig {
    fn default() -> Self {
        Self {
            hidden_size: 64,
            num_layers: 1,
        }
    }
}

/// Causal decoder-only pre-LN transformer (GPT-2 block of seq_icl's `lm_simple`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformerConfig {
    /// Residual width. Default 128 (REGBENCH).
    pub d_model: usize,
    /// Blocks. Default 2.
    pub n_layers: usize,
    /// Attention heads; must divide `d_model` (and `d_model / n_heads` must be even for
    /// rotary). Default 2.
    pub n_heads: usize,
    /// MLP hidden width; `None` = `4 * d_model`.
    pub d_ff: Option<usize>,
    /// `learned` (transformer) or `rotary` (transformer+). Default `learned`.
    pub positions: PositionKind,
    /// Size of the learned position table. Default 4098 (REGBENCH).
    pub max_len: usize,
    /// Rotary base θ. Default 10000.
    pub rope_theta: f64,
    /// Dropout on the attention weights (training only). Default 0.0 (REGBENCH's
    /// `transformer` used 0.1, `transformer+` 0.0).
    pub attn_dropout: f64,
    /// LayerNorm epsilon. Default 1e-5.
    pub norm_eps: f64,
}

impl Default for TransformerConfig {
    fn default() -> Self {
        Self {
            d_model: 128,
            n_layers: 2,
            n_heads: 2,
            d_ff: None,
            positions: PositionKind::Learned,
            max_len: 4098,
            rope_theta: 10000.0,
            attn_dropout: 0.0,
            norm_eps: 1e-5,
        }
    }
}

fn positive(field: &str, value: usize) -> Result<(), ZooError> {
    if value == 0 {
        Err(ZooError::invalid(field, "must be at least 1"))
    } else {
        Ok(())
    }
}

fn positive_f(field: &str, value: f64) -> Result<(), ZooError> {
    if !(value.is_finite() && value > 0.0) {
        Err(ZooError::invalid(
            field,
            format!("must be a finite number > 0, got {value}"),
        ))
    } else {
        Ok(())
    }
}

impl ModelConfig {
    /// The `kind` names, in declaration order.
    pub const KINDS: [&'static str; 6] = [
        "mamba",
        "sdssm",
        "complex_diagonal",
        "rnn",
        "lstm",
        "transformer",
    ];

    /// The default config of a model kind; [`ZooError::UnknownModel`] for other names.
    /// `transformer_plus` is accepted as the transformer with rotary positions, and every
    /// ICL-zoo layer name (`s4d`, `h3`, `retnet`, ...; `IclLayerConfig::NAMES`) as that
    /// mixer in the default backbone.
    pub fn default_for(kind: &str) -> Result<Self, ZooError> {
        Ok(match kind {
            "mamba" => ModelConfig::Mamba(MambaConfig::default()),
            "sdssm" => ModelConfig::Sdssm(SdSsmConfig::default()),
            "complex_diagonal" => ModelConfig::ComplexDiagonal(ComplexDiagonalConfig::default()),
            "rnn" => ModelConfig::Rnn(RnnConfig::default()),
            "lstm" => ModelConfig::Lstm(LstmConfig::default()),
            "transformer" => ModelConfig::Transformer(TransformerConfig::default()),
            "transformer_plus" => ModelConfig::Transformer(TransformerConfig {
                positions: PositionKind::Rotary,
                ..TransformerConfig::default()
            }),
            other if crate::icl::IclLayerConfig::NAMES.contains(&other) => ModelConfig::Icl(
                crate::icl::IclModelConfig::new(crate::icl::IclLayerConfig::default_for(other)?),
            ),
            other => return Err(ZooError::UnknownModel(other.to_string())),
        })
    }

    /// The `kind` of this config.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Mamba(_) => "mamba",
            ModelConfig::Sdssm(_) => "sdssm",
            ModelConfig::ComplexDiagonal(_) => "complex_diagonal",
            ModelConfig::Rnn(_) => "rnn",
            ModelConfig::Lstm(_) => "lstm",
            ModelConfig::Transformer(_) => "transformer",
            ModelConfig::Icl(_) => "icl",
        }
    }

    /// Parses a TOML table (e.g. the `[model]` section's text).
    pub fn from_toml_str(text: &str) -> Result<Self, ZooError> {
        toml::from_str(text).map_err(|e| ZooError::Parse(e.to_string()))
    }

    /// Parses JSON.
    pub fn from_json_str(text: &str) -> Result<Self, ZooError> {
        serde_json::from_str(text).map_err(|e| ZooError::Parse(e.to_string()))
    }

    /// Checks every field (and the vocabulary / output sizes the model will be built
    /// with); errors name the field as `<kind>.<field>`.
    pub fn validate(&self, vocab_size: usize, out_dim: usize) -> Result<(), ZooError> {
        positive("vocab_size", vocab_size)?;
        positive("out_dim", out_dim)?;
        match self {
            ModelConfig::Mamba(c) => {
                positive("mamba.d_model", c.d_model)?;
                positive("mamba.n_layers", c.n_layers)?;
                positive("mamba.d_state", c.d_state)?;
                positive("mamba.d_conv", c.d_conv)?;
                positive("mamba.expand", c.expand)?;
                if let Some(r) = c.dt_rank {
                    positive("mamba.dt_rank", r)?;
                }
                positive_f("mamba.dt_min", c.dt_min)?;
                positive_f("mamba.dt_max", c.dt_max)?;
                positive_f("mamba.dt_init_floor", c.dt_init_floor)?;
                positive_f("mamba.norm_eps", c.norm_eps)?;
                if c.dt_min > c.dt_max {
                    return Err(ZooError::invalid("mamba.dt_min", "must be <= dt_max"));
                }
                if !c.head && out_dim > c.d_model {
                    return Err(ZooError::invalid(
                        "mamba.head",
                        format!("without a head the outputs are the d_model = {} normed features, fewer than out_dim = {out_dim}", c.d_model),
                    ));
                }
            }
            ModelConfig::Sdssm(c) => {
                positive("sdssm.state_size", c.state_size)?;
                positive("sdssm.num_transition_matrices", c.num_transition_matrices)?;
                positive("sdssm.mlp_size", c.mlp_size)?;
                positive_f("sdssm.norm_eps", c.norm_eps)?;
                if !(c.lp_norm.is_finite() && c.lp_norm >= 1.0) {
                    return Err(ZooError::invalid(
                        "sdssm.lp_norm",
                        format!("must be a finite number >= 1, got {}", c.lp_norm),
                    ));
                }
            }
            ModelConfig::ComplexDiagonal(c) => {
                positive("complex_diagonal.state_size", c.state_size)?;
                if let Some(e) = c.embed_size {
                    positive("complex_diagonal.embed_size", e)?;
                }
                positive("complex_diagonal.num_layers", c.num_layers)?;
                if c.num_layers > 1 && !(c.with_b && c.readout == ReadoutKind::Mlp) {
                    return Err(ZooError::invalid(
                        "complex_diagonal.num_layers",
                        "more than one layer exists only for with_b = true and readout = \"mlp\"",
                    ));
                }
            }
            ModelConfig::Rnn(c) => {
                positive("rnn.hidden_size", c.hidden_size)?;
                positive("rnn.num_layers", c.num_layers)?;
            }
            ModelConfig::Lstm(c) => {
                positive("lstm.hidden_size", c.hidden_size)?;
                positive("lstm.num_layers", c.num_layers)?;
            }
            ModelConfig::Transformer(c) => {
                positive("transformer.d_model", c.d_model)?;
                positive("transformer.n_layers", c.n_layers)?;
                positive("transformer.n_heads", c.n_heads)?;
                positive("transformer.max_len", c.max_len)?;
                positive_f("transformer.norm_eps", c.norm_eps)?;
                positive_f("transformer.rope_theta", c.rope_theta)?;
                if let Some(d) = c.d_ff {
                    positive("transformer.d_ff", d)?;
                }
                if c.d_model % c.n_heads != 0 {
                    return Err(ZooError::invalid(
                        "transformer.n_heads",
                        format!("must divide d_model = {}, got {}", c.d_model, c.n_heads),
                    ));
                }
                if c.positions == PositionKind::Rotary && (c.d_model / c.n_heads) % 2 != 0 {
                    return Err(ZooError::invalid(
                        "transformer.n_heads",
                        "rotary positions need an even head dimension d_model / n_heads",
                    ));
                }
                if !(0.0..1.0).contains(&c.attn_dropout) {
                    return Err(ZooError::invalid(
                        "transformer.attn_dropout",
                        format!("must be in [0, 1), got {}", c.attn_dropout),
                    ));
                }
            }
            ModelConfig::Icl(c) => c.validate()?,
        }
        Ok(())
    }
}
