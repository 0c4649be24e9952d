//! Errors of the model zoo.

/// A model could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    /// A config field is out of range; names the field.
    #[error("invalid model config: field `{field}`: {reason}")]
    InvalidConfig { field: String, reason: String },
    /// The model or variant name is not known.
    #[error("unknown model `{0}`")]
    UnknownModel(String),
}
