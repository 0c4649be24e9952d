//! Regular and group tasks of the SD-SSM paper (Terzić et al., AAAI 2025), laid out like
//! DeepMind's `tasks/regular/*.py`: one file per task family.
//!
//! Every task maps a string to one class, the class of the automaton's **final** state
//! (or the value of the whole expression), read at the last step: [`Target::Final`].
//! With the query-token option one extra token id (`symbols().len()`) is appended and
//! the label is read at that step. Symbols are i.i.d. uniform over the task alphabet.
//!
//! Beyond the paper's seven tasks the families take parameters: cyclic groups `c<n>`,
//! dihedral groups `d<n>`, direct products `c2xc<n>`, alternating `a<n>` and symmetric
//! `s<n>` groups, and cycle navigation / modular arithmetic with any modulus
//! ([`task_from_name`]).
//!
//! [`Target::Final`]: crate::Target::Final

mod common;
pub mod cycle_navigation;
pub mod cyclic_product;
pub mod dihedral;
pub mod even_pairs;
pub mod modular_arithmetic;
pub mod parity_check;
pub mod permutation_group;

pub use common::{FinalLabelLanguage, RegularConfig, RegularTask};
pub use cycle_navigation::CycleNavigation;
pub use cyclic_product::{CyclicGroup, CyclicProduct};
pub use dihedral::Dihedral;
pub use even_pairs::EvenPairs;
pub use modular_arithmetic::ModularArithmetic;
pub use parity_check::ParityCheck;
pub use permutation_group::PermutationGroup;

use crate::registry::TaskInfo;

/// The SD-SSM paper's query-token setting per task: on for parity, even pairs, cycle
/// navigation and modular arithmetic (the README commands), off for the group tasks.
fn paper_config(query_token: bool) -> RegularConfig {
    RegularConfig {
        query_token,
        ..RegularConfig::default()
    }
}

fn info(task: RegularTask, aliases: &[&str]) -> TaskInfo {
    TaskInfo {
        task: Box::new(task),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
    }
}

/// Every task of this family with its default configuration.
pub fn tasks() -> Vec<TaskInfo> {
    vec![
        info(
            RegularTask::new(ParityCheck, paper_config(true)),
            &["parity_check", "ParityCheck"],
        ),
        info(
            RegularTask::new(EvenPairs, paper_config(true)),
            &["even_pairs", "EvenPairs"],
        ),
        info(
            RegularTask::new(CycleNavigation::new(5), paper_config(true)),
            &["cycle_navigation", "CycleNavigation"],
        ),
        info(
            RegularTask::new(ModularArithmetic::new(5), paper_config(true)),
            &["modular_arithmetic", "ModularArithmetic"],
        ),
        info(
            RegularTask::new(CyclicProduct::new(4), paper_config(false)),
            &["C2xC4", "C_2_n"],
        ),
        info(
            RegularTask::new(Dihedral::new(4), paper_config(false)),
            &["D4", "DihedronNavigation"],
        ),
        info(
            RegularTask::new(PermutationGroup::a5(), paper_config(false)),
            &["A5", "A5Navigation"],
        ),
        info(
            RegularTask::new(CyclicProduct::new(30), paper_config(false)),
            &["C2xC30"],
        ),
        info(
            RegularTask::new(Dihedral::new(30), paper_config(false)),
            &["D30"],
        ),
    ]
}

/// Builds a parameterised group / modular task from its name (case-insensitive):
/// `c<n>` (cyclic, 2 <= n), `c2xc<n>`, `d<n>` (dihedral, 3 <= n), `a<n>` (alternating,
/// 3 <= n <= 8; `a5` is the SD-SSM generator pair), `s<n>` (symmetric, 2 <= n <= 8),
/// `cycle-navigation-<n>`, `modular-arithmetic-<n>`. Returns `None` for any other name.
pub fn task_from_name(name: &str, config: RegularConfig) -> Option<RegularTask> {
    let lower = name.trim().to_ascii_lowercase().replace('_', "-");
    let num = |prefix: &str| -> Option<usize> {
        lower
            .strip_prefix(prefix)
            .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|rest| rest.parse().ok())
    };
    if let Some(n) = num("c2xc").filter(|&n| n >= 1) {
        return Some(RegularTask::new(CyclicProduct::new(n), config));
    }
    if let Some(n) = num("cycle-navigation-").filter(|&n| n >= 2) {
        return Some(RegularTask::new(CycleNavigation::new(n), config));
    }
    if let Some(n) = num("modular-arithmetic-").filter(|&n| (2..=64).contains(&n)) {
        return Some(RegularTask::new(ModularArithmetic::new(n), config));
    }
    if let Some(n) = num("c").filter(|&n| n >= 2) {
        return Some(RegularTask::new(CyclicGroup::new(n), config));
    }
    if let Some(n) = num("d").filter(|&n| n >= 3) {
        return Some(RegularTask::new(Dihedral::new(n), config));
    }
    if let Some(n) = num("a").filter(|&n| (3..=8).contains(&n)) {
        let group = if n == 5 {
            PermutationGroup::a5()
        } else {
            PermutationGroup::alternating(n)
        };
        return Some(RegularTask::new(group, config));
    }
    if let Some(n) = num("s").filter(|&n| (2..=8).contains(&n)) {
        return Some(RegularTask::new(PermutationGroup::symmetric(n), config));
    }
    None
}
