//! `rankdistil catalog` end to end on a small synthetic catalog.

use std::process::Command;

const CONFIG: &str = r#"
methods = ["label_only", "sampled", "softmax_kd"]
seeds = [1, 2]

[data.synthetic]
users = 60
items = 400
per_user = 15
seed = 2

[teacher.model]
dim = 16
hidden = [32]

[teacher.train]
epochs = 3
batch_size = 16
learning_rate = 0.01
input_dropout = 0.3

[student.model]
dim = 4

[student.train]
epochs = 2
batch_size = 16
learning_rate = 0.01

[distill]
k = 5
p = 20
m = 30
"#;

#[test]
fn trains_a_teacher_writes_its_top_p_cache_and_distils_students() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("c.toml"), CONFIG).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rankdistil"))
        .current_dir(d)
        .args([
            "catalog",
            "--config",
            "c.toml",
            "--backend",
            "ndarray",
            "--out",
            "cat",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let out = String::from_utf8_lossy(&o.stdout);
    for row in [
        "| teacher |",
        "| label_only |",
        "| sampled RankDistil |",
        "| softmax_kd |",
    ] {
        assert!(out.contains(row), "{out}");
    }
    // The cache is a real file: 8 + 3·8 header bytes, then per user a count and p ids and scores.
    let cache = std::fs::read(d.join("cat/teacher-top20.bin")).unwrap();
    assert_eq!(&cache[..8], b"RDTOPP01");
    assert_eq!(cache.len(), 32 + 60 * (4 + 20 * 8));
    assert!(err.contains("full-catalog evaluation in"), "{err}");
    assert!(
        d.join("cat/teacher/model.bpk").exists()
            && d.join("cat/teacher/catalog-teacher.json").exists()
    );

    // A separate cache from the saved teacher, then students from it without re-training it.
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rankdistil"))
            .current_dir(d)
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&[
        "teacher-cache",
        "--teacher",
        "cat/teacher",
        "--p",
        "20",
        "--out",
        "c.bin",
        "--backend",
        "ndarray",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(d.join("c.bin")).unwrap(),
        cache,
        "the same teacher gives the same cache"
    );
    let o = run(&[
        "catalog",
        "--config",
        "c.toml",
        "--backend",
        "ndarray",
        "--out",
        "cat2",
        "--teacher",
        "cat/teacher",
        "--cache",
        "c.bin",
    ]);
    let err2 = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err2}");
    assert!(
        !err2.contains("teacher trained"),
        "the teacher is reused: {err2}"
    );

    std::fs::write(d.join("c.bin"), &cache[..100]).unwrap();
    let o = run(&[
        "catalog",
        "--config",
        "c.toml",
        "--backend",
        "ndarray",
        "--out",
        "cat3",
        "--teacher",
        "cat/teacher",
        "--cache",
        "c.bin",
    ]);
    let err3 = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err3}");
    assert!(
        err3.contains("not a rankdistil teacher top-p cache"),
        "{err3}"
    );
}

#[test]
fn bad_catalog_configs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (from, to, needle) in [
        (
            "[data.synthetic]\nusers = 60\nitems = 400\nper_user = 15\nseed = 2\n",
            "[data]\nseed = 1\n",
            "[data] needs exactly one of",
        ),
        (
            "[student.model]\ndim = 4\n",
            "[student.model]\ndim = 4\ndropout = 1.5\n",
            "[student] input_dropout and dropout must be in [0, 1)",
        ),
        (
            "learning_rate = 0.01\ninput_dropout = 0.3",
            "learning_rate = inf\ninput_dropout = 0.3",
            "[teacher] epochs, batch_size, learning_rate and dim must be positive (and learning_rate finite)",
        ),
    ] {
        assert!(CONFIG.contains(from), "{from}");
        std::fs::write(d.join("c.toml"), CONFIG.replace(from, to)).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_rankdistil"))
            .current_dir(d)
            .args(["catalog", "--config", "c.toml", "--backend", "ndarray"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
