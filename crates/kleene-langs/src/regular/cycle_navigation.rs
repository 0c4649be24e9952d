//! Cycle navigation: a walk on a cycle of `modulus` positions.

use super::common::{numbered, FinalLabelLanguage};

/// `cycle_navigation` (SD-SSM / Delétang et al.): symbols 0 = left (-1), 1 = stay,
/// 2 = right (+1); the walk starts at 0; label = final position mod `modulus`
/// (5 in the paper).
#[derive(Clone, Copy, Debug)]
pub struct CycleNavigation {
    modulus: u32,
}

impl CycleNavigation {
    /// Panics if `modulus < 2` (use [`super::task_from_name`] for checked construction).
    pub fn new(modulus: usize) -> Self {
        assert!(modulus >= 2, "cycle navigation needs modulus >= 2");
        CycleNavigation {
            modulus: modulus as u32,
        }
    }
    pub fn modulus(&self) -> u32 {
        self.modulus
    }
}

impl FinalLabelLanguage for CycleNavigation {
    fn name(&self) -> String {
        if self.modulus == 5 {
            "cycle-navigation".into()
        } else {
            format!("cycle-navigation-{}", self.modulus)
        }
    }
    fn description(&self) -> String {
        format!(
            "SD-SSM cycle navigation: left/stay/right moves, final position mod {}",
            self.modulus
        )
    }
    fn symbols(&self) -> Vec<String> {
        numbered(3)
    }
    fn classes(&self) -> Vec<String> {
        numbered(self.modulus as usize)
    }
    fn num_symbols(&self) -> u32 {
        3
    }
    fn label(&self, symbols: &[u32]) -> u32 {
        let m = u64::from(self.modulus);
        // Each step adds a - 1; add m - 1 + a instead to stay non-negative.
        let mut pos = 0u64;
        for &a in symbols {
            pos = (pos + m - 1 + u64::from(a)) % m;
        }
        pos as u32
    }
}
