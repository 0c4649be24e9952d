//! Flip-flop and bounded Dyck: rules checked by independent code, the published
//! Dyck-(8,10)/(8,5) fixture files, close-accuracy data, file round trips, determinism.

use std::path::PathBuf;

use kleene_langs::bounded_dyck::{expected_closes, BoundedDyck, BoundedDyckConfig, CloseAccuracy};
use kleene_langs::flipflop::{self, FlipFlop, FlipFlopConfig};
use kleene_langs::{seeded_rng, LangError, SplitSpec, Target, Task};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/bounded_dyck"
    ))
}

/// Independent check of the FFL rules on a raw text; returns the read-answer positions.
fn ffl_reads(text: &[u8]) -> Vec<usize> {
    assert_eq!(text.len() % 2, 0);
    assert_eq!(text[0], b'w');
    assert_eq!(text[text.len() - 2], b'r');
    let mut last = None;
    let mut reads = Vec::new();
    for i in (0..text.len()).step_by(2) {
        assert!(b"wri".contains(&text[i]));
        assert!(b"01".contains(&text[i + 1]));
        match text[i] {
            b'w' => last = Some(text[i + 1]),
            b'r' => {
                assert_eq!(Some(text[i + 1]), last);
                reads.push(i + 1);
            }
            _ => {}
        }
    }
    reads
}

#[test]
fn flipflop_sequences_follow_the_rules_and_mask_the_answers() {
    let task = FlipFlop::new(FlipFlopConfig::default()).unwrap();
    let split = SplitSpec {
        name: "val".into(),
        min_len: 256,
        max_len: 256,
        size: 300,
    };
    let examples = task.generate_split(&split, 11).unwrap();
    let mut reads_total = 0usize;
    for ex in &examples {
        assert_eq!(ex.tokens.len(), 512);
        let text = FlipFlop::text_of_example(ex).unwrap();
        let reads = ffl_reads(&text);
        reads_total += reads.len();
        let Target::Masked { classes, mask } = &ex.target else {
            panic!()
        };
        for i in 0..512 {
            let is_read = reads.contains(&i);
            assert_eq!(mask[i], is_read);
            if is_read {
                assert_eq!(
                    ex.tokens[i],
                    flipflop::TOKEN_MASK,
                    "answer must be masked in the input"
                );
                assert_eq!(classes[i], (text[i] - b'0') as u32);
            } else {
                assert_eq!(classes[i], flipflop::CLASS_NONE);
                assert_ne!(ex.tokens[i], flipflop::TOKEN_MASK);
            }
        }
        assert!(task.check_example(ex).is_ok());
        assert_eq!(task.is_member(&ex.tokens), Some(true));
    }
    // FFL(0.8): 1 + 254 * 0.1 = 26.4 reads per sequence on average (sd ~4.8 per sequence).
    let mean = reads_total as f64 / examples.len() as f64;
    assert!((mean - 26.4).abs() < 1.0, "mean reads {mean}");
}

#[test]
fn flipflop_splits_use_their_ignore_probability() {
    let task = FlipFlop::new(FlipFlopConfig::default()).unwrap();
    for (name, p) in [("val_sparse", 0.98), ("val_dense", 0.1)] {
        let split = SplitSpec {
            name: name.into(),
            min_len: 256,
            max_len: 256,
            size: 200,
        };
        let ex = task.generate_split(&split, 5).unwrap();
        let ignores: usize = ex
            .iter()
            .map(|e| {
                e.tokens
                    .iter()
                    .step_by(2)
                    .filter(|&&t| t == flipflop::TOKEN_IGNORE)
                    .count()
            })
            .sum();
        let frac = ignores as f64 / (200.0 * 254.0);
        assert!((frac - p).abs() < 0.01, "{name}: ignore fraction {frac}");
    }
    let names: Vec<String> = task.splits().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["train", "val", "val_dense", "val_sparse"]);
    assert_eq!(task.splits()[0].size, 1_600_000);
}

