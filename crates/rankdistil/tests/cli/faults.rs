//! Faults at every write point of `train`, `distill`, `catalog` and `export`. An uninterrupted
//! run under the test-only `RANKDISTIL_FAULT=trace:<log>` lists the command's writes; then, for
//! each, a kill right after it (`abort-after:<file>[#n]`) and a disk that fills at it
//! (`full-at:<file>[#n]`), each followed by `--resume` (or the export again). Each case asserts
//! the one-line message, that the result equals the uninterrupted run to 1e-6, and that nothing
//! stray is left. Also: two writers on one directory, and weights of one export beside the
//! config of another.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use crate::util::{TEST_BACKEND, stderr, stdout};

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
    let mut c = crate::util::command(d);
    c.args(args);
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
        TEST_BACKEND,
        "--out",
        out,
    ];
    rankdistil(d, fault, &args)
}

fn resume(d: &Path, out: &str) -> Output {
    rankdistil(
        d,
        None,
        &["train", "--resume", "--backend", TEST_BACKEND, "--out", out],
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

/// The names in `d` that start with `prefix`.
fn hidden(d: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Every `.*.tmp` left anywhere under `dir`.
fn strays(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                found.push(e.path().display().to_string());
            } else if e.path().is_dir() {
                dirs.push(e.path());
            }
        }
    }
    found
}

/// The swap of a staged export into place, as a write point.
const SWAP: &str = ".";

/// The write points of a command, in the order it wrote them, from a run into `out` under
/// `RANKDISTIL_FAULT=trace:<log>`: each path under `out` (a staged export's files by name, its
/// swap into place as [`SWAP`]), with `#n` on the n-th write of one path.
fn write_points(log: &Path, out: &str) -> Vec<String> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    std::fs::read_to_string(log)
        .expect("the traced run wrote its log")
        .lines()
        .map(|line| {
            let parts: Vec<String> = Path::new(line)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let point = match parts.iter().rposition(|c| c == out) {
                Some(i) if i + 1 < parts.len() => parts[i + 1..].join("/"),
                Some(_) => SWAP.to_string(),
                None => parts.last().cloned().unwrap_or_default(),
            };
            let n = seen.entry(point.clone()).or_default();
            *n += 1;
            match *n {
                1 => point,
                n => format!("{point}#{n}"),
            }
        })
        .collect()
}

/// Where a command writes: into its own directory (a run), or into a staged sibling that
/// replaces it whole (an export).
#[derive(Clone, Copy, PartialEq)]
enum Writes {
    OwnDirectory,
    Staged,
}

/// One command under faults.
struct Faulted<'a> {
    /// The working directory of the command.
    d: &'a Path,
    writes: Writes,
    /// Runs the command into `out`, with a fault (`RANKDISTIL_FAULT`).
    start: &'a dyn Fn(&str, Option<&str>) -> Output,
    /// Carries on after a fault: `--resume`, or the command again where that is the way on.
    recover: &'a dyn Fn(&str) -> Output,
    /// Asserts what `out` holds right after a fault, before recovery.
    after_fault: &'a dyn Fn(&str, &str),
    /// Asserts that `out` now holds what the uninterrupted run `whole` holds.
    same: &'a dyn Fn(&Path, &Path, &str),
}

