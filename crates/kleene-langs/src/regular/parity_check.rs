//! Parity check: bits in, `(number of ones) mod 2` out.

use super::common::{numbered, FinalLabelLanguage};

/// `parity_check` (SD-SSM / Delétang et al.): symbols {0, 1}, label = Σ bits mod 2.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParityCheck;

impl FinalLabelLanguage for ParityCheck {
    fn name(&self) -> String {
        "parity-check".into()
    }
    fn description(&self) -> String {
        "SD-SSM parity check: bits in, number of ones mod 2 at the end".into()
    }
    fn symbols(&self) -> Vec<String> {
        numbered(2)
    }
    fn classes(&self) -> Vec<String> {
        numbered(2)
    }
    fn num_symbols(&self) -> u32 {
        2
    }
    fn label(&self, symbols: &[u32]) -> u32 {
        symbols.iter().fold(0, |acc, &s| acc ^ s)
    }
}
