//! Arbitrary (malformed) examples never make this crate's tasks panic: `check_example`
//! rejects them with a reason, `is_member` / `next_symbol_sets` answer.

use kleene_langs::{task_by_name, Example, Target};
use proptest::prelude::*;

const TASKS: &[&str] = &[
    "tomita-3",
    "d-12",
    "parity",
    "ababstar",
    "aastar-to-eestar",
    "abstar-d-bcstar",
    "012star-0-2star",
    "dyck-1",
    "shuffle-6",
    "shuffle-2-exact",
    "boolean-5",
    "anbncn",
    "flipflop",
    "bounded-dyck",
];

fn target_strategy() -> impl Strategy<Value = Target> {
    prop_oneof![
        prop::collection::vec(0u32..80, 0..30).prop_map(Target::PerPosition),
        (
            prop::collection::vec(0u32..80, 0..30),
            prop::collection::vec(any::<bool>(), 0..30)
        )
            .prop_map(|(classes, mask)| Target::Masked { classes, mask }),
        (0u32..80).prop_map(Target::Final),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn malformed_examples_are_rejected_without_panic(
        which in 0..TASKS.len(),
        tokens in prop::collection::vec(0u32..40, 0..30),
        target in target_strategy(),
    ) {
        let task = task_by_name(TASKS[which]).unwrap();
        let ex = Example { tokens: tokens.clone(), target };
        let _ = task.check_example(&ex);
        let _ = task.is_member(&tokens);
        if let Some(sets) = task.next_symbol_sets(&tokens) {
            prop_assert_eq!(sets.len(), tokens.len());
        }
    }
}
