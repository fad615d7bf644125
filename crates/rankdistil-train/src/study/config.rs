//! A study's TOML: the teacher, the students' architecture and training, the tuning budget
//! every method shares, each method's own knobs, the final seeds and the size sweep.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::loss_config::ObjectiveConfig;
use serde::{Deserialize, Serialize};

use crate::list::config::{ModelConfig, TrainConfig};
use crate::settings::{self, Checked, ConfigKind};
use crate::study::search::knob_number;

/// Knobs a trial may set outside the loss table, for every method.
pub const TRAINING_KNOBS: [&str; 2] = ["learning_rate", "dropout"];

/// `rankdistil study` over list data (LETOR or synthetic).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListStudyConfig {
    /// The teacher's `train` config; the study trains it into `<out>/teacher`, or reuses the
    /// run there. Its data is the students' data.
    pub teacher: PathBuf,
    /// Every student's architecture (the sweep changes its hidden widths).
    pub model: ModelConfig,
    /// Every student's training settings, before a trial's knobs.
    pub train: TrainConfig,
    pub tuning: Tuning,
    /// The seeds the chosen settings run on, for the tables and the tests.
    pub seeds: Vec<u64>,
    /// The method whose gains the study measures, against label-only and the best baseline.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// One table per compared method.
    pub method: Vec<MethodSearch>,
    #[serde(default)]
    pub sweep: Option<Sweep>,
    /// Resamples of the paired bootstrap.
    #[serde(default = "default_resamples")]
    pub bootstrap: usize,
}

fn default_subject() -> String {
    "coupled".into()
}

fn default_resamples() -> usize {
    10_000
}

/// The tuning budget, the same for every method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tuning {
    /// Trials per method: settings drawn without repeats from the method's grid.
    pub trials: usize,
    /// Seeds the draw and every tuning run.
    pub seed: u64,
}

/// A compared method: its `[loss]` table (fixed keys) and the grid its trials draw from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSearch {
    /// A `[loss]` table as `distill` reads it: `method` and any keys the search leaves fixed.
    pub loss: toml::Table,
    /// Each knob's candidate values: the loss's own keys, `alpha`, and [`TRAINING_KNOBS`].
    pub search: BTreeMap<String, Vec<toml::Value>>,
}

impl MethodSearch {
    /// The method's name (`loss.method`).
    pub fn name(&self) -> &str {
        self.loss
            .get("method")
            .and_then(toml::Value::as_str)
            .unwrap_or("?")
    }

    /// The loss with a trial's loss knobs set.
    pub fn objective(
        &self,
        knobs: &BTreeMap<String, toml::Value>,
    ) -> Result<ObjectiveConfig, String> {
        let mut table = self.loss.clone();
        for (key, value) in knobs {
            if !TRAINING_KNOBS.contains(&key.as_str()) {
                table.insert(key.clone(), value.clone());
            }
        }
        let objective: ObjectiveConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_string())?;
        objective.check()?;
        Ok(objective)
    }
}

/// The student-size sweep: the chosen settings of the subject, label-only and the best
/// baseline at each size.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Hidden widths of each student size.
    pub hidden: Vec<Vec<usize>>,
    /// Seeds per size; the study's `seeds` when absent.
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
}

impl Checked for ListStudyConfig {
    const KIND: ConfigKind = ConfigKind::Study;

    fn check(&self) -> Result<(), String> {
        self.model.check("model")?;
        self.train.check("train")?;
        check_protocol(&self.tuning, &self.seeds, self.bootstrap)?;
        let names: Vec<&str> = self.method.iter().map(MethodSearch::name).collect();
        check_compared(&names, &self.subject)?;
        for (i, method) in self.method.iter().enumerate() {
            check_method(method, i)?;
        }
        if let Some(sweep) = &self.sweep {
            let empty = sweep.hidden.is_empty() || sweep.seeds.as_ref().is_some_and(Vec::is_empty);
            if empty || sweep.hidden.iter().any(|h| h.contains(&0)) {
                return Err(
                    "[sweep] hidden needs sizes of widths >= 1, and seeds (if given) an entry"
                        .into(),
                );
            }
        }
        Ok(())
    }
}

/// The rules every study's tuning budget, seeds and bootstrap share.
pub fn check_protocol(tuning: &Tuning, seeds: &[u64], bootstrap: usize) -> Result<(), String> {
    if tuning.trials == 0 {
        return Err("[tuning] trials = 0, expected at least 1 trial per method".into());
    }
    if seeds.is_empty() {
        return Err("seeds = [], expected at least one seed".into());
    }
    if bootstrap < 100 {
        return Err(format!(
            "bootstrap = {bootstrap}, expected at least 100 resamples"
        ));
    }
    Ok(())
}

