//! The TOML configs of list runs (`train`, `distill`, `compare`, `quickstart`). They nest as
//! Burn's training configs do: a run holds its data, model, training and loss configs.

use std::path::PathBuf;

use crate::loss_config::ObjectiveConfig;
use rankdistil_data::{MAX_FEATURES, NormalizationKind, SyntheticConfig};
use rankdistil_loss::LabelLossKind;
use rankdistil_models::{Activation, ItemLayout, MlpScorerConfig};
use serde::{Deserialize, Serialize};

use crate::fit::FitSettings;
use crate::optimizer::{OptimizerKind, OptimizerSettings, Schedule};
use crate::settings::{self, Checked, ConfigKind, positive};

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

impl DataConfig {
    pub fn check(&self) -> Result<(), String> {
        match (&self.synthetic, &self.train) {
            (Some(_), Some(_)) => {
                return Err("[data] sets both `synthetic` and `train`; choose one source".into());
            }
            (None, None) => {
                return Err(
                    "[data] needs `train = \"<LETOR file>\"` or a `[data.synthetic]` table".into(),
                );
            }
            (Some(synthetic), None) => synthetic
                .validate()
                .map_err(|e| format!("[data.synthetic]: {e}"))?,
            (None, Some(_)) => {}
        }
        if !(0.0..1.0).contains(&self.valid_fraction) || !(0.0..1.0).contains(&self.test_fraction) {
            return Err("[data] valid_fraction and test_fraction must be in [0, 1)".into());
        }
        if let Some(f) = self.num_features
            && !(1..=MAX_FEATURES).contains(&f)
        {
            return Err(format!(
                "[data] num_features = {f}, expected 1 to {MAX_FEATURES}"
            ));
        }
        Ok(())
    }
}

/// The scorer architecture (its input width comes from the data).
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

impl ModelConfig {
    /// `table` names the config table in errors (`model`, `teacher.model`).
    pub fn check(&self, table: &str) -> Result<(), String> {
        if self.hidden.contains(&0) || !(0.0..1.0).contains(&self.dropout) {
            return Err(format!(
                "[{table}] hidden widths must be >= 1 and dropout in [0, 1)"
            ));
        }
        Ok(())
    }

    /// The scorer of this architecture over `d_input` features.
    pub fn scorer(&self, d_input: usize) -> MlpScorerConfig {
        MlpScorerConfig::new(d_input, self.hidden.clone())
            .with_activation(self.activation)
            .with_dropout(self.dropout)
            .with_layer_norm(self.layer_norm)
    }
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
    /// `adam` (the default), `adamw` or `sgd`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub optimizer: OptimizerKind,
    /// Scale each parameter's gradient down to at most this L2 norm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<f64>,
    /// `constant` (the default) or `cosine` over the epochs.
    #[serde(default, skip_serializing_if = "is_default")]
    pub schedule: Schedule,
    /// Steps over which the rate rises linearly to `learning_rate` (0: none).
    #[serde(default, skip_serializing_if = "is_default")]
    pub warmup_steps: u64,
}

/// Keys left at their defaults are not written, so a config that sets none reads as before.
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
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
            optimizer: OptimizerKind::Adam,
            clip_grad_norm: None,
            schedule: Schedule::Constant,
            warmup_steps: 0,
        }
    }
}

impl TrainConfig {
    /// `table` names the config table in errors (`train`, `teacher.train`).
    pub fn check(&self, table: &str) -> Result<(), String> {
        if self.epochs == 0 || self.batch_size == 0 || self.eval_batch_size == 0 {
            return Err(format!(
                "[{table}] epochs, batch_size and eval_batch_size must be at least 1"
            ));
        }
        settings::learning_rate(&format!("[{table}] learning_rate"), self.learning_rate)?;
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(format!(
                "[{table}] weight_decay = {}, expected a finite number >= 0",
                self.weight_decay
            ));
        }
        if self.patience == Some(0) {
            return Err(format!(
                "[{table}] patience = 0, expected at least 1 (or leave it out to never stop early)"
            ));
        }
        if self.max_list_len == Some(0) {
            return Err(format!("[{table}] max_list_len = 0, expected at least 1"));
        }
        if let Some(norm) = self.clip_grad_norm {
            positive(&format!("[{table}] clip_grad_norm"), norm)?;
        }
        Ok(())
    }

    /// How [`fit`](crate::fit::fit) trains with these settings: the one place a list run's
    /// [`FitSettings`] are made.
    pub fn fit_settings(&self) -> FitSettings {
        FitSettings {
            epochs: self.epochs,
            optimizer: OptimizerSettings {
                kind: self.optimizer,
                learning_rate: self.learning_rate,
                weight_decay: self.weight_decay,
                clip_grad_norm: self.clip_grad_norm,
                schedule: self.schedule,
                warmup_steps: self.warmup_steps,
            },
            seed: self.seed,
            patience: self.patience,
            checkpoint_every: std::time::Duration::ZERO,
        }
    }
}

