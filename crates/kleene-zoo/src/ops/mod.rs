//! Computations shared by layers, after flash-linear-attention's `fla/ops/<name>/`: each op
//! has its parallel (or chunked) form, its one-step form where a layer steps through it, and a
//! plain reference that the tests compare against.
//!
//! | op | parallel / chunked | step | reference |
//! |---|---|---|---|
//! | [`gated_attention`] (GLA, RetNet, linear attention) | [`gated_attention::chunked_gated_attention`] | [`gated_attention::gated_attention_step`] | [`gated_attention::gated_attention_naive`] |
//! | [`long_conv`] (H3, Hyena, S4D) | [`long_conv::causal_conv`] (block Toeplitz) | the layer's SSM or filter state | [`long_conv::causal_conv_naive`] |
//! | [`short_conv`] (H3, Hyena shift / short filters) | [`short_conv::short_conv`] | [`short_conv::short_conv_step`] | [`short_conv::short_conv_naive`] |
//! | [`vandermonde`] (S4D, H3 diagonal SSM kernels) | [`vandermonde::vandermonde_kernel`] | [`vandermonde::diag_ssm_step`] | the step, looped |
//! | [`mlstm_cell`] (mLSTM) | [`mlstm_cell::mlstm_parallel`] (stabilised, `O(L²)`) | [`mlstm_cell::mlstm_step`] | the float64 oracle in `tests/xlstm_layers.rs` |
//! | [`slstm_cell`] (sLSTM) | none (nonlinear recurrence): [`slstm_cell::slstm_sequence`] loops the step | [`slstm_cell::slstm_step`] | the float64 oracle in `tests/xlstm_layers.rs` |
//! | [`recurrence`] (SD-SSM, complex diagonal) | kleene-scan's scans | [`recurrence::dense_step`] | kleene-scan's references |
//! | [`causal_mask`], [`sequence`], [`activation`] | small tensor helpers | | |

pub mod activation;
pub mod causal_mask;
pub mod gated_attention;
pub mod long_conv;
pub mod mlstm_cell;
pub mod recurrence;
pub mod sequence;
pub mod short_conv;
pub mod slstm_cell;
pub mod vandermonde;
