//! Seeded mutation fuzzing of every reader of outside bytes: LETOR files, RecBole `.inter`
//! files, the teacher's top-p cache, export directories and checkpoints. Each mutated input
//! must give `Ok` or an error, never a panic. CI runs a short pass; `scripts/fuzz.sh MINUTES`
//! runs the ignored long one (`RANKDISTIL_FUZZ_SECONDS`) and reports what it found.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, RngExt, SeedableRng, rngs::StdRng};
use rankdistil_data::{LetorOptions, LetorReader, read_all, read_recbole_inter_from};
use rankdistil_train::backend::Backend;
use rankdistil_train::catalog::top_p_cache::{TopP, TopPCache};
use rankdistil_train::list::export::load_export;
use rankdistil_train::store::checkpoint::Checkpoint;

/// Tokens a mutation splices in: the values that broke readers before.
const TOKENS: &[&[u8]] = &[
    b"qid:",
    b":",
    b" ",
    b"\t",
    b"\n",
    b"\r\n",
    b"#",
    b"\0",
    b"\xff",
    b"\x1b[2J",
    b"nan",
    b"inf",
    b"-1",
    b"0",
    b"1e20",
    b"4294967297",
    b"18446744073709551615",
    b"99999999999999999999",
    b"docid = ",
    b"user_id:token",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"null",
    b"-0.0",
];

/// A mutation of `seed`: flips, splices of [`TOKENS`], cuts and repeats.
fn mutate(seed: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..rng.random_range(1..=8) {
        let at = rng.random_range(0..=out.len());
        match rng.random_range(0..6) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
            2 => out.truncate(at),
            3 if at < out.len() => {
                let end = rng.random_range(at..=out.len().min(at + 64));
                let chunk = out[at..end].to_vec();
                out.splice(at..at, chunk);
            }
            4 if at < out.len() => {
                let end = rng.random_range(at..=out.len());
                out.drain(at..end);
            }
            _ => out.insert(at, rng.random()),
        }
    }
    out
}

/// What a fuzzing pass saw.
#[derive(Default)]
struct Tally {
    runs: usize,
    ok: usize,
    /// Distinct kinds of error (see [`fold`]), with their counts.
    errors: BTreeMap<String, usize>,
    /// Inputs that panicked, with the panic's message.
    crashes: Vec<(Vec<u8>, String)>,
}

impl Tally {
    fn record(&mut self, input: Vec<u8>, outcome: std::thread::Result<Result<(), String>>) {
        self.runs += 1;
        match outcome {
            Ok(Ok(())) => self.ok += 1,
            Ok(Err(e)) => *self.errors.entry(fold(&e)).or_default() += 1,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                self.crashes.push((input, message));
            }
        }
    }
}

/// An error's kind: its text without numbers or quoted input.
fn fold(error: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in error.chars() {
        match c {
            '"' => quoted = !quoted,
            c if quoted || c.is_ascii_digit() => {}
            c => out.push(c),
        }
    }
    out.chars().take(120).collect()
}

/// Feeds mutations of `seeds` to `read` until `budget` runs out or `runs` inputs are read.
fn fuzz(
    seeds: &[Vec<u8>],
    rng: &mut StdRng,
    runs: usize,
    budget: Duration,
    read: &dyn Fn(&[u8]) -> Result<(), String>,
) -> Tally {
    let started = Instant::now();
    let mut tally = Tally::default();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    while tally.runs < runs && started.elapsed() < budget {
        let input = mutate(&seeds[rng.random_range(0..seeds.len())], rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| read(&input)));
        tally.record(input, outcome);
    }
    std::panic::set_hook(quiet);
    tally
}

fn letor(bytes: &[u8]) -> Result<(), String> {
    let mut reader = LetorReader::new(Cursor::new(bytes), "fuzz.txt", LetorOptions::default());
    read_all(&mut reader).map(drop).map_err(|e| e.to_string())
}

fn inter(bytes: &[u8]) -> Result<(), String> {
    read_recbole_inter_from(Cursor::new(bytes), Path::new("fuzz.inter"))
        .map(drop)
        .map_err(|e| e.to_string())
}

fn top_p_cache(bytes: &[u8]) -> Result<(), String> {
    TopPCache::from_bytes(bytes, Path::new("fuzz.bin"), 50)
        .map(drop)
        .map_err(|e| format!("{e:#}"))
}

/// An export directory with a mutated `config.json` or weights file.
fn export(dir: &Path, file: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(dir.join(file), bytes).map_err(|e| e.to_string())?;
    let loaded = load_export(dir, &Backend::cpu().device);
    loaded.map(drop).map_err(|e| format!("{e:#}"))
}

/// A checkpoint with a mutated `state.json`.
fn checkpoint_state(dir: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(dir.join("checkpoint/state.json"), bytes).map_err(|e| e.to_string())?;
    Checkpoint::of(dir)
        .state()
        .map(drop)
        .map_err(|e| format!("{e:#}"))
}

const LETOR_SEED: &str = "2 qid:1 1:0.5 2:1.5 3:-2 # docid = d1\n0 qid:1 1:0.1 3:4\n1 qid:2 2:3 # docid = d3\r\n0 qid:2 1:7 2:0\n";
const INTER_SEED: &str = "user_id:token\titem_id:token\trating:float\ttimestamp:float\nu1\ti1\t5\t1\nu1\ti2\t3\t2\nu2\ti1\t4\t3\n";