impl Faulted<'_> {
    /// An uninterrupted run into `whole`, traced: its write points.
    fn trace(&self, whole: &str) -> Vec<String> {
        let log = self.d.join(format!("{whole}.trace"));
        let o = (self.start)(whole, Some(&format!("trace:{}", log.display())));
        assert!(o.status.success(), "{}", stderr(&o));
        write_points(&log, whole)
    }

    /// The `RANKDISTIL_FAULT` target of `point` in a run into `out`, and the path an error
    /// about it names.
    fn target(&self, out: &str, point: &str) -> (String, String) {
        let file = point.split('#').next().unwrap();
        match (self.writes, point) {
            (Writes::OwnDirectory, _) => (format!("{out}/{point}"), format!("{out}/{file}")),
            (Writes::Staged, SWAP) => (out.to_string(), out.to_string()),
            (Writes::Staged, _) => (point.to_string(), format!("{out}/{file}")),
        }
    }

    /// Recovery after a fault in `out`: it completes, equals `whole`, and leaves nothing stray.
    fn recovers(&self, whole: &str, out: &str, point: &str) {
        let o = (self.recover)(out);
        assert!(o.status.success(), "{point}: recovery: {}", stderr(&o));
        (self.same)(&self.d.join(whole), &self.d.join(out), point);
        let left = strays(&self.d.join(out));
        assert!(left.is_empty(), "{point}: {left:?}");
        let staged = hidden(self.d, &format!(".{out}."));
        assert!(staged.is_empty(), "{point}: {staged:?}");
    }

    /// A kill after each write point, then recovery. The table's rows.
    fn kill_at_each(&self, whole: &str, points: &[String]) -> Vec<String> {
        let mut rows = Vec::new();
        for (i, point) in points.iter().enumerate() {
            let out = format!("killed-{i}");
            let (target, _) = self.target(&out, point);
            let o = (self.start)(&out, Some(&format!("abort-after:{target}")));
            assert!(!o.status.success(), "{point}: the fault fired");
            (self.after_fault)(&out, point);
            self.recovers(whole, &out, point);
            rows.push(format!(
                "| kill after {point} | completes | to 1e-6 | none |"
            ));
        }
        rows
    }

    /// A full disk at each write of a file: one line naming the user's path, then recovery.
    fn fill_at_each(&self, whole: &str, points: &[String]) -> Vec<String> {
        let mut rows = Vec::new();
        for (i, point) in points.iter().enumerate().filter(|(_, p)| *p != SWAP) {
            let out = format!("full-{i}");
            let (target, path) = self.target(&out, point);
            let o = (self.start)(&out, Some(&format!("full-at:{target}")));
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{point}: {err}");
            assert_eq!(
                err.lines().last().unwrap_or_default(),
                format!("error: {path}: cannot write: No space left on device (os error 28)"),
                "{point}"
            );
            (self.after_fault)(&out, point);
            self.recovers(whole, &out, point);
            rows.push(format!(
                "| disk full at {point} | one line | to 1e-6 | none |"
            ));
        }
        rows
    }

    /// Every fault at every write point; the table, printed for the closing note.
    fn table(&self, name: &str, points: &[String]) {
        let mut rows = vec![format!("| {name}: fault | recovery | equal | stray |")];
        rows.push("|---|---|---|---|".into());
        rows.extend(self.kill_at_each("whole", points));
        rows.extend(self.fill_at_each("whole", points));
        eprintln!("{}", rows.join("\n"));
    }
}

/// A run directory's recovery: `--resume`, or a fresh start where the run never recorded
/// its config (the one way on).
fn resume_or_restart<'a>(
    d: &'a Path,
    command: &'a [&'a str],
    start: &'a dyn Fn(&str, Option<&str>) -> Output,
) -> impl Fn(&str) -> Output + 'a {
    move |out: &str| match d.join(out).join("config.toml").exists() {
        true => {
            let args = [
                command,
                &["--resume", "--backend", TEST_BACKEND, "--out", out],
            ]
            .concat();
            rankdistil(d, None, &args)
        }
        false => start(out, None),
    }
}

/// The write points of a two-epoch list run (`train`, `distill`), in the order it writes them.
const WRITES: [&str; 16] = [
    "config.toml",
    "normalizer.json",
    "inputs.json",
    "metrics.jsonl",
    "model.bpk",
    "checkpoint/epoch-1.model.bpk",
    "checkpoint/epoch-1.optim.bpk",
    "checkpoint/epoch-1.best.bpk",
    "checkpoint/state.json",
    "metrics.jsonl#2",
    "model.bpk#2",
    "checkpoint/epoch-2.model.bpk",
    "checkpoint/epoch-2.optim.bpk",
    "checkpoint/epoch-2.best.bpk",
    "checkpoint/state.json#2",
    "run.json",
];

/// Every fault at every write of the list command `command` (its arguments before
/// `--backend`; `resume`, those that `--resume` takes).
fn list_faults(d: &Path, command: &[&str], resume: &[&str]) {
    let start = |out: &str, fault: Option<&str>| {
        let args = [command, &["--backend", TEST_BACKEND, "--out", out]].concat();
        rankdistil(d, fault, &args)
    };
    let recover = resume_or_restart(d, resume, &start);
    let faulted = Faulted {
        d,
        writes: Writes::OwnDirectory,
        start: &start,
        recover: &recover,
        after_fault: &|_, _| {},
        same: &|a, b, point| assert_same_run(a, b, point),
    };
    let points = faulted.trace("whole");
    assert_eq!(points, WRITES, "{} writes these, in this order", command[0]);
    faulted.table(command[0], &points);
}

