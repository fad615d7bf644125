//! The catalog run's config: data, the teacher and student stages, the sampled-RankDistil
//! objective, and the checks that turn a bad value into an error rather than a panic.

use std::path::PathBuf;

use crate::loss_config::SampledObjectiveConfig;
use rankdistil_data::host_memory;
use rankdistil_loss::{CollaborativeDistillationConfig, RelaxedRankingDistillationConfig};
use rankdistil_models::CatalogScorerConfig;
use serde::{Deserialize, Serialize};

use crate::settings::{self, Checked, ConfigKind, share};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticCatalog {
    pub users: usize,
    pub items: usize,
    pub per_user: usize,
    #[serde(default = "d_dim")]
    pub dim: usize,
    #[serde(default)]
    pub seed: u64,
}

impl SyntheticCatalog {
    fn check(&self) -> Result<(), String> {
        if self.users == 0 || self.items == 0 || self.per_user == 0 || self.dim == 0 {
            return Err(
                "[data.synthetic] users, items, per_user and dim must be at least 1".into(),
            );
        }
        if self.items > u32::MAX as usize || self.users > u32::MAX as usize {
            return Err(format!(
                "[data.synthetic] users = {}, items = {}: expected at most {} of each",
                self.users,
                self.items,
                u32::MAX
            ));
        }
        // Item vectors and ids, and each user's vector and interactions.
        let items = self.items as u128 * (self.dim as u128 * 4 + 24);
        let users = self.users as u128 * (self.per_user as u128 * 12 + 24 + self.dim as u128 * 4);
        let what = format!(
            "[data.synthetic] users = {}, items = {}, dim = {}",
            self.users, self.items, self.dim
        );
        host_memory::check(&what, items + users)
    }
}

