//! Every model of the zoo on burn-wgpu (CubeCL kernels; Mesa's lavapipe in CI) against the
//! same model on burn-ndarray (see `cross_backend`).
//!
//!     RUST_MIN_STACK=16777216 cargo test -p kleene-zoo --features wgpu --test wgpu
#![cfg(feature = "wgpu")]

mod cross_backend;
mod icl_common;

cross_backend::backend_tests!(kleene_scan::cube::Wgpu);
