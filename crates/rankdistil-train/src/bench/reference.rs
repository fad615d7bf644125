//! The reference training step of `scripts/torch_reference.py`, timed on a backend.

use std::time::Instant;

use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use rankdistil_cpu::Workspace;
use rankdistil_loss::{CoupledRankDistil, OrderedLoss};
use rankdistil_models::{ItemLayout, MlpScorer, MlpScorerConfig};

use crate::backend::Backend;
use crate::bench::options::{BenchOptions, FEATURES};
use crate::memory::{chunks, effective_len, lists_per_chunk};
use crate::step_gradients::{Features, StepGradients};

/// Times the reference step at every configuration and prints one table row each.
pub fn table(backend: &Backend, options: &BenchOptions) -> anyhow::Result<()> {
    println!(
        "| B | N | H | micro-batches | steps/s | GFLOP/s (MLP) | loss | warm-up s |\n|---|---|---|---|---|---|---|---|"
    );
    for &(b, n, h) in &options.configs {
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

/// The PyTorch reference step's state: the model, Adam, one fixed batch, and its
/// micro-batches under the backend's buffer budget.
pub struct ReferenceStep {
    device: Device,
    model: Option<MlpScorer>,
    optim: ModuleOptimizer,
    x: Tensor<3>,
    host: Vec<f32>,
    /// Teacher scores on the host, as the trainer holds them: each step orders them there.
    teacher: Vec<f32>,
    loss: CoupledRankDistil,
    parts: Vec<std::ops::Range<usize>>,
    workspace: Option<Workspace>,
}

impl ReferenceStep {
    /// MLP 136→H→H→1 on `[b, n, 136]` normal features, coupled RankDistil at k = 10 on the
    /// teacher's order, Adam at 1e-3. The order is found on the host and the loss takes
    /// `forward_ordered`, as `train` does.
    pub fn new(
        backend: &Backend,
        (b, n, h): (usize, usize, usize),
        layout: ItemLayout,
    ) -> anyhow::Result<Self> {
        let device = backend.training_device();
        device.seed(7);
        let model = MlpScorerConfig::new(FEATURES, vec![h, h])
            .init(&device)
            .with_layout(layout);
        let x = Tensor::<3>::random([b, n, FEATURES], Distribution::Normal(0.0, 1.0), &device);
        let teacher = Tensor::<2>::random([b, n], Distribution::Normal(0.0, 1.0), &device);
        let width = h.max(FEATURES);
        let len = effective_len(n, width, layout);
        let parts = chunks(b, lists_per_chunk(b, len, width, backend.buffer_budget)?);
        // The trainer's batches start on the host; the kernel reads them there.
        let read = |t: &Tensor<3>| t.to_data().convert::<f32>().try_into_vec::<f32>();
        let host = read(&x).map_err(|e| anyhow::anyhow!("cannot read the features back: {e:?}"))?;
        let teacher = read(&teacher.unsqueeze_dim(2))
            .map_err(|e| anyhow::anyhow!("cannot read the teacher back: {e:?}"))?;
        Ok(Self {
            model: Some(model),
            optim: AdamConfig::new().init(),
            loss: rankdistil_loss::CoupledRankDistilConfig::new()
                .with_k(10)
                .with_samples(0)
                .init(),
            workspace: backend.cpu_kernel.then(Workspace::new),
            device,
            x,
            host,
            teacher,
            parts,
        })
    }

    pub fn micro_batches(&self) -> usize {
        self.parts.len()
    }

    /// One step: forward, loss and backward over the micro-batches, then Adam. Returns the
    /// loss, detached and not read.
    pub fn run(&mut self) -> anyhow::Result<Tensor<1>> {
        let model = self
            .model
            .take()
            .expect("the model is put back after every step");
        let [b, n, _] = self.x.dims();
        let mut gradients = StepGradients::new(&model, self.workspace.as_mut());
        let mut total: Option<Tensor<1>> = None;
        let one = self.parts.len() == 1;
        for r in &self.parts {
            let w = r.len() as f64 / b as f64;
            let features = Features {
                host: &self.host[r.start * n * FEATURES..r.end * n * FEATURES],
                dims: [r.len(), n, FEATURES],
                uploaded: Some(self.x.clone().slice([r.clone(), 0..n, 0..FEATURES])),
            };
            let teacher = &self.teacher[r.start * n..r.end * n];
            let orders = self
                .loss
                .orders(teacher, &vec![true; teacher.len()], r.len(), n);
            let loss_fn = &self.loss;
            let loss = gradients.add(&model, features, &self.device, |s| {
                let loss = loss_fn.forward_ordered(s, &orders);
                if one { loss } else { loss * w }
            })?;
            total = Some(total.map_or(loss.clone(), |sum| sum + loss));
        }
        let grads = gradients.finish(&model, &self.device);
        let total = total.ok_or_else(|| anyhow::anyhow!("a step with no lists"))?;
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
) -> anyhow::Result<StepTiming> {
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
) -> anyhow::Result<()> {
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
