//! `rankdistil study` end to end on small synthetic data: the record, the tables, the paired
//! tests, the sweep, resuming without retraining, and bad configs.

use std::path::Path;

mod common;
use common::*;

const TEACHER: &str = r#"
[data]
normalization = "zscore"
[data.synthetic]
queries = 60
min_items = 8
max_items = 30
features = 6
hidden = 8
noise = 0.3
seed = 3
[model]
hidden = [16]
[train]
epochs = 6
patience = 2
batch_size = 8
seed = 1
"#;

const STUDY: &str = r#"
teacher = "teacher.toml"
seeds = [1, 2]
[tuning]
trials = 2
seed = 4
[model]
hidden = [4]
[train]
epochs = 3
batch_size = 8
learning_rate = 0.01
[sweep]
hidden = [[2]]
seeds = [1]
[[method]]
loss = { method = "coupled", k = 5 }
search = { teacher_temperature = [0.5, 1.0, 2.0], alpha = [0.0, 0.5] }
[[method]]
loss = { method = "label_only" }
search = { learning_rate = [0.005, 0.02] }
"#;

fn study(d: &Path, extra: &[&str]) -> std::process::Output {
    let args = [
        "study",
        "--config",
        "study.toml",
        "--backend",
        "ndarray",
        "--out",
        "s",
    ];
    rankdistil(d, &[&args[..], extra].concat())
}

fn record(d: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(d.join("s/study.json")).unwrap()).unwrap()
}

#[test]
fn a_study_tunes_tests_sweeps_and_resumes_without_retraining() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("teacher.toml"), TEACHER).unwrap();
    std::fs::write(d.join("study.toml"), STUDY).unwrap();
    let out = stdout(&ok(study(d, &[])));
    let book = record(d);
    let runs = book["runs"].as_array().unwrap();
    let phase = |p: &str| runs.iter().filter(|r| r["phase"] == p).count();
    // 2 trials per method, 2 final seeds per method, 1 sweep size x 1 seed for 2 methods.
    assert_eq!((phase("tune"), phase("final"), phase("sweep")), (4, 4, 2));
    assert!(
        runs.iter()
            .filter(|r| r["phase"] == "tune")
            .all(|r| r["test"].is_null())
    );
    // The table's test NDCG@10 is the mean of the per-query values it tests on.
    for row in book["summary"]["rows"].as_array().unwrap() {
        let finals: Vec<&serde_json::Value> = runs
            .iter()
            .filter(|r| r["phase"] == "final" && r["method"] == row["method"])
            .collect();
        let per_query: f64 = finals
            .iter()
            .map(|r| {
                let units = r["test_per_unit"].as_array().unwrap();
                units.iter().map(|u| u.as_f64().unwrap()).sum::<f64>() / units.len() as f64
            })
            .sum::<f64>()
            / finals.len() as f64;
        let mean = row["test"]["ndcg@10"][0].as_f64().unwrap();
        assert!((per_query - mean).abs() < 1e-9, "{per_query} vs {mean}");
    }
    let tests = book["summary"]["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 1, "no baseline beyond label-only here");
    assert_eq!(tests[0]["against"], "label_only");
    assert_eq!(
        tests[0]["difference"]["units"], 12,
        "20% of 60 queries are tested"
    );
    assert!(
        out.contains("| coupled |") && out.contains("coupled − label_only: NDCG@10"),
        "{out}"
    );
    assert!(
        std::fs::read_to_string(d.join("s/sweep.svg"))
            .unwrap()
            .contains("<svg")
    );

    // Resuming finds every run recorded and trains nothing.
    let resumed = ok(study(d, &["--resume"]));
    assert!(
        !stderr(&resumed).contains("study: Tune"),
        "{}",
        stderr(&resumed)
    );
    assert_eq!(record(d)["runs"], book["runs"]);
    fails(&study(d, &[]), "a study is already here; pass --resume");
}

#[test]
fn a_bad_knob_names_the_method_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("teacher.toml"), TEACHER).unwrap();
    let bad = STUDY.replace("alpha = [0.0, 0.5]", "alpha = [0.0, 1.5]");
    std::fs::write(d.join("study.toml"), bad).unwrap();
    let err = fails(
        &study(d, &[]),
        "study.toml: [[method]] 1 (coupled): search.alpha = 1.5:",
    );
    assert!(err.contains("expected 0 <= alpha <= 1"), "{err}");
    let unknown = STUDY.replace("alpha = [0.0, 0.5]", "beta = [1]");
    std::fs::write(d.join("study.toml"), unknown).unwrap();
    fails(&study(d, &[]), "search.beta = 1:");
    assert!(!d.join("s").exists(), "a refused study creates nothing");
}
