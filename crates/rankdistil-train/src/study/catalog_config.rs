//! A catalog study's TOML: the data, the validation split carved from the training positives,
//! the teacher and its patience, the students, each method's knobs, the final seeds and the
//! embedding-size sweep.

use std::collections::BTreeMap;

use crate::loss_config::SampledObjectiveConfig;
use serde::{Deserialize, Serialize};

use crate::catalog::config::{
    CatalogCd, CatalogData, CatalogMarginMse, CatalogMethod, CatalogRrd, CatalogSoftmaxKd,
    CatalogStage,
};
use crate::settings::{Checked, ConfigKind};
use crate::study::config::{Tuning, check_compared, check_protocol};
use crate::study::search::{Knobs, describe, draw, knob_number};

/// Knobs every catalog method may set: the student's training and model settings.
pub const CATALOG_TRAINING_KNOBS: [&str; 4] =
    ["learning_rate", "dropout", "input_dropout", "negatives"];

/// `rankdistil study` over a catalog (MovieLens or the synthetic catalog).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogStudyConfig {
    pub data: CatalogData,
    /// The share of each user's training positives held out to validate on: the teacher's
    /// early stopping and every tuning trial. The test positives are never seen before the
    /// final runs.
    #[serde(default = "default_validation")]
    pub validation: f64,
    /// The teacher's architecture and training; `epochs` is its ceiling.
    pub teacher: CatalogStage,
    /// The teacher stops after this many epochs without a better validation NDCG@10.
    pub patience: usize,
    /// Every student's architecture and training, before a trial's knobs.
    pub student: CatalogStage,
    /// Sampled RankDistil's fixed keys (a `[distill]` table of `rankdistil catalog`).
    #[serde(default)]
    pub distill: toml::Table,
    /// Softmax KD's fixed keys.
    #[serde(default)]
    pub softmax_kd: CatalogSoftmaxKd,
    /// RRD's fixed keys.
    #[serde(default)]
    pub rrd: CatalogRrd,
    /// CD's fixed keys.
    #[serde(default)]
    pub cd: CatalogCd,
    /// Margin-MSE's fixed keys.
    #[serde(default)]
    pub margin_mse: CatalogMarginMse,
    pub tuning: Tuning,
    pub seeds: Vec<u64>,
    /// The method whose gains the study measures.
    #[serde(default = "default_subject")]
    pub subject: CatalogMethod,
    pub method: Vec<CatalogMethodSearch>,
    #[serde(default)]
    pub sweep: Option<CatalogSweep>,
    #[serde(default = "default_resamples")]
    pub bootstrap: usize,
}

fn default_validation() -> f64 {
    0.2
}

fn default_subject() -> CatalogMethod {
    CatalogMethod::Sampled
}

fn default_resamples() -> usize {
    10_000
}

/// A compared catalog method and the grid its trials draw from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogMethodSearch {
    pub method: CatalogMethod,
    /// Each knob's candidate values: [`CATALOG_TRAINING_KNOBS`], and `[distill]` keys for
    /// `sampled`, `[softmax_kd]` keys for `softmax_kd` or `[rrd]` keys for `rrd`.
    pub search: BTreeMap<String, Vec<toml::Value>>,
}

/// The embedding-size sweep: the chosen settings of the subject, label-only and the best
/// baseline at each student size.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSweep {
    /// Student embedding dims; a student with hidden layers gets them at the same width.
    pub dim: Vec<usize>,
    /// Seeds per size; the study's `seeds` when absent.
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
}

/// What one student trains with.
#[derive(Debug, Clone)]
pub struct CatalogTrial {
    pub stage: CatalogStage,
    pub distill: SampledObjectiveConfig,
    pub softmax_kd: CatalogSoftmaxKd,
    pub rrd: CatalogRrd,
    pub cd: CatalogCd,
    pub margin_mse: CatalogMarginMse,
}

