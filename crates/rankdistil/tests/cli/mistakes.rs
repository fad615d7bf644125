//! The mistakes a new user makes, each answered with one exact line and no change to their
//! files: a resume under other inputs or of a finished run, data with another feature count,
//! a config of the wrong kind, missing data, and commands that need a GPU.

use std::path::Path;

use crate::util::*;

/// Synthetic lists over `features` features, 1 epoch, seeded with `seed`.
fn config(features: usize, seed: u64, learning_rate: &str) -> String {
    format!(
        "[data.synthetic]\nqueries = 40\nmin_items = 5\nmax_items = 20\nfeatures = {features}\nhidden = 4\nnoise = 0.1\nseed = {seed}\n\n[model]\nhidden = [4]\n\n[train]\nepochs = 1\nlearning_rate = {learning_rate}\n"
    )
}

const STUDENT: &str =
    "[model]\nhidden = [4]\n\n[train]\nepochs = 1\n\n[loss]\nmethod = \"coupled\"\nsamples = 2\n";

/// `train` of `text` into `out`, in `d`.
fn train(d: &Path, out: &str, text: &str) {
    std::fs::write(d.join(format!("{out}.toml")), text).unwrap();
    let config = format!("{out}.toml");
    ok(rankdistil(
        d,
        &[
            "train",
            "--config",
            &config,
            "--backend",
            TEST_BACKEND,
            "--out",
            out,
        ],
    ));
}

/// The last line of a refusal (exit 1, no panic).
fn last_line(o: &std::process::Output) -> String {
    let err = refusal(o);
    err.trim_end().lines().last().unwrap_or("").to_string()
}

/// A finished student `s` of teacher `a` in `d`, with teachers `a` and `b`.
fn student_of_a(d: &Path) {
    train(d, "a", &config(6, 1, "0.01"));
    train(d, "b", &config(6, 2, "0.01"));
    std::fs::write(d.join("s.toml"), STUDENT).unwrap();
    ok(rankdistil(
        d,
        &[
            "distill",
            "--teacher",
            "a",
            "--config",
            "s.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "s",
        ],
    ));
}

#[test]
fn a_resume_refuses_another_teacher_another_config_and_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    student_of_a(d);
    let resume = |extra: &[&str]| {
        let mut args = vec![
            "distill",
            "--resume",
            "--out",
            "s",
            "--backend",
            TEST_BACKEND,
        ];
        args.extend_from_slice(extra);
        rankdistil(d, &args)
    };
    // A finished run: nothing to resume, and its files stay as they were.
    let files = ["run.json", "model.bpk", "metrics.jsonl"]
        .map(|f| std::fs::read(d.join("s").join(f)).unwrap());
    let o = ok(resume(&["--teacher", "a"]));
    assert_eq!(
        stderr(&o),
        "s: the run is complete (run.json is written); nothing to resume, and nothing was changed (evaluate it with `rankdistil eval --run s`)\n"
    );
    let after = ["run.json", "model.bpk", "metrics.jsonl"]
        .map(|f| std::fs::read(d.join("s").join(f)).unwrap());
    assert_eq!(after, files, "nothing was rewritten");
    // As if killed after its last checkpoint: resumable, but only under the same inputs.
    std::fs::remove_file(d.join("s/run.json")).unwrap();
    assert_eq!(
        last_line(&resume(&["--teacher", "b"])),
        "error: s: the run started with teacher a, and this --resume gives b; resume with the inputs it started with, or start a new run with another --out"
    );
    std::fs::write(
        d.join("s2.toml"),
        STUDENT.replace("samples = 2", "samples = 3"),
    )
    .unwrap();
    assert_eq!(
        last_line(&resume(&["--teacher", "a", "--config", "s2.toml"])),
        "error: s: --resume with --config s2.toml, whose loss.samples = 3 differs from the run's 2 (s/config.toml); resume without --config, or start a new run with another --out"
    );
    assert!(!d.join("s/run.json").exists(), "nothing was written");
    // The same inputs resume.
    ok(resume(&["--teacher", "a", "--config", "s.toml"]));
    assert!(d.join("s/run.json").exists());
}

