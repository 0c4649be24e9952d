//! (placeholder: filled in by the family's implementation)

use crate::registry::TaskInfo;

/// Every task of this family with its default configuration.
pub fn tasks() -> Vec<TaskInfo> {
    Vec::new()
}
