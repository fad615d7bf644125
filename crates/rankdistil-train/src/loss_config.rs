//! Loss settings as config tables name them: the `[loss]` table of list runs and the
//! `[distill]` table of catalog runs, read into the loss crate's configs.
//!
//! A `[loss]` table picks its distillation loss with `method`; its other keys are that loss's
//! own config fields, defaulted as the loss's `#[derive(Config)]` defaults them, plus the label
//! mix (`alpha`, `label_loss`) and the `seed` of the objective's random streams. A key the
//! method does not have is an error that lists the ones it does.
//!
//! ```toml
//! [loss]
//! method = "coupled"
//! k = 10
//! samples = 8
//! alpha = 0.2   # (1 - alpha) * coupled + alpha * softmax_ce
//! ```

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use rankdistil_loss::{
    AdrMseConfig, CoupledRankDistilConfig, DecoupledRankDistilConfig, DistillTerm, LabelLoss,
    LabelLossKind, ListMleKdConfig, MarginMseConfig, MseKd, Objective, PairwiseRankDistilConfig,
    RankNetKd, RankingDistillationConfig, RelaxedRankingDistillationConfig,
    SampledRankDistilConfig, SoftmaxKdConfig,
};

/// A distillation loss and its settings, tagged by `method`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum DistillConfig {
    /// Coupled RankDistil (docs/LOSSES.md, "Coupled RankDistil").
    #[serde(deserialize_with = "with_defaults")]
    Coupled(CoupledRankDistilConfig),
    /// Decoupled RankDistil (docs/LOSSES.md, "Decoupled and pairwise RankDistil", a reconstruction).
    #[serde(deserialize_with = "with_defaults")]
    Decoupled(DecoupledRankDistilConfig),
    /// Pairwise RankDistil (docs/LOSSES.md, "Decoupled and pairwise RankDistil", a reconstruction).
    #[serde(deserialize_with = "with_defaults")]
    Pairwise(PairwiseRankDistilConfig),
    #[serde(deserialize_with = "with_defaults")]
    SoftmaxKd(SoftmaxKdConfig),
    Mse {},
    RanknetKd {},
    #[serde(deserialize_with = "with_defaults")]
    ListmleKd(ListMleKdConfig),
    /// Ranking Distillation (Tang & Wang 2018).
    #[serde(deserialize_with = "with_defaults")]
    Rd(RankingDistillationConfig),
    /// Relaxed Ranking Distillation (DE-RRD, Kang et al. 2020).
    #[serde(deserialize_with = "with_defaults")]
    Rrd(RelaxedRankingDistillationConfig),
    /// Margin-MSE (Hofstätter et al. 2020).
    #[serde(deserialize_with = "with_defaults")]
    MarginMse(MarginMseConfig),
    /// ADR-MSE (Schlatt et al. 2024): reads only the teacher's order.
    #[serde(deserialize_with = "with_defaults")]
    AdrMse(AdrMseConfig),
    /// No teacher: the label loss alone, the baseline distillation must beat.
    LabelOnly {},
}

impl DistillConfig {
    /// Every method with its default settings.
    pub fn all() -> [DistillConfig; 12] {
        [
            DistillConfig::Coupled(CoupledRankDistilConfig::new()),
            DistillConfig::Decoupled(DecoupledRankDistilConfig::new()),
            DistillConfig::Pairwise(PairwiseRankDistilConfig::new()),
            DistillConfig::SoftmaxKd(SoftmaxKdConfig::new()),
            DistillConfig::Mse {},
            DistillConfig::RanknetKd {},
            DistillConfig::ListmleKd(ListMleKdConfig::new()),
            DistillConfig::Rd(RankingDistillationConfig::new()),
            DistillConfig::Rrd(RelaxedRankingDistillationConfig::new()),
            DistillConfig::MarginMse(MarginMseConfig::new()),
            DistillConfig::AdrMse(AdrMseConfig::new()),
            DistillConfig::LabelOnly {},
        ]
    }

