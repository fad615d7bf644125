use std::io::Write;

use rankdistil_data::{CacheStatus, LetorOptions, cache_path, read_letor, read_letor_cached};

const TEXT: &str = "2 qid:1 1:3 2:0.5 # docid = A\n0 qid:1 3:1\n1 qid:7 1:-2 4:0.25\n";

#[test]
fn the_cache_is_built_once_then_reused_and_equals_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("train.txt");
    std::fs::write(&src, TEXT).unwrap();
    let (a, s1) = read_letor_cached(&src, LetorOptions::default()).unwrap();
    assert_eq!(s1, CacheStatus::Built);
    assert!(cache_path(&src).exists());
    let (b, s2) = read_letor_cached(&src, LetorOptions::default()).unwrap();
    assert_eq!(s2, CacheStatus::Hit);
    let text = read_letor(&src, LetorOptions::default()).unwrap();
    for d in [&a, &b] {
        assert_eq!(d.features, text.features);
        assert_eq!(d.labels, text.labels);
        assert_eq!(d.offsets, text.offsets);
        assert_eq!(d.qids, text.qids);
        assert_eq!(d.doc_ids, text.doc_ids);
        assert_eq!(d.num_features, 4);
    }
}

#[test]
fn a_changed_source_invalidates_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("train.txt");
    std::fs::write(&src, TEXT).unwrap();
    read_letor_cached(&src, LetorOptions::default()).unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&src).unwrap();
    writeln!(f, "3 qid:9 2:1").unwrap();
    drop(f);
    let (d, status) = read_letor_cached(&src, LetorOptions::default()).unwrap();
    assert_eq!(
        status,
        CacheStatus::Built,
        "size changed, so the text is parsed again"
    );
    assert_eq!(d.num_queries(), 3);
}

#[test]
fn a_corrupt_or_foreign_cache_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("train.txt");
    std::fs::write(&src, TEXT).unwrap();
    read_letor_cached(&src, LetorOptions::default()).unwrap();
    let cache = cache_path(&src);
    let bytes = std::fs::read(&cache).unwrap();
    std::fs::write(&cache, &bytes[..bytes.len() - 3]).unwrap();
    let (d, status) = read_letor_cached(&src, LetorOptions::default()).unwrap();
    assert_eq!(status, CacheStatus::Built);
    assert_eq!(d.num_rows(), 3);
    std::fs::write(&cache, b"not a cache").unwrap();
    assert_eq!(
        read_letor_cached(&src, LetorOptions::default()).unwrap().1,
        CacheStatus::Built
    );
}

#[test]
fn parse_errors_still_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("bad.txt");
    std::fs::write(&src, "1 qid:1 1:1\n0 qid:1 1:nan\n").unwrap();
    let err = read_letor_cached(&src, LetorOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.txt:2:"), "{err}");
    assert!(
        !cache_path(&src).exists(),
        "no cache for a file that does not parse"
    );
}
