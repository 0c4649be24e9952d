//! `Autodiff<B, C>` implementation of [`ScanBackend`].

use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::Autodiff;

use crate::ScanBackend;

impl<B: ScanBackend, C: CheckpointStrategy> ScanBackend for Autodiff<B, C> {}
