//! Bad input, case by case: each gives one clear error line, exits 1, panics never, and leaves
//! nothing behind; sizes past the machine are refused before any work; sizes that fit run.

use std::path::Path;

use crate::util::*;

/// A LETOR file of 40 synthetic queries over 4 features.
fn letor(d: &Path, name: &str) {
    ok(rankdistil(
        d,
        &[
            "gen-synthetic",
            "--out",
            name,
            "--queries",
            "40",
            "--features",
            "4",
            "--max-items",
            "20",
        ],
    ));
}

/// Runs `args` in `d` and asserts a clear failure containing `needle`, in one line of at most
/// 400 characters, with none of `absent` left behind.
fn refused(d: &Path, args: &[&str], needle: &str, absent: &[&str]) {
    let o = rankdistil(d, args);
    let err = fails(&o, needle);
    // Progress lines may come first; the error is the last line, and the only one.
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert_eq!(err.trim_end().lines().last(), Some(errors[0]), "{err}");
    assert!(errors[0].contains(needle), "{err}");
    assert!(
        errors[0].len() <= 400,
        "a short line: {} characters",
        errors[0].len()
    );
    for path in absent {
        assert!(!d.join(path).exists(), "{path} was left behind by {args:?}");
    }
}

const SYNTHETIC: &str = "[data.synthetic]\nqueries = 40\nmin_items = 5\nmax_items = 20\nfeatures = 4\nhidden = 4\nnoise = 0.1\nseed = 1\n";

/// A `train` config over the synthetic data, with `extra` appended.
fn train_config(d: &Path, name: &str, extra: &str) {
    let text = format!("{SYNTHETIC}[model]\nhidden = [4]\n{extra}");
    std::fs::write(d.join(name), text).unwrap();
}

#[test]
fn letor_readers_refuse_bad_files_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let garbage = format!("1 qid:1 1:{}\n", "x".repeat(10_000_000));
    for (file, text, needle) in [
        (
            "wide.txt",
            "1 qid:3 4294967297:0.5\n".to_string(),
            "wide.txt:1: feature index 4294967297 is past the 1048576 features",
        ),
        (
            "wider.txt",
            "1 qid:3 18446744073709551615:0.5\n".into(),
            "wider.txt:1: feature index 18446744073709551615 is past",
        ),
        (
            "label.txt",
            "1e20 qid:1 1:0.5\n".into(),
            "label.txt:1: label 1e20 is too large",
        ),
        (
            "garbage.txt",
            garbage,
            "garbage.txt:1: invalid value \"xxxxxxxx",
        ),
        (
            "control.txt",
            "1 qid:1 1:0.5 2:\u{0}\u{1b}[2J\n".into(),
            "control.txt:1: invalid value \"\\u{0}\\u{1b}[2J\"",
        ),
    ] {
        std::fs::write(d.join(file), text).unwrap();
        let config = format!("t-{file}.toml");
        let toml = format!("[data]\ntrain = \"{file}\"\n[model]\nhidden = [4]\n");
        std::fs::write(d.join(&config), toml).unwrap();
        refused(
            d,
            &[
                "train",
                "--config",
                &config,
                "--backend",
                TEST_BACKEND,
                "--out",
                "r",
            ],
            needle,
            &["r"],
        );
        refused(
            d,
            &["bench", "--suite", "parse", "--data", file],
            needle,
            &[],
        );
    }
    std::fs::write(d.join("bare.txt"), "1 qid:1\n0 qid:1\n1 qid:2\n0 qid:2\n").unwrap();
    std::fs::write(
        d.join("bare.toml"),
        "[data]\ntrain = \"bare.txt\"\n[model]\nhidden = [4]\n",
    )
    .unwrap();
    let args = [
        "train",
        "--config",
        "bare.toml",
        "--backend",
        TEST_BACKEND,
        "--out",
        "r",
    ];
    refused(d, &args, "bare.txt: no row has a feature", &["r"]);
}

#[test]
fn settings_out_of_range_leave_no_run_behind() {
    // Each range rule has a unit test of the settings parser
    // (`list::config::tests::run_range_checks_name_the_key_and_what_was_expected`); here, one
    // refusal through the process, and one the data decides (it needs the data to count).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (extra, needle) in [
        (
            "[train]\nlearning_rate = nan\n",
            "t.toml: [train] learning_rate = NaN, expected a finite number > 0",
        ),
        (
            "[data]\nvalid_fraction = 0.0\n",
            "got 32 and 0; [data] valid_fraction = 0 holds out no query",
        ),
    ] {
        train_config(d, "t.toml", extra);
        let args = [
            "train",
            "--config",
            "t.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "r",
        ];
        refused(d, &args, needle, &["r"]);
    }
}