#[test]
fn a_model_refuses_data_with_another_feature_count() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train(d, "t", &config(6, 1, "0.01"));
    ok(rankdistil(d, &["export", "--run", "t", "--out", "e"]));
    for (features, file) in [("4", "fewer.txt"), ("8", "more.txt")] {
        let args = [
            "gen-synthetic",
            "--out",
            file,
            "--queries",
            "5",
            "--features",
            features,
        ];
        ok(rankdistil(d, &args));
    }
    let eval = |file| {
        rankdistil(
            d,
            &[
                "eval",
                "--run",
                "t",
                "--data",
                file,
                "--backend",
                TEST_BACKEND,
            ],
        )
    };
    assert_eq!(
        last_line(&eval("fewer.txt")),
        "error: reading data for a model with 6 input features: fewer.txt: the file has 4 features (its largest index), but the model takes 6; use data with the features the model was trained on"
    );
    assert!(last_line(&eval("more.txt")).contains("more.txt:"));
    let score = rankdistil(
        d,
        &[
            "score",
            "--model",
            "e",
            "--data",
            "fewer.txt",
            "--out",
            "run.trec",
            "--backend",
            TEST_BACKEND,
        ],
    );
    assert_eq!(
        last_line(&score),
        "error: fewer.txt: the file has 4 features (its largest index), but the model in e takes 6; use data with the features the model was trained on"
    );
    assert!(!d.join("run.trec").exists(), "no partial run file");
}

#[test]
fn a_config_of_the_wrong_kind_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let path = |name: &str| configs.join(name).display().to_string();
    let teacher = path("teacher.toml");
    let student = path("distill-coupled.toml");
    let train = rankdistil(d, &["train", "--config", &student, "--out", "r"]);
    assert_eq!(
        last_line(&train),
        format!(
            "error: {student}: this is a student config (for `distill`); `train` takes a teacher config such as configs/teacher.toml"
        )
    );
    let distill = rankdistil(
        d,
        &[
            "distill",
            "--teacher",
            "t",
            "--config",
            &teacher,
            "--out",
            "r",
        ],
    );
    assert_eq!(
        last_line(&distill),
        format!(
            "error: {teacher}: this is a teacher config (for `train`); `distill` takes a student config such as configs/distill-coupled.toml"
        )
    );
    assert!(
        !d.join("r").exists() && !d.join("runs").exists(),
        "nothing left behind"
    );
}

#[test]
fn missing_data_names_its_fetch_and_a_missing_run_says_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = "[data]\ntrain = \"datasets/mslr/train.txt\"\nvalid_fraction = 0.25\n\n[model]\nhidden = [4]\n";
    std::fs::write(d.join("m.toml"), text).unwrap();
    let o = rankdistil(
        d,
        &[
            "train",
            "--config",
            "m.toml",
            "--out",
            "r",
            "--backend",
            TEST_BACKEND,
        ],
    );
    assert_eq!(
        last_line(&o),
        "error: datasets/mslr/train.txt: not found; fetch it with scripts/fetch-datasets.sh mslr"
    );
    assert!(!d.join("r").exists(), "nothing left behind");
    let o = rankdistil(
        d,
        &[
            "eval",
            "--run",
            "nowhere",
            "--data",
            "x.txt",
            "--backend",
            TEST_BACKEND,
        ],
    );
    assert_eq!(last_line(&o), "error: nowhere: not found");
    let o = rankdistil(d, &["score", "--model", "nowhere", "--data", "x.txt"]);
    assert_eq!(last_line(&o), "error: nowhere: not found");
}

