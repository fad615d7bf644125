//! Resumable training state, written at the end of every epoch.
//!
//! `checkpoint/epoch-E.model.bpk` and `checkpoint/epoch-E.optim.bpk` are written first, each
//! atomically; `checkpoint/state.json` is then atomically replaced to point at epoch E, and
//! only then are older epochs' files removed. A kill at any moment leaves `state.json` naming
//! a complete checkpoint. Batches and loss sampling derive from `(seed, epoch, step)`, and the
//! device RNG is reseeded per epoch, so a resumed run replays the uninterrupted one exactly.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use rankdistil_metrics::MetricSummary;
use rankdistil_models::{MlpScorer, MlpScorerConfig};
use serde::{Deserialize, Serialize};

use crate::run_dir::{load_into, write_atomic};

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
    pub best_epoch: usize,
    pub best_metric: f64,
    pub best_valid: MetricSummary,
}

fn files(run: &Path, epoch: usize) -> (PathBuf, PathBuf) {
    let dir = run.join(CHECKPOINT_DIR);
    (
        dir.join(format!("epoch-{epoch}.model.bpk")),
        dir.join(format!("epoch-{epoch}.optim.bpk")),
    )
}

/// Writes the checkpoint of a completed epoch.
pub fn save(
    run: &Path,
    model: &MlpScorer,
    optim: &ModuleOptimizer,
    state: &TrainState,
) -> anyhow::Result<()> {
    let dir = run.join(CHECKPOINT_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let (model_path, optim_path) = files(run, state.epoch);
    let model_bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("cannot encode the model: {e:?}"))?;
    write_atomic(&model_path, &model_bytes)?;
    let optim_bytes = optim
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("cannot encode the optimizer state: {e:?}"))?;
    write_atomic(&optim_path, &optim_bytes)?;
    write_atomic(
        &dir.join(STATE_FILE),
        serde_json::to_string_pretty(state)?.as_bytes(),
    )?;
    // The new state is in place; older epochs are no longer referenced.
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let current = [&model_path, &optim_path]
            .iter()
            .any(|p| p.file_name().is_some_and(|f| f.to_string_lossy() == name));
        if name.starts_with("epoch-") && !current {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// The state of the last complete checkpoint, if the run has one.
pub fn load_state(run: &Path) -> anyhow::Result<Option<TrainState>> {
    let path = run.join(CHECKPOINT_DIR).join(STATE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let state = serde_json::from_str(&text)
        .with_context(|| format!("{}: malformed checkpoint state", path.display()))?;
    Ok(Some(state))
}

/// Restores the model (on `device`) and optimizer of the checkpoint `state` names.
pub fn restore(
    run: &Path,
    state: &TrainState,
    config: &MlpScorerConfig,
    optim: ModuleOptimizer,
    device: &Device,
) -> anyhow::Result<(MlpScorer, ModuleOptimizer)> {
    let (model_path, optim_path) = files(run, state.epoch);
    let model = load_into(&model_path, config.init(device), || {
        format!("{} inputs, hidden {:?}", config.d_input, config.hidden)
    })?;
    let bytes = std::fs::read(&optim_path)
        .with_context(|| format!("{}: cannot read", optim_path.display()))?;
    let optim = optim
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: unreadable optimizer state: {e:?}",
                optim_path.display()
            )
        })?;
    Ok((model, optim))
}
