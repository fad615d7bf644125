//! The `rankdistil` binary end to end: train, eval, distill, and its errors.

use std::path::Path;

use crate::util::*;

const TEACHER: &str = r#"
[data]
train = "train.txt"
test = "test.txt"
valid_fraction = 0.25
normalization = "zscore"

[model]
hidden = [32, 16]

[train]
epochs = 2
batch_size = 4
max_list_len = 40
seed = 3
"#;

const STUDENT: &str = r#"
[model]
hidden = [4]

[train]
epochs = 2
batch_size = 4
learning_rate = 0.01

[loss]
method = "coupled"
k = 5
samples = 2
"#;

fn synthetic(dir: &Path, name: &str, seed: &str) {
    let o = rankdistil(
        dir,
        &[
            "gen-synthetic",
            "--out",
            name,
            "--queries",
            "16",
            "--features",
            "6",
            "--max-items",
            "40",
            "--seed",
            seed,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn train_eval_and_distill_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synthetic(d, "train.txt", "1");
    synthetic(d, "test.txt", "2");
    std::fs::write(d.join("teacher.toml"), TEACHER).unwrap();
    std::fs::write(d.join("student.toml"), STUDENT).unwrap();

    train_a_teacher_once(d);
    evaluate_and_distill(d);
    plot_both(d);
}

/// `train` writes every file of its run, and refuses to overwrite it.
fn train_a_teacher_once(d: &Path) {
    let o = rankdistil(
        d,
        &[
            "train",
            "--config",
            "teacher.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "runs/t",
        ],
    );
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    assert!(stdout(&o).contains("| test |"), "{}", stdout(&o));
    for f in [
        "model.bpk",
        "run.json",
        "config.toml",
        "normalizer.json",
        "metrics.jsonl",
        "checkpoint/state.json",
    ] {
        assert!(d.join("runs/t").join(f).exists(), "{f} missing");
    }
    let log = std::fs::read_to_string(d.join("runs/t/metrics.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "one metrics line per epoch");
    let line: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(line["backend"], TEST_BACKEND);
    assert!(line["valid"]["ndcg@10"].as_f64().unwrap() >= 0.0);

    let o = rankdistil(
        d,
        &[
            "train",
            "--config",
            "teacher.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "runs/t",
        ],
    );
    // Refused at once: nothing is loaded before the one line.
    assert_eq!(
        refusal(&o),
        "error: runs/t already holds a run; continue it with --resume, or choose another --out (nothing was overwritten)\n"
    );
}

/// `eval` tables the teacher beside a random scorer; `distill` trains a student from it.
fn evaluate_and_distill(d: &Path) {
    let o = rankdistil(
        d,
        &[
            "eval",
            "--run",
            "runs/t",
            "--data",
            "test.txt",
            "--backend",
            "flex",
        ],
    );
    assert!(o.status.success(), "eval failed: {}", stderr(&o));
    assert!(
        stdout(&o).contains("ndcg@10") && stdout(&o).contains("random scorer"),
        "{}",
        stdout(&o)
    );

    let o = rankdistil(
        d,
        &[
            "distill",
            "--teacher",
            "runs/t",
            "--config",
            "student.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "runs/s",
        ],
    );
    assert!(o.status.success(), "distill failed: {}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("coupled student (test)") && out.contains("overlap@10"),
        "{out}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("runs/s/run.json")).unwrap()).unwrap();
    assert_eq!(meta["role"], "student");
    assert_eq!(meta["method"], "coupled");
}

/// `plot` draws both runs' curves into one SVG.
fn plot_both(d: &Path) {
    let o = ok(rankdistil(
        d,
        &[
            "plot",
            "--run",
            "runs/t",
            "--run",
            "runs/s",
            "--out",
            "curves.svg",
        ],
    ));
    assert!(
        stdout(&o).contains(
            "wrote curves.svg: training loss and validation ndcg@10 of 2 run(s), up to 2 epochs"
        ),
        "{}",
        stdout(&o)
    );
    let svg = std::fs::read_to_string(d.join("curves.svg")).unwrap();
    for text in ["training loss", "validation ndcg@10", "runs/t", "runs/s"] {
        assert!(svg.contains(text), "the plot lacks {text:?}");
    }
}

#[test]
fn plot_errors_name_the_file_line_and_the_known_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("r")).unwrap();
    std::fs::write(
        d.join("r/metrics.jsonl"),
        "{\"epoch\":1,\"train_loss\":0.9,\"valid\":{\"ndcg@10\":0.5,\"mrr\":0.7}}\n",
    )
    .unwrap();
    let o = rankdistil(d, &["plot", "--run", "r", "--metric", "map"]);
    fails(
        &o,
        "no validation metric \"map\"; the run logs mrr, ndcg@10",
    );
    std::fs::write(
        d.join("r/metrics.jsonl"),
        "{\"epoch\":1,\"train_loss\":0.9,\"valid\":{}}\n{\"epoch\":2,\"train_loss\":\"x\"}\n",
    )
    .unwrap();
    let o = rankdistil(d, &["plot", "--run", "r"]);
    assert!(
        stderr(&o).contains(
            "metrics.jsonl:2: expected an object with \"epoch\", \"train_loss\" and \"valid\""
        ),
        "{}",
        stderr(&o)
    );
    let o = rankdistil(d, &["plot", "--run", "missing"]);
    assert!(
        stderr(&o).contains("missing/metrics.jsonl: cannot read"),
        "{}",
        stderr(&o)
    );
    assert!(
        !d.join("curves.svg").exists(),
        "no plot is written on an error"
    );
}

#[test]
fn unknown_config_keys_are_rejected_with_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[model]\nhidden = [4]\n\n[train]\nepochz = 3\n",
    )
    .unwrap();
    let o = rankdistil(
        dir.path(),
        &["train", "--config", "bad.toml", "--backend", TEST_BACKEND],
    );
    let err = fails(&o, "unknown field `epochz`");
    assert!(err.contains("bad.toml"), "{err}");
    assert!(
        err.contains("`epochs`") && err.contains("`batch_size`"),
        "lists the valid keys: {err}"
    );
}

#[test]
fn a_malformed_data_file_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("train.txt"),
        "1 qid:1 1:0.5\n0 qid:1 1:0.1\n2 qid:2 1:x\n",
    )
    .unwrap();
    std::fs::write(
        d.join("t.toml"),
        "[data]\ntrain = \"train.txt\"\n[model]\nhidden = [4]\n",
    )
    .unwrap();
    let o = rankdistil(
        d,
        &["train", "--config", "t.toml", "--backend", TEST_BACKEND],
    );
    fails(&o, "train.txt:3: invalid value \"x\" for feature 1");
}

