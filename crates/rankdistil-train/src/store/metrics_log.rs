//! `metrics.jsonl`: one JSON line per completed epoch (training loss, validation metrics,
//! seconds, backend), which `plot` draws.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Context, bail};

use crate::store::atomic::write_atomic;

pub const METRICS_FILE: &str = "metrics.jsonl";

/// The metrics log of a run directory.
pub struct MetricsLog {
    path: PathBuf,
}

impl MetricsLog {
    pub fn of(run: &Path) -> Self {
        Self {
            path: run.join(METRICS_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }

    /// Adds one epoch's line. The log is small, so it is rewritten whole, atomically.
    pub fn append(&self, line: &serde_json::Value) -> crate::Result<()> {
        let mut text = self.text();
        text.push_str(&format!("{line}\n"));
        Ok(write_atomic(&self.path, text.as_bytes())?)
    }

    /// Drops the lines of epochs after `epoch` (written before a kill, not checkpointed).
    pub fn truncate(&self, epoch: usize) -> crate::Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        let kept: String = self
            .text()
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v["epoch"].as_u64())
                    .is_some_and(|e| e as usize <= epoch)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        Ok(write_atomic(&self.path, kept.as_bytes())?)
    }

    /// Every logged epoch; a malformed line is an error naming the file and line. `run` names
    /// the directory in the error when there is no log.
    pub fn read(&self, run: &Path) -> crate::Result<Vec<EpochMetrics>> {
        let text = std::fs::read_to_string(&self.path).with_context(|| {
            format!(
                "{}: cannot read; is {} a run directory written by `rankdistil train` or `distill`?",
                self.path.display(),
                run.display()
            )
        })?;
        let epochs = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, line)| parse_line(line).with_context(|| self.at(i)))
            .collect::<crate::Result<Vec<_>>>()?;
        if epochs.is_empty() {
            bail!("{}: no epochs logged yet", self.path.display());
        }
        Ok(epochs)
    }

    fn at(&self, index: usize) -> String {
        format!("{}:{}", self.path.display(), index + 1)
    }
}

/// One epoch of a run's `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    /// Validation metrics by name (`ndcg@10`, `mrr`, ...).
    pub valid: BTreeMap<String, f64>,
}

fn parse_line(line: &str) -> crate::Result<EpochMetrics> {
    let v: serde_json::Value = serde_json::from_str(line).context("not a JSON line")?;
    let (Some(epoch), Some(train_loss), Some(valid)) = (
        v["epoch"].as_u64(),
        v["train_loss"].as_f64(),
        v["valid"].as_object(),
    ) else {
        bail!("expected an object with \"epoch\", \"train_loss\" and \"valid\"");
    };
    let valid = valid
        .iter()
        .filter_map(|(k, x)| Some((k.clone(), x.as_f64()?)))
        .collect();
    Ok(EpochMetrics {
        epoch: epoch as usize,
        train_loss,
        valid,
    })
}