/// A model and how it trains: what the teacher and the student of a quickstart each are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListStage {
    pub model: ModelConfig,
    pub train: TrainConfig,
}

impl ListStage {
    fn check(&self, name: &str) -> Result<(), String> {
        self.model.check(&format!("{name}.model"))?;
        self.train.check(&format!("{name}.train"))
    }
}

/// `rankdistil train`: a scorer trained from labels.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

impl Checked for TeacherRunConfig {
    const KIND: ConfigKind = ConfigKind::Teacher;

    fn check(&self) -> Result<(), String> {
        self.data.check()?;
        self.model.check("model")?;
        self.train.check("train")
    }
}

/// `rankdistil distill`: a student trained from a teacher's scores.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

impl Checked for DistillRunConfig {
    const KIND: ConfigKind = ConfigKind::Student;

    fn check(&self) -> Result<(), String> {
        self.data.as_ref().map_or(Ok(()), DataConfig::check)?;
        self.model.check("model")?;
        self.train.check("train")?;
        self.loss.check().map_err(|e| format!("[loss] {e}"))
    }
}

/// `rankdistil compare`: one student per `[[loss]]` table, several seeds each.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    #[serde(default)]
    pub data: Option<DataConfig>,
    pub model: ModelConfig,
    #[serde(default)]
    pub train: TrainConfig,
    /// One objective per compared method, each a whole `[loss]` table.
    pub loss: Vec<ObjectiveConfig>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
}

fn default_seeds() -> Vec<u64> {
    vec![1, 2, 3]
}

/// Each `[[loss]]` table, and no method twice: two would fill one table row.
fn check_methods(losses: &[ObjectiveConfig], table: &str) -> Result<(), String> {
    if losses.is_empty() {
        return Err(format!("[[{table}]]: no loss to compare"));
    }
    for (i, a) in losses.iter().enumerate() {
        a.check()
            .map_err(|e| format!("[[{table}]] {}: {e}", a.name()))?;
        if losses[..i].iter().any(|b| b.name() == a.name()) {
            return Err(format!(
                "[[{table}]]: method {} appears twice; compare one configuration per method",
                a.name()
            ));
        }
    }
    Ok(())
}

impl Checked for CompareConfig {
    const KIND: ConfigKind = ConfigKind::Compare;

    fn check(&self) -> Result<(), String> {
        self.data.as_ref().map_or(Ok(()), DataConfig::check)?;
        self.model.check("model")?;
        self.train.check("train")?;
        check_methods(&self.loss, "loss")?;
        if self.seeds.is_empty() {
            return Err("`seeds` is empty".into());
        }
        Ok(())
    }

    fn old_form(table: &toml::Table) -> Option<String> {
        (table.contains_key("methods") || table.contains_key("overrides")).then(|| {
            "`methods`, a shared [loss] table and [overrides.*] are gone: give each compared method its own [[loss]] table with its settings (see configs/compare.toml)".into()
        })
    }
}

/// The quickstart's small comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickCompare {
    pub loss: Vec<ObjectiveConfig>,
    pub seeds: Vec<u64>,
}

/// `rankdistil quickstart`: a teacher, two students and a small comparison on one data set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickstartConfig {
    pub data: DataConfig,
    pub teacher: ListStage,
    pub student: ListStage,
    pub distill: ObjectiveConfig,
    pub compare: QuickCompare,
}

impl Checked for QuickstartConfig {
    const KIND: ConfigKind = ConfigKind::Quickstart;

    fn check(&self) -> Result<(), String> {
        self.data.check()?;
        self.teacher.check("teacher")?;
        self.student.check("student")?;
        self.distill.check().map_err(|e| format!("[distill] {e}"))?;
        check_methods(&self.compare.loss, "compare.loss")?;
        if self.compare.seeds.is_empty() {
            return Err("[compare] seeds is empty".into());
        }
        Ok(())
    }

    fn old_form(table: &toml::Table) -> Option<String> {
        let compare = table.get("compare")?.as_table()?;
        compare.contains_key("methods").then(|| {
            "[compare] methods is gone: give each compared method its own [[compare.loss]] table (see configs/quickstart.toml)".into()
        })
    }
}