#[test]
fn an_explicit_gpu_backend_without_a_gpu_is_one_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.toml"), "[model]\nhidden = [4]\n").unwrap();
    let o = rankdistil(
        dir.path(),
        &["train", "--config", "t.toml", "--backend", "wgpu"],
    );
    let err = stderr(&o);
    if o.status.success() {
        eprintln!(
            "this machine has a GPU; the no-GPU error path is covered by the backend unit tests"
        );
        return;
    }
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: --backend wgpu needs a physical GPU"),
        "{err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line, no backtrace: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn out_of_range_settings_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (config, needle) in [
        (
            "[data.synthetic]\nqueries = 5\nmin_items = 50\nmax_items = 10\nfeatures = 4\nhidden = 4\nnoise = 0.1\nseed = 1\n[model]\nhidden = [4]\n",
            "expected 1 <= min_items <= max_items",
        ),
        (
            "[data.synthetic]\nqueries = 8\nmin_items = 5\nmax_items = 10\nfeatures = 4\nhidden = 4\nnoise = 0.1\nseed = 1\n[model]\nhidden = [4]\n[train]\nlearning_rate = -1.0\n",
            "learning_rate = -1, expected a finite number > 0",
        ),
        (
            "[data.synthetic]\nqueries = 8\nmin_items = 5\nmax_items = 10\nfeatures = 4\nhidden = 4\nnoise = 0.1\nseed = 1\n[model]\nhidden = [4]\n[train]\nweight_decay = -0.5\n",
            "weight_decay = -0.5, expected a finite number >= 0",
        ),
        (
            "[data.synthetic]\nqueries = 8\nmin_items = 5\nmax_items = 10\nfeatures = 4\nhidden = 4\nnoise = 0.1\nseed = 1\n[model]\nhidden = [4]\n[train]\nweight_decay = nan\n",
            "weight_decay = NaN, expected a finite number >= 0",
        ),
        (
            "[data.synthetic]\nqueries = 8\nmin_items = 5\nmax_items = 10\nfeatures = 4\nhidden = 4\nnoise = 0.1\nseed = 1\n[model]\nhidden = [4]\n[train]\npatience = 0\n",
            "patience = 0, expected at least 1",
        ),
    ] {
        std::fs::write(d.join("t.toml"), config).unwrap();
        let o = rankdistil(
            d,
            &[
                "train",
                "--config",
                "t.toml",
                "--backend",
                TEST_BACKEND,
                "--out",
                "r",
            ],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        let _ = std::fs::remove_dir_all(d.join("r"));
    }
}