#[test]
fn gpu_commands_without_a_gpu_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = rankdistil(d, &["bench", "--suite", "launches", "--backend", "flex"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim_end().lines().last(),
        Some(
            "error: --suite launches counts a GPU's kernel launches, read-backs and uploads; flex runs on the CPU, so it has none to count: give --backend wgpu"
        )
    );
    // The tests run with the software GPU off: wgpu finds no GPU here.
    let o = rankdistil(d, &["parity", "--backend", "wgpu", "--against", "flex"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"));
}

#[test]
fn a_refused_start_leaves_nothing_behind_and_events_make_their_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("bad.toml"), "[model]\nhidden = [0]\n").unwrap();
    // No --out: the run would go to runs/bad. Refused, with its events file never opened.
    let o = rankdistil(
        d,
        &[
            "train",
            "--config",
            "bad.toml",
            "--events",
            "ev/run.jsonl",
            "--backend",
            TEST_BACKEND,
        ],
    );
    refusal(&o);
    assert!(!d.join("runs").exists(), "no empty runs/ left behind");
    assert!(!d.join("ev").exists(), "no events file left behind");
    // A directory that holds no run, resumed: its lock file does not stay.
    std::fs::create_dir(d.join("empty")).unwrap();
    let o = rankdistil(
        d,
        &[
            "catalog",
            "--resume",
            "--out",
            "empty",
            "--backend",
            TEST_BACKEND,
        ],
    );
    refusal(&o);
    assert_eq!(
        std::fs::read_dir(d.join("empty")).unwrap().count(),
        0,
        "nothing left in it"
    );
    // Events into a directory that does not exist yet.
    train(d, "t", &config(6, 1, "0.01"));
    let o = rankdistil(
        d,
        &[
            "eval",
            "--run",
            "t",
            "--data",
            "none.txt",
            "--events",
            "ev2/e.jsonl",
        ],
    );
    refusal(&o);
    std::fs::write(d.join("t2.toml"), config(6, 1, "0.01")).unwrap();
    ok(rankdistil(
        d,
        &[
            "train",
            "--config",
            "t2.toml",
            "--out",
            "t2",
            "--events",
            "ev3/e.jsonl",
            "--backend",
            TEST_BACKEND,
        ],
    ));
    let events = std::fs::read_to_string(d.join("ev3/e.jsonl")).unwrap();
    assert!(events.lines().count() >= 2, "{events}");
}

#[test]
fn gen_synthetic_writes_the_data_any_synthetic_config_builds() {
    use rankdistil_data::{SyntheticConfig, generate, write_letor};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "gen-synthetic",
        "--out",
        "q.txt",
        "--queries",
        "30",
        "--features",
        "40",
        "--min-items",
        "20",
        "--max-items",
        "300",
        "--hidden",
        "48",
        "--noise",
        "0.3",
        "--seed",
        "7",
    ];
    ok(rankdistil(d, &args));
    let config = SyntheticConfig {
        queries: 30,
        min_items: 20,
        max_items: 300,
        features: 40,
        hidden: 48,
        noise: 0.3,
        seed: 7,
    };
    let mut expected = Vec::new();
    write_letor(&generate(&config), &mut expected).unwrap();
    assert_eq!(std::fs::read(d.join("q.txt")).unwrap(), expected);
}

#[test]
fn plot_puts_losses_of_other_scales_on_one_axis_and_draws_a_run_without_validation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = |name: &str, losses: [f64; 3], valid: bool| {
        std::fs::create_dir_all(d.join(name)).unwrap();
        let lines: Vec<String> = (losses.iter().enumerate())
            .map(|(i, l)| {
                let v = if valid {
                    format!("{{\"ndcg@10\": 0.{}}}", 5 + i)
                } else {
                    "{}".into()
                };
                format!(
                    "{{\"epoch\": {}, \"train_loss\": {l}, \"valid\": {v}}}",
                    i + 1
                )
            })
            .collect();
        std::fs::write(d.join(name).join("metrics.jsonl"), lines.join("\n") + "\n").unwrap();
    };
    log("teacher", [4.0, 3.0, 2.0], true);
    log("student", [43.0, 40.0, 38.0], true);
    log("catalog-student", [9.0, 8.0, 7.0], false);
    let o = ok(rankdistil(
        d,
        &[
            "plot",
            "--run",
            "teacher",
            "--run",
            "student",
            "--run",
            "catalog-student",
            "--out",
            "c.svg",
        ],
    ));
    assert_eq!(
        stderr(&o),
        "plot: catalog-student logs no validation metric; only its training loss is drawn\n"
    );
    let svg = std::fs::read_to_string(d.join("c.svg")).unwrap();
    assert!(
        svg.contains("training loss, as a share of epoch 1&apos;s")
            || svg.contains("training loss, as a share of epoch 1's"),
        "the loss panel is relative"
    );
}

#[test]
fn distill_without_a_teacher_names_both_ways_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("s.toml"), STUDENT).unwrap();
    for command in ["distill", "compare"] {
        let o = rankdistil(d, &[command, "--config", "s.toml", "--out", "s"]);
        assert_eq!(
            last_line(&o),
            "error: give the teacher: --teacher <run directory>, or an outside teacher's --teacher-scores <file>"
        );
    }
    assert!(!d.join("s").exists());
}

