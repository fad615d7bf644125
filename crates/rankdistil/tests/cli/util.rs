//! Running the `rankdistil` binary from the tests, and reading what it printed.

use std::path::Path;
use std::process::{Command, Output};

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
    // The manifest dir as cargo gives it at run time: a test binary built in another
    // checkout of the same target dir would carry that checkout's path.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets it");
    let path = format!("{manifest}/../../scripts/{script}");
    let o = Command::new("python3")
        .current_dir(dir)
        .arg(&path)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "{script}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
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
