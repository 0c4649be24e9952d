//! A model kind that the program using kleene defines itself: `[model] kind = "custom"` with
//! `name = "<registered name>"` and the model's own settings beside it.
//!
//! The zoo cannot build such a model (it does not know its type): the program registers the
//! kind with kleene-train's `register_model`, and the high-level entry points (`run`, `eval`,
//! sweeps, reports) then build, train, checkpoint and evaluate it by name. The settings are
//! kept as parsed (JSON values) and handed to the registered kind, which deserialises them
//! into its own typed config (unknown fields are refused there, naming them).
//!
//! ```toml
//! [model]
//! kind = "custom"
//! name = "gated_rnn"
//! d_model = 32
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ZooError;

/// Config of a registered model kind: its name and its settings as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomModelConfig {
    /// The name the kind was registered under. Required.
    pub name: String,
    /// Every other field of the `[model]` table, given to the registered kind.
    #[serde(flatten)]
    pub settings: BTreeMap<String, serde_json::Value>,
}

impl CustomModelConfig {
    /// A custom model config: the registered `name` and no settings (the kind's defaults).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            settings: BTreeMap::new(),
        }
    }

    /// Sets one setting (`value` as any serde-serialisable value).
    pub fn with(mut self, key: &str, value: impl Serialize) -> Result<Self, ZooError> {
        let value = serde_json::to_value(value)
            .map_err(|e| ZooError::invalid(format!("custom.{key}"), e.to_string()))?;
        self.settings.insert(key.to_string(), value);
        Ok(self)
    }

    /// The settings as one JSON object (what the registered kind deserialises).
    pub fn settings_value(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.settings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// Checks what the zoo can check: the name is given.
    pub fn validate(&self) -> Result<(), ZooError> {
        if self.name.trim().is_empty() {
            return Err(ZooError::invalid(
                "custom.name",
                "must name a registered model kind",
            ));
        }
        Ok(())
    }
}