#[test]
fn a_second_quickstart_says_where_it_goes_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/ci/gl-quickstart.toml");
    let config = config.display().to_string();
    let quickstart = || {
        ok(rankdistil(
            d,
            &["quickstart", "--config", &config, "--backend", TEST_BACKEND],
        ))
    };
    let first = quickstart();
    assert!(
        stdout(&first).contains("the runs are runs/quickstart/teacher, runs/quickstart/label-only, runs/quickstart/rankdistil (export one with `rankdistil export --run runs/quickstart/rankdistil --out DIR`)\n"),
        "{}",
        stdout(&first)
    );
    let first = stderr(&first);
    assert!(!first.contains("earlier quickstart"), "{first}");
    // Each student is a run that exports like a `distill` run.
    for (run, method) in [("label-only", "label_only"), ("rankdistil", "coupled")] {
        let run = format!("runs/quickstart/{run}");
        let out = format!("exports/{method}");
        ok(rankdistil(d, &["export", "--run", &run, "--out", &out]));
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join(&out).join("config.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(config["role"], "student", "{config}");
        assert_eq!(config["method"], method, "{config}");
    }
    let second = stderr(&quickstart());
    assert!(
        second.contains("quickstart: runs/quickstart holds an earlier quickstart, kept as it is; this one goes to runs/quickstart-2 (choose with --out)\n"),
        "{second}"
    );
    assert!(d.join("runs/quickstart-2").exists());
}

#[test]
fn the_python_scripts_end_a_wrong_path_or_a_missing_package_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("e")).unwrap();
    let refused = |flags: &[&str], script: &str, args: &[&str]| {
        let o = python_output(d, flags, script, args);
        assert_eq!(o.status.code(), Some(1), "{script}: {}", stderr(&o));
        stderr(&o)
    };
    // `-S` leaves out site-packages: what a machine without the requirements sees.
    let needs = "needs the Python package numpy; pip install -r scripts/requirements.txt\n";
    for script in [
        "score_with_numpy.py",
        "score_with_onnxruntime.py",
        "recommend_with_numpy.py",
        "recommend_with_onnxruntime.py",
    ] {
        assert_eq!(
            refused(&["-S"], script, &["e", "x.txt"]),
            format!("{script}: {needs}")
        );
    }
    assert_eq!(
        refused(
            &["-S"],
            "teacher_lightgbm.py",
            &["--train", "t.txt", "--out", "o"]
        ),
        format!("teacher_lightgbm.py: {needs}")
    );
    if !python_has("numpy, safetensors", "RANKDISTIL_REQUIRE_NUMPY") {
        return;
    }
    for script in ["score_with_numpy.py", "recommend_with_numpy.py"] {
        assert_eq!(
            refused(&[], script, &["nowhere", "x.txt"]),
            "nowhere: not found, or not a directory; expected a `rankdistil export` directory\n"
        );
        assert_eq!(
            refused(&[], script, &["e", "x.txt"]),
            "e/config.json: not found; is e a `rankdistil export` directory?\n"
        );
    }
    if python_has("lightgbm", "RANKDISTIL_REQUIRE_LIGHTGBM") {
        assert_eq!(
            refused(
                &[],
                "teacher_lightgbm.py",
                &["--train", "t.txt", "--out", "o"]
            ),
            "t.txt: No such file or directory\n"
        );
        assert!(!d.join("o").exists());
    }
}

#[test]
fn bench_says_which_configuration_starts_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = ok(rankdistil(
        d,
        &[
            "bench",
            "--suite",
            "reference",
            "--backend",
            TEST_BACKEND,
            "--configs",
            "2,8,4",
            "--steps",
            "1",
            "--warmup",
            "0",
        ],
    ));
    assert_eq!(
        stderr(&o),
        "bench: reference step B=2 N=8 H=4: warm-up (at most 90s), then 1 timed steps\n"
    );
    let o = ok(rankdistil(
        d,
        &[
            "bench",
            "--suite",
            "losses",
            "--backend",
            TEST_BACKEND,
            "--steps",
            "1",
            "--warmup",
            "0",
        ],
    ));
    let starts: Vec<String> = stderr(&o).lines().map(str::to_string).collect();
    assert_eq!(starts.len(), 12, "{starts:?}");
    assert_eq!(
        starts[0],
        "bench: coupled student step, 0 warm-up and 1 timed steps"
    );
}
