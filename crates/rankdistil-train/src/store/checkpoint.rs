//! Resumable training state, written after an epoch: every epoch in a list run, at most once
//! per `checkpoint_seconds` in a catalog run.
//!
//! The parts of epoch E (`checkpoint/epoch-E.model.bpk`, `checkpoint/epoch-E.optim.bpk`, and
//! any a run adds) are written first, each atomically; `checkpoint/state.json` is then replaced
//! to name epoch E, and only then are older epochs' files removed. A kill at any moment leaves
//! `state.json` naming a complete checkpoint.

use std::path::{Path, PathBuf};

use crate::error::Context;
use rankdistil_metrics::MetricSummary;
use serde::{Deserialize, Serialize};

use crate::store::atomic::write_atomic;

pub const CHECKPOINT_DIR: &str = "checkpoint";
const STATE_FILE: &str = "state.json";

/// Where training stands after a completed epoch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// The last completed epoch.
    pub epoch: usize,
    /// Optimisation steps taken so far.
    pub step: u64,
    pub seed: u64,
    /// The best epoch so far by the validation metric; `None` for runs without validation,
    /// whose model is the last epoch's.
    pub best: Option<BestEpoch>,
}

/// The best epoch of a run with validation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BestEpoch {
    pub epoch: usize,
    /// The metric that chose it.
    pub metric: f64,
    pub valid: MetricSummary,
}

/// The `checkpoint/` folder of a run.
pub struct Checkpoint {
    dir: PathBuf,
}

impl Checkpoint {
    pub fn of(run: &Path) -> Self {
        Self {
            dir: run.join(CHECKPOINT_DIR),
        }
    }

    /// The file of part `name` (`model.bpk`, `optim.bpk`, ...) of epoch `epoch`.
    pub fn part(&self, epoch: usize, name: &str) -> PathBuf {
        self.dir.join(format!("epoch-{epoch}.{name}"))
    }

    /// Reads part `name` of the checkpoint `state` names.
    pub fn read_part(&self, state: &TrainState, name: &str) -> crate::Result<Vec<u8>> {
        let path = self.part(state.epoch, name);
        std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))
    }

    /// Writes the checkpoint of a completed epoch: its parts, then the state that names them.
    pub fn save(&self, state: &TrainState, parts: &[(&str, &[u8])]) -> crate::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("{}: cannot create", self.dir.display()))?;
        let current: Vec<PathBuf> = parts
            .iter()
            .map(|(name, bytes)| {
                let path = self.part(state.epoch, name);
                write_atomic(&path, bytes).map(|()| path)
            })
            .collect::<Result<_, _>>()?;
        write_atomic(
            &self.dir.join(STATE_FILE),
            serde_json::to_string_pretty(state)?.as_bytes(),
        )?;
        // The new state is in place; older epochs are no longer referenced.
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            let path = entry.path();
            let stale = entry.file_name().to_string_lossy().starts_with("epoch-");
            if stale && !current.contains(&path) {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(())
    }

    /// The state of the last complete checkpoint, if the run has one.
    pub fn state(&self) -> crate::Result<Option<TrainState>> {
        let path = self.dir.join(STATE_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let state = serde_json::from_str(&text)
            .with_context(|| format!("{}: malformed checkpoint state", path.display()))?;
        Ok(Some(state))
    }
}
