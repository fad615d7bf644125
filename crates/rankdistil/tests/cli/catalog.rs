//! `rankdistil catalog` end to end on a small synthetic catalog.

use std::path::Path;

use rankdistil_train::catalog::config::{CatalogMethod, CatalogRunConfig};

use std::time::Duration;

use crate::util::{
    Event, TEST_BACKEND, command, ended_epoch, fails, is_epoch, kill_when, ok, python_has,
    python_script, rankdistil, recorded, refusal, reused_from, stderr, stdout, trained,
};

/// [`CONFIG`] as the run's config struct, to edit by field.
fn config() -> CatalogRunConfig {
    toml::from_str(CONFIG).unwrap()
}

/// Writes `config` as `dir/file`.
fn write_config(dir: &Path, file: &str, config: &CatalogRunConfig) {
    std::fs::write(dir.join(file), toml::to_string(config).unwrap()).unwrap();
}

/// `rankdistil catalog --config c.toml --backend <TEST_BACKEND> --out <out> <extra>` in `dir`.
fn catalog(dir: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    rankdistil(dir, &[&catalog_args(out)[..], extra].concat())
}

/// `catalog --config c.toml --backend <TEST_BACKEND> --out <out>`.
fn catalog_args(out: &str) -> [&str; 7] {
    [
        "catalog",
        "--config",
        "c.toml",
        "--backend",
        TEST_BACKEND,
        "--out",
        out,
    ]
}

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
# Two tower layers, so exports carry the relu between them.
hidden = [6, 5]

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
    let o = command(d)
        .args([
            "catalog",
            "--config",
            "c.toml",
            "--backend",
            TEST_BACKEND,
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

    reuse_the_teacher_through_its_cache(d, &cache);
}

/// A separate cache from the saved teacher, then students from it without re-training it; a
/// damaged cache is refused.
fn reuse_the_teacher_through_its_cache(d: &Path, cache: &[u8]) {
    let run = |args: &[&str]| command(d).args(args).output().unwrap();
    let o = run(&[
        "teacher-cache",
        "--teacher",
        "cat/teacher",
        "--p",
        "20",
        "--out",
        "c.bin",
        "--backend",
        TEST_BACKEND,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(d.join("c.bin")).unwrap(),
        cache,
        "the same teacher gives the same cache"
    );
    let (o, events) = recorded(
        d,
        &[
            "catalog",
            "--config",
            "c.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "cat2",
            "--teacher",
            "cat/teacher",
            "--cache",
            "c.bin",
        ],
    );
    ok(o);
    assert!(!trained(&events, "catalog: teacher"), "reused: {events:?}");

    std::fs::write(d.join("c.bin"), &cache[..100]).unwrap();
    let o = run(&[
        "catalog",
        "--config",
        "c.toml",
        "--backend",
        TEST_BACKEND,
        "--out",
        "cat3",
        "--teacher",
        "cat/teacher",
        "--cache",
        "c.bin",
    ]);
    fails(&o, "not a rankdistil teacher top-p cache");
}

#[test]
fn a_bad_catalog_config_is_one_line_naming_the_file() {
    // Each range rule has a unit test of the settings parser
    // (`catalog::config::tests::catalog_range_checks_name_the_key_and_what_was_expected`);
    // here, one refusal through the process.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut bad = config();
    bad.student.model.dropout = 1.5;
    write_config(d, "c.toml", &bad);
    let err = fails(
        &catalog(d, "cat", &[]),
        "c.toml: [student] input_dropout and dropout must be in [0, 1)",
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!d.join("cat").exists(), "a refused start creates nothing");
}

/// Parsed `recommend` output: (user, rank, item, score) rows after the header.
fn recommendations(tsv: &str) -> Vec<(String, usize, String, f32)> {
    let mut lines = tsv.lines();
    assert_eq!(lines.next(), Some("user_id\trank\titem_id\tscore"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "{l}");
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].to_string(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn students_are_saved_exported_and_serve_recommendations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut config = config();
    (config.methods, config.seeds) = (vec![CatalogMethod::Sampled], vec![3]);
    write_config(d, "c.toml", &config);
    ok(catalog(d, "cat", &[]));
    let student = d.join("cat/students/sampled-seed3");
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(student.join("catalog-student.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["role"], "student");
    assert_eq!(meta["method"], "sampled");
    assert_eq!(meta["seed"], 3);
    let items = std::fs::read_to_string(student.join("items.txt")).unwrap();
    let ids: Vec<&str> = items.lines().collect();
    assert_eq!(ids.len(), 400);
    assert_eq!(ids[..3], ["i0", "i1", "i2"]);

    export_in_every_format(d, &items);
    let (tsv, recs) = recommend_for_three_users(d);
    serve_heldout_and_burnpack_alike(d, &tsv, &recs);
    numpy_reproduces_the_recommendations(d);
    onnxruntime_reproduces_the_recommendations(d);
    bad_serving_inputs_are_clear_errors(d, &items);
}

/// A user's recommended items and scores, best first.
fn items_of(recs: &[(String, usize, String, f32)], user: &str) -> Vec<(String, f32)> {
    recs.iter()
        .filter(|r| r.0 == user)
        .map(|r| (r.2.clone(), r.3))
        .collect()
}

/// Every format exports the student with its item ids and a catalog `config.json`; ONNX's
/// with the item table beside the query tower.
fn export_in_every_format(d: &Path, items: &str) {
    for format in ["safetensors", "burnpack", "onnx"] {
        let o = ok(rankdistil(
            d,
            &[
                "export",
                "--run",
                "cat/students/sampled-seed3",
                "--format",
                format,
                "--out",
                format,
            ],
        ));
        assert!(
            stdout(&o).contains("catalog student sampled, 400 items, dim 4"),
            "{}",
            stdout(&o)
        );
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join(format).join("config.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(config["kind"], "catalog");
        assert_eq!(config["catalog_size"], 400);
        assert_eq!(config["positives_min_rating"], 4.0);
        if format == "onnx" {
            assert_eq!(config["item_table"], "items.safetensors");
            assert!(d.join("onnx/items.safetensors").is_file());
            assert!(stdout(&o).contains("items.safetensors"), "{}", stdout(&o));
        }
        assert_eq!(
            std::fs::read_to_string(d.join(format).join("items.txt")).unwrap(),
            items
        );
    }
}

/// Top 10 for three users: one with a history, two without; none gets an item they have.
fn recommend_for_three_users(d: &Path) -> (String, Vec<(String, usize, String, f32)>) {
    // alice has three positives; bob only a low rating (no history, but i5 is his); carol only
    // an item the catalog lacks.
    std::fs::write(
        d.join("new.inter"),
        "user_id:token\titem_id:token\trating:float\n\
         alice\ti1\t5\nalice\ti2\t4\nalice\ti3\t5\nbob\ti5\t2\ncarol\tzzz\t5\n",
    )
    .unwrap();
    let o = ok(rankdistil(
        d,
        &[
            "recommend",
            "--model",
            "safetensors",
            "--data",
            "new.inter",
            "--top",
            "10",
            "--out",
            "recs.tsv",
            "--backend",
            TEST_BACKEND,
        ],
    ));
    let err = stderr(&o);
    assert!(
        err.contains("3 users, 30 recommendations from a catalog of 400 items"),
        "{err}"
    );
    assert!(
        err.contains("1 interactions name items outside the model's catalog"),
        "{err}"
    );
    assert!(
        err.contains("2 users have no positive (rating >= 4)"),
        "{err}"
    );
    let tsv = std::fs::read_to_string(d.join("recs.tsv")).unwrap();
    let recs = recommendations(&tsv);
    let of = |user: &str| items_of(&recs, user);
    for user in ["alice", "bob", "carol"] {
        let list = of(user);
        assert_eq!(list.len(), 10, "{user}");
        assert!(
            list.windows(2).all(|w| w[0].1 >= w[1].1),
            "{user}: {list:?}"
        );
        let ranks: Vec<usize> = recs.iter().filter(|r| r.0 == user).map(|r| r.1).collect();
        assert_eq!(ranks, (1..=10).collect::<Vec<_>>());
    }
    assert!(
        of("alice")
            .iter()
            .all(|(i, _)| !["i1", "i2", "i3"].contains(&i.as_str()))
    );
    // bob and carol are both scored from an empty history; bob never gets his own i5.
    let carol: Vec<(String, f32)> = of("carol").into_iter().filter(|(i, _)| i != "i5").collect();
    assert_eq!(of("bob")[..carol.len()], carol[..]);
    assert!(of("bob").iter().all(|(i, _)| i != "i5"));
    assert_ne!(of("alice"), of("carol"), "a history changes the list");

    (tsv, recs)
}

/// The burnpack export serves the same list, and held-out positives are measured.
fn serve_heldout_and_burnpack_alike(d: &Path, tsv: &str, recs: &[(String, usize, String, f32)]) {
    // The burnpack export serves the same list.
    let o = ok(rankdistil(
        d,
        &[
            "recommend",
            "--model",
            "burnpack",
            "--data",
            "new.inter",
            "--top",
            "10",
            "--backend",
            TEST_BACKEND,
        ],
    ));
    assert_eq!(stdout(&o), tsv);

    // Held-out positives: alice's first recommendation, bob's second; carol's is not a
    // positive and zed is not in the data, so two users count.
    let heldout = format!(
        "user_id:token\titem_id:token\trating:float\nalice\t{}\t5\nbob\t{}\t4\ncarol\ti7\t1\nzed\ti9\t5\n",
        items_of(recs, "alice")[0].0,
        items_of(recs, "bob")[1].0
    );
    std::fs::write(d.join("heldout.inter"), heldout).unwrap();
    let o = ok(rankdistil(
        d,
        &[
            "recommend",
            "--model",
            "safetensors",
            "--data",
            "new.inter",
            "--top",
            "10",
            "--heldout",
            "heldout.inter",
            "--out",
            "recs2.tsv",
            "--backend",
            TEST_BACKEND,
        ],
    ));
    // NDCG@10: (1 + 1/log2(3)) / 2.
    assert!(
        stderr(&o).contains(
            "held-out (heldout.inter): NDCG@10 0.8155, Recall@20 1.0000 over 2 users with held-out positives"
        ),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(d.join("recs2.tsv")).unwrap(), tsv);
}

/// `scripts/recommend_with_onnxruntime.py` recomputes the lists from the ONNX query tower and
/// the item table; `recommend` itself sends ONNX exports there.
fn onnxruntime_reproduces_the_recommendations(d: &Path) {
    let args = ["recommend", "--model", "onnx", "--data", "new.inter"];
    fails(
        &rankdistil(d, &args),
        "an ONNX export, which onnxruntime serves",
    );
    if !python_has(
        "numpy, onnxruntime, safetensors",
        "RANKDISTIL_REQUIRE_ONNXRUNTIME",
    ) {
        return;
    }
    let args = ["onnx", "new.inter", "--top", "10", "--compare", "recs.tsv"];
    let out = python_script(d, "recommend_with_onnxruntime.py", &args);
    assert!(out.contains("30 recommendations match"), "{out}");
}

/// `scripts/recommend_with_numpy.py` recomputes the lists from the export alone.
fn numpy_reproduces_the_recommendations(d: &Path) {
    if !python_has("numpy, safetensors", "RANKDISTIL_REQUIRE_NUMPY") {
        return;
    }
    let args = [
        "safetensors",
        "new.inter",
        "--top",
        "10",
        "--compare",
        "recs.tsv",
    ];
    let out = python_script(d, "recommend_with_numpy.py", &args);
    assert!(out.contains("30 recommendations match"), "{out}");
}

/// Missing files, the wrong kind of export each way, and damaged item ids.
fn bad_serving_inputs_are_clear_errors(d: &Path, items: &str) {
    let o = rankdistil(
        d,
        &[
            "recommend",
            "--model",
            "safetensors",
            "--data",
            "missing.inter",
            "--backend",
            TEST_BACKEND,
        ],
    );
    let err = fails(&o, "(os error 2)");
    assert!(err.starts_with("error: missing.inter: "), "{err}");
    assert_eq!(
        err.matches("(os error 2)").count(),
        1,
        "the cause once: {err}"
    );
    let o = rankdistil(d, &["export", "--run", "nowhere", "--out", "x"]);
    fails(
        &o,
        "nowhere: neither a run directory of `train` or `distill`",
    );
    std::fs::write(d.join("x.txt"), "0 qid:1 1:0.5\n").unwrap();
    let o = rankdistil(
        d,
        &[
            "score",
            "--model",
            "safetensors",
            "--data",
            "x.txt",
            "--backend",
            TEST_BACKEND,
        ],
    );
    fails(&o, "a catalog scorer's export");
    assert!(
        stderr(&o).contains("rankdistil recommend --model safetensors"),
        "{}",
        stderr(&o)
    );
    std::fs::create_dir(d.join("letor")).unwrap();
    std::fs::write(d.join("letor/config.json"), r#"{"format": "safetensors"}"#).unwrap();
    let o = rankdistil(
        d,
        &[
            "recommend",
            "--model",
            "letor",
            "--data",
            "new.inter",
            "--backend",
            TEST_BACKEND,
        ],
    );
    fails(&o, "not a catalog scorer's export");
    let damaged = items.replacen("i2\n", "i0\n", 1);
    std::fs::write(d.join("safetensors/items.txt"), damaged).unwrap();
    crate::util::reseal(&d.join("safetensors"), "items.txt");
    let o = rankdistil(
        d,
        &[
            "recommend",
            "--model",
            "safetensors",
            "--data",
            "new.inter",
            "--backend",
            TEST_BACKEND,
        ],
    );
    fails(&o, "items.txt:3: item id \"i0\" repeats line 1");
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

/// A resume of `cat` read the teacher, its cache and the label-only student from disk, and
/// trained the sampled student again.
fn reused_all_but_the_sampled_student(events: &[Event]) {
    assert_eq!(
        reused_from(events, "catalog: teacher"),
        Some(Path::new("cat/teacher")),
        "{events:?}"
    );
    assert!(
        events.contains(&Event::TopPCache {
            p: 20,
            path: "cat/teacher-top20.bin".into(),
            written_in: None
        }),
        "{events:?}"
    );
    assert_eq!(
        reused_from(events, "catalog: label_only seed 1"),
        Some(Path::new("cat/students/label_only-seed1")),
        "{events:?}"
    );
    assert!(trained(events, "catalog: sampled seed 1"), "{events:?}");
    assert!(!trained(events, "catalog: teacher"), "{events:?}");
}

#[test]
fn an_interrupted_catalog_run_resumes_with_what_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut config = config();
    config.methods = vec![CatalogMethod::LabelOnly, CatalogMethod::Sampled];
    config.seeds = vec![1];
    write_config(d, "c.toml", &config);
    let args = catalog_args("cat");
    let (first, events) = recorded(d, &args);
    ok(first);
    let table = std::fs::read_to_string(d.join("cat/catalog.md")).unwrap();
    assert!(ended_epoch(&events, "catalog: teacher", 3), "{events:?}");
    assert!(
        ended_epoch(&events, "catalog: sampled seed 1", 2),
        "{events:?}"
    );

    // A second start over the finished run is refused and changes nothing.
    let o = rankdistil(d, &args);
    // Refused before the data is loaded: the one line is all it prints.
    assert_eq!(
        refusal(&o),
        "error: cat already holds a catalog run; pass --resume to continue it, or choose another --out (nothing was overwritten)\n"
    );

    // As if killed while the sampled student was saving: its metadata never landed.
    std::fs::remove_file(d.join("cat/students/sampled-seed1/catalog-student.json")).unwrap();
    let (o, events) = recorded(d, &[&args[..], &["--resume"]].concat());
    ok(o);
    reused_all_but_the_sampled_student(&events);
    // Training is seeded, so the student trained again scores as it did.
    assert_eq!(
        std::fs::read_to_string(d.join("cat/catalog.md")).unwrap(),
        table
    );

    // A run distilled from an outside teacher resumes only with it.
    ok(catalog(
        d,
        "outside",
        &[
            "--teacher",
            "cat/teacher",
            "--cache",
            "cat/teacher-top20.bin",
        ],
    ));
    std::fs::remove_file(d.join("outside/students/sampled-seed1/catalog-student.json")).unwrap();
    let o = catalog(d, "outside", &["--resume"]);
    fails(&o, "resume with the same --teacher and --cache");
    ok(catalog(
        d,
        "outside",
        &[
            "--teacher",
            "cat/teacher",
            "--cache",
            "cat/teacher-top20.bin",
            "--resume",
        ],
    ));
    assert_eq!(
        std::fs::read_to_string(d.join("outside/catalog.md")).unwrap(),
        table
    );

    // Resuming with other settings is refused.
    config.distill.sampled.k = 4;
    write_config(d, "c.toml", &config);
    let o = rankdistil(d, &[&args[..], &["--resume"]].concat());
    fails(&o, "was started with another config");
    let o = catalog(d, "none", &["--resume"]);
    fails(&o, "--resume continues a catalog run");
}

#[test]
fn a_reused_teacher_reads_another_file_in_its_own_item_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 40 users with 10 positives each among 60 items.
    let mut lines: Vec<String> = Vec::new();
    let mut state = 9u64;
    for u in 0..40 {
        let mut items: Vec<u64> = Vec::new();
        while items.len() < 10 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (state >> 33) % 60;
            if !items.contains(&i) {
                items.push(i);
            }
        }
        lines.extend(items.iter().map(|i| format!("user{u}\titem{i}\t5")));
    }
    let header = "user_id:token\titem_id:token\trating:float\n";
    std::fs::write(d.join("a.inter"), format!("{header}{}\n", lines.join("\n"))).unwrap();
    // The same interactions with the first user's lines reversed: the file lists its items in
    // another first-seen order, so its own item indices differ from the teacher's.
    let mut reordered = lines.clone();
    reordered[..10].reverse();
    assert_ne!(reordered, lines);
    std::fs::write(
        d.join("b.inter"),
        format!("{header}{}\n", reordered.join("\n")),
    )
    .unwrap();
    std::fs::write(
        d.join("c.inter"),
        format!("{header}user0\titem3\t5\nuser0\tnew-item\t5\n"),
    )
    .unwrap();

    let config = CONFIG
        .replace(
            "[data.synthetic]\nusers = 60\nitems = 400\nper_user = 15\nseed = 2\n",
            "[data]\ninter = \"a.inter\"\n",
        )
        .replace(
            "methods = [\"label_only\", \"sampled\", \"softmax_kd\"]\nseeds = [1, 2]",
            "methods = [\"sampled\"]\nseeds = [1]",
        );
    std::fs::write(d.join("c.toml"), config).unwrap();
    ok(catalog(d, "cat", &[]));
    let cache = |data: &str, out: &str| {
        rankdistil(
            d,
            &[
                "teacher-cache",
                "--teacher",
                "cat/teacher",
                "--p",
                "20",
                "--data",
                data,
                "--out",
                out,
                "--backend",
                TEST_BACKEND,
            ],
        )
    };
    ok(cache("a.inter", "a.bin"));
    ok(cache("b.inter", "b.bin"));
    assert!(
        std::fs::read(d.join("a.bin")).unwrap() == std::fs::read(d.join("b.bin")).unwrap(),
        "the same interactions give the same cache whatever their order in the file"
    );
    let o = cache("c.inter", "c.bin");
    let err = fails(&o, "c.inter: does not fit the model");
    assert!(
        err.contains(
            "1 items of the data are not in the model's catalog of 60 (first: \"new-item\")"
        ),
        "{err}"
    );
}

#[test]
fn sampled_softmax_teachers_train_and_a_refused_start_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // Softmax KD over 10⁶ items for 1,100 users would hold 4.1 GiB of teacher scores: refused
    // before any training, naming the way out.
    let mut huge = config();
    let data = huge.data.synthetic.as_mut().unwrap();
    (data.users, data.items, data.per_user) = (1100, 1_000_000, 2);
    huge.methods = vec![CatalogMethod::SoftmaxKd];
    write_config(d, "c.toml", &huge);
    let err = fails(
        &catalog(d, "cat", &[]),
        "c.toml: softmax_kd needs the teacher's scores over all 1000000 items for all 1100 users, 4.1 GiB (at most 4 GiB); drop it from methods and use sampled",
    );
    assert!(!err.contains("epoch"), "nothing trained: {err}");

    // The same --out takes a corrected config without --resume: the refused start left only
    // its config. Teacher and label-only students train on a sampled softmax, and the
    // RankDistil student mixes one in with α = 0.5.
    let mut sampled = config();
    sampled.methods = vec![CatalogMethod::LabelOnly, CatalogMethod::Sampled];
    sampled.seeds = vec![1];
    sampled.teacher.train.epochs = 10;
    sampled.teacher.train.negatives = 50;
    sampled.student.train.negatives = 1000;
    sampled.student.train.popular_negatives = 0.5;
    sampled.distill.alpha = 0.5;
    sampled.distill.sampled.popular_negatives = 0.5;
    write_config(d, "c.toml", &sampled);
    let o = ok(catalog(d, "cat", &[]));
    let err = stderr(&o);
    assert!(
        err.contains(
            "catalog: teacher: sampled softmax over each user's items plus 50 of the 400 items drawn per batch"
        ),
        "{err}"
    );
    assert!(
        err.contains("catalog: sampled seed 1: label term (alpha = 0.5): sampled softmax over each user's items plus 1000 draws per batch, 50% by training popularity"),
        "{err}"
    );
    // Label-only students draw half their negatives by training popularity.
    assert!(
        err.contains("catalog: label_only seed 1: sampled softmax over each user's items plus 1000 draws per batch, 50% by training popularity"),
        "{err}"
    );
    // Against the same teacher trained on the full softmax (0.0581 NDCG@10 when measured;
    // the sampled one 0.0565).
    let mut full = config();
    full.methods = vec![CatalogMethod::LabelOnly];
    full.seeds = vec![1];
    full.teacher.train.epochs = 10;
    write_config(d, "full.toml", &full);
    let o_full = ok(rankdistil(
        d,
        &[
            "catalog",
            "--config",
            "full.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "full",
        ],
    ));
    let [sampled, full] = [&o, &o_full].map(|o| teacher_ndcg(&stdout(o)));
    assert!(
        sampled > 0.8 * full,
        "sampled-softmax teacher NDCG@10 {sampled} against the full softmax's {full}"
    );
}

/// The teacher's NDCG@10 from a `catalog` table.
fn teacher_ndcg(table: &str) -> f64 {
    table
        .lines()
        .find_map(|l| l.strip_prefix("| teacher | "))
        .and_then(|rest| rest.split(" |").next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("a teacher row in {table}"))
}

#[test]
fn a_catalog_run_killed_mid_student_resumes_to_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Students long enough to be killed in the middle of one.
    let mut config = config();
    config.methods = vec![CatalogMethod::LabelOnly, CatalogMethod::Sampled];
    config.seeds = vec![1];
    config.student.train.epochs = 60;
    write_config(d, "c.toml", &config);
    let args = catalog_args;
    ok(rankdistil(d, &args("whole")));
    let mut killed = command(d);
    killed.args(args("killed"));
    kill_when(
        killed,
        |e| is_epoch(e, "catalog: sampled seed 1", 2),
        Duration::ZERO,
    );
    assert!(
        !d.join("killed/catalog.md").exists(),
        "the run did not finish"
    );
    assert!(
        !d.join("killed/students/sampled-seed1/catalog-student.json")
            .exists(),
        "killed while the sampled student trained"
    );
    let (o, events) = recorded(d, &[&args("killed")[..], &["--resume"]].concat());
    ok(o);
    assert!(
        reused_from(&events, "catalog: teacher").is_some(),
        "{events:?}"
    );
    assert!(
        reused_from(&events, "catalog: label_only seed 1").is_some(),
        "{events:?}"
    );
    assert!(trained(&events, "catalog: sampled seed 1"), "{events:?}");
    let table = |out: &str| std::fs::read_to_string(d.join(out).join("catalog.md")).unwrap();
    assert_eq!(table("killed"), table("whole"));
}

#[test]
fn rrd_cd_and_margin_mse_students_train_and_a_head_deeper_than_the_cache_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut config = config();
    config.methods = vec![
        CatalogMethod::LabelOnly,
        CatalogMethod::Rrd,
        CatalogMethod::Cd,
        CatalogMethod::MarginMse,
    ];
    config.seeds = vec![1];
    config.rrd.top_n = 20;
    config.rrd.uninteresting = 30;
    config.cd.top_n = 20;
    write_config(d, "c.toml", &config);
    let args = catalog_args("cat");
    let (o, events) = recorded(d, &args);
    ok(o);
    for run in [
        "catalog: rrd seed 1",
        "catalog: cd seed 1",
        "catalog: margin_mse seed 1",
    ] {
        assert!(ended_epoch(&events, run, 2), "{run}: {events:?}");
    }
    let table = std::fs::read_to_string(d.join("cat/catalog.md")).unwrap();
    assert!(
        table.contains("| rrd |") && table.contains("| cd |"),
        "{table}"
    );

    config.cd.top_n = 21;
    write_config(d, "c.toml", &config);
    fails(
        &catalog(d, "deeper", &[]),
        "[cd] top_n = 21 reads the teacher's top-p cache, which [distill] p = 20 keeps: expected top_n <= p",
    );
    (config.cd.top_n, config.rrd.top_n) = (20, 21);
    write_config(d, "c.toml", &config);
    fails(
        &catalog(d, "deeper", &[]),
        "[rrd] top_n = 21 reads the teacher's top-p cache, which [distill] p = 20 keeps: expected top_n <= p",
    );
}

#[test]
fn a_catalog_model_killed_before_its_first_checkpoint_says_it_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut cfg = config();
    cfg.methods = vec![CatalogMethod::LabelOnly];
    cfg.seeds = vec![1];
    write_config(d, "c.toml", &cfg);
    ok(catalog(d, "r", &[]));
    // As if killed during its first epoch: the folder holds a log line, no checkpoint and no
    // finished model.
    let students = d.join("r/students");
    let student = std::fs::read_dir(&students)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for entry in std::fs::read_dir(&student).unwrap() {
        let path = entry.unwrap().path();
        match path.is_dir() {
            true => std::fs::remove_dir_all(&path).unwrap(),
            false => std::fs::remove_file(&path).unwrap(),
        }
    }
    std::fs::write(student.join("metrics.jsonl"), "").unwrap();
    let o = ok(catalog(d, "r", &["--resume"]));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "no complete checkpoint yet in {}; restarting from epoch 1 (the partial epoch is discarded)",
            Path::new("r/students").join(student.file_name().unwrap()).display()
        )),
        "{err}"
    );
}
