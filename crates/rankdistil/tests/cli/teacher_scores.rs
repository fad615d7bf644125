//! Students from an outside teacher's scores: a TREC run or one score per LETOR line gives the
//! same student as the teacher run that wrote them, and a bad scores file is one clear error.

use std::path::Path;

use crate::util::*;

const TEACHER: &str = "[data]\ntrain = \"train.txt\"\ntest = \"test.txt\"\n[model]\nhidden = [16]\n[train]\nepochs = 2\n";
const STUDENT: &str = "[data]\ntrain = \"train.txt\"\ntest = \"test.txt\"\n[model]\nhidden = [4]\n[train]\nepochs = 2\n[loss]\nmethod = \"coupled\"\nk = 5\n";

/// Data, a teacher run `t`, its export and its TREC runs of the train and test files.
fn teacher_and_its_runs(d: &Path) {
    for (file, seed) in [("train.txt", "1"), ("test.txt", "2")] {
        let args = [
            "gen-synthetic",
            "--out",
            file,
            "--queries",
            "40",
            "--features",
            "5",
            "--max-items",
            "25",
            "--seed",
            seed,
        ];
        ok(rankdistil(d, &args));
    }
    std::fs::write(d.join("t.toml"), TEACHER).unwrap();
    std::fs::write(d.join("s.toml"), STUDENT).unwrap();
    ok(rankdistil(
        d,
        &[
            "train",
            "--config",
            "t.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "t",
        ],
    ));
    ok(rankdistil(d, &["export", "--run", "t", "--out", "e"]));
    for (data, out) in [("train.txt", "train.trec"), ("test.txt", "test.trec")] {
        let args = [
            "score",
            "--model",
            "e",
            "--data",
            data,
            "--out",
            out,
            "--backend",
            TEST_BACKEND,
        ];
        ok(rankdistil(d, &args));
    }
}

/// The student's test metrics (`run.json`) after `distill` with `teacher` flags into `out`.
fn student(d: &Path, teacher: &[&str], out: &str) -> serde_json::Value {
    let args = [
        "distill",
        "--config",
        "s.toml",
        "--backend",
        TEST_BACKEND,
        "--out",
        out,
    ];
    ok(rankdistil(d, &[&args[..], teacher].concat()));
    let meta = std::fs::read_to_string(d.join(out).join("run.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&meta).unwrap()["test"]["values"].clone()
}

/// One score per LETOR line, in line order, from a TREC run of that file.
fn plain_scores(d: &Path, letor: &str, trec: &str) -> String {
    let trec = std::fs::read_to_string(d.join(trec)).unwrap();
    let score: std::collections::HashMap<(String, String), String> = trec
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            ((f[0].to_string(), f[2].to_string()), f[4].to_string())
        })
        .collect();
    let letor = std::fs::read_to_string(d.join(letor)).unwrap();
    letor
        .lines()
        .map(|line| {
            let qid = line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .trim_start_matches("qid:");
            let doc = line.rsplit("docid = ").next().unwrap().trim();
            format!("{}\n", score[&(qid.to_string(), doc.to_string())])
        })
        .collect()
}

#[test]
fn a_teachers_run_file_gives_the_student_its_run_gives() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    teacher_and_its_runs(d);
    let from_run = student(d, &["--teacher", "t"], "from-run");
    let trec = [
        "--teacher-scores",
        "train.trec",
        "--teacher-test-scores",
        "test.trec",
    ];
    assert_eq!(student(d, &trec, "from-trec"), from_run);
    std::fs::write(
        d.join("train.scores"),
        plain_scores(d, "train.txt", "train.trec"),
    )
    .unwrap();
    std::fs::write(
        d.join("test.scores"),
        plain_scores(d, "test.txt", "test.trec"),
    )
    .unwrap();
    let plain = [
        "--teacher-scores",
        "train.scores",
        "--teacher-test-scores",
        "test.scores",
    ];
    assert_eq!(student(d, &plain, "from-plain"), from_run);
    // Without test scores the student trains the same; only agreement on test is missing.
    let no_test = student(d, &["--teacher-scores", "train.trec"], "no-test");
    assert_eq!(no_test["ndcg@10"], from_run["ndcg@10"]);
    assert!(no_test.get("overlap@10").is_none() && from_run.get("overlap@10").is_some());
    // Each student's run.json names its teacher.
    for (out, teacher) in [("from-run", "t"), ("from-trec", "train.trec")] {
        let meta = std::fs::read_to_string(d.join(out).join("run.json")).unwrap();
        let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
        assert_eq!(meta["teacher"], teacher, "{out}");
    }
}

