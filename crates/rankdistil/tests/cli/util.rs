//! Running the `rankdistil` binary from the tests, and reading what it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use rankdistil_train::progress::Event;

/// The backend every test runs on unless it tests a backend: Burn's CPU backend that stays
/// (ndarray leaves in Burn 0.23).
pub const TEST_BACKEND: &str = "flex";

/// The binary, to run in `dir`. CI opens the software GPU for its own tests; the CLI's run
/// without it.
pub fn command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rankdistil"));
    c.current_dir(dir).env_remove("RANKDISTIL_SOFTWARE_GPU");
    c
}

/// Runs the binary in `dir` with `args`, to its end.
pub fn rankdistil(dir: &Path, args: &[&str]) -> Output {
    command(dir).args(args).output().expect("the binary runs")
}

/// A fresh file in `dir` for one run's `--events`.
fn events_file(dir: &Path) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    dir.join(format!(
        "events-{}.jsonl",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The events a run recorded in `file`; none when it stopped before opening it.
fn read_events(file: &Path) -> Vec<Event> {
    if !file.exists() {
        return Vec::new();
    }
    rankdistil_train::progress::read_events(file).expect("the events file reads")
}

/// Runs the binary in `dir` with `args` and `--events`, to its end: its output, and the
/// milestones it recorded.
pub fn recorded(dir: &Path, args: &[&str]) -> (Output, Vec<Event>) {
    let file = events_file(dir);
    let o = command(dir)
        .args(args)
        .arg("--events")
        .arg(&file)
        .output()
        .expect("the binary runs");
    (o, read_events(&file))
}

/// Starts `command` (which runs in a test's directory) with `--events`, waits for an event `when` accepts, lets it run `then`
/// longer and kills it with SIGKILL. Panics if the run ends first, or never gets there.
pub fn kill_when(mut command: Command, when: impl Fn(&Event) -> bool, then: Duration) {
    let dir = (command.get_current_dir()).expect("the command runs in a test's directory");
    let file = events_file(dir);
    let mut child = command
        .arg("--events")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !read_events(&file).iter().any(&when) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the event"
        );
        assert!(Instant::now() < deadline, "the event never came");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(then);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run must still be going when killed"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// Whether `events` has `run` ending `epoch`.
pub fn ended_epoch(events: &[Event], run: &str, epoch: usize) -> bool {
    events.iter().any(|e| is_epoch(e, run, epoch))
}

/// Whether `e` is `run` ending `epoch`.
pub fn is_epoch(e: &Event, run: &str, epoch: usize) -> bool {
    matches!(e, Event::Epoch { run: r, epoch: n, .. } if r == run && *n == epoch)
}

/// Whether `events` has `run` trained to its end.
pub fn trained(events: &[Event], run: &str) -> bool {
    (events.iter()).any(|e| matches!(e, Event::Trained { run: r, .. } if r == run))
}

/// Where `events` says `run` was loaded from instead of trained, if it was.
pub fn reused_from<'e>(events: &'e [Event], run: &str) -> Option<&'e Path> {
    events.iter().find_map(|e| match e {
        Event::Reused { run: r, from, .. } if r == run => Some(from.as_path()),
        _ => None,
    })
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts success, showing stderr otherwise.
pub fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

/// Asserts a clear failure: exit status 1, `needle` in stderr, no panic. Returns stderr.
pub fn fails(o: &Output, needle: &str) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Asserts a clear failure (exit status 1, no panic) and returns stderr, for the caller to
/// read.
pub fn refusal(o: &Output) -> String {
    fails(o, "")
}

/// Whether python3 can import `modules` (`"numpy, onnxruntime"`); when the environment sets
/// `require` (as CI does), it must.
pub fn python_has(modules: &str, require: &str) -> bool {
    let has = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        assert!(
            std::env::var_os(require).is_none(),
            "python3 lacks {modules}, which {require} requires (pip install {modules})"
        );
        eprintln!("skipping: python3 lacks {modules}");
    }
    has
}

/// Runs `scripts/<script>` with python3 in `dir`; asserts it succeeds and returns its stdout.
pub fn python_script(dir: &Path, script: &str, args: &[&str]) -> String {
    let o = python_output(dir, &[], script, args);
    assert!(o.status.success(), "{script}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// Runs `python3 FLAGS scripts/<script> ARGS` in `dir`, whatever its outcome.
pub fn python_output(dir: &Path, flags: &[&str], script: &str, args: &[&str]) -> Output {
    // The manifest dir as cargo gives it at run time: a test binary built in another
    // checkout of the same target dir would carry that checkout's path.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets it");
    let path = format!("{manifest}/../../scripts/{script}");
    Command::new("python3")
        .current_dir(dir)
        .args(flags)
        .arg(&path)
        .args(args)
        .output()
        .expect("python3 runs")
}

/// Records `file`'s current SHA-256 in its export's `config.json`, as `export` does: a test that
/// damages an export's file on purpose reaches the reader's own checks, not the digest's.
pub fn reseal(export: &Path, file: &str) {
    use sha2::Digest;
    let bytes = std::fs::read(export.join(file)).unwrap();
    let path = export.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["sha256"][file] = format!("{:x}", sha2::Sha256::digest(&bytes)).into();
    std::fs::write(&path, config.to_string()).unwrap();
}
