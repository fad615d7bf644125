//! The reference training step of `scripts/torch_reference.py`, timed on a backend.

use std::time::Instant;

use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use rankdistil_cpu::Workspace;
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

/// The PyTorch reference step, with the same shapes and math, on `backend`.
pub fn reference_step(
    backend: &Backend,
    (b, n, h): (usize, usize, usize),
    layout: ItemLayout,
    warmup: usize,
    max_warmup_s: f64,
    steps: usize,
) -> anyhow::Result<StepTiming> {
    let device = backend.training_device();
    device.seed(7);
    let mut model = MlpScorerConfig::new(FEATURES, vec![h, h])
        .init(&device)
        .with_layout(layout);
    let mut optim = AdamConfig::new().init();
    let x = Tensor::<3>::random([b, n, FEATURES], Distribution::Normal(0.0, 1.0), &device);
    let t = Tensor::<2>::random([b, n], Distribution::Normal(0.0, 1.0), &device);
    let mask = Tensor::<2, Bool>::full([b, n], true, &device);
    let loss_fn = rankdistil_loss::CoupledRankDistilConfig::new()
        .with_k(10)
        .with_samples(0)
        .init();
    let width = h.max(FEATURES);
    let len = effective_len(n, width, layout);
    let parts = chunks(b, lists_per_chunk(b, len, width, backend.buffer_budget)?);
    let micro_batches = parts.len();
    // The trainer's batches start on the host; the kernel reads them there.
    let host = (x.to_data().convert::<f32>().try_into_vec::<f32>())
        .map_err(|e| anyhow::anyhow!("cannot read the features back: {e:?}"))?;
    let mut workspace = backend.cpu_kernel.then(Workspace::new);
    let mut step = |model: MlpScorer| -> anyhow::Result<(MlpScorer, Tensor<1>)> {
        let mut gradients = StepGradients::new(&model, workspace.as_mut());
        let mut total: Option<Tensor<1>> = None;
        for r in &parts {
            let one = parts.len() == 1;
            let w = r.len() as f64 / b as f64;
            let part = |t: &Tensor<2>| t.clone().slice([r.clone(), 0..n]);
            let features = Features {
                host: &host[r.start * n * FEATURES..r.end * n * FEATURES],
                dims: [r.len(), n, FEATURES],
                uploaded: Some(x.clone().slice([r.clone(), 0..n, 0..FEATURES])),
            };
            let loss = gradients.add(&model, features, &device, |s| {
                let loss = loss_fn.forward_device_order(
                    s,
                    part(&t),
                    mask.clone().slice([r.clone(), 0..n]),
                );
                if one { loss } else { loss * w }
            })?;
            total = Some(total.map_or(loss.clone(), |sum| sum + loss));
        }
        let grads = gradients.finish(&model, &device);
        let total = total.ok_or_else(|| anyhow::anyhow!("a step with no lists"))?;
        Ok((optim.step(1e-3, model, grads), total))
    };
    let warm_start = Instant::now();
    let until_settled = backend.is_gpu.then_some(max_warmup_s);
    model = warm_up(model, &mut step, warmup, until_settled)?;
    let warmup_s = warm_start.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut last = Tensor::<1>::zeros([1], &device);
    for _ in 0..steps {
        let (m, l) = step(model)?;
        model = m;
        last = l;
    }
    // One read at the end waits for the queued work, as torch.cuda.synchronize does.
    let loss = last.into_scalar::<f32>();
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
    mut model: MlpScorer,
    step: &mut impl FnMut(MlpScorer) -> anyhow::Result<(MlpScorer, Tensor<1>)>,
    warmup: usize,
    until_settled: Option<f64>,
) -> anyhow::Result<MlpScorer> {
    let started = Instant::now();
    for _ in 0..warmup {
        let (m, l) = step(model)?;
        model = m;
        l.into_scalar::<f32>();
    }
    let Some(max_s) = until_settled else {
        return Ok(model);
    };
    let mut previous = f64::INFINITY;
    while started.elapsed().as_secs_f64() < max_s {
        let t = Instant::now();
        let mut last = None;
        for _ in 0..5 {
            let (m, loss) = step(model)?;
            model = m;
            last = Some(loss);
        }
        last.map(|l| l.into_scalar::<f32>());
        let block = t.elapsed().as_secs_f64();
        if (block - previous).abs() <= 0.1 * previous {
            break;
        }
        previous = block;
    }
    Ok(model)
}
