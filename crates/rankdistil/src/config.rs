//! TOML run configurations. Unknown keys are errors that list the valid ones.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rankdistil_data::{NormalizationKind, SyntheticConfig};
use rankdistil_loss::{DistillMethod, LabelLossKind, ObjectiveConfig};
use rankdistil_models::{Activation, ItemLayout};
use serde::{Deserialize, Serialize};

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A LETOR training file.
    #[serde(default)]
    pub train: Option<PathBuf>,
    /// A LETOR validation file; without one, `valid_fraction` of the training queries is held out.
    #[serde(default)]
    pub valid: Option<PathBuf>,
    /// A LETOR test file; without one (and with `synthetic`), `test_fraction` is held out.
    #[serde(default)]
    pub test: Option<PathBuf>,
    /// Generate the data instead of reading it.
    #[serde(default)]
    pub synthetic: Option<SyntheticConfig>,
    #[serde(default = "default_valid_fraction")]
    pub valid_fraction: f64,
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Expected feature count; indices above it are errors. Inferred when absent.
    #[serde(default)]
    pub num_features: Option<usize>,
    #[serde(default)]
    pub normalization: NormalizationKind,
}

fn default_valid_fraction() -> f64 {
    0.15
}
fn default_test_fraction() -> f64 {
    0.2
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            train: None,
            valid: None,
            test: None,
            synthetic: Some(SyntheticConfig::default()),
            valid_fraction: default_valid_fraction(),
            test_fraction: default_test_fraction(),
            num_features: None,
            normalization: NormalizationKind::Zscore,
        }
    }
}

/// The scorer architecture (input width comes from the data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub hidden: Vec<usize>,
    #[serde(default)]
    pub activation: Activation,
    #[serde(default)]
    pub dropout: f64,
    #[serde(default)]
    pub layer_norm: bool,
}

/// Optimisation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Lists per batch.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Training caps each list at this many items by seeded random subsampling.
    #[serde(default)]
    pub max_list_len: Option<usize>,
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default)]
    pub seed: u64,
    /// Lists per evaluation batch.
    #[serde(default = "default_eval_batch_size")]
    pub eval_batch_size: usize,
    /// Stop after this many epochs without a better validation NDCG@10.
    #[serde(default)]
    pub patience: Option<usize>,
    /// How the MLP runs a batch: `lists` (`[B, N, F]`, fastest on the CPU backends) or `rows`
    /// (flattened to `[B·N, F]`, PyTorch's layout). Same results; `bench --layout` compares.
    #[serde(default, skip_serializing_if = "is_lists")]
    pub item_layout: ItemLayout,
}

fn is_lists(layout: &ItemLayout) -> bool {
    *layout == ItemLayout::Lists
}

fn default_epochs() -> usize {
    10
}
fn default_batch_size() -> usize {
    16
}
fn default_lr() -> f64 {
    1e-3
}
fn default_eval_batch_size() -> usize {
    32
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: default_epochs(),
            batch_size: default_batch_size(),
            max_list_len: None,
            learning_rate: default_lr(),
            weight_decay: 0.0,
            seed: 0,
            eval_batch_size: default_eval_batch_size(),
            patience: None,
            item_layout: ItemLayout::Lists,
        }
    }
}

/// `rankdistil train`: a scorer trained from labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherRunConfig {
    #[serde(default)]
    pub data: DataConfig,
    pub model: ModelConfig,
    #[serde(default)]
    pub train: TrainConfig,
    /// The label loss.
    #[serde(default)]
    pub loss: LabelLossKind,
}

/// `rankdistil distill`: a student trained from a teacher's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillRunConfig {
    /// The data; defaults to the teacher's.
    #[serde(default)]
    pub data: Option<DataConfig>,
    pub model: ModelConfig,
    #[serde(default)]
    pub train: TrainConfig,
    pub loss: ObjectiveConfig,
}

/// `rankdistil compare`: one student per method, several seeds each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    #[serde(default)]
    pub data: Option<DataConfig>,
    pub model: ModelConfig,
    #[serde(default)]
    pub train: TrainConfig,
    /// Settings shared by every method; `method` is replaced per method.
    pub loss: ObjectiveConfig,
    #[serde(default = "all_methods")]
    pub methods: Vec<DistillMethod>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Per-method overrides of the shared `[loss]` table, e.g. `[overrides.mse] temperature = 2.0`.
    #[serde(default)]
    pub overrides: std::collections::BTreeMap<String, toml::Table>,
}

fn all_methods() -> Vec<DistillMethod> {
    DistillMethod::ALL.to_vec()
}
fn default_seeds() -> Vec<u64> {
    vec![1, 2, 3]
}

/// Reads a TOML config, naming the file, line and valid keys on error.
pub fn load<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the config", path.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, toml::de::Error> {
    toml::from_str(text)
}

impl CompareConfig {
    /// The objective of one method: the shared `[loss]` table with that method's overrides.
    pub fn objective(&self, method: DistillMethod) -> anyhow::Result<ObjectiveConfig> {
        let mut table = toml::Table::try_from(&self.loss)?;
        if let Some(over) = self.overrides.get(method.name()) {
            for (k, v) in over {
                table.insert(k.clone(), v.clone());
            }
        }
        table.insert("method".into(), toml::Value::String(method.name().into()));
        let cfg: ObjectiveConfig = table
            .try_into()
            .map_err(|e| anyhow::anyhow!("[overrides.{}]: {e}", method.name()))?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped teacher, distillation and comparison config parses as its kind.
    #[test]
    fn every_shipped_run_config_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("configs/") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let parsed = if name.starts_with("teacher") {
                load::<TeacherRunConfig>(&path).map(drop)
            } else if name.starts_with("distill-") {
                load::<DistillRunConfig>(&path).map(drop)
            } else if name.starts_with("compare") {
                load::<CompareConfig>(&path).map(drop)
            } else {
                continue; // catalog-* and quickstart.toml have their own tests
            };
            parsed.unwrap_or_else(|e| panic!("{e:#}"));
            seen += 1;
        }
        assert!(
            seen >= 12,
            "only {seen} run configs found in {}",
            dir.display()
        );
    }
}
