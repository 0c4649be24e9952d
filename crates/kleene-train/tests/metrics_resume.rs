//! `metrics.jsonl` on resume (issue 17): the lines up to the checkpoint are kept byte for
//! byte, a torn last line is moved aside to `metrics.jsonl.torn` (with a warning), and garbage in the middle is an error
//! naming the file and line that leaves the file as it was.

use kleene_train::metrics::MetricsWriter;

/// Three lines as a run writes them, one with a float that serde_json does not re-serialise
/// identically, and one with spacing a re-serialisation would change.
const LINES: &str = concat!(
    "{\"step\":1,\"loss\":0.5,\"lr\":0.001,\"acc\":0.9255952380952381,\"seq_acc\":0.5,\"tokens_per_s\":100.0,\"elapsed_s\":0.1}\n",
    "{\"step\": 2, \"loss\": 0.25, \"lr\": 0.001, \"acc\": 0.75, \"seq_acc\": 0.5, \"tokens_per_s\": 100.0, \"elapsed_s\": 0.2}\n",
    "{\"step\":3,\"loss\":0.125,\"lr\":0.001,\"acc\":0.875,\"seq_acc\":0.5,\"tokens_per_s\":100.0,\"elapsed_s\":0.3}\n",
);

fn metrics_after_resume(text: &str, step: u64) -> Result<String, kleene_train::TrainError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    std::fs::write(&path, text).unwrap();
    let result = MetricsWriter::open(dir.path(), Some(step)).map(|_| ());
    let after = std::fs::read_to_string(&path).unwrap();
    result.map(|()| after)
}

#[test]
fn kept_lines_are_byte_for_byte_the_original_text() {
    assert_eq!(metrics_after_resume(LINES, 3).unwrap(), LINES);
    // Lines after the resume step go (the resumed run logs them again).
    let two: String = LINES.lines().take(2).map(|l| format!("{l}\n")).collect();
    assert_eq!(metrics_after_resume(LINES, 2).unwrap(), two);
}

#[test]
fn a_torn_last_line_is_dropped_and_every_earlier_line_kept() {
    for torn in [
        "{\"step\":4,\"loss\":0.1",   // cut mid-line, no newline
        "{\"step\":4,\"loss\":0.1\n", // cut, then a newline
        "\u{0}\u{0}\u{0}",            // zeroes from a filesystem that lost the write
    ] {
        let text = format!("{LINES}{torn}");
        assert_eq!(metrics_after_resume(&text, 3).unwrap(), LINES, "{torn:?}");
        // ... and moved aside, not lost.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metrics.jsonl"), &text).unwrap();
        MetricsWriter::open(dir.path(), Some(3)).unwrap();
        let aside = std::fs::read(dir.path().join(kleene_train::metrics::TORN_FILE)).unwrap();
        assert_eq!(aside, torn.trim_end_matches('\n').as_bytes(), "{torn:?}");
    }
    // A complete last line without its newline is kept, and the newline added.
    let text = LINES.trim_end_matches('\n');
    assert_eq!(metrics_after_resume(text, 3).unwrap(), LINES);
}

#[test]
fn garbage_in_the_middle_is_an_error_naming_the_file_and_line() {
    let mut lines: Vec<&str> = LINES.lines().collect();
    lines.insert(1, "not json");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    std::fs::write(&path, &text).unwrap();
    let err = MetricsWriter::open(dir.path(), Some(3))
        .err()
        .expect("garbage accepted")
        .to_string();
    assert!(err.contains("metrics.jsonl"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "file changed"
    );
}