/// A one-epoch teacher run `t` in `d`.
fn teacher(d: &Path) {
    train_config(d, "teacher.toml", "[train]\nepochs = 1\n");
    ok(rankdistil(
        d,
        &[
            "train",
            "--config",
            "teacher.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "t",
        ],
    ));
}

#[test]
fn loss_settings_out_of_range_leave_no_student_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    teacher(d);
    // Each range rule has a unit test of the settings parser; here, one refusal through the
    // process.
    std::fs::write(
        d.join("s.toml"),
        "[model]\nhidden = [4]\n[loss]\nmethod = \"coupled\"\nk = 0\n",
    )
    .unwrap();
    let args = [
        "distill",
        "--teacher",
        "t",
        "--config",
        "s.toml",
        "--backend",
        TEST_BACKEND,
        "--out",
        "s",
    ];
    refused(d, &args, "s.toml: [loss] k = 0, expected k >= 1", &["s"]);
}

#[test]
fn sizes_past_the_machine_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big = |key: &str, value: &str| {
        SYNTHETIC.replace(&format!("{key} = "), &format!("{key} = {value}\n# was "))
    };
    for (config, needle) in [
        (
            format!("{SYNTHETIC}[model]\nhidden = [1000000000]\n"),
            "[model] hidden = [1000000000]",
        ),
        (
            format!("{}[model]\nhidden = [4]\n", big("queries", "1000000000000")),
            "[data.synthetic]: 1000000000000 queries of up to 20 items with 4 features needs",
        ),
        (
            format!("{}[model]\nhidden = [4]\n", big("features", "1000000000")),
            "[data.synthetic]: 40 queries of up to 20 items with 1000000000 features needs",
        ),
        (
            format!("{SYNTHETIC}[model]\nhidden = [4]\n[train]\neval_batch_size = 100000000000\n"),
            "[train] eval_batch_size = 100000000000 with [model] hidden = [4] needs",
        ),
    ] {
        std::fs::write(d.join("t.toml"), config).unwrap();
        let args = [
            "train",
            "--config",
            "t.toml",
            "--backend",
            TEST_BACKEND,
            "--out",
            "r",
        ];
        refused(d, &args, needle, &["r"]);
    }
}

#[test]
fn generated_data_past_the_machine_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (args, needle) in [
        (
            vec!["gen-synthetic", "--out", "g.txt", "--queries", "0"],
            "gen-synthetic: queries, features and hidden must be at least 1",
        ),
        (
            vec![
                "gen-synthetic",
                "--out",
                "g.txt",
                "--queries",
                "1000000000000",
            ],
            "gen-synthetic: 1000000000000 queries of up to 300 items with 40 features needs",
        ),
        (
            vec![
                "gen-synthetic",
                "--out",
                "g.txt",
                "--features",
                "1000000000",
            ],
            "with 1000000000 features needs",
        ),
    ] {
        refused(d, &args, needle, &["g.txt"]);
    }
}

#[test]
fn sampled_orders_past_the_machine_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    teacher(d);
    std::fs::write(
        d.join("s.toml"),
        "[model]\nhidden = [4]\n[loss]\nmethod = \"coupled\"\nsamples = 1000000000\n",
    )
    .unwrap();
    let args = [
        "distill",
        "--teacher",
        "t",
        "--config",
        "s.toml",
        "--backend",
        TEST_BACKEND,
        "--out",
        "s",
    ];
    refused(d, &args, "[loss] samples = 1000000000 needs", &["s"]);
}

#[test]
fn a_failed_score_leaves_no_file_and_a_directory_is_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    train_config(d, "t.toml", "[train]\nepochs = 1\n");
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
    std::fs::create_dir(d.join("x")).unwrap();
    std::fs::write(d.join("bad.txt"), "1 qid:1 1:0.5\n0 qid:1 1:oops\n").unwrap();
    let args = [
        "score",
        "--model",
        "e",
        "--data",
        "bad.txt",
        "--out",
        "x/run.trec",
        "--backend",
        TEST_BACKEND,
    ];
    refused(
        d,
        &args,
        "bad.txt:2: invalid value \"oops\"",
        &["x/run.trec"],
    );
    assert_eq!(
        std::fs::read_dir(d.join("x")).unwrap().count(),
        0,
        "no temporary file either"
    );
    letor(d, "good.txt");
    let args = [
        "score",
        "--model",
        "e",
        "--data",
        "good.txt",
        "--out",
        "x",
        "--backend",
        TEST_BACKEND,
    ];
    refused(d, &args, "x: is a directory, expected a file path", &[]);
}