#[test]
fn train_survives_a_kill_or_a_full_disk_at_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.toml"), CONFIG).unwrap();
    list_faults(d, &["train", "--config", "t.toml"], &["train"]);
}

const STUDENT: &str = r#"
[model]
hidden = [4]

[train]
epochs = 2
batch_size = 16
learning_rate = 0.01
seed = 5

[loss]
method = "coupled"
k = 5
samples = 2
"#;

#[test]
fn distill_survives_a_kill_or_a_full_disk_at_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.toml"), CONFIG).unwrap();
    std::fs::write(d.join("s.toml"), STUDENT).unwrap();
    assert!(train(d, "teacher", None).status.success());
    let teacher = ["distill", "--teacher", "teacher"];
    list_faults(
        d,
        &[&teacher[..], &["--config", "s.toml"]].concat(),
        &teacher,
    );
}

/// Each file of the export `dir`, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

/// Two finished runs in `d`, `a` and `b`, of two seeds.
fn two_runs(d: &Path) {
    std::fs::write(d.join("t.toml"), CONFIG).unwrap();
    std::fs::write(d.join("t2.toml"), CONFIG.replace("seed = 1", "seed = 2")).unwrap();
    for (cfg, out) in [("t.toml", "a"), ("t2.toml", "b")] {
        let args = [
            "train",
            "--config",
            cfg,
            "--backend",
            TEST_BACKEND,
            "--out",
            out,
        ];
        assert!(rankdistil(d, None, &args).status.success());
    }
}

/// A LETOR file `data.txt` in `d` for the runs' 8 features.
fn scoring_data(d: &Path) {
    let args = [
        "gen-synthetic",
        "--out",
        "data.txt",
        "--queries",
        "20",
        "--features",
        "8",
    ];
    assert!(rankdistil(d, None, &args).status.success());
}

/// Every fault at every write of `export --format <format>` over an older export: the export
/// directory holds the old export or the new one, whole, at every instant.
fn export_faults(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_runs(d);
    let export = |run: &str, out: &str, fault: Option<&str>| {
        let args = ["export", "--run", run, "--format", format, "--out", out];
        rankdistil(d, fault, &args)
    };
    for (run, out) in [("a", "old"), ("b", "new")] {
        assert!(export(run, out, None).status.success());
    }
    let (old, new) = (files(&d.join("old")), files(&d.join("new")));
    assert_ne!(old, new);
    // `score` serves safetensors exports: it must read the old export's scores or the new's.
    let serves = format == "safetensors";
    scoring_data(d);
    let score = |out: &str| rankdistil(d, None, &["score", "--model", out, "--data", "data.txt"]);
    let scored = |out: &str| {
        let o = score(out);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let (old_scores, new_scores) = match serves {
        true => (scored("old"), scored("new")),
        false => Default::default(),
    };
    // Each case exports `b` over an export of `a`.
    let start = |out: &str, fault: Option<&str>| {
        if !d.join(out).exists() {
            assert!(export("a", out, None).status.success());
        }
        export("b", out, fault)
    };
    let recover = |out: &str| export("b", out, None);
    let after_fault = |out: &str, point: &str| {
        let now = files(&d.join(out));
        let whole = match point {
            SWAP => &new,
            _ => &old,
        };
        assert!(
            &now == whole,
            "{point}: {out} holds the old export or the new, whole"
        );
        if serves {
            let expected = if point == SWAP {
                &new_scores
            } else {
                &old_scores
            };
            assert_eq!(&scored(out), expected, "{point}: scores of a whole export");
        }
    };
    let faulted = Faulted {
        d,
        writes: Writes::Staged,
        start: &start,
        recover: &recover,
        after_fault: &after_fault,
        same: &|_, b, point| assert!(files(b) == new, "{point}: the new export"),
    };
    let points = faulted.trace("whole");
    let weights = match format {
        "onnx" => "model.onnx",
        _ => "model.safetensors",
    };
    assert_eq!(points, [weights, "config.json", "config.json#2", SWAP]);
    faulted.table(&format!("export --format {format}"), &points);
}

#[test]
fn a_safetensors_export_survives_a_kill_or_a_full_disk_at_every_write() {
    export_faults("safetensors");
}

#[test]
fn an_onnx_export_survives_a_kill_or_a_full_disk_at_every_write() {
    export_faults("onnx");
}

/// A small catalog run that checkpoints after every epoch, so that a kill can land at each
/// checkpoint write.
const CATALOG: &str = r#"
methods = ["sampled"]
seeds = [1]

[data.synthetic]
users = 40
items = 200
per_user = 10
seed = 2

[teacher.model]
dim = 8
hidden = [16]

[teacher.train]
epochs = 2
batch_size = 16
learning_rate = 0.01
checkpoint_seconds = 0

[student.model]
dim = 4
hidden = [6]

[student.train]
epochs = 2
batch_size = 16
learning_rate = 0.01
checkpoint_seconds = 0

[distill]
k = 5
p = 20
m = 30
"#;

/// Each model's kept epoch and full-catalog metrics, and the run's table.
fn catalog_result(run: &Path) -> (BTreeMap<String, serde_json::Value>, String) {
    let mut metas = BTreeMap::new();
    let mut dirs = vec![run.join("teacher")];
    for e in std::fs::read_dir(run.join("students")).unwrap().flatten() {
        dirs.push(e.path());
    }
    for dir in dirs {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("catalog-") && name.ends_with(".json") {
                let text = std::fs::read_to_string(e.path()).unwrap();
                let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
                metas.insert(
                    dir.display()
                        .to_string()
                        .replace(&*run.to_string_lossy(), ""),
                    meta,
                );
            }
        }
    }
    let table = std::fs::read_to_string(run.join("catalog.md")).unwrap();
    (metas, table)
}

