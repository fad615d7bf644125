//! `rankdistil catalog`: ranking over a whole item catalog (MovieLens-style implicit feedback):
//! a teacher trained with a full softmax over the catalog, its top-p cache written to disk,
//! and students distilled from that cache with sampled RankDistil, against label-only and
//! full-catalog softmax-KD students, over several seeds.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use clap::Args;
use rand::{RngExt, SeedableRng, rngs::StdRng, seq::SliceRandom};
use rankdistil_data::{ImplicitSplit, read_recbole_inter, synthetic_catalog};
use rankdistil_loss::{SampledRankDistil, SampledRankDistilConfig, SoftmaxCe, SoftmaxKdConfig};
use rankdistil_metrics::{IdcgZero, ndcg_at, recall_at};
use rankdistil_models::CatalogScorer;
use serde::{Deserialize, Serialize};

use crate::backend::{self, Backend, BackendChoice};
use crate::catalog_dir::{self, CatalogModelMeta};
use crate::config;
use crate::report::mean_std;
use crate::run_dir::write_atomic;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogTrain {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// Label training drops this fraction of each history from the input (denoising).
    #[serde(default)]
    pub input_dropout: f64,
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
}

impl CatalogMethod {
    /// The name configs use, which also names the student's folder.
    pub fn key(self) -> &'static str {
        match self {
            CatalogMethod::LabelOnly => "label_only",
            CatalogMethod::Sampled => "sampled",
            CatalogMethod::SoftmaxKd => "softmax_kd",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogRunConfig {
    pub data: CatalogData,
    pub teacher: CatalogStage,
    pub student: CatalogStage,
    /// Sampled RankDistil settings (k, p, m, samples, temperature, ...).
    pub distill: SampledSettings,
    pub methods: Vec<CatalogMethod>,
    pub seeds: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampledSettings {
    pub k: usize,
    pub p: usize,
    pub m: usize,
    #[serde(default)]
    pub samples: usize,
    #[serde(default = "d_one")]
    pub temperature: f64,
    #[serde(default = "d_one")]
    pub teacher_temperature: f64,
    #[serde(default = "d_true")]
    pub logq_correction: bool,
}

fn d_one() -> f64 {
    1.0
}
fn d_true() -> bool {
    true
}

/// Train and compare catalog rankers (MovieLens-100k or a synthetic catalog); every model is
/// saved for `export` and `recommend`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// e.g. configs/catalog-ml100k.toml
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Where the teacher run, its top-p cache and the tables go (default: runs/<config name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Reuse this catalog teacher (a `teacher/` folder of an earlier run) instead of training one.
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Reuse this top-p cache (from `rankdistil teacher-cache`) instead of building one.
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Continue an interrupted run in --out with the same config: its teacher, top-p cache and
    /// finished students are reused, and only what is missing is trained.
    #[arg(long)]
    pub resume: bool,
}

/// The resolved config a catalog run keeps, so `--resume` can check it continues the same run.
const RUN_CONFIG: &str = "config.toml";

/// Score the whole catalog with a catalog teacher, once, and write each user's top-p unseen
/// items and scores to a binary file that `rankdistil catalog --cache` reads.
#[derive(Debug, Args)]
pub struct TeacherCacheArgs {
    /// A catalog teacher folder (`<catalog run>/teacher`).
    #[arg(long)]
    pub teacher: PathBuf,
    /// A RecBole `.inter` file to score instead of the teacher's own data (same catalog).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    pub p: usize,
    /// The cache file (default: <teacher>/teacher-top<p>.bin).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
}

fn load_split(data: &CatalogData) -> anyhow::Result<(usize, ImplicitSplit, Vec<String>)> {
    let inter = match (&data.inter, &data.synthetic) {
        (Some(p), None) => read_recbole_inter(p)?,
        (None, Some(s)) => synthetic_catalog(s.users, s.items, s.per_user, s.dim, s.seed),
        _ => bail!(
            "[data] needs exactly one of `inter = \"<file.inter>\"` and a [data.synthetic] table"
        ),
    };
    let split = ImplicitSplit::from_ratings(&inter, data.min_rating, data.holdout, data.seed);
    Ok((inter.users.len(), split, inter.items))
}

/// Scores every user's whole catalog, chunk by chunk, keeping the top-p unseen items.
fn build_cache(
    teacher: &CatalogScorer,
    split: &ImplicitSplit,
    p: usize,
    backend: &Backend,
) -> TopPCache {
    let l = split.num_items;
    let users: Vec<usize> = (0..split.train.len()).collect();
    let per = (backend.buffer_budget / (l as u64 * 4)).clamp(1, 256) as usize;
    let bar = crate::progress::bar(users.len() as u64, "teacher top-p cache".into(), "users");
    let mut out = Vec::with_capacity(users.len());
    for chunk in users.chunks(per) {
        let scores = score_users(teacher, split, chunk, backend, true);
        for b in 0..chunk.len() {
            let s = &scores[b * l..(b + 1) * l];
            let top: Vec<usize> = rankdistil_metrics::top_n(s, p)
                .into_iter()
                .filter(|&i| s[i].is_finite())
                .collect();
            out.push((
                top.iter().map(|&i| i as u32).collect(),
                top.iter().map(|&i| s[i]).collect(),
            ));
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    TopPCache { p, users: out }
}

pub fn run_teacher_cache(args: TeacherCacheArgs) -> anyhow::Result<()> {
    let backend = backend::open(args.backend)?;
    let (teacher, meta) = catalog_dir::load(&args.teacher, &backend.device)?;
    let mut data = meta.data.clone();
    if let Some(inter) = &args.data {
        data.inter = Some(inter.clone());
        data.synthetic = None;
    }
    let (_, split, _) = load_split(&data)?;
    anyhow::ensure!(
        split.num_items == meta.num_items,
        "{}: the teacher has {} items but its data now has {}",
        args.teacher.display(),
        meta.num_items,
        split.num_items
    );
    let started = Instant::now();
    let cache = build_cache(&teacher, &split, args.p, &backend);
    let path = args
        .out
        .unwrap_or_else(|| args.teacher.join(format!("teacher-top{}.bin", args.p)));
    cache.write(&path, split.num_items)?;
    println!(
        "teacher top-{} cache: {} users × {} items scored in {:.2}s, written to {}",
        args.p,
        split.train.len(),
        split.num_items,
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// Padded `[B, H]` ids and mask of item lists.
fn padded(lists: &[&[u32]], device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    let h = lists.iter().map(|l| l.len()).max().unwrap_or(0).max(1);
    let mut ids = vec![0i64; lists.len() * h];
    let mut mask = vec![false; lists.len() * h];
    for (b, l) in lists.iter().enumerate() {
        for (j, &i) in l.iter().enumerate() {
            ids[b * h + j] = i as i64;
            mask[b * h + j] = true;
        }
    }
    (
        Tensor::from_data(TensorData::new(ids, [lists.len(), h]), device),
        Tensor::from_data(TensorData::new(mask, [lists.len(), h]), device),
    )
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("floats")
}

/// The teacher's top-p unseen items per user, as written to and read from disk.
#[derive(Debug, Clone, PartialEq)]
pub struct TopPCache {
    pub p: usize,
    pub users: Vec<(Vec<u32>, Vec<f32>)>,
}

impl TopPCache {
    const MAGIC: &'static [u8; 8] = b"RDTOPP01";

    pub fn write(&self, path: &Path, num_items: usize) -> anyhow::Result<()> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(Self::MAGIC);
        for v in [self.users.len() as u64, self.p as u64, num_items as u64] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        for (ids, scores) in &self.users {
            bytes.extend_from_slice(&(ids.len() as u32).to_le_bytes());
            ids.iter()
                .for_each(|i| bytes.extend_from_slice(&i.to_le_bytes()));
            scores
                .iter()
                .for_each(|s| bytes.extend_from_slice(&s.to_le_bytes()));
        }
        write_atomic(path, &bytes)
    }

    pub fn read(path: &Path, num_items: usize) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("{}: cannot read the teacher cache", path.display()))?;
        let bad = || {
            anyhow::anyhow!(
                "{}: not a rankdistil teacher top-p cache (truncated or foreign)",
                path.display()
            )
        };
        if bytes.len() < 32 || &bytes[..8] != Self::MAGIC {
            return Err(bad());
        }
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap()) as usize;
        let (users, p, items) = (u64_at(8), u64_at(16), u64_at(24));
        if items != num_items {
            bail!(
                "{}: cache is for {items} items, the catalog has {num_items}",
                path.display()
            );
        }
        let mut at = 32;
        let mut out = Vec::with_capacity(users);
        for _ in 0..users {
            let n = u32::from_le_bytes(bytes.get(at..at + 4).ok_or_else(bad)?.try_into().unwrap())
                as usize;
            at += 4;
            let ids_raw = bytes.get(at..at + 4 * n).ok_or_else(bad)?;
            let scores_raw = bytes.get(at + 4 * n..at + 8 * n).ok_or_else(bad)?;
            at += 8 * n;
            let ids = ids_raw
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            let scores = scores_raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            out.push((ids, scores));
        }
        if at != bytes.len() {
            return Err(bad());
        }
        Ok(Self { p, users: out })
    }
}

/// Scores every item for `users` (inputs: their training items), `[users.len() × L]`, with the
/// training items set to −∞ when `exclude_train`.
pub(crate) fn score_users(
    model: &CatalogScorer,
    split: &ImplicitSplit,
    users: &[usize],
    backend: &Backend,
    exclude_train: bool,
) -> Vec<f32> {
    let l = split.num_items;
    let mut out = Vec::with_capacity(users.len() * l);
    let per = (backend.buffer_budget / (l as u64 * 4)).clamp(1, 256) as usize;
    for chunk in users.chunks(per) {
        let lists: Vec<&[u32]> = chunk.iter().map(|&u| split.train[u].as_slice()).collect();
        let (ids, mask) = padded(&lists, &backend.device);
        let q = model.query(ids, mask);
        let mut scores = host(model.score_range(q, 0..l));
        if exclude_train {
            for (b, &u) in chunk.iter().enumerate() {
                for &i in &split.train[u] {
                    scores[b * l + i as usize] = f32::NEG_INFINITY;
                }
            }
        }
        out.extend(scores);
    }
    out
}

/// NDCG@10 and Recall@20 over the full catalog, training items excluded.
pub fn evaluate_catalog(
    model: &CatalogScorer,
    split: &ImplicitSplit,
    backend: &Backend,
) -> (f64, f64, f64) {
    let started = Instant::now();
    let users = split.evaluable();
    let l = split.num_items;
    let scores = score_users(model, split, &users, backend, true);
    let (mut ndcg, mut recall) = (0.0, 0.0);
    let mut labels = vec![0f32; l];
    for (b, &u) in users.iter().enumerate() {
        split.test[u].iter().for_each(|&i| labels[i as usize] = 1.0);
        let s = &scores[b * l..(b + 1) * l];
        ndcg += ndcg_at(s, &labels, 10, IdcgZero::Zero).unwrap_or(0.0);
        recall += recall_at(s, &labels, 20).unwrap_or(0.0);
        split.test[u].iter().for_each(|&i| labels[i as usize] = 0.0);
    }
    let n = users.len().max(1) as f64;
    (ndcg / n, recall / n, started.elapsed().as_secs_f64())
}

enum Target<'a> {
    Labels,
    Sampled(&'a TopPCache, SampledRankDistil),
    SoftmaxKd(&'a [f32]),
}

fn train(
    stage: &CatalogStage,
    split: &ImplicitSplit,
    target: Target,
    backend: &Backend,
    seed: u64,
    name: &str,
) -> anyhow::Result<CatalogScorer> {
    let device = backend.training_device();
    device.seed(seed);
    let l = split.num_items;
    let mut model = catalog_dir::scorer_config(&stage.model, l).init(&device);
    let mut optim = AdamConfig::new().init();
    let users: Vec<usize> = (0..split.train.len())
        .filter(|&u| !split.train[u].is_empty())
        .collect();
    let softmax_kd = SoftmaxKdConfig::new().init();
    let softmax_ce = SoftmaxCe::new();
    let mut step = 0u64;
    let started = Instant::now();
    let batch_size = stage.train.batch_size.max(1);
    for epoch in 0..stage.train.epochs {
        let epoch_started = Instant::now();
        let mut rng =
            StdRng::seed_from_u64(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut order = users.clone();
        order.shuffle(&mut rng);
        let batches = order.len().div_ceil(batch_size);
        let bar = crate::progress::bar(
            batches as u64,
            format!("catalog: {name} epoch {}", epoch + 1),
            "batches",
        );
        // Summed on the device and read once per epoch: a read per step would stall a GPU.
        let mut loss_sum = Tensor::<1>::zeros([1], &device);
        for batch in order.chunks(batch_size) {
            let b = batch.len();
            let loss = match &target {
                Target::Labels => {
                    // Denoising input: drop items from the history, predict all of it.
                    let inputs: Vec<Vec<u32>> = batch
                        .iter()
                        .map(|&u| {
                            let kept: Vec<u32> = split.train[u]
                                .iter()
                                .copied()
                                .filter(|_| rng.random::<f64>() >= stage.train.input_dropout)
                                .collect();
                            if kept.is_empty() {
                                split.train[u][..1].to_vec()
                            } else {
                                kept
                            }
                        })
                        .collect();
                    let (ids, mask) = padded(
                        &inputs.iter().map(Vec::as_slice).collect::<Vec<_>>(),
                        &device,
                    );
                    let scores = model.score_range(model.query(ids, mask), 0..l); // [B, L]
                    // Multinomial likelihood of the whole history: softmax CE with uniform
                    // weight on the user's training items.
                    let mut labels = vec![0f32; b * l];
                    for (i, &u) in batch.iter().enumerate() {
                        split.train[u]
                            .iter()
                            .for_each(|&it| labels[i * l + it as usize] = 1.0);
                    }
                    let labels = Tensor::<2>::from_data(TensorData::new(labels, [b, l]), &device);
                    softmax_ce.forward(
                        scores,
                        labels,
                        Tensor::<2, Bool>::full([b, l], true, &device),
                    )
                }
                Target::Sampled(cache, loss) => {
                    loss.reseed(step);
                    let lists: Vec<&[u32]> =
                        batch.iter().map(|&u| split.train[u].as_slice()).collect();
                    let (ids, mask) = padded(&lists, &device);
                    let q = model.query(ids, mask);
                    let cands: Vec<_> = batch
                        .iter()
                        .map(|&u| loss.candidates(&cache.users[u].0, l))
                        .collect();
                    let c = cands.iter().map(|x| x.items.len()).max().unwrap_or(1);
                    let mut flat = vec![0i64; b * c];
                    let mut teacher = vec![0f32; b * c];
                    for (i, (cand, &u)) in cands.iter().zip(batch).enumerate() {
                        for (j, &it) in cand.items.iter().enumerate() {
                            flat[i * c + j] = it as i64;
                        }
                        teacher[i * c..i * c + cand.top]
                            .copy_from_slice(&cache.users[u].1[..cand.top]);
                    }
                    let cand_ids =
                        Tensor::<2, Int>::from_data(TensorData::new(flat, [b, c]), &device);
                    loss.forward(model.score_candidates(q, cand_ids), &teacher, &cands)
                }
                Target::SoftmaxKd(full) => {
                    let lists: Vec<&[u32]> =
                        batch.iter().map(|&u| split.train[u].as_slice()).collect();
                    let (ids, mask) = padded(&lists, &device);
                    let scores = model.score_range(model.query(ids, mask), 0..l);
                    let t: Vec<f32> = batch
                        .iter()
                        .flat_map(|&u| full[u * l..(u + 1) * l].iter().copied())
                        .collect();
                    let t = Tensor::<2>::from_data(TensorData::new(t, [b, l]), &device);
                    softmax_kd.forward(scores, t, Tensor::<2, Bool>::full([b, l], true, &device))
                }
            };
            loss_sum = loss_sum + loss.clone().detach();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(stage.train.learning_rate, model, grads);
            step += 1;
            bar.inc(1);
        }
        bar.finish_and_clear();
        let mean = loss_sum.into_scalar::<f32>() as f64 / batches.max(1) as f64;
        if !mean.is_finite() {
            bail!(
                "catalog: {name}: the training loss became {mean} in epoch {}; lower learning_rate",
                epoch + 1
            );
        }
        eprintln!(
            "catalog: {name} epoch {}/{}: loss {mean:.4} ({:.1}s)",
            epoch + 1,
            stage.train.epochs,
            epoch_started.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "catalog: {name} trained in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(model.valid())
}

impl CatalogRunConfig {
    /// Checks the settings, so a bad config is an error message rather than a panic.
    fn validate(&self) -> Result<(), String> {
        let d = &self.distill;
        if d.k == 0 || d.k > d.p {
            return Err(format!(
                "[distill] k = {}, p = {}: expected 1 <= k <= p",
                d.k, d.p
            ));
        }
        if !(d.temperature > 0.0 && d.teacher_temperature > 0.0) {
            return Err("[distill] temperatures must be > 0".into());
        }
        for (name, stage) in [("teacher", &self.teacher), ("student", &self.student)] {
            let t = &stage.train;
            if t.epochs == 0
                || t.batch_size == 0
                || !(t.learning_rate > 0.0 && t.learning_rate.is_finite())
                || stage.model.dim == 0
            {
                return Err(format!(
                    "[{name}] epochs, batch_size, learning_rate and dim must be positive (and learning_rate finite)"
                ));
            }
            if !(0.0..1.0).contains(&t.input_dropout)
                || !(0.0..1.0).contains(&stage.model.dropout)
                || stage.model.hidden.contains(&0)
            {
                return Err(format!(
                    "[{name}] input_dropout and dropout must be in [0, 1) and hidden widths >= 1"
                ));
            }
        }
        if let Some(s) = &self.data.synthetic
            && (s.users == 0 || s.items == 0 || s.per_user == 0 || s.dim == 0)
        {
            return Err(
                "[data.synthetic] users, items, per_user and dim must be at least 1".into(),
            );
        }
        if !(0.0..1.0).contains(&self.data.holdout) {
            return Err(format!(
                "[data] holdout = {}, expected 0 <= holdout < 1",
                self.data.holdout
            ));
        }
        if self.seeds.is_empty() {
            return Err("seeds is empty".into());
        }
        Ok(())
    }
}

/// Loads the catalog model folder `dir`, which must score this data's `num_items` items (and,
/// given `model`, have that architecture).
fn load_matching(
    dir: &Path,
    backend: &Backend,
    num_items: usize,
    model: Option<&CatalogModel>,
) -> anyhow::Result<CatalogScorer> {
    let (scorer, meta) = catalog_dir::load(dir, &backend.device)?;
    anyhow::ensure!(
        meta.num_items == num_items,
        "{}: the model has {} items, this data {num_items}",
        dir.display(),
        meta.num_items
    );
    if let Some(model) = model {
        anyhow::ensure!(
            meta.model == *model,
            "{}: the saved model is {:?}, the config asks for {model:?}",
            dir.display(),
            meta.model
        );
    }
    Ok(scorer)
}

pub fn run(args: CatalogArgs) -> anyhow::Result<()> {
    let cfg: CatalogRunConfig = config::load(&args.config)?;
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.config.display()))?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("runs").join(args.config.file_stem().unwrap_or_default()));
    let config_text = toml::to_string(&cfg)?;
    let stored = out.join(RUN_CONFIG);
    if args.resume {
        let text = std::fs::read_to_string(&stored).with_context(|| {
            format!(
                "{}: cannot read; --resume continues a catalog run, and {} holds none",
                stored.display(),
                out.display()
            )
        })?;
        anyhow::ensure!(
            text == config_text,
            "{}: the run was started with another config than {}; resume it with the same settings, or start a new --out",
            stored.display(),
            args.config.display()
        );
    } else {
        anyhow::ensure!(
            !stored.exists() && !out.join("teacher").exists() && !out.join("students").exists(),
            "{} already holds a catalog run; pass --resume to continue it, or choose another --out (nothing was overwritten)",
            out.display()
        );
        std::fs::create_dir_all(&out)
            .with_context(|| format!("{}: cannot create", out.display()))?;
        write_atomic(&stored, config_text.as_bytes())?;
    }
    let backend = backend::open(args.backend)?;
    let (num_users, split, item_ids) = load_split(&cfg.data)?;
    let l = split.num_items;
    eprintln!(
        "catalog: {num_users} users, {l} items, {} training and {} held-out positives; {} users evaluated",
        split.train.iter().map(Vec::len).sum::<usize>(),
        split.test.iter().map(Vec::len).sum::<usize>(),
        split.evaluable().len()
    );

    let saved_teacher = out.join("teacher");
    let teacher = match &args.teacher {
        Some(dir) => load_matching(dir, &backend, l, None)?,
        None if args.resume && catalog_dir::meta_path(&saved_teacher).is_some() => {
            let t = load_matching(&saved_teacher, &backend, l, Some(&cfg.teacher.model))?;
            eprintln!("catalog: teacher reused from {}", saved_teacher.display());
            t
        }
        None => {
            let t = train(&cfg.teacher, &split, Target::Labels, &backend, 0, "teacher")?;
            let (ndcg, recall, _) = evaluate_catalog(&t, &split, &backend);
            let meta = CatalogModelMeta {
                data: cfg.data.clone(),
                model: cfg.teacher.model.clone(),
                num_items: l,
                ndcg_at_10: ndcg,
                recall_at_20: recall,
                role: "teacher".into(),
                method: None,
                seed: None,
            };
            catalog_dir::save(&saved_teacher, &t, &meta, &item_ids)?;
            t
        }
    };
    let (t_ndcg, t_recall, eval_s) = evaluate_catalog(&teacher, &split, &backend);
    eprintln!(
        "catalog: teacher NDCG@10 {t_ndcg:.4}, Recall@20 {t_recall:.4} (full-catalog evaluation in {eval_s:.2}s)"
    );

    // The teacher's top-p unseen items per user: written once, read by every student.
    let p = cfg.distill.p;
    let cache_path = match &args.cache {
        Some(path) => path.clone(),
        None => {
            let path = out.join(format!("teacher-top{p}.bin"));
            if args.resume && path.exists() {
                eprintln!(
                    "catalog: teacher top-{p} cache reused from {}",
                    path.display()
                );
            } else {
                let started = Instant::now();
                build_cache(&teacher, &split, p, &backend).write(&path, l)?;
                eprintln!(
                    "catalog: teacher top-{p} cache written to {} ({:.2}s)",
                    path.display(),
                    started.elapsed().as_secs_f64()
                );
            }
            path
        }
    };
    let cache = TopPCache::read(&cache_path, l)?;
    anyhow::ensure!(
        cache.users.len() == split.train.len() && cache.p >= cfg.distill.p,
        "{}: a top-{} cache for {} users does not serve p = {} for {} users",
        cache_path.display(),
        cache.p,
        cache.users.len(),
        cfg.distill.p,
        split.train.len()
    );
    // Softmax KD needs the teacher's scores over the whole catalog.
    let all: Vec<usize> = (0..split.train.len()).collect();
    let full = if cfg.methods.contains(&CatalogMethod::SoftmaxKd) {
        score_users(&teacher, &split, &all, &backend, false)
    } else {
        Vec::new()
    };

    let mut rows: Vec<(CatalogMethod, Vec<(f64, f64)>)> = Vec::new();
    for &method in &cfg.methods {
        let mut runs = Vec::new();
        for &seed in &cfg.seeds {
            let name = format!("{method:?} seed {seed}");
            let dir = out
                .join("students")
                .join(format!("{}-seed{seed}", method.key()));
            if args.resume && catalog_dir::meta_path(&dir).is_some() {
                let meta = catalog_dir::load_meta(&dir)?;
                anyhow::ensure!(
                    meta.method.as_deref() == Some(method.key()) && meta.seed == Some(seed),
                    "{}: holds {:?} seed {:?}, not {name}",
                    dir.display(),
                    meta.method,
                    meta.seed
                );
                eprintln!(
                    "catalog: {name} reused from {}: NDCG@10 {:.4}, Recall@20 {:.4}",
                    dir.display(),
                    meta.ndcg_at_10,
                    meta.recall_at_20
                );
                runs.push((meta.ndcg_at_10, meta.recall_at_20));
                continue;
            }
            let target = match method {
                CatalogMethod::LabelOnly => Target::Labels,
                CatalogMethod::Sampled => Target::Sampled(
                    &cache,
                    SampledRankDistilConfig::new()
                        .with_k(cfg.distill.k)
                        .with_p(cfg.distill.p)
                        .with_m(cfg.distill.m)
                        .with_samples(cfg.distill.samples)
                        .with_temperature(cfg.distill.temperature)
                        .with_teacher_temperature(cfg.distill.teacher_temperature)
                        .with_logq_correction(cfg.distill.logq_correction)
                        .with_seed(seed)
                        .init(),
                ),
                CatalogMethod::SoftmaxKd => Target::SoftmaxKd(&full),
            };
            let student = train(&cfg.student, &split, target, &backend, seed, &name)?;
            let (ndcg, recall, _) = evaluate_catalog(&student, &split, &backend);
            let meta = CatalogModelMeta {
                data: cfg.data.clone(),
                model: cfg.student.model.clone(),
                num_items: l,
                ndcg_at_10: ndcg,
                recall_at_20: recall,
                role: "student".into(),
                method: Some(method.key().into()),
                seed: Some(seed),
            };
            catalog_dir::save(&dir, &student, &meta, &item_ids)?;
            eprintln!(
                "catalog: {name}: NDCG@10 {ndcg:.4}, Recall@20 {recall:.4}, saved to {}",
                dir.display()
            );
            runs.push((ndcg, recall));
        }
        rows.push((method, runs));
    }
    let name = |m: CatalogMethod| match m {
        CatalogMethod::LabelOnly => "label_only",
        CatalogMethod::Sampled => "sampled RankDistil",
        CatalogMethod::SoftmaxKd => "softmax_kd",
    };
    let mut md = format!(
        "| model | NDCG@10 | Recall@20 |\n|---|---|---|\n| teacher | {t_ndcg:.4} | {t_recall:.4} |\n"
    );
    for (m, runs) in &rows {
        let (n, ns) = mean_std(&runs.iter().map(|r| r.0).collect::<Vec<_>>());
        let (r, rs) = mean_std(&runs.iter().map(|r| r.1).collect::<Vec<_>>());
        md += &format!("| {} | {n:.4} ± {ns:.4} | {r:.4} ± {rs:.4} |\n", name(*m));
    }
    write_atomic(&out.join("catalog.md"), md.as_bytes())?;
    println!(
        "full-catalog metrics ({} items, training items excluded), students over seeds {:?}:\n\n{md}\nfull-catalog evaluation of the teacher took {eval_s:.2}s; written to {}",
        l,
        cfg.seeds,
        out.join("catalog.md").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_p_cache_round_trips_and_refuses_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.bin");
        let cache = TopPCache {
            p: 3,
            users: vec![
                (vec![4, 1, 9], vec![2.5, 1.0, -0.5]),
                (vec![0, 2, 3], vec![0.1, 0.0, -1.0]),
            ],
        };
        cache.write(&path, 10).unwrap();
        let back = TopPCache::read(&path, 10).unwrap();
        assert_eq!(back.p, 3);
        assert_eq!(back.users, cache.users);
        let err = TopPCache::read(&path, 11).unwrap_err().to_string();
        assert!(
            err.contains("cache is for 10 items, the catalog has 11"),
            "{err}"
        );
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        let err = TopPCache::read(&path, 10).unwrap_err().to_string();
        assert!(
            err.contains("not a rankdistil teacher top-p cache"),
            "{err}"
        );
    }

    #[test]
    fn evaluation_excludes_training_items_and_chunks_the_catalog() {
        let data = synthetic_catalog(30, 200, 10, 4, 5);
        let split = ImplicitSplit::from_ratings(&data, 4.0, 0.2, 1);
        let backend = Backend::cpu();
        let model = rankdistil_models::CatalogScorerConfig::new(200, 8).init(&backend.device);
        let users: Vec<usize> = (0..30).collect();
        let mut small = backend.clone();
        small.buffer_budget = 200 * 4 * 7; // 7 users per chunk
        let a = score_users(&model, &split, &users, &backend, true);
        let b = score_users(&model, &split, &users, &small, true);
        assert_eq!(a.len(), 30 * 200);
        for (x, y) in a.iter().zip(&b) {
            assert!(x == y || (x - y).abs() < 1e-5, "{x} vs {y}");
        }
        for u in 0..30 {
            for &i in &split.train[u] {
                assert_eq!(a[u * 200 + i as usize], f32::NEG_INFINITY);
            }
        }
        let (ndcg, recall, _) = evaluate_catalog(&model, &split, &backend);
        assert!((0.0..=1.0).contains(&ndcg) && (0.0..=1.0).contains(&recall));
    }
}
