//! Errors of the model zoo.

/// A model could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    /// A config field is out of range; names the field (e.g. `mamba.d_model`).
    #[error("invalid model config: field `{field}`: {reason}")]
    InvalidConfig { field: String, reason: String },
    /// The model or variant name is not known.
    #[error("unknown model `{0}` (known: mamba, sdssm, complex_diagonal, rnn, lstm, transformer, transformer_plus, stack_rnn, tape_rnn, dm_transformer, and the ICL-zoo layers s4d, h3, hyena, gilr, lru, rwkv, retnet, gla, linear_attention)")]
    UnknownModel(String),
    /// A config text could not be parsed (TOML/JSON syntax, unknown field, unknown
    /// variant); the message comes from the parser and names the field and line.
    #[error("cannot parse model config: {0}")]
    Parse(String),
}

impl ZooError {
    /// Shorthand for [`ZooError::InvalidConfig`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ZooError::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
