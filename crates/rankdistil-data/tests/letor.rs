//! The LETOR reader: accepted layouts, and one test per class of bad input.

use std::io::Write;

use rankdistil_data::{LetorOptions, RankingDataset, read_letor, write_letor};

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn read(text: &str, num_features: Option<usize>) -> Result<RankingDataset, String> {
    let f = file(text);
    read_letor(f.path(), LetorOptions { num_features }).map_err(|e| {
        let msg = e.to_string();
        let path = f.path().display().to_string();
        assert!(msg.starts_with(&path), "error must name the file: {msg}");
        msg[path.len()..].to_string()
    })
}

#[test]
fn reads_crlf_trailing_spaces_comments_blank_lines_and_sparse_indices() {
    let text = "# a header comment\r\n\
                2 qid:1 1:3 2:3 5:0.5 \r\n\
                \r\n\
                0 qid:1 3:1.5 # docid = GX-01 inc = 1\r\n\
                1 qid:7 1:-2 136:4e-1 \r\n";
    let d = read(text, None).unwrap();
    assert_eq!(d.num_queries(), 2);
    assert_eq!(d.num_features, 136);
    assert_eq!(d.qids, vec!["1", "7"]);
    assert_eq!(d.labels, vec![2.0, 0.0, 1.0]);
    let row0 = &d.features[0..136];
    assert_eq!((row0[0], row0[1], row0[2], row0[4]), (3.0, 3.0, 0.0, 0.5));
    assert_eq!(d.features[136 + 2], 1.5);
    assert_eq!(d.features[2 * 136 + 135], 0.4);
    assert_eq!(
        d.doc_ids,
        vec!["2", "GX-01", "5"],
        "docid from the comment, else the line number"
    );
}

#[test]
fn configured_width_pads_missing_indices() {
    let d = read("1 qid:1 2:5\n0 qid:1 1:1\n", Some(4)).unwrap();
    assert_eq!(d.num_features, 4);
    assert_eq!(d.features, vec![0.0, 5.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn round_trips_through_write_letor() {
    let d = read(
        "1 qid:3 1:0.25 2:-1\n0 qid:3 1:2 2:0\n4 qid:9 1:1 2:1\n",
        None,
    )
    .unwrap();
    let mut out = Vec::new();
    write_letor(&d, &mut out).unwrap();
    let back = read(std::str::from_utf8(&out).unwrap(), None).unwrap();
    assert_eq!(back.features, d.features);
    assert_eq!(back.labels, d.labels);
    assert_eq!(back.qids, d.qids);
    assert_eq!(back.offsets, d.offsets);
}

fn expect_error(text: &str, num_features: Option<usize>, line: u64, needle: &str) {
    let err = read(text, num_features).expect_err("must be rejected");
    assert!(
        err.starts_with(&format!(":{line}: ")),
        "error must name line {line}: {err}"
    );
    assert!(err.contains(needle), "error must say {needle:?}: {err}");
}

#[test]
fn non_numeric_label() {
    expect_error(
        "1 qid:1 1:1\nhigh qid:1 1:2\n",
        None,
        2,
        "invalid label \"high\", expected a number",
    );
}

#[test]
fn negative_or_nan_label() {
    expect_error("-1 qid:1 1:1\n", None, 1, "expected a relevance grade");
    expect_error("NaN qid:1 1:1\n", None, 1, "not a finite number");
}

#[test]
fn non_numeric_value() {
    expect_error(
        "1 qid:1 1:abc\n",
        None,
        1,
        "invalid value \"abc\" for feature 1, expected a number",
    );
}

#[test]
fn missing_qid() {
    expect_error(
        "1 qid:1 1:1\n0 1:0.5 2:1\n",
        None,
        2,
        "found \"1:0.5\" after the label, expected \"qid:<id>\"",
    );
    expect_error("1\n", None, 1, "expected \"qid:<id>\"");
}

#[test]
fn feature_index_zero() {
    expect_error("1 qid:1 0:1\n", None, 1, "feature index 0");
}

#[test]
fn duplicate_index() {
    expect_error(
        "1 qid:1 1:1 3:2 1:4\n",
        None,
        1,
        "feature index 1 appears twice",
    );
}

#[test]
fn nan_and_inf_values() {
    expect_error("1 qid:1 1:nan\n", None, 1, "not finite");
    expect_error("1 qid:1 1:1\n0 qid:1 2:inf\n", None, 2, "not finite");
}

#[test]
fn more_features_than_configured() {
    expect_error(
        "1 qid:1 1:1 137:2\n",
        Some(136),
        1,
        "feature index 137 exceeds the configured 136 features",
    );
}

#[test]
fn malformed_pair() {
    expect_error(
        "1 qid:1 1:1 junk\n",
        None,
        1,
        "expected a feature \"index:value\"",
    );
    expect_error("1 qid:1 x:1\n", None, 1, "invalid feature index \"x\"");
}

#[test]
fn empty_file() {
    let err = read("", None).unwrap_err();
    assert!(err.contains("no data lines"), "{err}");
    let err = read("# only a comment\n\n", None).unwrap_err();
    assert!(err.contains("no data lines"), "{err}");
}

#[test]
fn a_qid_that_reappears_names_both_places() {
    let err = read("1 qid:1 1:1\n0 qid:1 1:2\n1 qid:2 1:1\n0 qid:1 1:3\n", None).unwrap_err();
    assert!(err.starts_with(":4: "), "{err}");
    assert!(err.contains("qid 1 reappears"), "{err}");
    assert!(err.contains("lines 1-2"), "{err}");
}

#[test]
fn missing_file_names_the_path() {
    let err = read_letor("/nonexistent/train.txt", LetorOptions::default()).unwrap_err();
    assert!(
        err.to_string().starts_with("/nonexistent/train.txt: "),
        "{err}"
    );
}
