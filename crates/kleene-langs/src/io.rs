//! Reading and writing the published text formats and JSONL.
//! (placeholder: filled in with the formats)
