//! The reference training step of `scripts/torch_reference.py`, timed on a backend: the
//! trainer's own step on a fixed batch.

use std::time::Instant;

use crate::loss_config::{DistillConfig, ObjectiveConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rankdistil_cpu::Workspace;
use rankdistil_data::{BatchPlan, ListBatch, RankingDataset, SyntheticConfig, generate};
use rankdistil_loss::{CoupledRankDistilConfig, Objective};
use rankdistil_models::{ItemLayout, MlpScorer, MlpScorerConfig};

use crate::backend::Backend;
use crate::bench::options::{BenchOptions, FEATURES};
use crate::list::resident::ResidentSet;
use crate::list::training::{StepData, accumulate_gradients};
use crate::memory::{Sizing, step_plan};
use crate::progress::logged;

/// Times the reference step at every configuration and prints one table row each.
pub fn table(backend: &Backend, options: &BenchOptions) -> crate::Result<()> {
    println!(
        "| B | N | H | micro-batches | steps/s | GFLOP/s (MLP) | loss | warm-up s |\n|---|---|---|---|---|---|---|---|"
    );
    for &(b, n, h) in &options.configs {
        logged!(
            "bench: reference step B={b} N={n} H={h}: warm-up (at most {:.0}s), then {} timed steps",
            options.max_warmup_s,
            options.steps
        );
        let r = reference_step(
            backend,
            (b, n, h),
            options.layout,
            options.warmup,
            options.max_warmup_s,
            options.steps,
        )?;
        println!(
            "| {b} | {n} | {h} | {} | {:.2} | {:.1} | {:.4} | {:.1} |",
            r.micro_batches, r.steps_per_s, r.gflops, r.loss, r.warmup_s
        );
    }
    Ok(())
}

pub struct StepTiming {
    /// Seconds spent warming up (compilation, autotune) before timing.
    pub warmup_s: f64,
    pub steps_per_s: f64,
    pub gflops: f64,
    pub loss: f32,
    pub micro_batches: usize,
}

/// The PyTorch reference step's state: the model, Adam, one fixed host batch and its teacher
/// scores, stepped by the trainer's own [`accumulate_gradients`], as `train` steps.
pub struct ReferenceStep {
    device: Device,
    model: Option<MlpScorer>,
    optim: ModuleOptimizer,
    objective: Objective,
    batch: ListBatch,
    /// Teacher scores on the host, one per row, as the trainer holds them.
    teacher: Vec<f32>,
    /// The data on the device, where the trainer keeps it (a GPU).
    resident: Option<ResidentSet>,
    sizing: Sizing,
    micro_batches: usize,
    workspace: Option<Workspace>,
}

/// The reference step's data: `b` synthetic lists of `n` items with 136 features, and a
/// teacher score per row (uniform).
pub struct ReferenceData {
    pub lists: RankingDataset,
    pub teacher: Vec<f32>,
}

pub fn reference_data(b: usize, n: usize) -> ReferenceData {
    let lists = generate(&SyntheticConfig {
        queries: b,
        min_items: n,
        max_items: n,
        features: FEATURES,
        seed: 7,
        ..SyntheticConfig::default()
    });
    let mut rng = StdRng::seed_from_u64(7);
    let teacher = (0..lists.num_rows()).map(|_| rng.random()).collect();
    ReferenceData { lists, teacher }
}

/// The one batch the reference step takes: every list, in order.
pub fn reference_lists(data: &ReferenceData) -> Vec<(usize, Vec<usize>)> {
    let b = data.lists.num_queries();
    BatchPlan::evaluation(b)
        .epoch(&data.lists, 0, 0)
        .swap_remove(0)
}

/// Coupled RankDistil at k = 10 on the teacher's own order (no sampled orders).
pub fn reference_objective() -> ObjectiveConfig {
    ObjectiveConfig::new(DistillConfig::Coupled(
        CoupledRankDistilConfig::new().with_k(10).with_samples(0),
    ))
}

impl ReferenceStep {
    /// MLP 136→H→H→1 on `b` synthetic lists of `n` items with 136 features, coupled RankDistil
    /// at k = 10 on the teacher's order (uniform scores), Adam at 1e-3.
    pub fn new(
        backend: &Backend,
        (b, n, h): (usize, usize, usize),
        layout: ItemLayout,
    ) -> crate::Result<Self> {
        let device = backend.training_device();
        device.seed(7);
        let model = MlpScorerConfig::new(FEATURES, vec![h, h])
            .init(&device)
            .with_layout(layout);
        let data = reference_data(b, n);
        let lists = reference_lists(&data);
        // Padded, and on the device, as the trainer keeps a batch on this backend.
        let resident = ResidentSet::upload(&data.lists, Some(&data.teacher), backend);
        let batch = match resident {
            Some(_) => ListBatch::rows_only(&data.lists, &lists, backend.padding(b)),
            None => ListBatch::from_rows_padded(&data.lists, &lists, backend.padding(b)),
        };
        let objective = reference_objective().init();
        let teacher = data.teacher;
        let sizing = Sizing {
            widest: h.max(FEATURES),
            budget: backend.buffer_budget,
        };
        let (_, parts) = step_plan(layout, b, batch.list_len, sizing.widest, sizing.budget)?;
        let micro_batches = parts.len();
        Ok(Self {
            model: Some(model),
            optim: AdamConfig::new().init(),
            workspace: backend.cpu_kernel.then(Workspace::new),
            device,
            objective,
            batch,
            teacher,
            resident,
            sizing,
            micro_batches,
        })
    }

    pub fn micro_batches(&self) -> usize {
        self.micro_batches
    }

    /// The model the next step trains.
    pub fn model(&self) -> &MlpScorer {
        self.model
            .as_ref()
            .expect("the model is put back after every step")
    }

    /// The step's loss and gradients at `model`: forward, loss and backward over the
    /// micro-batches, by the trainer's own function.
    pub fn gradients(&mut self, model: &MlpScorer) -> crate::Result<(Tensor<1>, GradientsParams)> {
        let data = StepData {
            batch: &self.batch,
            teacher: Some(&self.teacher),
            resident: self.resident.as_ref(),
        };
        accumulate_gradients(
            model,
            &self.objective,
            data,
            self.sizing,
            &self.device,
            self.workspace.as_mut(),
        )
    }

    /// One step, as `train` takes it: [`Self::gradients`], then Adam. Returns the loss,
    /// detached and not read.
    pub fn run(&mut self) -> crate::Result<Tensor<1>> {
        let model = self
            .model
            .take()
            .expect("the model is put back after every step");
        let (total, grads) = self.gradients(&model)?;
        self.model = Some(self.optim.step(1e-3, model, grads));
        Ok(total)
    }
}

/// The PyTorch reference step, with the same shapes and math, on `backend`.
pub fn reference_step(
    backend: &Backend,
    (b, n, h): (usize, usize, usize),
    layout: ItemLayout,
    warmup: usize,
    max_warmup_s: f64,
    steps: usize,
) -> crate::Result<StepTiming> {
    let mut step = ReferenceStep::new(backend, (b, n, h), layout)?;
    let micro_batches = step.micro_batches();
    let warm_start = Instant::now();
    let until_settled = backend.is_gpu.then_some(max_warmup_s);
    warm_up(&mut step, warmup, until_settled)?;
    let warmup_s = warm_start.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut last = None;
    for _ in 0..steps {
        last = Some(step.run()?);
    }
    // One read at the end waits for the queued work, as torch.cuda.synchronize does.
    let loss = last.map_or(f32::NAN, |l| l.into_scalar::<f32>());
    let dt = started.elapsed().as_secs_f64();
    let flops = 6.0 * (b * n) as f64 * (FEATURES * h + h * h + h) as f64 * steps as f64;
    Ok(StepTiming {
        warmup_s,
        steps_per_s: steps as f64 / dt,
        gflops: flops / dt / 1e9,
        loss,
        micro_batches,
    })
}

/// `warmup` untimed steps; then, given `until_settled`, blocks of 5 steps until two in a row
/// agree within 10% (kernel compilation and autotuning run on a GPU's first use of a shape),
/// for at most that many seconds in all.
fn warm_up(
    step: &mut ReferenceStep,
    warmup: usize,
    until_settled: Option<f64>,
) -> crate::Result<()> {
    let started = Instant::now();
    for _ in 0..warmup {
        step.run()?.into_scalar::<f32>();
    }
    let Some(max_s) = until_settled else {
        return Ok(());
    };
    let mut previous = f64::INFINITY;
    while started.elapsed().as_secs_f64() < max_s {
        let t = Instant::now();
        let mut last = None;
        for _ in 0..5 {
            last = Some(step.run()?);
        }
        last.map(|l| l.into_scalar::<f32>());
        let block = t.elapsed().as_secs_f64();
        if (block - previous).abs() <= 0.1 * previous {
            break;
        }
        previous = block;
    }
    Ok(())
}
