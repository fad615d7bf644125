//! Faults at every write point: a kill right after each named write of `train` (through the
//! test-only `RANKDISTIL_FAULT=abort-after:<file>[#n]`), then `--resume`; a disk that fills at
//! each write (`full-at:<file>[#n]`), then `--resume` once there is space; two writers on one
//! directory; an export killed mid-replace, then `score`. Each case asserts the message, that
//! the resumed run equals an uninterrupted one to 1e-6, and that nothing stray is left.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{stderr, stdout};

const CONFIG: &str = r#"
[data.synthetic]
queries = 120
min_items = 5
max_items = 30
features = 8
hidden = 8
noise = 0.3
seed = 3

[model]
hidden = [8]

[train]
epochs = 2
batch_size = 16
learning_rate = 0.01
seed = 1
"#;

fn rankdistil(d: &Path, fault: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rankdistil"));
    c.current_dir(d)
        .args(args)
        .env_remove("RANKDISTIL_SOFTWARE_GPU");
    match fault {
        Some(f) => c.env("RANKDISTIL_FAULT", f),
        None => c.env_remove("RANKDISTIL_FAULT"),
    };
    c.output().expect("the binary runs")
}

fn train(d: &Path, out: &str, fault: Option<&str>) -> Output {
    let args = [
        "train",
        "--config",
        "t.toml",
        "--backend",
        "ndarray",
        "--out",
        out,
    ];
    rankdistil(d, fault, &args)
}

fn resume(d: &Path, out: &str) -> Output {
    rankdistil(
        d,
        None,
        &["train", "--resume", "--backend", "ndarray", "--out", out],
    )
}

/// Each epoch's (loss, validation metrics), as `metrics.jsonl` logs them.
fn epochs(run: &Path) -> Vec<(f64, serde_json::Value)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["train_loss"].as_f64().unwrap(), v["valid"].clone())
        })
        .collect()
}

fn assert_same_run(a: &Path, b: &Path, case: &str) {
    let (x, y) = (epochs(a), epochs(b));
    assert_eq!(x.len(), y.len(), "{case}: epochs logged");
    for ((lx, vx), (ly, vy)) in x.iter().zip(&y) {
        assert!((lx - ly).abs() <= 1e-6, "{case}: loss {lx} vs {ly}");
        for (k, v) in vx.as_object().unwrap() {
            let (p, q) = (v.as_f64().unwrap(), vy[k].as_f64().unwrap());
            assert!((p - q).abs() <= 1e-6, "{case}: {k} {p} vs {q}");
        }
    }
    // The best model, through its test metrics (its file holds random parameter ids).
    let test = |run: &Path| {
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
        (meta["best_epoch"].clone(), meta["test"]["values"].clone())
    };
    let ((ea, ta), (eb, tb)) = (test(a), test(b));
    assert_eq!(ea, eb, "{case}: best epoch");
    for (k, v) in ta.as_object().unwrap() {
        let (p, q) = (v.as_f64().unwrap(), tb[k].as_f64().unwrap());
        assert!((p - q).abs() <= 1e-6, "{case}: test {k} {p} vs {q}");
    }
}

/// `--resume`, or a fresh start where the run never recorded its config (the one way on).
fn recover(d: &Path, out: &str) -> Output {
    match d.join(out).join("config.toml").exists() {
        true => resume(d, out),
        false => train(d, out, None),
    }
}

/// Every `.*.tmp` left under `run`.
fn strays(run: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for dir in [run.to_path_buf(), run.join("checkpoint")] {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                found.push(name);
            }
        }
    }
    found
}

/// The write points of a two-epoch `train`, in the order it writes them.
const WRITES: [&str; 10] = [
    "config.toml",
    "normalizer.json",
    "metrics.jsonl",
    "model.bpk",
    "checkpoint/epoch-1.model.bpk",
    "checkpoint/epoch-1.optim.bpk",
    "checkpoint/epoch-1.best.bpk",
    "checkpoint/state.json",
    "metrics.jsonl#2",
    "checkpoint/state.json#2",
];

#[test]
fn a_kill_after_any_write_then_resume_equals_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.toml"), CONFIG).unwrap();
    let o = train(d, "whole", None);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut table = vec!["| kill after | resume | equal | stray files |".to_string()];
    for (i, write) in WRITES.iter().enumerate() {
        let out = format!("killed-{i}");
        let o = train(d, &out, Some(&format!("abort-after:{write}")));
        assert!(!o.status.success(), "{write}: the fault fired");
        let o = resume(d, &out);
        assert!(o.status.success(), "{write}: resume: {}", stderr(&o));
        assert_same_run(&d.join("whole"), &d.join(&out), write);
        let left = strays(&d.join(&out));
        assert!(left.is_empty(), "{write}: {left:?}");
        table.push(format!("| {write} | completes | to 1e-6 | none |"));
    }
    eprintln!("{}", table.join("\n"));
}

