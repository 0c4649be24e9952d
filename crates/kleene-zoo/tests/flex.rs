//! Every model of the zoo on burn-flex (the second CPU backend, kleene-scan's CPU kernels)
//! against the same model on burn-ndarray (see `cross_backend`).
//!
//!     cargo test -p kleene-zoo --features flex --test flex
#![cfg(feature = "flex")]

mod cross_backend;
mod icl_common;

cross_backend::backend_tests!(kleene_scan::Flex);
