//! Errors of the model zoo.

/// A model could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    /// A config field is out of range; names the field (e.g. `mamba.d_model`).
    #[error("invalid model config: field `{field}`: {reason}")]
    InvalidConfig { field: String, reason: String },
    /// The model or variant name is not known.
    #[error("unknown model `{0}` (`kleene model list` lists the model kinds and the mixers)")]
    UnknownModel(String),
    /// A `kind = "custom"` model asked of the zoo, which cannot build it: the program
    /// registers the kind (kleene-train's `register_model`) and builds it through that.
    #[error("model `{0}` is a custom model kind: the zoo cannot build it; register it with kleene::train::register_model in the program that runs it")]
    CustomModel(String),
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
