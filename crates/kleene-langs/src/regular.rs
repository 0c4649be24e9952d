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
//! ([`task_from_name`]), and the A5 / S5 word problems with extra letters of PD-SSM
//! (`a5-k<k>`, `s5-k<k>`: [`extra_transitions`]).
//!
//! **PD-SSM's FSA tasks** (Terzić et al., NeurIPS 2025, Table 2, after Walker et al. 2025;
//! spec `state-tracking-models.md` §10.4; their `data_dir/fl_tasks/*.py`) are these tasks up
//! to token ids, with one layout difference: parity, even pairs and cycle navigation read the
//! label at the last symbol, with no query token. They are registered as `pdssm-parity`,
//! `pdssm-even-pairs` and `pdssm-cycle-navigation` (the SD-SSM languages with
//! `query_token = false`). Their `mod_arith_no_brack` ends with '=' (kleene's query token),
//! bumps an odd drawn length `L` to `L + 1` tokens where kleene lowers an even drawn symbol
//! count `n` to `n − 1` (both give `L = n + 1` with the same distribution over a window of
//! drawn lengths), evaluates `*` first and takes Python's non-negative mod: `modular-arithmetic`
//! itself (alias `pdssm-modular-arithmetic`). Their output layer has one class per token id
//! (3, 3, 9, 10); kleene's has one per label (2, 2, 5, 5).
//!
//! [`Target::Final`]: crate::Target::Final

mod common;
pub mod cycle_navigation;
pub mod cyclic_product;
pub mod dihedral;
pub mod even_pairs;
pub mod extra_transitions;
pub mod modular_arithmetic;
pub mod parity_check;
pub mod permutation_group;

pub use common::{FinalLabelLanguage, RegularConfig, RegularTask};
pub use cycle_navigation::CycleNavigation;
pub use cyclic_product::{CyclicGroup, CyclicProduct};
pub use dihedral::Dihedral;
pub use even_pairs::EvenPairs;
pub use extra_transitions::{group_with_extra_letters, NonSolvableGroup};
pub use modular_arithmetic::ModularArithmetic;
pub use parity_check::ParityCheck;
pub use permutation_group::PermutationGroup;

use crate::registry::TaskInfo;
use crate::LangError;

/// PD-SSM's `(G, k)` grid (spec §10.5, `assets/A5.png`): registered by name; any other
/// `a5-k<k>` / `s5-k<k>` is built on request ([`extra_transitions_task`]).
pub const PDSSM_GROUP_TASKS: [(NonSolvableGroup, usize); 7] = [
    (NonSolvableGroup::A5, 2),
    (NonSolvableGroup::A5, 6),
    (NonSolvableGroup::A5, 8),
    (NonSolvableGroup::A5, 12),
    (NonSolvableGroup::S5, 4),
    (NonSolvableGroup::S5, 8),
    (NonSolvableGroup::S5, 32),
];

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
    let mut all = vec![
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
            &[
                "modular_arithmetic",
                "ModularArithmetic",
                "pdssm-modular-arithmetic",
            ],
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
        info(
            RegularTask::new(ParityCheck, paper_config(false)).renamed(
                "pdssm-parity",
                "PD-SSM parity: bits in, number of ones mod 2 read at the last bit (no query token)",
            ),
            &["pdssm_parity"],
        ),
        info(
            RegularTask::new(EvenPairs, paper_config(false)).renamed(
                "pdssm-even-pairs",
                "PD-SSM even pairs: bits in, first == last read at the last bit (no query token)",
            ),
            &["pdssm_even_pairs"],
        ),
        info(
            RegularTask::new(CycleNavigation::new(5), paper_config(false)).renamed(
                "pdssm-cycle-navigation",
                "PD-SSM cycle navigation: stay/+1/-1 moves, final position mod 5 read at the last move (no query token)",
            ),
            &["pdssm_cycle_nav", "pdssm-cycle-nav"],
        ),
    ];
    all.extend(PDSSM_GROUP_TASKS.iter().map(|&(group, k)| {
        let language = group_with_extra_letters(group, k).expect("the published k are valid");
        info(RegularTask::new(language, paper_config(false)), &[])
    }));
    all
}

/// The PD-SSM task `a5-k<k>` / `s5-k<k>` ([`extra_transitions`]) with `config`: `None` when
/// `name` is not of that form, an error naming `k` when `k` is not in `2..=|G|`.
pub fn extra_transitions_task(
    name: &str,
    config: RegularConfig,
) -> Option<Result<RegularTask, LangError>> {
    let (group, k) = extra_transitions::parse_name(name)?;
    Some(group_with_extra_letters(group, k).map(|language| RegularTask::new(language, config)))
}

/// The configuration a task built by name outside [`tasks`] gets in the registry: the
/// group tasks' (no query token, as the SD-SSM and PD-SSM group experiments).
pub fn group_task_config() -> RegularConfig {
    paper_config(false)
}

/// Builds a parameterised group / modular task from its name (case-insensitive):
/// `c<n>` (cyclic, 2 <= n), `c2xc<n>`, `d<n>` (dihedral, 3 <= n), `a<n>` (alternating,
/// 3 <= n <= 8; `a5` is the SD-SSM generator pair), `s<n>` (symmetric, 2 <= n <= 8),
/// `cycle-navigation-<n>`, `modular-arithmetic-<n>`, `a5-k<k>` / `s5-k<k>` (PD-SSM's groups
/// with `k` letters, `2 <= k <= |G|`: [`extra_transitions_task`] says why another `k` fails).
/// Returns `None` for any other name.
pub fn task_from_name(name: &str, config: RegularConfig) -> Option<RegularTask> {
    let lower = name.trim().to_ascii_lowercase().replace('_', "-");
    let num = |prefix: &str| -> Option<usize> {
        lower
            .strip_prefix(prefix)
            .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|rest| rest.parse().ok())
    };
    if let Some(task) = extra_transitions_task(&lower, config.clone()) {
        return task.ok();
    }
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
