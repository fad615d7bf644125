//! A run killed with SIGKILL mid-epoch and resumed ends exactly where an uninterrupted run does.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::{Event, TEST_BACKEND, command, kill_when, ok, recorded};

const CONFIG: &str = r#"
[data]
normalization = "zscore"

[data.synthetic]
queries = 400
min_items = 20
max_items = 200
features = 20
hidden = 16
noise = 0.3
seed = 5

[model]
hidden = HIDDEN
dropout = 0.1

[train]
epochs = 6
batch_size = 8
learning_rate = 0.002
seed = 9
"#;

/// `rankdistil train` of `t.toml` into `out`, in `d`, on `backend`.
fn train(d: &Path, out: &str, backend: &str) -> Command {
    let mut command = command(d);
    command.args([
        "train",
        "--config",
        "t.toml",
        "--backend",
        backend,
        "--out",
        out,
    ]);
    command
}

fn metrics(run: &Path) -> serde_json::Value {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    serde_json::json!({"best_epoch": meta["best_epoch"], "valid": meta["valid"]["values"], "test": meta["test"]["values"]})
}

fn assert_close(a: &serde_json::Value, b: &serde_json::Value, path: &str) {
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            assert_eq!(x.len(), y.len(), "{path}: keys differ");
            for (k, v) in x {
                assert_close(v, &y[k], &format!("{path}.{k}"));
            }
        }
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-6, "{path}: {x} vs {y}");
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

/// Starts `train` into `killed` and kills it with SIGKILL once its third epoch has ended.
fn kill_during_epoch_4(d: &Path, backend: &str) {
    // Into epoch 4 (or its checkpoint write): anywhere is fine, that is the point.
    kill_when(
        train(d, "killed", backend),
        |e| matches!(e, Event::Epoch { epoch: 3, .. }),
        Duration::from_millis(100),
    );
    assert!(
        !d.join("killed/run.json").exists(),
        "the killed run never finished"
    );
}

// ndarray runs the MLP through Burn's autodiff with Burn's dropout; flex through the CPU kernel
// with its own masks. Each must replay its own.
#[test]
fn kill_9_mid_epoch_then_resume_matches_an_uninterrupted_run_on_ndarray() {
    kill_9_then_resume("ndarray", "[64, 64]");
}

// Wider, so that the last three epochs outlast the kill's 100 ms on the faster path.
#[test]
fn kill_9_mid_epoch_then_resume_matches_an_uninterrupted_run_on_flex() {
    kill_9_then_resume("flex", "[256, 256]");
}

fn kill_9_then_resume(backend: &str, hidden: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("t.toml"), CONFIG.replace("HIDDEN", hidden)).unwrap();

    let full = train(d, "full", backend).output().unwrap();
    assert!(
        full.status.success(),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );

    kill_during_epoch_4(d, backend);
    let state = std::fs::read_to_string(d.join("killed/checkpoint/state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let epoch = state["epoch"].as_u64().unwrap();
    assert!(
        (3..6).contains(&epoch),
        "the last complete checkpoint is a middle epoch: {state}"
    );

    let (resumed, events) = recorded(
        d,
        &["train", "--resume", "--out", "killed", "--backend", backend],
    );
    ok(resumed);
    let resumed_after = events.iter().find_map(|e| match e {
        Event::Resumed { epoch, .. } => Some(*epoch as u64),
        _ => None,
    });
    assert_eq!(resumed_after, Some(epoch), "{events:?}");
    let ended: Vec<u64> = (events.iter())
        .filter_map(|e| match e {
            Event::Epoch { epoch, .. } => Some(*epoch as u64),
            _ => None,
        })
        .collect();
    assert_eq!(ended, (epoch + 1..=6).collect::<Vec<_>>(), "only the rest");

    assert_close(
        &metrics(&d.join("full")),
        &metrics(&d.join("killed")),
        "run.json",
    );
    let log = std::fs::read_to_string(d.join("killed/metrics.jsonl")).unwrap();
    let epochs: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        epochs,
        vec![1, 2, 3, 4, 5, 6],
        "one metrics line per epoch, none duplicated"
    );
}

#[test]
fn resume_without_a_checkpoint_restarts_from_epoch_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("empty")).unwrap();
    std::fs::write(
        d.join("empty/config.toml"),
        "[model]\nhidden = [4]\n[train]\nepochs = 2\n",
    )
    .unwrap();
    let o = command(d)
        .args([
            "train",
            "--resume",
            "--out",
            "empty",
            "--backend",
            TEST_BACKEND,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.starts_with(
            "empty: no complete checkpoint yet; restarting from epoch 1 (the partial epoch is discarded)"
        ),
        "{err}"
    );
    assert!(d.join("empty/run.json").exists(), "the run completed");
}