#[test]
fn bad_score_files_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    teacher_and_its_runs(d);
    let trec = std::fs::read_to_string(d.join("train.trec")).unwrap();
    let lines: Vec<&str> = trec.lines().collect();
    let first: Vec<&str> = lines[0].split_whitespace().collect();
    let plain = plain_scores(d, "train.txt", "train.trec");
    for (name, text, needle) in [
        (
            "missing.trec",
            lines[1..].join("\n"),
            format!(
                "missing.trec: no score for qid {} docid {}",
                first[0], first[2]
            ),
        ),
        (
            "unknown.trec",
            format!("{trec}9999 Q0 nowhere 1 0.5 x\n"),
            format!(
                "unknown.trec:{}: a score for qid 9999 docid nowhere, which the data has no row for",
                lines.len() + 1
            ),
        ),
        (
            "twice.trec",
            format!("{trec}{}\n", lines[0]),
            format!(
                "twice.trec:{}: qid {} docid {} was scored already at line 1",
                lines.len() + 1,
                first[0],
                first[2]
            ),
        ),
        (
            "nan.trec",
            trec.replacen(first[4], "nan", 1),
            "nan.trec:1: score nan is not finite, expected a finite number".to_string(),
        ),
        (
            "short.scores",
            plain.lines().skip(1).map(|l| format!("{l}\n")).collect(),
            "short.scores: ".to_string()
                + &format!(
                    "{} scores for the {} data lines of train.txt",
                    plain.lines().count() - 1,
                    plain.lines().count()
                ),
        ),
        (
            "bad.trec",
            "1 Q0 d1 1\n".to_string(),
            "bad.trec:1: \"1 Q0 d1 1\" is not a TREC run line".to_string(),
        ),
    ] {
        std::fs::write(d.join(name), text).unwrap();
        let args = [
            "distill",
            "--teacher-scores",
            name,
            "--config",
            "s.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "s",
        ];
        fails(&rankdistil(d, &args), &needle);
        assert!(
            !d.join("s").exists(),
            "{name}: a refused start leaves no run"
        );
    }
}

#[test]
fn a_student_distils_from_a_lightgbm_teacher() {
    if !python_has("numpy, lightgbm", "RANKDISTIL_REQUIRE_LIGHTGBM") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    teacher_and_its_runs(d);
    let args = [
        "--train",
        "train.txt",
        "--test",
        "test.txt",
        "--out",
        "lgbm",
    ];
    python_script(d, "teacher_lightgbm.py", &args);
    let trec = [
        "--teacher-scores",
        "lgbm/train.trec",
        "--teacher-test-scores",
        "lgbm/test.trec",
    ];
    let test = student(d, &trec, "from-lightgbm");
    assert!(test["ndcg@10"].as_f64().unwrap() > 0.0, "{test}");
    assert!(
        test["overlap@10"].as_f64().is_some(),
        "agreement with the LightGBM teacher"
    );
}

/// `trec` with every score replaced by 0, as a ranker that writes only ranks leaves it.
fn ranks_only(d: &Path, trec: &str, out: &str) {
    let text = std::fs::read_to_string(d.join(trec)).unwrap();
    let lines: String = text
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split_whitespace().collect();
            f[4] = "0";
            format!("{}\n", f.join(" "))
        })
        .collect();
    std::fs::write(d.join(out), lines).unwrap();
}

#[test]
fn a_ranking_without_scores_distils_by_its_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    teacher_and_its_runs(d);
    let adr = STUDENT.replace("method = \"coupled\"\nk = 5\n", "method = \"adr_mse\"\n");
    std::fs::write(d.join("s.toml"), adr).unwrap();
    ranks_only(d, "train.trec", "train.ranks");
    ranks_only(d, "test.trec", "test.ranks");
    let from_run = student(d, &["--teacher", "t"], "from-run");
    let ranks = [
        "--teacher-scores",
        "train.ranks",
        "--teacher-test-scores",
        "test.ranks",
    ];
    let by_rank = student(d, &[&ranks[..], &["--teacher-ranks"]].concat(), "by-rank");
    // ADR-MSE reads only the order, and the ranks are the run's order.
    assert_eq!(by_rank, from_run);
    // Read as scores, the zeros are all ties: another order, another student.
    assert_ne!(
        student(d, &ranks, "by-score")["ndcg@10"],
        from_run["ndcg@10"]
    );

    std::fs::write(d.join("bad.ranks"), "q1 Q0 d1 0 0.5 tag\n").unwrap();
    let args = [
        "distill",
        "--config",
        "s.toml",
        "--backend",
        TEST_BACKEND,
        "--out",
        "bad",
        "--teacher-scores",
        "bad.ranks",
        "--teacher-ranks",
    ];
    fails(
        &rankdistil(d, &args),
        "bad.ranks:1: rank \"0\" is not a whole number >= 1 (--teacher-ranks reads ranks)",
    );
}
