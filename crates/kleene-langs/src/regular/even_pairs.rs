//! Even pairs: is the number of adjacent unequal pairs even?

use super::common::{numbered, FinalLabelLanguage};

/// `even_pairs` (SD-SSM / Delétang et al.): symbols {0, 1}; label = parity of
/// #{i : s_i != s_(i+1)}, which equals `s_1 XOR s_L` (0 for length 1).
#[derive(Clone, Copy, Debug, Default)]
pub struct EvenPairs;

impl FinalLabelLanguage for EvenPairs {
    fn name(&self) -> String {
        "even-pairs".into()
    }
    fn description(&self) -> String {
        "SD-SSM even pairs: bits in, parity of the number of unequal neighbours".into()
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
        // The count of changes telescopes to first XOR last.
        match (symbols.first(), symbols.last()) {
            (Some(&a), Some(&b)) => a ^ b,
            _ => 0,
        }
    }
}