    /// The `method` name.
    pub fn name(&self) -> &'static str {
        match self {
            DistillConfig::Coupled(_) => "coupled",
            DistillConfig::Decoupled(_) => "decoupled",
            DistillConfig::Pairwise(_) => "pairwise",
            DistillConfig::SoftmaxKd(_) => "softmax_kd",
            DistillConfig::Mse {} => "mse",
            DistillConfig::RanknetKd {} => "ranknet_kd",
            DistillConfig::ListmleKd(_) => "listmle_kd",
            DistillConfig::Rd(_) => "rd",
            DistillConfig::Rrd(_) => "rrd",
            DistillConfig::MarginMse(_) => "margin_mse",
            DistillConfig::AdrMse(_) => "adr_mse",
            DistillConfig::LabelOnly {} => "label_only",
        }
    }

    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        match self {
            DistillConfig::Coupled(c) => c.check(),
            DistillConfig::Decoupled(c) => c.check(),
            DistillConfig::Pairwise(c) => c.check(),
            DistillConfig::SoftmaxKd(c) => c.check(),
            DistillConfig::ListmleKd(c) => c.check(),
            DistillConfig::Rd(c) => c.check(),
            DistillConfig::Rrd(c) => c.check(),
            DistillConfig::MarginMse(c) => c.check(),
            DistillConfig::AdrMse(c) => c.check(),
            DistillConfig::Mse {} | DistillConfig::RanknetKd {} | DistillConfig::LabelOnly {} => {
                Ok(())
            }
        }
    }

    /// The loss, its random streams seeded with `seed`; `None` for `label_only`.
    pub fn init(&self, seed: u64) -> Option<Box<dyn DistillTerm>> {
        Some(match self {
            DistillConfig::Coupled(c) => Box::new(c.clone().with_seed(seed).init()),
            DistillConfig::Decoupled(c) => Box::new(c.init()),
            DistillConfig::Pairwise(c) => Box::new(c.init()),
            DistillConfig::SoftmaxKd(c) => Box::new(c.init()),
            DistillConfig::Mse {} => Box::new(MseKd::new()),
            DistillConfig::RanknetKd {} => Box::new(RankNetKd::new()),
            DistillConfig::ListmleKd(c) => Box::new(c.init()),
            DistillConfig::Rd(c) => Box::new(c.init()),
            DistillConfig::Rrd(c) => Box::new(c.clone().with_seed(seed).init()),
            DistillConfig::MarginMse(c) => Box::new(c.clone().with_seed(seed).init()),
            DistillConfig::AdrMse(c) => Box::new(c.init()),
            DistillConfig::LabelOnly {} => return None,
        })
    }
}

/// A `[loss]` table: the student objective `(1 − α)·distill + α·label_loss`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "Table", into = "Table")]
pub struct ObjectiveConfig {
    pub distill: DistillConfig,
    /// α of the mix; `label_only` is the label loss alone whatever α says.
    pub alpha: f64,
    /// The label loss of the mix (and of `label_only`).
    pub label_loss: LabelLossKind,
    /// Seed of the random streams (Gumbel-sampled orders, ListMLE's tie-breaks).
    pub seed: u64,
}

impl ObjectiveConfig {
    /// `distill` alone: α = 0, softmax CE as the label loss, seed 0.
    pub fn new(distill: DistillConfig) -> Self {
        Self {
            distill,
            alpha: 0.0,
            label_loss: LabelLossKind::SoftmaxCe,
            seed: 0,
        }
    }

    /// The label loss alone, as a teacher trains.
    pub fn label_only(label_loss: LabelLossKind) -> Self {
        Self {
            label_loss,
            ..Self::new(DistillConfig::LabelOnly {})
        }
    }

    /// The distillation method's name.
    pub fn name(&self) -> &'static str {
        self.distill.name()
    }

    /// The first setting the objective rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        self.distill.check()?;
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(format!("alpha = {}, expected 0 <= alpha <= 1", self.alpha));
        }
        if i64::try_from(self.seed).is_err() {
            return Err(format!(
                "seed = {}, expected at most {} (a TOML integer)",
                self.seed,
                i64::MAX
            ));
        }
        Ok(())
    }

    /// Builds the objective. Loaded configs are checked; `init` panics on one that fails
    /// [`Self::check`].
    pub fn init(&self) -> Objective {
        if let Err(e) = self.check() {
            panic!("{e}");
        }
        let distill = self.distill.init(self.seed);
        Objective {
            alpha: if distill.is_none() { 1.0 } else { self.alpha },
            distill,
            label: LabelLoss::new(self.label_loss, self.seed),
        }
    }
}