#[test]
fn a_full_disk_at_any_write_is_one_line_naming_the_file_and_resume_completes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.toml"), CONFIG).unwrap();
    let o = train(d, "whole", None);
    assert!(o.status.success(), "{}", stderr(&o));
    for (i, write) in WRITES.iter().enumerate() {
        let out = format!("full-{i}");
        let o = train(d, &out, Some(&format!("full-at:{write}")));
        let file = write.split('#').next().unwrap();
        let err = stderr(&o);
        let line = err.lines().last().unwrap_or_default();
        assert_eq!(o.status.code(), Some(1), "{write}: {err}");
        assert_eq!(
            line,
            format!("error: {out}/{file}: cannot write: No space left on device (os error 28)"),
            "{write}"
        );
        let o = recover(d, &out);
        assert!(o.status.success(), "{write}: resume: {}", stderr(&o));
        assert_same_run(&d.join("whole"), &d.join(&out), write);
        assert!(strays(&d.join(&out)).is_empty(), "{write}");
    }
}

#[test]
fn a_run_killed_before_its_first_checkpoint_says_it_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.toml"), CONFIG).unwrap();
    let o = train(d, "r", Some("abort-after:metrics.jsonl"));
    assert!(!o.status.success());
    let o = resume(d, "r");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "r: no complete checkpoint yet; restarting from epoch 1 (the partial epoch is discarded)"
        ),
        "{}",
        stderr(&o)
    );
    assert_eq!(epochs(&d.join("r")).len(), 2);
}

#[test]
fn a_second_writer_on_a_run_directory_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.toml"), CONFIG).unwrap();
    std::fs::create_dir(d.join("r")).unwrap();
    // This process holds the lock, as a running `train` would.
    let lock = std::fs::File::create(d.join("r/.lock")).unwrap();
    lock.try_lock().unwrap();
    std::fs::write(d.join("r/.lock"), "4242").unwrap();
    let o = train(d, "r", None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim_end(),
        "error: r: another rankdistil process (pid 4242) is writing this directory; wait for it to finish or choose another --out"
    );
    assert!(!d.join("r/metrics.jsonl").exists(), "nothing was written");
    drop(lock);
    let o = train(d, "r", None);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The names in `d` that start with `prefix`.
fn hidden(d: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn an_export_killed_mid_replace_leaves_the_old_export_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.toml"), CONFIG).unwrap();
    std::fs::write(d.join("t2.toml"), CONFIG.replace("seed = 1", "seed = 2")).unwrap();
    for (cfg, out) in [("t.toml", "a"), ("t2.toml", "b")] {
        let args = [
            "train",
            "--config",
            cfg,
            "--backend",
            "ndarray",
            "--out",
            out,
        ];
        assert!(rankdistil(d, None, &args).status.success());
    }
    let export = |run: &str, fault: Option<&str>| {
        rankdistil(d, fault, &["export", "--run", run, "--out", "e"])
    };
    let score = || {
        let data = "data.txt";
        if !d.join(data).exists() {
            let args = [
                "gen-synthetic",
                "--out",
                data,
                "--queries",
                "20",
                "--features",
                "8",
            ];
            assert!(rankdistil(d, None, &args).status.success());
        }
        rankdistil(d, None, &["score", "--model", "e", "--data", data])
    };
    assert!(export("a", None).status.success());
    let before = score();
    assert!(before.status.success(), "{}", stderr(&before));
    for write in ["model.safetensors", "config.json"] {
        let o = export("b", Some(&format!("abort-after:{write}")));
        assert!(!o.status.success(), "{write}: the fault fired");
        let after = score();
        assert!(after.status.success(), "{write}: {}", stderr(&after));
        assert_eq!(
            stdout(&after),
            stdout(&before),
            "{write}: still the old export"
        );
    }
    let o = export("b", Some("full-at:model.safetensors"));
    assert_eq!(
        stderr(&o).lines().last().unwrap_or_default(),
        "error: e/model.safetensors: cannot write: No space left on device (os error 28)"
    );
    let names = hidden(d, ".e.");
    assert!(names.is_empty(), "staging left behind: {names:?}");
    assert!(export("b", None).status.success());
    assert_ne!(
        stdout(&score()),
        stdout(&before),
        "the new export is in place"
    );
    let left = hidden(d, ".");
    assert!(left.is_empty(), "nothing stray beside the export: {left:?}");
}

#[test]
fn scoring_a_config_with_weights_of_another_export_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.toml"), CONFIG).unwrap();
    std::fs::write(d.join("t2.toml"), CONFIG.replace("seed = 1", "seed = 2")).unwrap();
    for (cfg, run, out) in [("t.toml", "a", "ea"), ("t2.toml", "b", "eb")] {
        let args = [
            "train",
            "--config",
            cfg,
            "--backend",
            "ndarray",
            "--out",
            run,
        ];
        assert!(rankdistil(d, None, &args).status.success());
        assert!(
            rankdistil(d, None, &["export", "--run", run, "--out", out])
                .status
                .success()
        );
    }
    std::fs::copy(
        d.join("eb/model.safetensors"),
        d.join("ea/model.safetensors"),
    )
    .unwrap();
    let args = [
        "gen-synthetic",
        "--out",
        "data.txt",
        "--queries",
        "5",
        "--features",
        "8",
    ];
    assert!(rankdistil(d, None, &args).status.success());
    let o = rankdistil(d, None, &["score", "--model", "ea", "--data", "data.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).lines().last().unwrap_or_default(),
        "error: ea/config.json: model.safetensors does not match the digest this config records; the weights and the config come from different exports (replaced while being read?); read it again, or export again"
    );
}