fn assert_same_catalog(a: &Path, b: &Path, point: &str) {
    let ((ma, ta), (mb, tb)) = (catalog_result(a), catalog_result(b));
    assert_eq!(ta, tb, "{point}: the table");
    assert_eq!(ma.keys().collect::<Vec<_>>(), mb.keys().collect::<Vec<_>>());
    for (model, x) in &ma {
        let y = &mb[model];
        assert_eq!(x["epoch"], y["epoch"], "{point}: {model} epoch");
        for key in ["ndcg_at_10", "recall_at_20"] {
            let (p, q) = (x[key].as_f64().unwrap(), y[key].as_f64().unwrap());
            assert!((p - q).abs() <= 1e-6, "{point}: {model} {key} {p} vs {q}");
        }
    }
}

#[test]
fn catalog_survives_a_kill_or_a_full_disk_at_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("c.toml"), CATALOG).unwrap();
    let start = |out: &str, fault: Option<&str>| {
        let args = [
            "catalog",
            "--config",
            "c.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            out,
        ];
        rankdistil(d, fault, &args)
    };
    let recover = resume_or_restart(d, &["catalog"], &start);
    let faulted = Faulted {
        d,
        writes: Writes::OwnDirectory,
        start: &start,
        recover: &recover,
        after_fault: &|_, _| {},
        same: &assert_same_catalog,
    };
    let points = faulted.trace("whole");
    eprintln!("catalog writes: {points:?}");
    for file in ["config.toml", "teacher/checkpoint/state.json", "catalog.md"] {
        assert!(points.iter().any(|p| p == file), "{file} in {points:?}");
    }
    faulted.table("catalog", &points);
    recommend_refuses_a_mixed_export(d);
}

/// `recommend` on the teacher's export config beside the student's weights: one line, exit 1.
fn recommend_refuses_a_mixed_export(d: &Path) {
    for (model, out) in [("teacher", "et"), ("students/sampled-seed1", "es")] {
        let args = ["export", "--run", &format!("whole/{model}"), "--out", out];
        assert!(rankdistil(d, None, &args).status.success());
    }
    std::fs::copy(
        d.join("es/model.safetensors"),
        d.join("et/model.safetensors"),
    )
    .unwrap();
    let inter = "user_id:token\titem_id:token\trating:float\nu\ti1\t5\n";
    std::fs::write(d.join("new.inter"), inter).unwrap();
    let args = [
        "recommend",
        "--model",
        "et",
        "--data",
        "new.inter",
        "--backend",
        TEST_BACKEND,
    ];
    let o = rankdistil(d, None, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).lines().last().unwrap_or_default(),
        "error: et/config.json: model.safetensors does not match the digest this config records; the weights and the config come from different exports (replaced while being read?); read it again, or export again"
    );
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