impl TryFrom<Table> for ObjectiveConfig {
    type Error = String;

    fn try_from(mut table: Table) -> Result<Self, String> {
        let alpha = take(&mut table, "alpha")?.unwrap_or(0.0);
        let label_loss = take(&mut table, "label_loss")?.unwrap_or_default();
        let seed = take(&mut table, "seed")?.unwrap_or(0);
        let distill = Value::Table(table).try_into().map_err(message)?;
        Ok(Self {
            distill,
            alpha,
            label_loss,
            seed,
        })
    }
}

impl From<ObjectiveConfig> for Table {
    fn from(config: ObjectiveConfig) -> Table {
        let mut table = to_table(&config.distill);
        table.insert("alpha".into(), config.alpha.into());
        table.insert("label_loss".into(), config.label_loss.name().into());
        // `check` refuses a seed past i64::MAX, so a checked config writes its own seed.
        let seed = i64::try_from(config.seed).unwrap_or(i64::MAX);
        table.insert("seed".into(), Value::Integer(seed));
        table
    }
}

/// The catalog student objective of a `[distill]` table: sampled RankDistil, mixed with the
/// student's sampled label softmax, `(1 − α)·sampled + α·label`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "Table", into = "Table")]
pub struct SampledObjectiveConfig {
    pub sampled: SampledRankDistilConfig,
    pub alpha: f64,
}

impl SampledObjectiveConfig {
    /// The first setting the objective rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        self.sampled.check()?;
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(format!("alpha = {}, expected 0 <= alpha <= 1", self.alpha));
        }
        Ok(())
    }
}

impl TryFrom<Table> for SampledObjectiveConfig {
    type Error = String;

    fn try_from(mut table: Table) -> Result<Self, String> {
        if table.contains_key("seed") {
            return Err("`seed` is not a setting here: each student is seeded from `seeds`".into());
        }
        let alpha = take(&mut table, "alpha")?.unwrap_or(0.0);
        let sampled = fill(table, SampledRankDistilConfig::new())?;
        Ok(Self { sampled, alpha })
    }
}

impl From<SampledObjectiveConfig> for Table {
    fn from(config: SampledObjectiveConfig) -> Table {
        let mut table = to_table(&config.sampled);
        table.remove("seed");
        table.insert("alpha".into(), config.alpha.into());
        table
    }
}

/// Removes and parses `key` from `table`.
fn take<T: DeserializeOwned>(table: &mut Table, key: &str) -> Result<Option<T>, String> {
    table
        .remove(key)
        .map(|v| v.try_into().map_err(|e| format!("{key}: {}", message(e))))
        .transpose()
}

/// A deserialization error's message alone, without the input it quotes.
fn message(e: toml::de::Error) -> String {
    e.message().to_string()
}

fn to_table(value: &impl Serialize) -> Table {
    match Value::try_from(value) {
        Ok(Value::Table(table)) => table,
        other => unreachable!("a loss config serializes as a table, not {other:?}"),
    }
}

/// A loss config whose defaults fill the keys a table leaves out.
trait TableDefaults: Serialize + DeserializeOwned {
    fn defaults() -> Self;
}

macro_rules! table_defaults {
    ($($config:ty),*) => {
        $(impl TableDefaults for $config {
            fn defaults() -> Self {
                Self::new()
            }
        })*
    };
}

table_defaults!(
    CoupledRankDistilConfig,
    DecoupledRankDistilConfig,
    PairwiseRankDistilConfig,
    SoftmaxKdConfig,
    ListMleKdConfig,
    RankingDistillationConfig,
    RelaxedRankingDistillationConfig,
    MarginMseConfig,
    AdrMseConfig,
    SampledRankDistilConfig
);

/// Deserializes a loss config from a table that may leave out keys with defaults.
fn with_defaults<'de, D: Deserializer<'de>, C: TableDefaults>(d: D) -> Result<C, D::Error> {
    fill(Table::deserialize(d)?, C::defaults()).map_err(D::Error::custom)
}

