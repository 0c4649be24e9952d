//! The suite's catalog: one row per language with everything that differs between the
//! 27 languages (published folder, command-line name, description, generator and oracle,
//! published splits), so adding or checking a language means reading one row.

use super::{
    boolean, counter, dyck, modular, starfree, tomita, Dedup, Language, SuiteLanguage, SuiteSplit,
};
use crate::SplitSpec;
use SuiteLanguage::*;

/// One language of the suite.
pub(super) struct CatalogRow {
    pub language: SuiteLanguage,
    /// Folder of the published release (`generated_ds/<folder>`).
    pub folder: &'static str,
    /// Short command-line name.
    pub name: &'static str,
    /// `kleene data list` line of the published (faithful) variant.
    pub description: &'static str,
    /// The line of the definition variant, for the languages whose published files depart
    /// from the definition (only they have a `-exact` variant).
    pub exact_description: Option<&'static str>,
    /// The published lists went through a Python `set`: arbitrary order, reproduced by a
    /// seeded shuffle.
    pub set_order: bool,
    /// The generator and oracles; `true` builds the definition variant.
    pub build: fn(bool) -> Box<dyn Language>,
    /// The published splits (spec §1.4; sizes as configured, except D-2 whose committed
    /// files are 5000/1000/1000).
    pub splits: fn(&SplitRules) -> Vec<SuiteSplit>,
}

/// The generation rules the published scripts share, for one language (`set_order`).
pub(super) struct SplitRules {
    pub set_order: bool,
}

impl SplitRules {
    fn spec(name: &str, lo: usize, hi: usize, size: usize) -> SplitSpec {
        SplitSpec {
            name: name.to_string(),
            min_len: lo,
            max_len: hi,
            size,
        }
    }

    /// A split generated on its own.
    fn own(&self, name: &str, lo: usize, hi: usize, size: usize, dedup: Dedup) -> SuiteSplit {
        SuiteSplit {
            spec: Self::spec(name, lo, hi, size),
            dedup,
            corpus_offset: None,
            set_order: self.set_order || dedup == Dedup::DrawThenDedup,
        }
    }

    /// `size` items from `offset` of the shared corpus.
    fn corpus(
        &self,
        name: &str,
        lo: usize,
        hi: usize,
        size: usize,
        offset: usize,
        dedup: Dedup,
    ) -> SuiteSplit {
        SuiteSplit {
            spec: Self::spec(name, lo, hi, size),
            dedup,
            corpus_offset: Some(offset),
            set_order: self.set_order,
        }
    }

    /// Tomita: `leak=True` branch. Train keeps duplicates; every bin is drawn then
    /// de-duplicated; bins >= 1 all use [101,150].
    fn tomita(&self, train: usize, test: usize, bins: usize) -> Vec<SuiteSplit> {
        let mut v = vec![
            self.own("train", 1, 100, train, Dedup::None),
            self.own("bin0", 1, 100, test, Dedup::DrawThenDedup),
        ];
        for b in 1..bins {
            v.push(self.own(&format!("bin{b}"), 101, 150, test, Dedup::DrawThenDedup));
        }
        v
    }

    fn unit_star(&self, lo: usize, train: usize, test: usize) -> Vec<SuiteSplit> {
        vec![
            self.own("train", lo, 500, train, Dedup::None),
            self.own("bin0", lo, 500, test, Dedup::DrawThenDedup),
            self.own("bin1", 501, 600, test, Dedup::DrawThenDedup),
        ]
    }

    /// Counter languages: windows in n converted to characters (k letters per n).
    fn counter(&self, k: usize, lw: usize, uw: usize, incr: usize) -> Vec<SuiteSplit> {
        let d = Dedup::DrawThenDedup;
        vec![
            self.own("train", k * lw, k * uw, 1000, d),
            self.own("bin0", k * lw, k * uw, 50, d),
            self.own("bin1", k * (uw + 1), k * (uw + incr), 50, d),
            self.own("bin2", k * (uw + incr), k * (uw + 2 * incr), 50, d),
        ]
    }

    /// Corpus split: train + bin0 cut from one de-duplicated list, then one more bin
    /// whose lower bound stays at lw.
    fn corpus_split(
        &self,
        lo: usize,
        hi: usize,
        bin1_hi: usize,
        train: usize,
        test: usize,
        dedup: Dedup,
    ) -> Vec<SuiteSplit> {
        vec![
            self.corpus("train", lo, hi, train, 0, dedup),
            self.corpus("bin0", lo, hi, test, train, dedup),
            self.own("bin1", lo, bin1_hi, test, dedup),
        ]
    }