#[test]
fn flipflop_text_round_trip_and_validation() {
    let task = FlipFlop::new(FlipFlopConfig {
        pairs: 16,
        ..Default::default()
    })
    .unwrap();
    let mut rng = seeded_rng(3);
    let ex: Vec<_> = (0..20)
        .map(|_| task.sample(16, 16, &mut rng).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("val.txt");
    flipflop::write_text(&path, &ex).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_ne!(bytes.last(), Some(&b'\n'));
    assert_eq!(flipflop::read_text(&path).unwrap(), ex);
    // A wrong read answer is reported with file and line.
    let mut lines: Vec<String> = String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let bad = lines[4].clone();
    let last = bad.len() - 1;
    let flipped = if bad.as_bytes()[last] == b'0' {
        '1'
    } else {
        '0'
    };
    lines[4] = format!("{}{}", &bad[..last], flipped);
    std::fs::write(&path, lines.join("\n")).unwrap();
    match flipflop::read_text(&path) {
        Err(LangError::Parse { line, reason, .. }) => {
            assert_eq!(line, 5);
            assert!(reason.contains("read answer"), "{reason}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn published_bounded_dyck_files_are_valid() {
    let task = BoundedDyck::new(BoundedDyckConfig::default()).unwrap();
    let dev = task
        .read_file(&fixtures().join("k8_m10_tr2000000.dev"), 3, 699, 10)
        .unwrap();
    assert_eq!(dev.len(), 200);
    assert_eq!(task.format_line(&dev[0]), "(c c) END");
    let test = task
        .read_file(&fixtures().join("k8_m10_tr2000000.test"), 703, 1399, 10)
        .unwrap();
    // Spec §3.3: every test line reaches depth 10, lengths 703..=1269.
    for s in &test {
        let d = kleene_langs::bounded_dyck::depths(s, 8);
        assert_eq!(d.iter().max(), Some(&10));
        assert!((703..=1269).contains(&s.len()));
    }
    let m5 = task
        .read_file(&fixtures().join("k8_m5_tr2000000.dev"), 3, 179, 5)
        .unwrap();
    assert_eq!(m5.len(), 200);
    // The Dyck-(8,10) file is not in Dyck-(8,5).
    assert!(task
        .read_file(&fixtures().join("k8_m10_tr2000000.dev"), 3, 699, 5)
        .is_err());
    // Every line as an LM example passes the task's check.
    for s in dev.iter().chain(&test) {
        assert!(task.check_example(&task.example_of_sample(s)).is_ok());
    }
}

#[test]
fn generated_bounded_dyck_splits_match_the_published_statistics() {
    let task = BoundedDyck::new(BoundedDyckConfig::default()).unwrap();
    let dev = task.split_samples(task.split_config("dev").unwrap(), 1);
    let tokens: usize = dev.iter().map(|s| s.len()).sum();
    assert!((200_000..200_000 + 700).contains(&tokens));
    // Published dev: 4,928 lines, mean 40.6 tokens, 917 lines of depth 10.
    let mean = tokens as f64 / dev.len() as f64;
    assert!((30.0..52.0).contains(&mean), "mean {mean}");
    let deep = dev
        .iter()
        .filter(|s| kleene_langs::bounded_dyck::depths(s, 8).contains(&10))
        .count();
    assert!((600..1300).contains(&deep), "depth-10 lines {deep}");
    for s in &dev {
        task.is_member_sample(s, 10).unwrap();
        assert!((3..=699).contains(&s.len()));
    }
    let test = task.split_samples(task.split_config("test").unwrap(), 1);
    assert!(test.iter().all(|s| (703..=1399).contains(&s.len())));
    // test20: depth up to 15 is reached.
    let t20 = task.split_samples(task.split_config("test20").unwrap(), 1);
    assert!(t20
        .iter()
        .any(|s| kleene_langs::bounded_dyck::depths(s, 8).contains(&15)));
    assert!(t20.iter().all(|s| task.is_member_sample(s, 15).is_ok()));
    // Determinism.
    assert_eq!(
        dev,
        task.split_samples(task.split_config("dev").unwrap(), 1)
    );
    // Round trip through the published format.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k8_m10_tr2000000.dev");
    task.write_file(&path, &dev[..100]).unwrap();
    assert_eq!(
        task.read_file(&path, 3, 699, 10).unwrap(),
        dev[..100].to_vec()
    );
}

#[test]
fn expected_closes_and_close_accuracy() {
    let task = BoundedDyck::new(BoundedDyckConfig::default()).unwrap();
    let sample = task.parse_line("(a (b b) (c c) a) END").unwrap();
    let ex = task.example_of_sample(&sample);
    // Input: START (a (b b) (c c) a)
    let closes = expected_closes(&ex.tokens, 8);
    let a_close = 8; // `a)`
    assert_eq!(
        closes,
        vec![
            None,
            Some(a_close),
            Some(9),
            Some(a_close),
            Some(10),
            Some(a_close),
            None
        ]
    );
    // A model putting 0.9 of the close mass on the right bracket everywhere scores 1;
    // one that splits it evenly between two closes scores 0.
    let k = 8;
    let probs = |good: f32| -> Vec<Vec<f32>> {
        closes
            .iter()
            .map(|c| {
                let mut p = vec![0.01f32; 18];
                if let Some(c) = c {
                    p[*c as usize] = good;
                    p[if *c == 15 { 14 } else { 15 }] = 1.0 - good;
                }
                p
            })
            .collect()
    };
    let mut acc = CloseAccuracy::default();
    acc.observe(&ex.tokens, &probs(0.9), k);
    assert_eq!((acc.correct, acc.total), (5, 5));
    let mut acc = CloseAccuracy::default();
    acc.observe(&ex.tokens, &probs(0.5), k);
    assert_eq!((acc.correct, acc.total), (0, 5));
    // Next-symbol sets: after START only opens and END; at depth m only the closer.
    let sets = task.next_symbol_sets(&ex.tokens).unwrap();
    assert!(sets[0][..8].iter().all(|&x| x) && sets[0][17] && !sets[0][8]);
    assert!(sets[1][8] && !sets[1][9] && !sets[1][17]);
}

#[test]
fn flipflop_streamed_split_equals_generated_split() {
    let task = FlipFlop::new(FlipFlopConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    let mut seen = 0u64;
    task.write_text_split(&a, "val_dense", 25_000, 4, &mut |n| seen += n)
        .unwrap();
    assert_eq!(seen, 25_000);
    let split = SplitSpec {
        name: "val_dense".into(),
        min_len: 256,
        max_len: 256,
        size: 25_000,
    };
    flipflop::write_text(&b, &task.generate_split(&split, 4).unwrap()).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn bounded_dyck_split_size_caps_the_split_to_a_prefix() {
    let task = BoundedDyck::new(BoundedDyckConfig::default()).unwrap();
    let dev_spec = task.splits().into_iter().find(|s| s.name == "dev").unwrap();
    // The split's own size fills the 200K-token budget.
    let full = task.generate_split(&dev_spec, 3).unwrap();
    let full_tokens: usize = full.iter().map(|e| e.tokens.len()).sum();
    assert!(full_tokens >= 200_000, "{full_tokens}");
    assert!(full.len() > 1000);
    // A smaller size (as `eval.max_examples` sets it) keeps exactly that many, the prefix.
    let capped_spec = SplitSpec {
        size: 37,
        ..dev_spec.clone()
    };
    let capped = task.generate_split(&capped_spec, 3).unwrap();
    assert_eq!(capped.len(), 37);
    assert_eq!(capped[..], full[..37]);
    // Same seed, same sample; another seed, another one.
    assert_eq!(capped, task.generate_split(&capped_spec, 3).unwrap());
    assert_ne!(capped, task.generate_split(&capped_spec, 4).unwrap());
    // A size larger than the split's still stops at the token budget.
    let larger = SplitSpec {
        size: dev_spec.size * 100,
        ..dev_spec
    };
    assert_eq!(task.generate_split(&larger, 3).unwrap(), full);
}