/// `defaults` with the keys of `given` set; a key `defaults` lacks is an error.
fn fill<C: Serialize + DeserializeOwned>(given: Table, defaults: C) -> Result<C, String> {
    let mut table = to_table(&defaults);
    for (key, value) in &given {
        if !table.contains_key(key) {
            let known: Vec<String> = table.keys().map(|k| format!("`{k}`")).collect();
            return Err(format!(
                "unknown field `{key}`, expected one of {}",
                known.join(", ")
            ));
        }
        table.insert(key.clone(), value.clone());
    }
    let whole = Value::Table(table.clone()).try_into();
    whole.map_err(|e| {
        // Name the key: the error of the whole table does not.
        let wrong = given.iter().find(|(key, value)| {
            let mut alone = to_table(&defaults);
            alone.insert((*key).clone(), (*value).clone());
            Value::Table(alone).try_into::<C>().is_err()
        });
        match wrong {
            Some((key, _)) => format!("`{key}`: {}", message(e)),
            None => message(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ObjectiveConfig, String> {
        let table: Table = toml::from_str(text).map_err(|e| e.to_string())?;
        ObjectiveConfig::try_from(table)
    }

    #[test]
    fn a_table_takes_its_methods_keys_and_defaults_the_rest() {
        let config = parse("method = \"coupled\"\nk = 3\nalpha = 0.25\nseed = 4").unwrap();
        let DistillConfig::Coupled(coupled) = &config.distill else {
            panic!("{config:?}");
        };
        assert_eq!((coupled.k, coupled.samples), (3, 8));
        assert_eq!((config.alpha, config.seed), (0.25, 4));
        assert_eq!(config.label_loss, LabelLossKind::SoftmaxCe);
    }

    #[test]
    fn a_key_the_method_lacks_is_an_error_listing_its_keys() {
        let err = parse("method = \"decoupled\"\nk = 3").unwrap_err();
        assert!(
            err.starts_with("unknown field `k`, expected one of"),
            "{err}"
        );
        assert!(err.contains("`p`") && err.contains("`lambda`"), "{err}");
        let err = parse("method = \"mse\"\ntemperature = 2").unwrap_err();
        assert!(err.contains("unknown field `temperature`"), "{err}");
        let err = parse("method = \"coupling\"").unwrap_err();
        assert!(err.contains("unknown variant `coupling`"), "{err}");
    }

    #[test]
    fn a_config_round_trips_through_its_table() {
        let config = parse("method = \"rd\"\nk = 5\nrd_alpha = 0.5").unwrap();
        let again = ObjectiveConfig::try_from(Table::from(config.clone())).unwrap();
        let (DistillConfig::Rd(a), DistillConfig::Rd(b)) = (&config.distill, &again.distill) else {
            panic!("{again:?}");
        };
        assert_eq!((a.k, a.rd_alpha, a.lambda), (b.k, b.rd_alpha, b.lambda));
    }

    #[test]
    fn a_seed_past_a_toml_integer_is_refused_not_wrapped() {
        let mut config = parse("method = \"coupled\"").unwrap();
        config.seed = u64::MAX;
        assert_eq!(
            config.check().unwrap_err(),
            "seed = 18446744073709551615, expected at most 9223372036854775807 (a TOML integer)"
        );
        config.seed = i64::MAX as u64;
        let again = ObjectiveConfig::try_from(Table::from(config)).unwrap();
        assert_eq!(again.seed, i64::MAX as u64);
    }

    #[test]
    fn out_of_range_settings_name_their_key() {
        let config = parse("method = \"coupled\"\nk = 0").unwrap();
        assert_eq!(config.check().unwrap_err(), "k = 0, expected k >= 1");
        let config = parse("method = \"softmax_kd\"\ntemperature = -1.0").unwrap();
        assert_eq!(
            config.check().unwrap_err(),
            "temperature = -1, expected a finite number > 0"
        );
        let config = parse("method = \"mse\"\nalpha = 2.0").unwrap();
        assert_eq!(
            config.check().unwrap_err(),
            "alpha = 2, expected 0 <= alpha <= 1"
        );
    }
}
