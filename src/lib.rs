//! kleene: which formal languages can state-space models, RNNs and Transformers learn,
//! and do they generalize to longer inputs?
//!
//! This facade re-exports the layered crates:
//! `langs` (no Burn) <- `scan` <- `zoo` <- `eval` <- `train`.

pub use kleene_eval as eval;
pub use kleene_langs as langs;
pub use kleene_scan as scan;
pub use kleene_train as train;
pub use kleene_zoo as zoo;