/// The built-in quickstart configuration (`configs/quickstart.toml`).
pub const QUICKSTART_TOML: &str = include_str!("../../../../configs/quickstart.toml");

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::settings::load;

    /// Every shipped teacher, distillation, comparison and quickstart config loads as its kind.
    #[test]
    fn every_shipped_run_config_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("configs/") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let loaded = if name.starts_with("teacher") {
                load::<TeacherRunConfig>(&path).map(drop)
            } else if name.starts_with("distill-") {
                load::<DistillRunConfig>(&path).map(drop)
            } else if name.starts_with("compare") {
                load::<CompareConfig>(&path).map(drop)
            } else if name == "quickstart.toml" {
                load::<QuickstartConfig>(&path).map(drop)
            } else {
                continue; // catalog-* have their own test
            };
            loaded.unwrap_or_else(|e| panic!("{e:#}"));
            seen += 1;
        }
        assert!(seen >= 13, "only {seen} run configs in {}", dir.display());
    }

    /// Each range rule of a `train` and a `distill` config, as `settings::parse` words its
    /// refusal. (The CLI's tests keep one of each through the process.)
    #[test]
    fn run_range_checks_name_the_key_and_what_was_expected() {
        let data = "[data.synthetic]\nqueries = 40\nmin_items = 5\nmax_items = 20\nfeatures = 4\n\
            hidden = 4\nnoise = 0.1\nseed = 1\n";
        let train = |rest: &str| {
            let text = format!("{data}[model]\nhidden = [4]\n{rest}");
            crate::settings::parse::<TeacherRunConfig>(&text).unwrap_err()
        };
        let counts = "[train] epochs, batch_size and eval_batch_size must be at least 1";
        for (rest, expected) in [
            ("[train]\nbatch_size = 0\n", counts),
            ("[train]\nepochs = 0\n", counts),
            (
                "[train]\nlearning_rate = nan\n",
                "[train] learning_rate = NaN, expected a finite number > 0",
            ),
        ] {
            assert_eq!(train(rest), expected);
        }
        let hidden = format!("{data}[model]\nhidden = [0]\n");
        let err = crate::settings::parse::<TeacherRunConfig>(&hidden).unwrap_err();
        assert_eq!(
            err,
            "[model] hidden widths must be >= 1 and dropout in [0, 1)"
        );
        let distill = |loss: &str| {
            let text = format!("[model]\nhidden = [4]\n[loss]\n{loss}\n");
            crate::settings::parse::<DistillRunConfig>(&text).unwrap_err()
        };
        for (loss, expected) in [
            (
                "method = \"coupled\"\ntemperature = 0",
                "[loss] temperature = 0, expected a finite number > 0",
            ),
            (
                "method = \"softmax_kd\"\nteacher_temperature = -1",
                "[loss] teacher_temperature = -1, expected a finite number > 0",
            ),
            (
                "method = \"listmle_kd\"\ntemperature = nan",
                "[loss] temperature = NaN, expected a finite number > 0",
            ),
            (
                "method = \"softmax_kd\"\ntemperature = inf",
                "[loss] temperature = inf, expected a finite number > 0",
            ),
            (
                "method = \"mse\"\nalpha = 2",
                "[loss] alpha = 2, expected 0 <= alpha <= 1",
            ),
        ] {
            assert_eq!(distill(loss), expected);
        }
        let dropout = "[model]\nhidden = [4]\ndropout = 1.0\n[loss]\nmethod = \"coupled\"\n";
        let err = crate::settings::parse::<DistillRunConfig>(dropout).unwrap_err();
        assert_eq!(
            err,
            "[model] hidden widths must be >= 1 and dropout in [0, 1)"
        );
    }

    #[test]
    fn a_loss_setting_out_of_range_names_its_table_and_key() {
        let distill = "[model]\nhidden = [4]\n[loss]\nmethod = \"coupled\"\nk = 0\n";
        let err = crate::settings::parse::<DistillRunConfig>(distill).unwrap_err();
        assert_eq!(err, "[loss] k = 0, expected k >= 1");
        let compare = "[model]\nhidden = [4]\n[[loss]]\nmethod = \"rd\"\nlambda = -1\n";
        let err = crate::settings::parse::<CompareConfig>(compare).unwrap_err();
        assert_eq!(
            err,
            "[[loss]] rd: lambda = -1, expected a finite number > 0"
        );
    }

    #[test]
    fn the_old_comparison_form_is_refused_with_what_to_write() {
        let old = "methods = [\"coupled\"]\n[model]\nhidden = [4]\n[loss]\nmethod = \"coupled\"\n";
        let err = crate::settings::parse::<CompareConfig>(old).unwrap_err();
        assert!(
            err.starts_with("`methods`, a shared [loss] table and [overrides.*] are gone"),
            "{err}"
        );
    }
}