impl CatalogStudyConfig {
    /// The student of `method` with a trial's `knobs`, at embedding `dim` when sweeping.
    pub fn trial(
        &self,
        method: CatalogMethod,
        knobs: &Knobs,
        dim: Option<usize>,
    ) -> Result<CatalogTrial, String> {
        let mut stage = self.student.clone();
        let mut distill = self.distill.clone();
        let mut kd = toml::Table::try_from(&self.softmax_kd).map_err(|e| e.to_string())?;
        let mut rrd = toml::Table::try_from(&self.rrd).map_err(|e| e.to_string())?;
        let mut cd = toml::Table::try_from(&self.cd).map_err(|e| e.to_string())?;
        let mut margin = toml::Table::try_from(&self.margin_mse).map_err(|e| e.to_string())?;
        for (key, value) in knobs {
            let number =
                || knob_number(value).ok_or_else(|| format!("{key} = {value}: expected a number"));
            match (key.as_str(), method) {
                ("learning_rate", _) => stage.train.learning_rate = number()?,
                ("dropout", _) => stage.model.dropout = number()?,
                ("input_dropout", _) => stage.train.input_dropout = number()?,
                ("negatives", _) => {
                    stage.train.negatives = value
                        .as_integer()
                        .and_then(|v| usize::try_from(v).ok())
                        .ok_or_else(|| format!("negatives = {value}: expected a count"))?;
                }
                (_, CatalogMethod::Sampled) => drop(distill.insert(key.clone(), value.clone())),
                (_, CatalogMethod::SoftmaxKd) => drop(kd.insert(key.clone(), value.clone())),
                (_, CatalogMethod::Rrd) => drop(rrd.insert(key.clone(), value.clone())),
                (_, CatalogMethod::Cd) => drop(cd.insert(key.clone(), value.clone())),
                (_, CatalogMethod::MarginMse) => drop(margin.insert(key.clone(), value.clone())),
                (_, CatalogMethod::LabelOnly) => {
                    return Err(format!(
                        "{key}: label_only has only the knobs {}",
                        CATALOG_TRAINING_KNOBS.join(", ")
                    ));
                }
            }
        }
        if let Some(dim) = dim {
            stage.model.dim = dim;
            stage.model.hidden.iter_mut().for_each(|w| *w = dim);
        }
        stage.check("student")?;
        let distill = SampledObjectiveConfig::try_from(distill)?;
        distill.check()?;
        if method == CatalogMethod::Sampled && distill.alpha > 0.0 && stage.train.negatives == 0 {
            return Err(format!(
                "alpha = {} mixes in the sampled label softmax: it needs negatives > 0",
                distill.alpha
            ));
        }
        let softmax_kd: CatalogSoftmaxKd = from_table(kd)?;
        softmax_kd.check()?;
        let rrd: CatalogRrd = from_table(rrd)?;
        let cd: CatalogCd = from_table(cd)?;
        // The study's cache is as deep as its trials read (`largest_p`).
        rrd.check(usize::MAX, stage.train.negatives)?;
        cd.check(usize::MAX, stage.train.negatives)?;
        let margin_mse: CatalogMarginMse = from_table(margin)?;
        margin_mse.check(stage.train.negatives)?;
        Ok(CatalogTrial {
            stage,
            distill,
            softmax_kd,
            rrd,
            cd,
            margin_mse,
        })
    }

    /// The trials `method` runs, drawn from its grid.
    pub fn trials(&self, search: &CatalogMethodSearch) -> Vec<Knobs> {
        draw(&search.search, self.tuning.trials, self.tuning.seed)
    }

    /// The largest `p` any sampled trial uses: the teacher's cache serves them all.
    pub fn largest_p(&self) -> usize {
        let mut p = 0;
        for search in self.method.iter().filter(|m| m.method.reads_cache()) {
            for knobs in self.trials(search) {
                if let Ok(trial) = self.trial(search.method, &knobs, None) {
                    p = p.max(match search.method {
                        CatalogMethod::Rrd => trial.rrd.top_n,
                        CatalogMethod::Cd => trial.cd.top_n,
                        _ => trial.distill.sampled.p,
                    });
                }
            }
        }
        p
    }
}

/// A method's table, its trial's knobs set, read back into its settings.
fn from_table<T: serde::de::DeserializeOwned>(table: toml::Table) -> Result<T, String> {
    (toml::Value::Table(table).try_into()).map_err(|e: toml::de::Error| e.message().to_string())
}

impl Checked for CatalogStudyConfig {
    const KIND: ConfigKind = ConfigKind::Study;

    fn check(&self) -> Result<(), String> {
        self.data.check()?;
        self.teacher.check("teacher")?;
        self.student.check("student")?;
        if !(self.validation > 0.0 && self.validation < 1.0) {
            return Err(format!(
                "validation = {}, expected 0 < validation < 1",
                self.validation
            ));
        }
        if self.patience == 0 {
            return Err("patience = 0, expected at least 1 epoch".into());
        }
        check_protocol(&self.tuning, &self.seeds, self.bootstrap)?;
        let names: Vec<&str> = self.method.iter().map(|m| m.method.name()).collect();
        check_compared(&names, self.subject.name())?;
        for (i, search) in self.method.iter().enumerate() {
            let name = search.method.name();
            if search.search.is_empty() || search.search.values().any(Vec::is_empty) {
                return Err(format!(
                    "[[method]] {} ({name}): search needs at least one knob, each with a value",
                    i + 1
                ));
            }
            // Exactly the trials the study will run must make students the method accepts.
            for knobs in self.trials(search) {
                self.trial(search.method, &knobs, None).map_err(|e| {
                    format!("[[method]] {} ({name}): {}: {e}", i + 1, describe(&knobs))
                })?;
            }
        }
        if let Some(sweep) = &self.sweep {
            let no_seeds = sweep.seeds.as_ref().is_some_and(Vec::is_empty);
            if sweep.dim.is_empty() || sweep.dim.contains(&0) || no_seeds {
                return Err("[sweep] dim needs dims >= 1, and seeds (if given) an entry".into());
            }
        }
        Ok(())
    }
}
