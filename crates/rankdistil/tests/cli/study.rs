//! `rankdistil study` end to end on small synthetic data: the record, the tables, the paired
//! tests, the sweep, resuming without retraining, and bad configs.

use std::path::Path;

use crate::util::*;

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
    rankdistil(d, &study_args(extra))
}

/// `study --config study.toml --backend <TEST_BACKEND> --out s`, then `extra`.
fn study_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let args = [
        "study",
        "--config",
        "study.toml",
        "--backend",
        TEST_BACKEND,
        "--out",
        "s",
    ];
    [&args[..], extra].concat()
}

/// Resumes the finished study in `d`, and asserts it trains nothing.
fn resume_trains_nothing(d: &Path) {
    let (resumed, events) = recorded(d, &study_args(&["--resume"]));
    ok(resumed);
    assert!(
        !events.iter().any(|e| matches!(e, Event::StudyRun { .. })),
        "{events:?}"
    );
}

fn record(d: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(d.join("s/study.json")).unwrap()).unwrap()
}

/// How many runs the record holds in the tune, final and sweep phases.
fn runs_per_phase(runs: &[serde_json::Value]) -> (usize, usize, usize) {
    let phase = |p: &str| runs.iter().filter(|r| r["phase"] == p).count();
    (phase("tune"), phase("final"), phase("sweep"))
}

/// A table row's test NDCG@10 is the mean over its final seeds of the per-unit (query or user)
/// values the paired tests use.
fn assert_row_is_the_mean_of_its_units(runs: &[serde_json::Value], row: &serde_json::Value) {
    let finals: Vec<&serde_json::Value> = runs
        .iter()
        .filter(|r| r["phase"] == "final" && r["method"] == row["method"])
        .collect();
    let per_unit: f64 = finals
        .iter()
        .map(|r| {
            let units = r["test_per_unit"].as_array().unwrap();
            units.iter().map(|u| u.as_f64().unwrap()).sum::<f64>() / units.len() as f64
        })
        .sum::<f64>()
        / finals.len() as f64;
    let mean = row["test"]["ndcg@10"][0].as_f64().unwrap();
    assert!((per_unit - mean).abs() < 1e-9, "{per_unit} vs {mean}");
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
    // 2 trials per method, 2 final seeds per method, 1 sweep size x 1 seed for 2 methods.
    assert_eq!(runs_per_phase(runs), (4, 4, 2));
    assert!(
        runs.iter()
            .filter(|r| r["phase"] == "tune")
            .all(|r| r["test"].is_null())
    );
    // The table's test NDCG@10 is the mean of the per-query values it tests on.
    for row in book["summary"]["rows"].as_array().unwrap() {
        assert_row_is_the_mean_of_its_units(runs, row);
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
    resume_trains_nothing(d);
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

const CATALOG_STUDY: &str = r#"
seeds = [1, 2]
patience = 2
[data.synthetic]
users = 60
items = 200
per_user = 12
dim = 4
seed = 2
[teacher.model]
dim = 16
[teacher.train]
epochs = 12
batch_size = 16
learning_rate = 0.01
[student.model]
dim = 4
[student.train]
epochs = 2
batch_size = 16
learning_rate = 0.01
[distill]
k = 5
[tuning]
trials = 2
seed = 3
[sweep]
dim = [2]
seeds = [1]
[[method]]
method = "label_only"
search = { learning_rate = [0.005, 0.02] }
[[method]]
method = "sampled"
search = { p = [10, 20], m = [20], alpha = [0.0, 0.5], negatives = [30] }
[[method]]
method = "softmax_kd"
search = { teacher_temperature = [0.5, 2.0], alpha = [0.3] }
"#;

#[test]
fn a_catalog_study_validates_on_training_positives_and_tests_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("study.toml"), CATALOG_STUDY).unwrap();
    let out = stdout(&ok(study(d, &[])));
    let book = record(d);
    let runs = book["runs"].as_array().unwrap();
    // 2 trials and 2 final seeds per method; the sweep runs label-only, the best baseline and
    // sampled at one size and seed.
    assert_eq!(runs_per_phase(runs), (6, 6, 3));
    for run in runs.iter().filter(|r| r["phase"] == "tune") {
        assert!(run["test"].is_null() && run["valid_ndcg10"].as_f64().unwrap().is_finite());
    }
    let summary = &book["summary"];
    assert_eq!(summary["units"], "users");
    // Both teachers are recorded: the tuning one early-stopped on validation.
    let teacher = &summary["teacher"];
    assert!(teacher["best_epoch"].as_u64().unwrap() <= 12);
    assert!(
        d.join("s/teacher-tuning/catalog-teacher.json").exists()
            && d.join("s/teacher/catalog-teacher.json").exists()
    );
    // Each row's test NDCG@10 is the mean over seeds of its per-user values, and its validation
    // score is its chosen trial's.
    for row in summary["rows"].as_array().unwrap() {
        assert_row_is_the_mean_of_its_units(runs, row);
        let overlap = row["test"]["overlap@10"][0].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&overlap));
        let chosen = runs
            .iter()
            .find(|r| {
                r["phase"] == "tune" && r["method"] == row["method"] && r["knobs"] == row["chosen"]
            })
            .unwrap();
        assert_eq!(row["valid_ndcg10"][0], chosen["valid_ndcg10"]);
    }
    let tests = summary["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2, "against label-only and the best baseline");
    assert_eq!(tests[0]["against"], "label_only");
    assert!(
        out.contains("| sampled |") && out.contains("over 60 users"),
        "{out}"
    );
    resume_trains_nothing(d);
    assert_eq!(record(d)["runs"], book["runs"]);
}

#[test]
fn a_catalog_trial_the_method_cannot_run_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bad = CATALOG_STUDY.replace(
        "alpha = [0.0, 0.5], negatives = [30]",
        "alpha = [0.5], negatives = [0]",
    );
    std::fs::write(d.join("study.toml"), bad).unwrap();
    let err = fails(
        &study(d, &[]),
        "study.toml: [[method]] 2 (sampled): alpha=0.5 m=20 negatives=0 p=",
    );
    assert!(
        err.contains(": alpha = 0.5 mixes in the sampled label softmax: it needs negatives > 0"),
        "{err}"
    );
    let bad = CATALOG_STUDY.replace("alpha = [0.3]", "beta = [0.3]");
    std::fs::write(d.join("study.toml"), bad).unwrap();
    fails(
        &study(d, &[]),
        "study.toml: [[method]] 3 (softmax_kd): beta=0.3 teacher_temperature=0.5: unknown field `beta`, expected `teacher_temperature` or `alpha`",
    );
    assert!(!d.join("s").exists(), "a refused study creates nothing");
}
