//! `bench --suite profile`: where the reference step's time goes, with the trainer's loss.
//!
//! Each phase of the step (MLP forward, loss, backward, Adam) ends in a device sync, so its time
//! is its own. The matmuls of the step are then timed alone: the forward products and the
//! weight-gradient product `xᵀ·g`, whose inner dimension is every item of the batch; and the
//! output layer's one-column products, in both item layouts.

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use rankdistil_data::ListBatch;
use rankdistil_loss::HostTargets;
use rankdistil_models::{ItemLayout, MlpScorerConfig};

use crate::backend::Backend;
use crate::bench::options::FEATURES;
use crate::bench::reference::{reference_data, reference_lists, reference_objective};
use crate::list::resident::ResidentSet;
use crate::progress::logged;

/// Milliseconds per phase, averaged over the timed steps.
struct Phases {
    forward: f64,
    loss: f64,
    backward: f64,
    adam: f64,
}

/// Waits for the device's queued work, naming a failure as the step's.
pub(crate) fn sync(device: &Device) -> crate::Result<()> {
    device.sync().map_err(|e| {
        crate::Error::Device(format!("the device failed while running the step: {e:?}"))
    })
}

/// Runs `f` in blocks of 3 calls until two blocks in a row agree within 10% (kernel compilation
/// and autotune happen on first use of a shape), for at most `max_s` seconds; then times `steps`
/// calls. Returns milliseconds per call.
fn settle_and_time(
    device: &Device,
    max_s: f64,
    steps: usize,
    mut f: impl FnMut() -> crate::Result<()>,
) -> crate::Result<f64> {
    let started = Instant::now();
    let mut previous = f64::INFINITY;
    while started.elapsed().as_secs_f64() < max_s {
        let t = Instant::now();
        for _ in 0..3 {
            f()?;
        }
        sync(device)?;
        let block = t.elapsed().as_secs_f64();
        if (block - previous).abs() <= 0.1 * previous {
            break;
        }
        previous = block;
    }
    let t = Instant::now();
    for _ in 0..steps {
        f()?;
    }
    sync(device)?;
    Ok(t.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64)
}

fn phases(
    backend: &Backend,
    (b, n, h): (usize, usize, usize),
    layout: ItemLayout,
    max_warmup_s: f64,
    steps: usize,
) -> crate::Result<Phases> {
    let device = backend.training_device();
    device.seed(7);
    let mut model = Some(
        MlpScorerConfig::new(FEATURES, vec![h, h])
            .init(&device)
            .with_layout(layout),
    );
    let mut optim = AdamConfig::new().init();
    // The reference step's batch and objective, the data resident on the device as the
    // trainer keeps it there: the forward phase gathers the batch, the loss phase is the
    // trainer's loss (orders drawn on the device, then the kernels).
    let data = reference_data(b, n);
    let resident = ResidentSet::upload_to(&data.lists, Some(&data.teacher), &device);
    let batch = ListBatch::rows_only(&data.lists, &reference_lists(&data), backend.padding(b));
    let teacher = batch.gather_rows(&data.teacher);
    let objective = reference_objective().init();
    let mut totals = [0.0f64; 4];
    let mut step = |totals: &mut [f64; 4]| -> crate::Result<()> {
        let m = model
            .take()
            .expect("the model is put back after every step");
        let clock = Instant::now();
        let on_device = resident.gather(&batch, &device);
        let s = m.forward(on_device.features); // [B, N]
        sync(&device)?;
        let forward = clock.elapsed().as_secs_f64();
        let targets = HostTargets {
            batch: batch.batch_size,
            len: batch.list_len,
            mask: &batch.mask,
            labels: &batch.labels,
            teacher: Some(&teacher),
            device: Some(&on_device.targets),
        };
        let loss = objective.forward(s, &targets);
        sync(&device)?;
        let loss_t = clock.elapsed().as_secs_f64();
        let grads = GradientsParams::from_grads(loss.backward(), &m);
        sync(&device)?;
        let backward = clock.elapsed().as_secs_f64();
        model = Some(optim.step(1e-3, m, grads));
        sync(&device)?;
        let adam = clock.elapsed().as_secs_f64();
        for (total, span) in totals.iter_mut().zip([
            forward,
            loss_t - forward,
            backward - loss_t,
            adam - backward,
        ]) {
            *total += span;
        }
        Ok(())
    };
    settle_and_time(&device, max_warmup_s, 0, || step(&mut totals))?;
    totals = [0.0; 4];
    for _ in 0..steps {
        step(&mut totals)?;
    }
    let ms = |i: usize| totals[i] * 1e3 / steps as f64;
    Ok(Phases {
        forward: ms(0),
        loss: ms(1),
        backward: ms(2),
        adam: ms(3),
    })
}

/// Milliseconds per call of a product whose operands were made once and stay on the device.
/// `product` reduces its result into a scalar that is kept, so a lazy backend cannot skip it.
fn product_ms(
    device: &Device,
    max_warmup_s: f64,
    steps: usize,
    product: impl Fn() -> Tensor<1>,
) -> crate::Result<f64> {
    let mut kept = Vec::new();
    settle_and_time(device, max_warmup_s, steps, || {
        kept.push(product());
        Ok(())
    })
}

fn product_gflops(
    device: &Device,
    flops: f64,
    max_warmup_s: f64,
    steps: usize,
    product: impl Fn() -> Tensor<1>,
) -> crate::Result<f64> {
    let ms = product_ms(device, max_warmup_s, steps, product)?;
    Ok(flops / (ms * 1e-3) / 1e9)
}