/// The long pass's budget per reader, or the short pass's.
fn budget() -> (usize, Duration) {
    match std::env::var("RANKDISTIL_FUZZ_SECONDS") {
        Ok(s) => (usize::MAX, Duration::from_secs(s.parse().unwrap_or(60))),
        Err(_) => (3_000, Duration::from_secs(20)),
    }
}

fn report(name: &str, tally: &Tally) {
    eprintln!(
        "fuzz {name}: {} runs, {} ok, {} distinct errors, {} crashes",
        tally.runs,
        tally.ok,
        tally.errors.len(),
        tally.crashes.len()
    );
    if std::env::var_os("RANKDISTIL_FUZZ_SHOW").is_some() {
        for (kind, count) in &tally.errors {
            eprintln!("  {count:>8}  {kind}");
        }
    }
    if let Some((input, message)) = tally.crashes.first() {
        let path = std::env::temp_dir().join(format!("rankdistil-fuzz-crash-{name}"));
        let _ = std::fs::write(&path, input);
        panic!(
            "{name}: a reader panicked ({message}); the input is in {}",
            path.display()
        );
    }
}

fn cache_seed() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.bin");
    let cache = TopPCache {
        p: 3,
        users: vec![
            TopP {
                items: vec![4, 1, 9],
                scores: vec![2.5, 1.0, -0.5],
            },
            TopP {
                items: vec![0, 2],
                scores: vec![0.1, 0.0],
            },
        ],
    };
    cache.write(&path, 50).unwrap();
    std::fs::read(&path).unwrap()
}

fn fuzz_all(seed: u64) {
    let (runs, time) = budget();
    let mut rng = StdRng::seed_from_u64(seed);
    let tally = fuzz(&[LETOR_SEED.into()], &mut rng, runs, time, &letor);
    report("letor", &tally);
    let tally = fuzz(&[INTER_SEED.into()], &mut rng, runs, time, &inter);
    report("inter", &tally);
    let tally = fuzz(&[cache_seed()], &mut rng, runs, time, &top_p_cache);
    report("top-p-cache", &tally);
    fuzz_files(&mut rng, runs, time);
}

/// Export directories and checkpoints, seeded from a real export of a tiny run.
fn fuzz_files(rng: &mut StdRng, runs: usize, time: Duration) {
    let (export_dir, config, weights, state) = tiny_export();
    let dir = export_dir.path();
    let read = |bytes: &[u8]| export(dir, "config.json", bytes);
    let tally = fuzz(std::slice::from_ref(&config), rng, runs / 10, time, &read);
    std::fs::write(dir.join("config.json"), &config).unwrap();
    report("export-config", &tally);
    let read = |bytes: &[u8]| export(dir, "model.safetensors", bytes);
    let tally = fuzz(&[weights], rng, runs / 10, time, &read);
    report("export-weights", &tally);
    std::fs::create_dir_all(dir.join("checkpoint")).unwrap();
    let read = |bytes: &[u8]| checkpoint_state(dir, bytes);
    let tally = fuzz(&[state], rng, runs, time, &read);
    report("checkpoint-state", &tally);
}

/// A trained-for-one-epoch list run, exported: its directory, `config.json`, weights and a
/// checkpoint's `state.json`.
fn tiny_export() -> (tempfile::TempDir, Vec<u8>, Vec<u8>, Vec<u8>) {
    use rankdistil_data::SyntheticConfig;
    use rankdistil_loss::LabelLossKind;
    use rankdistil_train::list::config::{DataConfig, ModelConfig, TrainConfig};
    use rankdistil_train::list::data::load_splits;
    use rankdistil_train::list::run_dir::load_meta;
    use rankdistil_train::list::training::{ListRun, RunRecord};
    use rankdistil_train::loss_config::ObjectiveConfig;
    use rankdistil_train::store::export_files::ExportFormat;

    let run = tempfile::tempdir().unwrap();
    let data = DataConfig {
        synthetic: Some(SyntheticConfig {
            queries: 20,
            max_items: 10,
            min_items: 3,
            features: 3,
            ..SyntheticConfig::default()
        }),
        ..DataConfig::default()
    };
    let splits = load_splits(&data, 1, None).unwrap();
    let model = ModelConfig {
        hidden: vec![4],
        activation: Default::default(),
        dropout: 0.0,
        layer_norm: false,
    };
    let train = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let objective = ObjectiveConfig::label_only(LabelLossKind::SoftmaxCe);
    let record = RunRecord {
        dir: run.path(),
        resume: false,
        config_text: "",
        role: rankdistil_train::role::Role::Teacher,
        method: "softmax_ce",
        data: &data,
        teacher: None,
    };
    let outcome = ListRun {
        label: "fuzz",
        splits: &splits,
        teacher: None,
        model: &model,
        train: &train,
        objective: &objective,
        record: Some(record),
        progress: false,
    }
    .run(&Backend::cpu())
    .unwrap();
    let meta = load_meta(run.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let format = ExportFormat::Safetensors;
    rankdistil_train::list::export::export(run.path(), &meta, &outcome.model, format, out.path())
        .unwrap();
    let read = |p: &Path| std::fs::read(p).unwrap();
    let state = read(&run.path().join("checkpoint/state.json"));
    let config = read(&out.path().join("config.json"));
    let weights = read(&out.path().join("model.safetensors"));
    (out, config, weights, state)
}

#[test]
fn every_reader_survives_a_short_seeded_pass() {
    fuzz_all(7);
}

#[test]
#[ignore = "long: scripts/fuzz.sh MINUTES runs it"]
fn every_reader_survives_a_long_pass() {
    let seed = std::env::var("RANKDISTIL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().next_u64());
    eprintln!("fuzz seed {seed}");
    fuzz_all(seed);
}