    fn brackets(&self, w: [(usize, usize); 4]) -> Vec<SuiteSplit> {
        let names = ["train", "bin0", "bin1", "bin2"];
        let sizes = [10000, 2000, 2000, 2000];
        (0..4)
            .map(|i| self.own(names[i], w[i].0, w[i].1, sizes[i], Dedup::UntilUnique))
            .collect()
    }
}

/// Every language, in the declaration order of [`SuiteLanguage`] (`CATALOG[l as usize]`
/// is the row of `l`; a test checks it).
pub(super) const CATALOG: [CatalogRow; 27] = [
    CatalogRow {
        language: Tomita1,
        folder: "Tomita-1",
        name: "tomita-1",
        description: "Tomita-1: 1* (next-symbol bits [0,1])",
        exact_description: None,
        set_order: false,
        build: |exact| Box::new(tomita::Tomita::new(1, exact)),
        splits: |r| r.tomita(1000, 50, 2),
    },
    CatalogRow {
        language: Tomita2,
        folder: "Tomita-2",
        name: "tomita-2",
        description: "Tomita-2: (10)* (next-symbol bits [0,1])",
        exact_description: None,
        set_order: false,
        build: |exact| Box::new(tomita::Tomita::new(2, exact)),
        splits: |r| r.tomita(1000, 25, 2),
    },
    CatalogRow {
        language: Tomita3,
        folder: "Tomita-3",
        name: "tomita-3",
        description: "Tomita-3: no odd run of 1s followed by an odd run of 0s (bits: symbol keeps the string in L, as published)",
        exact_description: Some("Tomita-3: no odd run of 1s followed by an odd run of 0s (bits: prefix can still be completed)"),
        set_order: false,
        build: |exact| Box::new(tomita::Tomita::new(3, exact)),
        splits: |r| r.tomita(10000, 2000, 2),
    },
    CatalogRow {
        language: Tomita4,
        folder: "Tomita-4",
        name: "tomita-4",
        description: "Tomita-4: no 000 substring (next-symbol bits [0,1])",
        exact_description: None,
        set_order: false,
        build: |exact| Box::new(tomita::Tomita::new(4, exact)),
        splits: |r| r.tomita(10000, 2000, 2),
    },
    CatalogRow {
        language: Tomita5,
        folder: "Tomita-5",
        name: "tomita-5",
        description: "Tomita-5: even #0 and even #1 (prefix-membership bit)",
        exact_description: None,
        set_order: false,
        build: |exact| Box::new(tomita::Tomita::new(5, exact)),
        splits: |r| r.tomita(10000, 2000, 4),
    },
    CatalogRow {
        language: Tomita6,
        folder: "Tomita-6",
        name: "tomita-6",
        description: "Tomita-6: #0 - #1 = 0 mod 3 (prefix-membership bit)",
        exact_description: None,
        set_order: false,
        build: |exact| Box::new(tomita::Tomita::new(6, exact)),
        splits: |r| r.tomita(10000, 10000, 4),
    },
    CatalogRow {
        language: Tomita7,
        folder: "Tomita-7",
        name: "tomita-7",
        description: "Tomita-7: 0*1*0*1* (next-symbol bits [0,1])",
        exact_description: None,
        set_order: false,
        build: |exact| Box::new(tomita::Tomita::new(7, exact)),
        splits: |r| r.tomita(10000, 2000, 2),
    },
    CatalogRow {
        language: D2,
        folder: "D-2",
        name: "d-2",
        description: "D_2 = (a(ab)*b)*, depth <= 2 over {a,b} (bits [a,b] legal)",
        exact_description: None,
        set_order: false,
        build: |_| Box::new(dyck::DepthBounded::new(2)),
        // D-2's committed files come from an older run (5000/1000/1000 lines, config
        // `unique: False`): no de-duplication. With the current generator's
        // de-duplication D-2 runs dry (few distinct short strings) after ~1400 strings.
        splits: |r| r.corpus_split(2, 100, 200, 5000, 1000, Dedup::None),
    },
    CatalogRow {
        language: D3,
        folder: "D-3",
        name: "d-3",
        description: "D_3: balanced a/b of depth <= 3 (bits [a,b] legal)",
        exact_description: None,
        set_order: true,
        build: |_| Box::new(dyck::DepthBounded::new(3)),
        splits: |r| r.corpus_split(2, 100, 200, 10000, 2000, Dedup::UntilUnique),
    },
    CatalogRow {
        language: D4,
        folder: "D-4",
        name: "d-4",
        description: "D_4: balanced a/b of depth <= 4 (bits [a,b] legal)",
        exact_description: None,
        set_order: true,
        build: |_| Box::new(dyck::DepthBounded::new(4)),
        splits: |r| r.corpus_split(2, 100, 200, 10000, 2000, Dedup::UntilUnique),
    },
    CatalogRow {
        language: D12,
        folder: "D-12",
        name: "d-12",
        description: "D_12: balanced a/b of depth <= 12 (bits [a,b] legal)",
        exact_description: None,
        set_order: true,
        build: |_| Box::new(dyck::DepthBounded::new(12)),
        splits: |r| r.corpus_split(2, 100, 200, 10000, 2000, Dedup::UntilUnique),
    },
    CatalogRow {
        language: Parity,
        folder: "Parity",
        name: "parity",
        description: "Parity: even number of 1s over {0,1} (prefix-membership bit)",
        exact_description: None,
        set_order: false,
        build: |_| Box::new(modular::Parity),
        splits: |r| vec![
                r.corpus("train", 2, 50, 10000, 0, Dedup::UntilUnique),
                r.corpus("bin0", 2, 50, 2000, 10000, Dedup::UntilUnique),
                r.own("bin1", 51, 100, 2000, Dedup::UntilUnique),
            ],
    },
    CatalogRow {
        language: AaStar,
        folder: "AAStar",
        name: "aastar",
        description: "(aa)*: prefix-membership bit",
        exact_description: None,
        set_order: false,
        build: |_| Box::new(modular::UnitStar::new(b"aa")),
        splits: |r| r.unit_star(2, 250, 50),
    },
    CatalogRow {
        language: AaaaStar,
        folder: "AAAAStar",
        name: "aaaastar",
        description: "(aaaa)*: prefix-membership bit",
        exact_description: None,
        set_order: false,
        build: |_| Box::new(modular::UnitStar::new(b"aaaa")),
        splits: |r| r.unit_star(4, 125, 25),
    },
    CatalogRow {
        language: AbabStar,
        folder: "ABABStar",
        name: "ababstar",
        description: "(abab)*: prefix-membership bit",
        exact_description: None,
        set_order: false,
        build: |_| Box::new(modular::UnitStar::new(b"abab")),
        splits: |r| r.unit_star(4, 125, 25),
    },
    CatalogRow {
        language: AaStarToEeStar,
        folder: "AAStarBBStarCCStarDDStarEEStar",
        name: "aastar-to-eestar",
        description: "aa*bb*cc*dd*ee*: class = next letter of abcdeT",
        exact_description: None,
        set_order: true,
        build: |_| Box::new(starfree::LetterRuns),
        splits: |r| r.corpus_split(5, 200, 300, 10000, 2000, Dedup::UntilUnique),
    },
    CatalogRow {
        language: AbStarDBcStar,
        folder: "ABStar_D_BCStar",
        name: "abstar-d-bcstar",
        description: "{a,b}*d{b,c}*: bits [a,b,c,d] legal",
        exact_description: None,
        set_order: true,
        build: |_| Box::new(starfree::PreMidPost::ab_d_bc()),
        splits: |r| {
                r.corpus_split(2, 50, 100, 10000, 2000, Dedup::UntilUnique)
            },
    },
    CatalogRow {
        language: ZeroOneTwoStar02Star,
        folder: "012Star_0_2Star",
        name: "012star-0-2star",
        description: "{0,1,2}*02*: c/e (e iff the symbol is 2 and the prefix is in L, as published)",
        exact_description: Some("{0,1,2}*02*: c/e (e iff the prefix is in L)"),
        set_order: true,
        build: |exact| Box::new(starfree::PreMidPost::zero_one_two(exact)),
        splits: |r| {
                r.corpus_split(2, 50, 100, 10000, 2000, Dedup::UntilUnique)
            },
    },
    CatalogRow {
        language: Dyck1,
        folder: "Dyck1",
        name: "dyck-1",
        description: "Dyck-1 over (): bit = a ) may follow",
        exact_description: None,
        set_order: false,
        build: |exact| Box::new(dyck::Brackets::new(1, exact)),
        splits: |r| r.brackets([(2, 50), (2, 50), (52, 100), (102, 150)]),
    },
    CatalogRow {
        language: Shuffle2,
        folder: "Shuffle2",
        name: "shuffle-2",
        description: "Shuffle-k as published (nested Dyck-k strings): bit j = bracket j open",
        exact_description: Some("Shuffle-k (true shuffle of k Dyck-1 languages): bit j = bracket j open"),
        set_order: false,
        build: |exact| Box::new(dyck::Brackets::new(2, exact)),
        splits: |r| r.brackets([(2, 50), (2, 50), (52, 100), (100, 150)]),
    },
    CatalogRow {
        language: Shuffle4,
        folder: "Shuffle4",
        name: "shuffle-4",
        description: "Shuffle-k as published (nested Dyck-k strings): bit j = bracket j open",
        exact_description: Some("Shuffle-k (true shuffle of k Dyck-1 languages): bit j = bracket j open"),
        set_order: false,
        build: |exact| Box::new(dyck::Brackets::new(4, exact)),
        splits: |r| r.brackets([(2, 100), (2, 100), (102, 150), (150, 200)]),
    },
    CatalogRow {
        language: Shuffle6,
        folder: "Shuffle6",
        name: "shuffle-6",
        description: "Shuffle-k as published (nested Dyck-k strings): bit j = bracket j open",
        exact_description: Some("Shuffle-k (true shuffle of k Dyck-1 languages): bit j = bracket j open"),
        set_order: false,
        build: |exact| Box::new(dyck::Brackets::new(6, exact)),
        splits: |r| r.brackets([(2, 100), (2, 100), (102, 150), (150, 200)]),
    },
    CatalogRow {
        language: Boolean3,
        folder: "Boolean3",
        name: "boolean-3",
        description: "Boolean-3: prefix-notation expressions with ~ + > (completion bit)",
        exact_description: None,
        set_order: true,
        build: |_| Box::new(boolean::Boolean::new(3, 0.5)),
        splits: |r| vec![
                r.corpus("train", 2, 50, 10000, 0, Dedup::UntilUnique),
                r.corpus("bin0", 2, 50, 2000, 10000, Dedup::UntilUnique),
                r.own("bin1", 51, 100, 2000, Dedup::UntilUnique),
                r.own("bin2", 100, 150, 2000, Dedup::UntilUnique),
            ],
    },
    CatalogRow {
        language: Boolean5,
        folder: "Boolean5",
        name: "boolean-5",
        description: "Boolean-5: prefix-notation expressions with ~ + > * ^ (completion bit)",
        exact_description: None,
        set_order: true,
        build: |_| Box::new(boolean::Boolean::new(5, 0.3)),
        splits: |r| vec![
                r.corpus("train", 2, 50, 10000, 0, Dedup::UntilUnique),
                r.corpus("bin0", 2, 50, 2000, 10000, Dedup::UntilUnique),
                r.own("bin1", 51, 100, 2000, Dedup::UntilUnique),
                r.own("bin2", 100, 150, 2000, Dedup::UntilUnique),
            ],
    },
    CatalogRow {
        language: AnBn,
        folder: "anbn",
        name: "anbn",
        description: "a^n b^n: class = next-symbol set (a, b, T=end)",
        exact_description: None,
        set_order: false,
        build: |_| Box::new(counter::Counter::new(2)),
        splits: |r| r.counter(2, 2, 100, 100),
    },
    CatalogRow {
        language: AnBnCn,
        folder: "anbncn",
        name: "anbncn",
        description: "a^n b^n c^n: class = next-symbol set (a, b, c, T=end)",
        exact_description: None,
        set_order: false,
        build: |_| Box::new(counter::Counter::new(3)),
        splits: |r| r.counter(3, 3, 150, 150),
    },
    CatalogRow {
        language: AnBnCnDn,
        folder: "anbncndn",
        name: "anbncndn",
        description: "a^n b^n c^n d^n: class = next-symbol set (a, b, c, d, T=end)",
        exact_description: None,
        set_order: false,
        build: |_| Box::new(counter::Counter::new(4)),
        splits: |r| r.counter(4, 4, 200, 200),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_language_in_declaration_order() {
        for (i, row) in CATALOG.iter().enumerate() {
            assert_eq!(row.language as usize, i, "{}", row.name);
        }
        for l in SuiteLanguage::ALL {
            assert_eq!(CATALOG.iter().filter(|r| r.language == l).count(), 1);
        }
        // Names and folders are distinct.
        let mut names: Vec<&str> = CATALOG.iter().map(|r| r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 27);
    }
}