fn normal<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// GFLOP/s of the step's matmuls for `(B, N, H)`: `x·W1` and `h·W2` as 2-D products over
/// `rows = B·N`; `h·W2` as `Linear` runs it on `[B, N, H]` input (Burn keeps the batches when N
/// is a multiple of 32: a batched product against a broadcast weight); and the weight gradient
/// `hᵀ·g`, whose left operand is a transposed view, as autodiff makes it.
fn matmuls(
    device: &Device,
    (b, n, h): (usize, usize, usize),
    max_warmup_s: f64,
    steps: usize,
) -> crate::Result<[f64; 4]> {
    let rows = b * n;
    let (x, w1) = (
        normal([rows, FEATURES], device),
        normal([FEATURES, h], device),
    );
    let (hid, w2) = (normal([rows, h], device), normal([h, h], device));
    let hid3 = hid.clone().reshape([b, n, h]);
    let g = normal([rows, h], device);
    let flops = |k: usize| 2.0 * (rows * k * h) as f64;
    Ok([
        product_gflops(device, flops(FEATURES), max_warmup_s, steps, || {
            x.clone().matmul(w1.clone()).sum()
        })?,
        product_gflops(device, flops(h), max_warmup_s, steps, || {
            hid.clone().matmul(w2.clone()).sum()
        })?,
        product_gflops(device, flops(h), max_warmup_s, steps, || {
            burn::tensor::module::linear(hid3.clone(), w2.clone(), None).sum()
        })?,
        product_gflops(device, flops(h), max_warmup_s, steps, || {
            hid.clone().transpose().matmul(g.clone()).sum()
        })?,
    ])
}

/// Milliseconds of the output layer's products for `(B, N, H)`, whose one output column makes
/// them memory-bound: the forward `h·w` and the input gradient `g·wᵀ` (an outer product), each
/// as `Linear` runs it on `[B, N, ·]` and on `[B·N, ·]`.
fn output_layer(
    device: &Device,
    (b, n, h): (usize, usize, usize),
    max_warmup_s: f64,
    steps: usize,
) -> crate::Result<[f64; 4]> {
    let rows = b * n;
    let (hid, w) = (normal([rows, h], device), normal([h, 1], device));
    let hid3 = hid.clone().reshape([b, n, h]);
    let g = normal([rows, 1], device);
    let g3 = g.clone().reshape([b, n, 1]);
    let wt = w.clone().transpose(); // [1, H]
    let linear = burn::tensor::module::linear::<3>;
    Ok([
        product_ms(device, max_warmup_s, steps, || {
            linear(hid3.clone(), w.clone(), None).sum()
        })?,
        product_ms(device, max_warmup_s, steps, || {
            hid.clone().matmul(w.clone()).sum()
        })?,
        product_ms(device, max_warmup_s, steps, || {
            linear(g3.clone(), wt.clone(), None).sum()
        })?,
        product_ms(device, max_warmup_s, steps, || {
            g.clone().matmul(wt.clone()).sum()
        })?,
    ])
}

pub fn run(
    backend: &Backend,
    configs: &[(usize, usize, usize)],
    layout: ItemLayout,
    max_warmup_s: f64,
    steps: usize,
) -> crate::Result<()> {
    crate::error::ensure!(steps >= 1, "--steps must be at least 1");
    println!(
        "reference step by phase, each phase ending in a device sync; ms per step over {steps} steps\n\n\
         | B | N | H | MLP forward | loss | backward | Adam | sum |\n|---|---|---|---|---|---|---|---|"
    );
    for &(b, n, h) in configs {
        logged!("bench: phases of B={b} N={n} H={h}");
        let p = phases(backend, (b, n, h), layout, max_warmup_s, steps)?;
        println!(
            "| {b} | {n} | {h} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            p.forward,
            p.loss,
            p.backward,
            p.adam,
            p.forward + p.loss + p.backward + p.adam
        );
    }
    println!(
        "\nthe step's matmuls alone (rows = B·N), GFLOP/s\n\n\
         | B | N | H | x·W1 [rows,136]·[136,H] | h·W2 [rows,H]·[H,H] | h·W2 as Linear on [B,N,H] | weight grad [rows,H]ᵀ·[rows,H] |\n|---|---|---|---|---|---|---|"
    );
    let device = backend.device.clone();
    for &(b, n, h) in configs {
        logged!("bench: matmuls of B={b} N={n} H={h}");
        let [first, second, linear, grad] = matmuls(&device, (b, n, h), max_warmup_s, steps)?;
        println!("| {b} | {n} | {h} | {first:.1} | {second:.1} | {linear:.1} | {grad:.1} |");
    }
    println!(
        "\nthe output layer alone (one column), ms\n\n\
         | B | N | H | h·w as Linear on [B,N,H] | h·w on [rows,H] | g·wᵀ as Linear on [B,N,1] | g·wᵀ on [rows,1] |\n|---|---|---|---|---|---|---|"
    );
    for &(b, n, h) in configs {
        logged!("bench: output layer of B={b} N={n} H={h}");
        let [lists, rows, grad_lists, grad_rows] =
            output_layer(&device, (b, n, h), max_warmup_s, steps)?;
        println!("| {b} | {n} | {h} | {lists:.4} | {rows:.4} | {grad_lists:.4} | {grad_rows:.4} |");
    }
    Ok(())
}