const CATALOG: &str = "methods = [\"label_only\", \"sampled\"]\nseeds = [1]\n\n[data.synthetic]\nusers = 30\nitems = 200\nper_user = 10\nseed = 2\n\n[teacher.model]\ndim = 8\n\n[teacher.train]\nepochs = 1\nbatch_size = 16\nlearning_rate = 0.01\n\n[student.model]\ndim = 4\n\n[student.train]\nepochs = 1\nbatch_size = 16\nlearning_rate = 0.01\n\n[distill]\nk = 5\np = 20\nm = 30\n";

/// `catalog` of `config` (written to `c.toml`) into `out`, with `extra` flags.
fn catalog(d: &Path, out: &str, config: &str, extra: &[&str]) -> std::process::Output {
    std::fs::write(d.join("c.toml"), config).unwrap();
    let args = [
        "catalog",
        "--config",
        "c.toml",
        "--backend",
        TEST_BACKEND,
        "--out",
        out,
    ];
    rankdistil(d, &[&args[..], extra].concat())
}

/// Asserts what [`refused`] does, of a finished `catalog` command.
fn catalog_refused(d: &Path, config: &str, extra: &[&str], needle: &str) {
    std::fs::write(d.join("c.toml"), config).unwrap();
    let args = [
        "catalog",
        "--config",
        "c.toml",
        "--backend",
        TEST_BACKEND,
        "--out",
        "new",
    ];
    refused(d, &[&args[..], extra].concat(), needle, &["new"]);
}

#[test]
fn catalog_sizes_past_the_machine_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (from, to, needle) in [
        (
            "dim = 8",
            "dim = 1000000000",
            "[teacher.model] dim = 1000000000 needs",
        ),
        (
            "items = 200",
            "items = 1000000000000",
            "[data.synthetic] users = 30, items = 1000000000000: expected at most 4294967295 of each",
        ),
        (
            "users = 30",
            "users = 1000000000000",
            "[data.synthetic] users = 1000000000000, items = 200: expected at most",
        ),
    ] {
        catalog_refused(d, &CATALOG.replace(from, to), &[], needle);
    }
}

#[test]
fn bad_inter_files_name_their_line_and_quote_little() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Invalid UTF-8 names its line; a 400,000-character header is cut short.
    std::fs::write(
        d.join("u.inter"),
        b"user_id:token\titem_id:token\nu1\ti1\nu2\t\xff\n",
    )
    .unwrap();
    let header = format!("{}\nu1\ti1\n", "h".repeat(400_000));
    std::fs::write(d.join("h.inter"), header).unwrap();
    let file = |inter: &str| {
        CATALOG.replace(
            "[data.synthetic]\nusers = 30\nitems = 200\nper_user = 10\nseed = 2\n",
            &format!("[data]\ninter = \"{inter}\"\nmin_rating = 0\n"),
        )
    };
    catalog_refused(
        d,
        &file("u.inter"),
        &[],
        "u.inter:3: invalid UTF-8 at byte 4",
    );
    catalog_refused(d, &file("h.inter"), &[], "h.inter:1: header \"hhhh");
}

#[test]
fn sizes_past_the_catalog_run_and_a_truncated_cache_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // p, --p and --top larger than the catalog: every item there is.
    ok(catalog(
        d,
        "cat",
        &CATALOG.replace("p = 20", "p = 1000000000000"),
        &[],
    ));
    let cache = [
        "teacher-cache",
        "--teacher",
        "cat/teacher",
        "--p",
        "1000000000000",
        "--out",
        "all.bin",
        "--backend",
        TEST_BACKEND,
    ];
    ok(rankdistil(d, &cache));
    ok(rankdistil(
        d,
        &[
            "export",
            "--run",
            "cat/students/sampled-seed1",
            "--out",
            "e",
        ],
    ));
    let one = "user_id:token\titem_id:token\trating:float\nu1\ti1\t5\n";
    std::fs::write(d.join("one.inter"), one).unwrap();
    let recommend = [
        "recommend",
        "--model",
        "e",
        "--data",
        "one.inter",
        "--top",
        "1000000000000",
        "--backend",
        TEST_BACKEND,
    ];
    let o = ok(rankdistil(d, &recommend));
    assert_eq!(
        stdout(&o).lines().count(),
        200,
        "a header and every item u1 lacks"
    );

    // A truncated cache is refused before a new run is created.
    let bytes = std::fs::read(d.join("all.bin")).unwrap();
    std::fs::write(d.join("cut.bin"), &bytes[..bytes.len() / 2]).unwrap();
    let reuse = ["--teacher", "cat/teacher", "--cache", "cut.bin"];
    catalog_refused(
        d,
        CATALOG,
        &reuse,
        "cut.bin: not a rankdistil teacher top-p cache",
    );
}
