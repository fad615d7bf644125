//! `bench --suite launches`: what each GPU step costs the host, counted rather than timed
//! (see [`crate::device_counts`]). Launches, read-backs, submits and compiles do not depend on
//! the card, so the suite runs on the software adapter in CI and its counts hold on a GPU.
//!
//! Each step is warmed up, then counted over steady steps; each counted step ends in a device
//! sync, so its lazily fused kernels run inside its own count.

use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Distribution;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rankdistil_data::{BatchPlan, ListBatch, RankingDataset, SyntheticConfig, generate};
use rankdistil_loss::{CoupledRankDistilConfig, DistillConfig, Objective, ObjectiveConfig};
use rankdistil_models::{ItemLayout, MlpScorer, MlpScorerConfig};

use crate::backend::Backend;
use crate::bench::options::FEATURES;
use crate::bench::profile::sync;
use crate::bench::reference::ReferenceStep;
use crate::device_counts::{Counter, Counts};
use crate::list::training::accumulate_gradients;
use crate::memory::Sizing;

/// The suite's shape: B lists of N items, hidden width H. Launch counts do not grow with any
/// of them, so the smallest shape that exercises every kernel is counted.
pub const SHAPE: (usize, usize, usize) = (8, 64, 32);

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
    mut step: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<StepCounts> {
    let mut synced = || -> anyhow::Result<()> {
        step()?;
        sync(device)
    };
    let (r, first) = counter.count(&mut synced);
    r?;
    for _ in 0..options.warmup {
        counter.count(&mut synced).0?;
    }
    let mut steady = Vec::with_capacity(options.steps);
    for _ in 0..options.steps {
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
) -> anyhow::Result<StepCounts> {
    let mut step = ReferenceStep::new(backend, SHAPE, ItemLayout::Lists)?;
    count_step(
        counter,
        &backend.training_device(),
        options,
        "reference",
        || step.run().map(drop),
    )
}

/// What the trainer's step reads: one padded batch of synthetic lists with [`FEATURES`]
/// features, teacher scores per row, and coupled RankDistil with 8 sampled orders.
struct TrainerBatch {
    batch: ListBatch,
    teacher: Vec<f32>,
    objective: Objective,
}

impl TrainerBatch {
    fn new(backend: &Backend) -> Self {
        let (b, n, _) = SHAPE;
        let data: RankingDataset = generate(&SyntheticConfig {
            queries: b,
            min_items: n,
            max_items: n,
            features: FEATURES,
            ..SyntheticConfig::default()
        });
        let lists = BatchPlan::training(b, None).epoch(&data, 1, 1);
        let batch = ListBatch::from_rows_padded(&data, &lists[0], backend.padding(b));
        let mut rng = StdRng::seed_from_u64(11);
        let teacher = (0..data.num_rows()).map(|_| rng.random::<f32>()).collect();
        let objective = ObjectiveConfig::new(DistillConfig::Coupled(
            CoupledRankDistilConfig::new().with_samples(8),
        ))
        .init();
        Self {
            batch,
            teacher,
            objective,
        }
    }
}

/// The trainer's own step (`ListTask::step` and `fit`'s update): host batch and targets,
/// uploads, the objective, backward, Adam, and the loss summed on the device.
pub fn trainer(
    backend: &Backend,
    counter: &Counter,
    options: LaunchOptions,
) -> anyhow::Result<StepCounts> {
    let (_, _, h) = SHAPE;
    let device = backend.training_device();
    device.seed(7);
    let mut model = Some(MlpScorerConfig::new(FEATURES, vec![h, h]).init(&device));
    let mut optim = crate::fit::optimizer_for(0.0);
    let inputs = TrainerBatch::new(backend);
    let sizing = Sizing {
        widest: FEATURES.max(h),
        budget: backend.buffer_budget,
    };
    let mut loss_sum = Tensor::<1>::zeros([1], &device);
    let mut global = 0u64;
    count_step(counter, &device, options, "trainer", || {
        let m: MlpScorer = model
            .take()
            .expect("the model is put back after every step");
        inputs.objective.reseed(global);
        let (loss, grads): (Tensor<1>, GradientsParams) = accumulate_gradients(
            &m,
            &inputs.objective,
            &inputs.batch,
            Some(&inputs.teacher),
            sizing,
            &device,
            None,
        )?;
        loss_sum = loss_sum.clone() + loss;
        model = Some(optim.step(1e-3, m, grads));
        global += 1;
        Ok(())
    })
}

/// One evaluation batch: the inference forward and the read of its scores, as
/// `list::scoring::score_dataset` does per batch.
pub fn eval(
    backend: &Backend,
    counter: &Counter,
    options: LaunchOptions,
) -> anyhow::Result<StepCounts> {
    let (b, n, h) = SHAPE;
    let device = backend.device.clone();
    device.seed(7);
    let model = MlpScorerConfig::new(FEATURES, vec![h, h]).init(&device);
    let x = Tensor::<3>::random([b, n, FEATURES], Distribution::Normal(0.0, 1.0), &device);
    let host = (x.into_data().convert::<f32>().try_into_vec::<f32>())
        .map_err(|e| anyhow::anyhow!("cannot read the features back: {e:?}"))?;
    count_step(counter, &device, options, "eval", || {
        let features = burn::tensor::TensorData::new(host.clone(), [b, n, FEATURES]);
        let scores = model.forward(Tensor::from_data(features, &device));
        scores
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map(drop)
            .map_err(|e| anyhow::anyhow!("cannot read the scores: {e:?}"))
    })
}

/// Every step of the suite, counted on `backend`.
pub fn run(backend: &Backend, options: LaunchOptions) -> anyhow::Result<Vec<StepCounts>> {
    let counter = Counter::new()?;
    Ok(vec![
        reference(backend, &counter, options)?,
        trainer(backend, &counter, options)?,
        eval(backend, &counter, options)?,
    ])
}

/// The suite's Markdown table: per steady step, and the first step's compiles.
pub fn table(rows: &[StepCounts]) -> String {
    let mut out = String::from(
        "| step | B×N, H | launches | read-backs | submits | compiles | fusion blocks (fused) | first step: launches, compiles |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let c = r.per_step();
        let (b, n, h) = r.shape;
        out.push_str(&format!(
            "| {} | {b}×{n}, {h} | {} | {} | {} | {} | {} ({}) | {}, {} |\n",
            r.step,
            c.launches,
            c.read_backs,
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
