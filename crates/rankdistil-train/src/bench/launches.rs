//! `bench --suite launches`: what each GPU step costs the host, counted rather than timed
//! (see [`crate::device_counts`]). Launches, read-backs, submits and compiles do not depend on
//! the card, so the suite runs on the software adapter in CI and its counts hold on a GPU.
//!
//! Each step is warmed up, then counted over steady steps; each counted step ends in a device
//! sync, so its lazily fused kernels run inside its own count.

use crate::loss_config::{DistillConfig, ObjectiveConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use rand::{RngExt, SeedableRng, rngs::StdRng, seq::SliceRandom};
use rankdistil_data::{
    FeatureNormalizer, ImplicitSplit, SyntheticConfig, generate, synthetic_catalog,
};
use rankdistil_loss::{CoupledRankDistilConfig, SampledRankDistilConfig};
use rankdistil_models::{ItemLayout, MlpScorerConfig};

use crate::backend::Backend;
use crate::bench::options::FEATURES;
use crate::bench::profile::sync;
use crate::bench::reference::ReferenceStep;
use crate::catalog::config::CatalogStage;
use crate::catalog::top_p_cache::{TopP, TopPCache};
use crate::catalog::training::{CatalogTraining, Target};
use crate::device_counts::{Counter, Counts};
use crate::fit::{FitSettings, Stepper, Task};
use crate::list::config::{ModelConfig, TrainConfig};
use crate::list::data::Splits;
use crate::list::training::{ListRun, SplitScores};
use crate::progress::notice;

/// The suite's shape: B lists of N items, hidden width H. Launch counts do not grow with any
/// of them, so the smallest shape that exercises every kernel is counted.
pub const SHAPE: (usize, usize, usize) = (8, 64, 32);
/// The catalog step's users per batch and embedding width.
const CATALOG_BATCH: usize = 32;
const CATALOG_DIM: usize = 8;

/// One step's counts.
#[derive(Debug, Clone)]
pub struct StepCounts {
    /// `reference`, `trainer`, `catalog` or `eval`.
    pub step: &'static str,
    pub shape: (usize, usize, usize),
    /// The first step: every compile of a cold process.
    pub first: Counts,
    /// Each steady step's counts, after warm-up.
    pub steady: Vec<Counts>,
}

impl StepCounts {
    /// The steady counts when every steady step counted the same, else the largest.
    pub fn per_step(&self) -> Counts {
        let mut worst = self.steady.first().copied().unwrap_or_default();
        for c in &self.steady {
            worst.launches = worst.launches.max(c.launches);
            worst.read_backs = worst.read_backs.max(c.read_backs);
            worst.submits = worst.submits.max(c.submits);
            worst.compiles = worst.compiles.max(c.compiles);
            worst.fusion_blocks = worst.fusion_blocks.max(c.fusion_blocks);
            worst.fused_blocks = worst.fused_blocks.max(c.fused_blocks);
            worst.uploaded = worst.uploaded.max(c.uploaded);
        }
        worst
    }
}

/// How many steps are warmed up and counted.
#[derive(Debug, Clone, Copy)]
pub struct LaunchOptions {
    pub warmup: usize,
    pub steps: usize,
}

/// Counts `step` once cold, then over `warmup` uncounted and `steps` counted calls.
fn count_step(
    counter: &Counter,
    device: &Device,
    options: LaunchOptions,
    name: &'static str,
    mut step: impl FnMut() -> crate::Result<()>,
) -> crate::Result<StepCounts> {
    let mut synced = || -> crate::Result<()> {
        step()?;
        sync(device)
    };
    let (r, first) = counter.count(&mut synced);
    r?;
    for _ in 0..options.warmup {
        counter.count(&mut synced).0?;
    }
    let mut steady = Vec::with_capacity(options.steps);
    for i in 0..options.steps {
        if crate::device_counts::launch_log() {
            notice!("launches: {name}, steady step {}", i + 1);
        }
        let (r, c) = counter.count(&mut synced);
        r?;
        steady.push(c);
    }
    Ok(StepCounts {
        step: name,
        shape: SHAPE,
        first,
        steady,
    })
}

/// The reference step of `scripts/torch_reference.py` at [`SHAPE`].
pub fn reference(
    backend: &Backend,
    counter: &Counter,
    options: LaunchOptions,
) -> crate::Result<StepCounts> {
    let mut step = ReferenceStep::new(backend, SHAPE, ItemLayout::Lists)?;
    count_step(
        counter,
        &backend.training_device(),
        options,
        "reference",
        || step.run().map(drop),
    )
}

/// Counts `fit`'s own step on `task`: its first batch of epoch 1, stepped again and again.
fn count_task<T: Task>(
    counter: &Counter,
    backend: &Backend,
    options: LaunchOptions,
    name: &'static str,
    (task, settings): (&mut T, &FitSettings),
) -> crate::Result<StepCounts>
where
    T::Batch: Clone,
{
    let (mut stepper, model) = Stepper::start(task, settings, backend);
    let batch = task.batches(1).into_iter().next();
    let batch = batch.ok_or_else(|| crate::error::invalid!("{name}: the data gave no batch"))?;
    let device = backend.training_device();
    // Summed on the device, as `fit` does: the loss is read once per epoch, not per step.
    let mut loss_sum = Tensor::<1>::zeros([1], &device);
    let mut model = Some(model);
    count_step(counter, &device, options, name, || {
        let m = model
            .take()
            .expect("the model is put back after every step");
        let (m, loss) = stepper.step(task, m, batch.clone())?;
        loss_sum = loss_sum.clone() + loss;
        model = Some(m);
        Ok(())
    })
}

/// The trainer's own step (`train`/`distill`'s `ListTask` under `fit`): synthetic lists with
/// [`FEATURES`] features, resident on a GPU (the step uploads its row index), coupled
/// RankDistil with 8 sampled orders drawn on the device, backward and Adam.
pub fn trainer(
    backend: &Backend,
    counter: &Counter,
    options: LaunchOptions,
) -> crate::Result<StepCounts> {
    let (b, n, h) = SHAPE;
    let lists = |queries, seed| {
        generate(&SyntheticConfig {
            queries,
            min_items: n,
            max_items: n,
            features: FEATURES,
            seed,
            ..SyntheticConfig::default()
        })
    };
    let splits = Splits {
        train: lists(b, 1),
        valid: lists(1, 2),
        test: None,
        normalizer: FeatureNormalizer::identity(FEATURES),
        source: "synthetic lists".into(),
    };
    let mut rng = StdRng::seed_from_u64(11);
    let teacher: Vec<f32> = (0..splits.train.num_rows()).map(|_| rng.random()).collect();
    let model: ModelConfig = toml::from_str(&format!("hidden = [{h}, {h}]"))?;
    let train: TrainConfig = toml::from_str(&format!("batch_size = {b}\nlearning_rate = 1e-3"))?;
    let objective = ObjectiveConfig::new(DistillConfig::Coupled(
        CoupledRankDistilConfig::new().with_samples(8),
    ));
    let run = ListRun {
        label: "trainer",
        splits: &splits,
        teacher: Some(SplitScores {
            train: &teacher,
            valid: None,
            test: None,
        }),
        model: &model,
        train: &train,
        objective: &objective,
        record: None,
        progress: false,
    };
    let settings = FitSettings {
        epochs: 1,
        patience: None,
        ..train.fit_settings()
    };
    let mut task = run.task(backend)?;
    count_task(counter, backend, options, "trainer", (&mut task, &settings))
}

/// The catalog's sampled-RankDistil step (`catalog`'s student under `fit`): a batch of 32
/// users of a synthetic catalog, each with the teacher's top 20 and 20 sampled negatives,
/// row-sparse tables and their Adam.
pub fn catalog(
    backend: &Backend,
    counter: &Counter,
    options: LaunchOptions,
) -> crate::Result<StepCounts> {
    let (users, items, h) = (64, 400, CATALOG_DIM);
    let inter = synthetic_catalog(users, items, 12, 8, 3);
    let split = ImplicitSplit::from_ratings(&inter, 0.0, 0.2, 3);
    // The teacher's top-p: any scores do for a count; these are seeded.
    let mut rng = StdRng::seed_from_u64(5);
    let p = 20;
    let cache = TopPCache {
        p,
        users: (0..users)
            .map(|_| {
                let mut top: Vec<u32> = (0..items as u32).collect();
                top.shuffle(&mut rng);
                top.truncate(p);
                let mut scores: Vec<f32> = (0..p).map(|_| rng.random()).collect();
                scores.sort_by(|a, b| b.total_cmp(a));
                TopP { items: top, scores }
            })
            .collect(),
    };
    let stage: CatalogStage = toml::from_str(&format!(
        "[model]\ndim = {h}\n[train]\nepochs = 1\nbatch_size = {CATALOG_BATCH}\nlearning_rate = 0.01"
    ))?;
    let dir = tempfile::tempdir()?;
    let training = CatalogTraining {
        stage: &stage,
        split: &split,
        target: Target::Sampled {
            cache: &cache,
            loss: SampledRankDistilConfig::new()
                .with_k(10)
                .with_p(p)
                .with_m(20)
                .init(),
            alpha: 0.0,
        },
        seed: 1,
        name: "catalog",
        dir: dir.path(),
        validation: None,
    };
    let settings = training.settings();
    let mut task = training.task(backend);
    let mut counts = count_task(counter, backend, options, "catalog", (&mut task, &settings))?;
    counts.shape = (CATALOG_BATCH, p + 20, h);
    Ok(counts)
}

/// One evaluation batch: the inference forward and the read of its scores, as
/// `list::scoring::score_dataset` does per batch.
pub fn eval(
    backend: &Backend,
    counter: &Counter,
    options: LaunchOptions,
) -> crate::Result<StepCounts> {
    let (b, n, h) = SHAPE;
    let device = backend.device.clone();
    device.seed(7);
    let model = MlpScorerConfig::new(FEATURES, vec![h, h]).init(&device);
    let x = Tensor::<3>::random([b, n, FEATURES], Distribution::Normal(0.0, 1.0), &device);
    let host = (x.into_data().convert::<f32>().try_into_vec::<f32>())
        .map_err(|e| crate::Error::Device(format!("cannot read the features back: {e:?}")))?;
    count_step(counter, &device, options, "eval", || {
        let features = burn::tensor::TensorData::new(host.clone(), [b, n, FEATURES]);
        let scores = model.forward(Tensor::from_data(features, &device));
        scores
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map(drop)
            .map_err(|e| crate::Error::Device(format!("cannot read the scores: {e:?}")))
    })
}

/// Every step of the suite, counted on `backend`.
pub fn run(backend: &Backend, options: LaunchOptions) -> crate::Result<Vec<StepCounts>> {
    let counter = Counter::new()?;
    Ok(vec![
        reference(backend, &counter, options)?,
        trainer(backend, &counter, options)?,
        catalog(backend, &counter, options)?,
        eval(backend, &counter, options)?,
    ])
}

/// The suite's Markdown table: per steady step, and the first step's compiles.
pub fn table(rows: &[StepCounts]) -> String {
    let mut out = String::from(
        "| step | B×N, H | launches | read-backs | uploaded bytes | submits | compiles | fusion blocks (fused) | first step: launches, compiles |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let c = r.per_step();
        let (b, n, h) = r.shape;
        out.push_str(&format!(
            "| {} | {b}×{n}, {h} | {} | {} | {} | {} | {} | {} ({}) | {}, {} |\n",
            r.step,
            c.launches,
            c.read_backs,
            c.uploaded,
            c.submits,
            c.compiles,
            c.fusion_blocks,
            c.fused_blocks,
            r.first.launches,
            r.first.compiles
        ));
    }
    out
}