/// The rules every study's `[[method]]` tables share: each method once, and both the subject
/// and label-only among them.
pub fn check_compared(names: &[&str], subject: &str) -> Result<(), String> {
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(format!("[[method]] {name}: appears twice"));
        }
    }
    for required in ["label_only", subject] {
        if !names.contains(&required) {
            return Err(format!(
                "[[method]]: the study compares {subject} with label_only; both need a [[method]] table"
            ));
        }
    }
    Ok(())
}

/// Every value of every knob must make a loss (or training setting) the method accepts.
fn check_method(method: &MethodSearch, index: usize) -> Result<(), String> {
    let name = method.name().to_string();
    let at = |e: String| format!("[[method]] {} ({name}): {e}", index + 1);
    method.objective(&BTreeMap::new()).map_err(at)?;
    if method.search.is_empty() || method.search.values().any(Vec::is_empty) {
        return Err(at(
            "search needs at least one knob, each with a value".into()
        ));
    }
    for (key, values) in &method.search {
        for value in values {
            let knob = BTreeMap::from([(key.clone(), value.clone())]);
            let knob_key = format!("search.{key}");
            let checked = match (key.as_str(), knob_number(value)) {
                ("learning_rate", Some(v)) => settings::learning_rate(&knob_key, v),
                ("dropout", Some(v)) => settings::share(&knob_key, v),
                ("learning_rate" | "dropout", None) => {
                    Err(format!("{knob_key} = {value}, expected a number"))
                }
                _ => method
                    .objective(&knob)
                    .map(drop)
                    .map_err(|why| format!("{knob_key} = {value}: {why}")),
            };
            checked.map_err(at)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::list::config::TeacherRunConfig;
    use crate::settings::load;
    use crate::study::catalog_config::CatalogStudyConfig;

    fn search(loss: &str, knobs: &str) -> MethodSearch {
        toml::from_str(&format!("loss = {{ {loss} }}\nsearch = {{ {knobs} }}\n")).unwrap()
    }

    #[test]
    fn training_knobs_take_integers_as_catalog_knobs_do() {
        let m = search(
            "method = \"label_only\"",
            "dropout = [0, 0.5], learning_rate = [1]",
        );
        assert_eq!(check_method(&m, 0), Ok(()));
        let m = search("method = \"label_only\"", "dropout = [1]");
        assert_eq!(
            check_method(&m, 0).unwrap_err(),
            "[[method]] 1 (label_only): search.dropout = 1, expected 0 <= search.dropout < 1"
        );
    }

    #[test]
    fn an_unknown_knob_is_refused_with_its_key() {
        let m = search("method = \"coupled\"", "k = [5, 10], kk = [3]");
        let err = check_method(&m, 1).unwrap_err();
        assert!(
            err.starts_with("[[method]] 2 (coupled): search.kk = 3: "),
            "{err}"
        );
        assert!(err.contains("unknown field `kk`"), "{err}");
    }

    #[test]
    fn both_kinds_of_study_share_the_protocol_rules() {
        let tuning = Tuning { trials: 2, seed: 1 };
        assert_eq!(check_protocol(&tuning, &[1], 100), Ok(()));
        assert_eq!(
            check_protocol(&Tuning { trials: 0, seed: 1 }, &[1], 100).unwrap_err(),
            "[tuning] trials = 0, expected at least 1 trial per method"
        );
        assert_eq!(
            check_protocol(&tuning, &[], 100).unwrap_err(),
            "seeds = [], expected at least one seed"
        );
        assert_eq!(
            check_protocol(&tuning, &[1], 99).unwrap_err(),
            "bootstrap = 99, expected at least 100 resamples"
        );
        assert_eq!(
            check_compared(&["label_only", "coupled", "label_only"], "coupled").unwrap_err(),
            "[[method]] label_only: appears twice"
        );
        assert_eq!(
            check_compared(&["label_only"], "sampled").unwrap_err(),
            "[[method]]: the study compares sampled with label_only; both need a [[method]] table"
        );
    }

    /// Every shipped study config loads, and so does the teacher config it names.
    #[test]
    fn every_shipped_study_config_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/study");
        let mut studies = 0;
        for entry in std::fs::read_dir(&dir).expect("configs/study/") {
            let path = entry.expect("a directory entry").path();
            if path.to_string_lossy().ends_with("-teacher.toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a readable config");
            if toml::from_str::<toml::Table>(&text).is_ok_and(|t| t.contains_key("data")) {
                load::<CatalogStudyConfig>(&path).unwrap_or_else(|e| panic!("{e:#}"));
                studies += 1;
                continue;
            }
            let study: ListStudyConfig = load(&path).unwrap_or_else(|e| panic!("{e:#}"));
            let teacher = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(&study.teacher);
            load::<TeacherRunConfig>(&teacher).unwrap_or_else(|e| panic!("{e:#}"));
            studies += 1;
        }
        assert!(studies >= 4, "mslr, synthetic, ml100k and ml1m at least");
    }
}