#[test]
fn scoring_a_config_with_weights_of_another_export_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_runs(d);
    for (run, out) in [("a", "ea"), ("b", "eb")] {
        let args = ["export", "--run", run, "--out", out];
        assert!(rankdistil(d, None, &args).status.success());
    }
    std::fs::copy(
        d.join("eb/model.safetensors"),
        d.join("ea/model.safetensors"),
    )
    .unwrap();
    scoring_data(d);
    let o = rankdistil(d, None, &["score", "--model", "ea", "--data", "data.txt"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).lines().last().unwrap_or_default(),
        "error: ea/config.json: model.safetensors does not match the digest this config records; the weights and the config come from different exports (replaced while being read?); read it again, or export again"
    );
}

/// A catalog study whose tuning teacher validates, and so writes `model.bpk` at each
/// improvement, checkpointing after every epoch.
const CATALOG_STUDY: &str = r#"
seeds = [1]
patience = 10
bootstrap = 100
[data.synthetic]
users = 40
items = 150
per_user = 10
dim = 4
seed = 2
[teacher.model]
dim = 8
[teacher.train]
epochs = 5
batch_size = 16
learning_rate = 0.02
checkpoint_seconds = 0
[student.model]
dim = 4
[student.train]
epochs = 1
batch_size = 16
learning_rate = 0.01
[distill]
k = 5
[tuning]
trials = 1
seed = 3
[[method]]
method = "label_only"
search = { learning_rate = [0.01] }
[[method]]
method = "sampled"
search = { p = [10], m = [20] }
"#;

/// Killed right after an improvement's `model.bpk` and before that epoch's checkpoint, the
/// tuning teacher resumes from the epoch before, whose best weights travel in its checkpoint:
/// the study ends with the teacher, and the students, of an uninterrupted study.
#[test]
fn a_catalog_teacher_killed_between_an_improvement_and_its_checkpoint_resumes_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("study.toml"), CATALOG_STUDY).unwrap();
    let study = |out: &str, fault: Option<&str>, resume: bool| {
        let mut args = vec!["study", "--config", "study.toml", "--backend", TEST_BACKEND];
        args.extend(["--out", out]);
        if resume {
            args.push("--resume");
        }
        rankdistil(d, fault, &args)
    };
    let whole = study("whole", None, false);
    assert!(whole.status.success(), "{}", stderr(&whole));
    let killed = study(
        "killed",
        Some("abort-after:teacher-tuning/model.bpk#2"),
        false,
    );
    assert!(
        !killed.status.success(),
        "the fault fired: {}",
        stderr(&killed)
    );
    let teacher_dir = d.join("killed/teacher-tuning");
    assert!(teacher_dir.join("checkpoint/state.json").exists());
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(teacher_dir.join("checkpoint/state.json")).unwrap(),
    )
    .unwrap();
    let best_part = format!("checkpoint/epoch-{}.best.bpk", state["epoch"]);
    // The resume's first write is `model.bpk` from the checkpoint's best weights, not the
    // newer weights the kill left there.
    let restored = study(
        "killed",
        Some("abort-after:teacher-tuning/model.bpk#1"),
        true,
    );
    assert!(!restored.status.success(), "{}", stderr(&restored));
    let restored_model = std::fs::read(teacher_dir.join("model.bpk")).unwrap();
    assert!(
        restored_model == std::fs::read(teacher_dir.join(&best_part)).unwrap(),
        "model.bpk after the restore is not {best_part}"
    );
    let resumed = study("killed", None, true);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let read = |out: &str, file: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join(out).join(file)).unwrap()).unwrap()
    };
    let teacher = "teacher-tuning/catalog-teacher.json";
    let (a, b) = (read("whole", teacher), read("killed", teacher));
    assert_eq!(a["epoch"], b["epoch"], "the kept epoch");
    for key in ["ndcg_at_10", "recall_at_20"] {
        let (x, y) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
        assert!((x - y).abs() <= 1e-6, "teacher {key}: {x} vs {y}");
    }
    let (a, b) = (read("whole", "study.json"), read("killed", "study.json"));
    assert_eq!(
        a["summary"]["teacher"]["best_epoch"],
        b["summary"]["teacher"]["best_epoch"]
    );
    let valid = |book: &serde_json::Value| -> Vec<f64> {
        let runs = book["runs"].as_array().unwrap();
        runs.iter()
            .filter_map(|r| r["valid_ndcg10"].as_f64())
            .collect()
    };
    for (x, y) in valid(&a).iter().zip(valid(&b)) {
        assert!(
            (x - y).abs() <= 1e-6,
            "a student's validation NDCG@10: {x} vs {y}"
        );
    }
}
