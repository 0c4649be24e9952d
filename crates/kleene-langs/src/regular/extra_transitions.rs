//! The A5 and S5 word problems "with extra random transitions" of PD-SSM (Terzić et al.,
//! NeurIPS 2025; README and `assets/A5.png` of IBM/expressive-sparse-state-space-model;
//! spec `state-tracking-models.md` §10.5): `(G, k)` is the group `G` read through `k`
//! distinct input letters.
//!
//! **A documented reading, not a port.** PD-SSM ships no generator for these tasks; its README
//! says only that random transitions are added to the Cayley-graph automaton, that none
//! repeats an existing one and that all respect the group structure. kleene reads that as:
//! every letter acts as right multiplication by one fixed group element (`s' = s ∘ g`, the
//! action of [`PermutationGroup`]); the first two letters are a minimal generating set (A5:
//! the SD-SSM pair, the 5-cycle and the double transposition (0 1)(2 3); S5: the 5-cycle and
//! the transposition (0 1)), so the automaton's transition monoid is the whole group for
//! every `k`; letters `2..k` are distinct further elements drawn at random (any element but
//! the two generators, the identity included) from one fixed seed, [`EXTRA_LETTERS_SEED`],
//! so that `(G, k)` is the same task everywhere. The extras are a prefix of one fixed
//! shuffle, so `(A5, 6)`'s letters are the first six of `(A5, 8)`'s. `(A5, 2)` is the
//! SD-SSM `a5` task itself. The label is the final group element's rank among the group's
//! elements in lexicographic order (60 or 120 classes), read at the last letter.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::permutation_group::PermutationGroup;
use crate::LangError;

/// Seed of the shuffle that picks the extra letters (fixed: the tasks are part of the
/// benchmark's definition).
pub const EXTRA_LETTERS_SEED: u64 = 0x5D55_A5A5;

/// The two groups of PD-SSM's experiment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonSolvableGroup {
    /// The alternating group A5 (60 elements).
    A5,
    /// The symmetric group S5 (120 elements).
    S5,
}

impl NonSolvableGroup {
    /// Lower-case name, the prefix of the task names (`a5`, `s5`).
    pub fn name(self) -> &'static str {
        match self {
            NonSolvableGroup::A5 => "a5",
            NonSolvableGroup::S5 => "s5",
        }
    }

    /// The group read through its minimal generating pair (letters 0 and 1).
    fn generated(self) -> PermutationGroup {
        match self {
            NonSolvableGroup::A5 => PermutationGroup::a5(),
            NonSolvableGroup::S5 => PermutationGroup::symmetric(5),
        }
    }
}

/// Parses a task name `a5-k<k>` / `s5-k<k>` (case-insensitive, `_` for `-`); `None` for any
/// other name.
pub fn parse_name(name: &str) -> Option<(NonSolvableGroup, usize)> {
    let lower = name.trim().to_ascii_lowercase().replace('_', "-");
    let (group, rest) = if let Some(rest) = lower.strip_prefix("a5-k") {
        (NonSolvableGroup::A5, rest)
    } else {
        (NonSolvableGroup::S5, lower.strip_prefix("s5-k")?)
    };
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // A number too large for usize is still this family's name: report it as out of range.
    Some((group, rest.parse().unwrap_or(usize::MAX)))
}

/// The `(group, k)` task's language: `k` distinct letters, the first two generating the
/// group, the rest drawn as the module doc says. `k` must lie in `2..=|G|` (an error naming
/// `k` otherwise).
pub fn group_with_extra_letters(
    group: NonSolvableGroup,
    k: usize,
) -> Result<PermutationGroup, LangError> {
    let name = format!("{}-k{k}", group.name());
    let base = group.generated();
    let order = base.order();
    let invalid = |reason: String| LangError::InvalidConfig {
        task: name.clone(),
        field: "k".into(),
        reason,
    };
    let label = group.name().to_ascii_uppercase();
    if k < 2 {
        return Err(invalid(format!(
            "k = {k}: {label} needs at least 2 letters (it has no generating element)"
        )));
    }
    if k > order {
        return Err(invalid(format!(
            "k = {k} exceeds the order {order} of {label}: the letters are distinct elements"
        )));
    }
    let mut letters: Vec<Vec<u8>> = base.generators().to_vec();
    let mut extras: Vec<Vec<u8>> = (0..order as u32)
        .map(|c| base.element(c).to_vec())
        .filter(|e| !letters.contains(e))
        .collect();
    // Fisher-Yates on ChaCha8 words with a plain modulo (no library range sampling), so the
    // choice cannot change with a `rand` release; the bias (< 2^-56) is irrelevant here.
    let mut rng = ChaCha8Rng::seed_from_u64(EXTRA_LETTERS_SEED);
    for i in (1..extras.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        extras.swap(i, j);
    }
    letters.extend(extras.into_iter().take(k - 2));
    let description = format!(
        "PD-SSM ({label}, {k}): {k} letters (a generating pair + {} random distinct elements), \
         final group element ({order} classes)",
        k - 2
    );
    Ok(PermutationGroup::new(&name, &description, letters).expect("letters are permutations"))
}