/// The rows of a markdown table whose first cell is a number, split into cells.
fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| l.starts_with("| ") && l[2..].starts_with(|c: char| c.is_ascii_digit()))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn bench_reference_and_profile_print_measured_tables() {
    let dir = tempfile::tempdir().unwrap();
    let common = [
        "--backend",
        TEST_BACKEND,
        "--configs",
        "8,64,32;4,32,16",
        "--steps",
        "2",
        "--max-warmup-s",
        "2",
    ];
    let o = ok(rankdistil(
        dir.path(),
        &[&["bench", "--suite", "reference"], &common[..]].concat(),
    ));
    let rows = table_rows(&stdout(&o));
    assert_eq!(rows.len(), 2, "{}", stdout(&o));
    assert_eq!(rows[0][..3], ["8", "64", "32"]);
    for row in &rows {
        let steps_per_s: f64 = row[4].parse().unwrap();
        let loss: f64 = row[6].parse().unwrap();
        assert!(
            steps_per_s > 0.0 && loss.is_finite() && loss > 0.0,
            "{row:?}"
        );
    }

    // The flattened layout runs the same step: the same losses after the same steps.
    let o = ok(rankdistil(
        dir.path(),
        &[
            &["bench", "--suite", "reference", "--layout", "rows"],
            &common[..],
        ]
        .concat(),
    ));
    assert!(stdout(&o).contains("MLP layout: Rows"), "{}", stdout(&o));
    let flat = table_rows(&stdout(&o));
    assert_eq!(flat.len(), 2, "{}", stdout(&o));
    for (a, b) in rows.iter().zip(&flat) {
        let (a, b): (f64, f64) = (a[6].parse().unwrap(), b[6].parse().unwrap());
        assert!(
            (a - b).abs() <= 1e-3 * a.abs(),
            "lists loss {a}, rows loss {b}"
        );
    }

    let o = ok(rankdistil(
        dir.path(),
        &[&["bench", "--suite", "profile"], &common[..]].concat(),
    ));
    let rows = table_rows(&stdout(&o));
    // Two phase rows, two matmul rows, two output-layer rows.
    assert_eq!(rows.len(), 6, "{}", stdout(&o));
    for row in &rows[..2] {
        let ms: Vec<f64> = row[3..].iter().map(|c| c.parse().unwrap()).collect();
        assert!(ms.iter().all(|&v| v >= 0.0), "{row:?}");
        let sum = ms[..4].iter().sum::<f64>();
        assert!((sum - ms[4]).abs() < 0.02, "phases {row:?} do not add up");
    }
    for row in &rows[2..] {
        assert!(
            row[3..].iter().all(|c| c.parse::<f64>().unwrap() > 0.0),
            "{row:?}"
        );
    }
    assert_eq!(rows[4][..3], ["8", "64", "32"]);

    let o = rankdistil(
        dir.path(),
        &["bench", "--backend", TEST_BACKEND, "--configs", "4,16"],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--configs: \"4,16\" is not B,N,H"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn parity_of_the_two_cpu_backends_passes_for_both_orders() {
    let dir = tempfile::tempdir().unwrap();
    let o = ok(rankdistil(
        dir.path(),
        &["parity", "--backend", "flex", "--against", "ndarray"],
    ));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("parity")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("parity: flex (CPU) vs ndarray (CPU)"),
        "{out}"
    );
    assert!(lines[1].starts_with("parity, device orders: flex"), "{out}");
    assert!(lines.iter().all(|l| l.ends_with(": PASS")), "{out}");
}

#[test]
fn the_rows_item_layout_trains_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synthetic(d, "train.txt", "1");
    synthetic(d, "test.txt", "2");
    let rows = TEACHER.replace("seed = 3\n", "seed = 3\nitem_layout = \"rows\"\n");
    assert_ne!(rows, TEACHER);
    std::fs::write(d.join("lists.toml"), TEACHER).unwrap();
    std::fs::write(d.join("rows.toml"), rows).unwrap();
    let epochs = |name: &str| -> Vec<serde_json::Value> {
        ok(rankdistil(
            d,
            &[
                "train",
                "--config",
                &format!("{name}.toml"),
                "--backend",
                TEST_BACKEND,
                "--out",
                name,
            ],
        ));
        std::fs::read_to_string(d.join(name).join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (a, b) = (epochs("lists"), epochs("rows"));
    assert_eq!(a.len(), 2);
    for (x, y) in a.iter().zip(&b) {
        let loss = |v: &serde_json::Value| v["train_loss"].as_f64().unwrap();
        let (lx, ly) = (loss(x), loss(y));
        assert!(
            (lx - ly).abs() <= 1e-4 * lx.abs(),
            "train_loss: lists {lx}, rows {ly}"
        );
        let (x, y) = (
            x["valid"]["ndcg@10"].as_f64().unwrap(),
            y["valid"]["ndcg@10"].as_f64().unwrap(),
        );
        assert!((x - y).abs() <= 1e-4, "valid ndcg@10: lists {x}, rows {y}");
    }
    let config = std::fs::read_to_string(d.join("rows/config.toml")).unwrap();
    assert!(config.contains("item_layout = \"rows\""), "{config}");
}
