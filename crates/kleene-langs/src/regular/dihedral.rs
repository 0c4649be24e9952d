//! Dihedral groups D_n (the SD-SSM `DihedronNavigation`, Liu et al.'s dihedral automaton).

use super::common::{numbered, FinalLabelLanguage};

/// D_n: symbols 0 = toggle (flip orientation), 1 = move one step in the current
/// orientation (+1 when the toggle bit is 0, -1 when it is 1). Start (toggle 0,
/// position 0); label = `n * toggle + position`. Non-commutative: for D4 "01" -> 7,
/// "10" -> 5.
#[derive(Clone, Copy, Debug)]
pub struct Dihedral {
    n: u32,
}

impl Dihedral {
    /// Panics if `n < 3`.
    pub fn new(n: usize) -> Self {
        assert!(n >= 3, "D_n needs n >= 3");
        Dihedral { n: n as u32 }
    }
}

impl FinalLabelLanguage for Dihedral {
    fn name(&self) -> String {
        format!("d{}", self.n)
    }
    fn description(&self) -> String {
        format!(
            "SD-SSM D{n}: toggle/move on a {n}-cycle (dihedral, non-commuting), final state of 2*{n}",
            n = self.n
        )
    }
    fn symbols(&self) -> Vec<String> {
        numbered(2)
    }
    fn classes(&self) -> Vec<String> {
        numbered(2 * self.n as usize)
    }
    fn num_symbols(&self) -> u32 {
        2
    }
    fn label(&self, symbols: &[u32]) -> u32 {
        let n = self.n;
        let (mut toggle, mut pos) = (0u32, 0u32);
        for &s in symbols {
            if s == 0 {
                toggle ^= 1;
            } else if toggle == 0 {
                pos = if pos + 1 == n { 0 } else { pos + 1 };
            } else {
                pos = if pos == 0 { n - 1 } else { pos - 1 };
            }
        }
        n * toggle + pos
    }
}
