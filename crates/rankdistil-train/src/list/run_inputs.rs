//! What a list run started with (`inputs.json`): its config, its training data, its feature
//! count and its teacher, each by digest. `--resume` continues a run only under the same
//! inputs, and refuses a difference with one line naming the input and both values.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Context, bail};
use crate::store::atomic::write_atomic;

pub const INPUTS_FILE: &str = "inputs.json";

/// A run's inputs, by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInputs {
    /// SHA-256 of the resolved config (`config.toml`).
    pub config: String,
    /// Features per item the model takes.
    pub features: usize,
    /// SHA-256 of the training split's features and labels.
    pub data: String,
    /// The teacher: its run directory or score file, as given.
    pub teacher: Option<String>,
    /// SHA-256 of the teacher's training scores.
    pub teacher_scores: Option<String>,
}

fn f32_digest<'a>(parts: impl IntoIterator<Item = &'a [f32]>) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        for v in part {
            hash.update(v.to_le_bytes());
        }
    }
    format!("{:x}", hash.finalize())
}

impl RunInputs {
    pub fn new(
        config_text: &str,
        train: &rankdistil_data::RankingDataset,
        teacher: Option<(&str, &[f32])>,
    ) -> Self {
        Self {
            config: format!("{:x}", Sha256::digest(config_text.as_bytes())),
            features: train.num_features,
            data: f32_digest([train.features.as_slice(), train.labels.as_slice()]),
            teacher: teacher.map(|(name, _)| name.to_string()),
            teacher_scores: teacher.map(|(_, scores)| f32_digest([scores])),
        }
    }

    pub fn save(&self, dir: &Path) -> crate::Result<()> {
        Ok(write_atomic(
            &dir.join(INPUTS_FILE),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )?)
    }

    /// Records the inputs of a resumed run that has none on record.
    pub fn save_if_missing(&self, dir: &Path) -> crate::Result<()> {
        match dir.join(INPUTS_FILE).is_file() {
            true => Ok(()),
            false => self.save(dir),
        }
    }

    /// Refuses to continue the run in `dir` under inputs other than those it started with.
    /// A run written before runs recorded their inputs is not checked.
    pub fn check_resume(&self, dir: &Path) -> crate::Result<()> {
        let path = dir.join(INPUTS_FILE);
        if !path.is_file() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let started: RunInputs = serde_json::from_str(&text)
            .with_context(|| format!("{}: malformed run inputs", path.display()))?;
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        let differs = [
            ("teacher", show(&started.teacher), show(&self.teacher)),
            (
                "teacher scores (sha256)",
                show(&started.teacher_scores),
                show(&self.teacher_scores),
            ),
            (
                "feature count",
                started.features.to_string(),
                self.features.to_string(),
            ),
            ("training data (sha256)", started.data, self.data.clone()),
            ("config (sha256)", started.config, self.config.clone()),
        ]
        .into_iter()
        .find(|(_, a, b)| a != b);
        if let Some((what, before, now)) = differs {
            bail!(
                "{}: the run started with {what} {before}, and this --resume gives {now}; resume with the inputs it started with, or start a new run with another --out",
                dir.display()
            );
        }
        Ok(())
    }
}