fn d_dim() -> usize {
    16
}
fn d_min_rating() -> f32 {
    4.0
}
fn d_holdout() -> f64 {
    0.2
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogData {
    /// A RecBole atomic `.inter` file.
    #[serde(default)]
    pub inter: Option<PathBuf>,
    #[serde(default)]
    pub synthetic: Option<SyntheticCatalog>,
    /// Ratings at or above this are positives.
    #[serde(default = "d_min_rating")]
    pub min_rating: f32,
    /// Fraction of each user's positives held out for evaluation.
    #[serde(default = "d_holdout")]
    pub holdout: f64,
    #[serde(default)]
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogModel {
    pub dim: usize,
    #[serde(default)]
    pub hidden: Vec<usize>,
    #[serde(default)]
    pub dropout: f64,
}

impl CatalogModel {
    /// The scorer of this architecture over a catalog of `num_items`.
    pub fn scorer(&self, num_items: usize) -> CatalogScorerConfig {
        CatalogScorerConfig::new(num_items, self.dim)
            .with_hidden(self.hidden.clone())
            .with_dropout(self.dropout)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogTrain {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Label training drops this fraction of each history from the input (denoising).
    #[serde(default)]
    pub input_dropout: f64,
    /// Label training over the whole catalog (0) or a sampled softmax over each user's items
    /// plus this many uniform negatives per batch, which keeps a step's cost flat in L.
    #[serde(default)]
    pub negatives: usize,
    /// The share of those negatives drawn by training popularity (harder ones), in [0, 1).
    #[serde(default)]
    pub popular_negatives: f64,
    /// The least seconds between checkpoints: at 10⁶ items one holds gigabytes of tables and
    /// moments. Omitted from a stored config at its default, so older runs still resume.
    #[serde(
        default = "default_checkpoint_seconds",
        skip_serializing_if = "is_default_checkpoint_seconds"
    )]
    pub checkpoint_seconds: f64,
}

const DEFAULT_CHECKPOINT_SECONDS: f64 = 60.0;

fn default_checkpoint_seconds() -> f64 {
    DEFAULT_CHECKPOINT_SECONDS
}

fn is_default_checkpoint_seconds(seconds: &f64) -> bool {
    *seconds == DEFAULT_CHECKPOINT_SECONDS
}

impl CatalogTrain {
    /// The least time between checkpoints.
    pub fn checkpoint_every(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.checkpoint_seconds)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogStage {
    pub model: CatalogModel,
    pub train: CatalogTrain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogMethod {
    /// The full-softmax label loss alone.
    LabelOnly,
    /// Sampled RankDistil from the teacher's top-p cache.
    Sampled,
    /// Softmax KD against the teacher's scores over the whole catalog.
    SoftmaxKd,
    /// Relaxed Ranking Distillation (DE-RRD) from the teacher's top-p cache.
    Rrd,
    /// Collaborative Distillation from the teacher's top-p cache.
    Cd,
    /// Margin-MSE of a training positive against uniform negatives, on the teacher's
    /// whole-catalog scores.
    MarginMse,
}

impl CatalogMethod {
    /// Every method, in the order tables list them.
    pub const ALL: [CatalogMethod; 6] = [
        CatalogMethod::LabelOnly,
        CatalogMethod::Sampled,
        CatalogMethod::SoftmaxKd,
        CatalogMethod::Rrd,
        CatalogMethod::Cd,
        CatalogMethod::MarginMse,
    ];

    /// Whether its students read the teacher's scores of every item for every user.
    pub fn reads_full_scores(self) -> bool {
        matches!(self, CatalogMethod::SoftmaxKd | CatalogMethod::MarginMse)
    }

    /// Whether its students read the teacher's top-p cache.
    pub fn reads_cache(self) -> bool {
        matches!(
            self,
            CatalogMethod::Sampled | CatalogMethod::Rrd | CatalogMethod::Cd
        )
    }

    /// The name configs use, which also names the student's folder.
    pub fn name(self) -> &'static str {
        match self {
            CatalogMethod::LabelOnly => "label_only",
            CatalogMethod::Sampled => "sampled",
            CatalogMethod::SoftmaxKd => "softmax_kd",
            CatalogMethod::Rrd => "rrd",
            CatalogMethod::Cd => "cd",
            CatalogMethod::MarginMse => "margin_mse",
        }
    }

    /// Its row in the results table.
    pub fn label(self) -> &'static str {
        match self {
            CatalogMethod::LabelOnly => "label_only",
            CatalogMethod::Sampled => "sampled RankDistil",
            CatalogMethod::SoftmaxKd => "softmax_kd",
            CatalogMethod::Rrd => "rrd",
            CatalogMethod::Cd => "cd",
            CatalogMethod::MarginMse => "margin_mse",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogRunConfig {
    pub data: CatalogData,
    pub teacher: CatalogStage,
    pub student: CatalogStage,
    /// `[distill]`: sampled RankDistil (k, p, m, samples, temperatures, popular_negatives),
    /// mixed with weight `alpha` with the student's sampled label softmax.
    pub distill: SampledObjectiveConfig,
    /// `[softmax_kd]`: the whole-catalog softmax KD baseline's temperature and label mix.
    #[serde(default)]
    pub softmax_kd: CatalogSoftmaxKd,
    /// `[rrd]`: the RRD baseline's draw and label mix.
    #[serde(default)]
    pub rrd: CatalogRrd,
    /// `[cd]`: the CD baseline's draw, soft target and label mix.
    #[serde(default)]
    pub cd: CatalogCd,
    /// `[margin_mse]`: the Margin-MSE baseline's draw and label mix.
    #[serde(default)]
    pub margin_mse: CatalogMarginMse,
    pub methods: Vec<CatalogMethod>,
    pub seeds: Vec<u64>,
}

/// Softmax KD over the whole catalog, mixed with weight `alpha` with the full label softmax:
/// `(1 − α)·KD(τ_t) + α·label`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSoftmaxKd {
    /// τ_t, which softens (above 1) or sharpens the teacher's softmax.
    #[serde(default = "d_one")]
    pub teacher_temperature: f64,
    #[serde(default)]
    pub alpha: f64,
}

fn d_one() -> f64 {
    1.0
}

impl Default for CatalogSoftmaxKd {
    fn default() -> Self {
        Self {
            teacher_temperature: 1.0,
            alpha: 0.0,
        }
    }
}

impl CatalogSoftmaxKd {
    pub fn check(&self) -> Result<(), String> {
        let t = self.teacher_temperature;
        if !(t > 0.0 && t.is_finite()) {
            return Err(format!(
                "[softmax_kd] teacher_temperature = {t}, expected a finite number > 0"
            ));
        }
        share("[softmax_kd] alpha", self.alpha)
    }
}

/// RRD from the teacher's top-p cache (K of its first `top_n` by rank, L `uninteresting` items
/// drawn uniformly), mixed with weight `alpha` with the sampled label softmax:
/// `(1 − α)·RRD + α·label`. L is not called `negatives`: that key is the label softmax's draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogRrd {
    pub k: usize,
    /// At most the cache's depth, `[distill] p`.
    pub top_n: usize,
    pub uninteresting: usize,
    pub temperature: f64,
    pub alpha: f64,
}

impl Default for CatalogRrd {
    fn default() -> Self {
        Self {
            k: 10,
            top_n: 50,
            uninteresting: 100,
            temperature: 10.0,
            alpha: 0.0,
        }
    }
}

impl CatalogRrd {
    /// The loss's own config, its draws seeded with `seed`.
    pub fn loss(&self, seed: u64) -> RelaxedRankingDistillationConfig {
        RelaxedRankingDistillationConfig::new()
            .with_k(self.k)
            .with_top_n(self.top_n)
            .with_negatives(self.uninteresting)
            .with_temperature(self.temperature)
            .with_seed(seed)
    }

    /// The first rule broken, against a cache `p` deep and a student drawing `label_negatives`
    /// for its label softmax.
    pub fn check(&self, p: usize, label_negatives: usize) -> Result<(), String> {
        self.loss(0).check().map_err(|e| format!("[rrd] {e}"))?;
        cache_head("[rrd]", self.top_n, p, self.alpha, label_negatives)
    }
}

/// CD from the teacher's top-p cache (`samples` of its first `top_n`, drawn by rank), mixed
/// with weight `alpha` with the sampled label softmax: `(1 − α)·CD + α·label`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogCd {
    pub samples: usize,
    /// At most the cache's depth, `[distill] p`.
    pub top_n: usize,
    pub temperature: f64,
    pub t1: f64,
    pub t2: f64,
    pub alpha: f64,
}

impl Default for CatalogCd {
    fn default() -> Self {
        Self {
            samples: 10,
            top_n: 50,
            temperature: 20.0,
            t1: 2.0,
            t2: 0.0,
            alpha: 0.0,
        }
    }
}

impl CatalogCd {
    /// The loss's own config, its draws seeded with `seed`.
    pub fn loss(&self, seed: u64) -> CollaborativeDistillationConfig {
        CollaborativeDistillationConfig::new()
            .with_samples(self.samples)
            .with_top_n(self.top_n)
            .with_temperature(self.temperature)
            .with_t1(self.t1)
            .with_t2(self.t2)
            .with_seed(seed)
    }

    /// The first rule broken, against a cache `p` deep and a student drawing `label_negatives`
    /// for its label softmax.
    pub fn check(&self, p: usize, label_negatives: usize) -> Result<(), String> {
        self.loss(0).check().map_err(|e| format!("[cd] {e}"))?;
        cache_head("[cd]", self.top_n, p, self.alpha, label_negatives)
    }
}

/// Margin-MSE of one of a user's training positives against `pairs` uniform negatives, each
/// step, on the teacher's whole-catalog scores; mixed with weight `alpha` with the sampled
/// label softmax. `pairs` is not called `negatives`: that key is the label softmax's draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogMarginMse {
    pub pairs: usize,
    pub alpha: f64,
}

impl Default for CatalogMarginMse {
    fn default() -> Self {
        Self {
            pairs: 10,
            alpha: 0.0,
        }
    }
}

impl CatalogMarginMse {
    /// The first rule broken, for a student drawing `label_negatives` for its label softmax.
    pub fn check(&self, label_negatives: usize) -> Result<(), String> {
        if self.pairs == 0 {
            return Err("[margin_mse] pairs = 0, expected pairs >= 1".into());
        }
        label_mix("[margin_mse]", self.alpha, label_negatives)
    }
}

/// The rules every cache-reading baseline shares: a head no deeper than the cache, and its
/// label mix.
fn cache_head(
    table: &str,
    top_n: usize,
    p: usize,
    alpha: f64,
    label_negatives: usize,
) -> Result<(), String> {
    if top_n > p {
        return Err(format!(
            "{table} top_n = {top_n} reads the teacher's top-p cache, which [distill] p = {p} keeps: expected top_n <= p"
        ));
    }
    label_mix(table, alpha, label_negatives)
}

/// A baseline's label mix `alpha`: a share, and only with a label softmax to mix in.
fn label_mix(table: &str, alpha: f64, label_negatives: usize) -> Result<(), String> {
    share(&format!("{table} alpha"), alpha)?;
    if alpha > 0.0 && label_negatives == 0 {
        return Err(format!(
            "{table} alpha = {alpha} mixes in the sampled label softmax: set [student.train] negatives"
        ));
    }
    Ok(())
}

impl CatalogStage {
    pub fn check(&self, name: &str) -> Result<(), String> {
        let (t, model) = (&self.train, &self.model);
        if t.epochs == 0 || t.batch_size == 0 || model.dim == 0 {
            return Err(format!(
                "[{name}] epochs, batch_size and dim must be at least 1"
            ));
        }
        settings::learning_rate(&format!("[{name}.train] learning_rate"), t.learning_rate)?;
        let seconds = t.checkpoint_seconds;
        if !(0.0..=1e9).contains(&seconds) {
            return Err(format!(
                "[{name}.train] checkpoint_seconds = {seconds}, expected seconds in [0, 1e9]"
            ));
        }
        share(
            &format!("[{name}.train] popular_negatives"),
            t.popular_negatives,
        )?;
        if !(0.0..1.0).contains(&t.input_dropout)
            || !(0.0..1.0).contains(&model.dropout)
            || model.hidden.contains(&0)
        {
            return Err(format!(
                "[{name}] input_dropout and dropout must be in [0, 1) and hidden widths >= 1"
            ));
        }
        Ok(())
    }
}

impl CatalogData {
    pub fn check(&self) -> Result<(), String> {
        if self.inter.is_some() == self.synthetic.is_some() {
            return Err(
                "[data] needs exactly one of `inter = \"<file.inter>\"` and a [data.synthetic] table"
                    .into(),
            );
        }
        if let Some(s) = &self.synthetic {
            s.check()?;
        }
        if !(0.0..1.0).contains(&self.holdout) {
            return Err(format!(
                "[data] holdout = {}, expected 0 <= holdout < 1",
                self.holdout
            ));
        }
        Ok(())
    }
}

impl Checked for CatalogRunConfig {
    const KIND: ConfigKind = ConfigKind::Catalog;

    fn check(&self) -> Result<(), String> {
        self.distill.check().map_err(|e| format!("[distill] {e}"))?;
        self.softmax_kd.check()?;
        let (p, negatives) = (self.distill.sampled.p, self.student.train.negatives);
        if self.methods.contains(&CatalogMethod::Rrd) {
            self.rrd.check(p, negatives)?;
        }
        if self.methods.contains(&CatalogMethod::Cd) {
            self.cd.check(p, negatives)?;
        }
        if self.methods.contains(&CatalogMethod::MarginMse) {
            self.margin_mse.check(negatives)?;
        }
        if self.distill.alpha > 0.0 && self.student.train.negatives == 0 {
            return Err(format!(
                "[distill] alpha = {} mixes in the student's label softmax, which a sampled student computes over drawn items: set [student.train] negatives (1000, say)",
                self.distill.alpha
            ));
        }
        self.teacher.check("teacher")?;
        self.student.check("student")?;
        self.data.check()?;
        if self.seeds.is_empty() {
            return Err("seeds is empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_catalog_config_loads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("configs/") {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("catalog-") {
                continue;
            }
            crate::settings::load::<CatalogRunConfig>(&path).unwrap_or_else(|e| panic!("{e:#}"));
            seen += 1;
        }
        assert!(
            seen >= 2,
            "catalog-ml100k.toml and catalog-synthetic-1m.toml at least"
        );
    }

    const SMALL: &str = "methods = [\"label_only\", \"sampled\"]\nseeds = [1]\n\
        [data.synthetic]\nusers = 60\nitems = 400\nper_user = 15\nseed = 2\n\
        [teacher.model]\ndim = 16\n[teacher.train]\nepochs = 3\nbatch_size = 16\n\
        learning_rate = 0.01\ninput_dropout = 0.3\n\
        [student.model]\ndim = 4\n[student.train]\nepochs = 2\nbatch_size = 16\n\
        learning_rate = 0.01\n[distill]\nk = 5\np = 20\nm = 30\n";

    /// Each range rule of a catalog config, as `settings::parse` words its refusal.
    #[test]
    fn catalog_range_checks_name_the_key_and_what_was_expected() {
        let parse = crate::settings::parse::<CatalogRunConfig>;
        assert!(parse(SMALL).is_ok());
        for (from, to, expected) in [
            (
                "[data.synthetic]\nusers = 60\nitems = 400\nper_user = 15\nseed = 2\n",
                "[data]\nseed = 1\n",
                "[data] needs exactly one of `inter = \"<file.inter>\"` and a [data.synthetic] table",
            ),
            (
                "[student.model]\ndim = 4\n",
                "[student.model]\ndim = 4\ndropout = 1.5\n",
                "[student] input_dropout and dropout must be in [0, 1) and hidden widths >= 1",
            ),
            (
                "m = 30\n",
                "m = 30\npopular_negatives = -0.1\n",
                "[distill] popular_negatives = -0.1, expected 0 <= popular_negatives < 1 (a share of the m negatives)",
            ),
            (
                "m = 30\n",
                "m = 30\nalpha = 0.5\n",
                "[distill] alpha = 0.5 mixes in the student's label softmax, which a sampled student computes over drawn items: set [student.train] negatives (1000, say)",
            ),
            (
                "input_dropout = 0.3",
                "input_dropout = 0.3\nnegatives = 100\npopular_negatives = 1.0",
                "[teacher.train] popular_negatives = 1, expected 0 <= popular_negatives < 1",
            ),
            (
                "learning_rate = 0.01\ninput_dropout = 0.3",
                "learning_rate = inf\ninput_dropout = 0.3",
                "[teacher.train] learning_rate = inf, expected a finite number > 0",
            ),
        ] {
            assert!(SMALL.contains(from), "{from}");
            let err = parse(&SMALL.replacen(from, to, 1)).unwrap_err();
            assert_eq!(err, expected);
        }
    }
}
