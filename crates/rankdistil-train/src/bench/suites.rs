//! The per-loss suite (one student step per method) and the catalog-size suite (sampled
//! RankDistil against the full-catalog loss).

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use rankdistil_loss::{DistillConfig, HostTargets, ObjectiveConfig};
use rankdistil_models::MlpScorerConfig;

use crate::backend::Backend;
use crate::bench::options::FEATURES;

/// One student step (MLP 136→32→1, the loss, Adam) per method at B=64, N=1000, k=10, S=8.
pub fn losses(backend: &Backend, warmup: usize, steps: usize) -> anyhow::Result<()> {
    let (b, n) = (64usize, 1000usize);
    let device = backend.training_device();
    device.seed(3);
    let x = Tensor::<3>::random([b, n, FEATURES], Distribution::Normal(0.0, 1.0), &device);
    let teacher: Vec<f32> =
        Tensor::<2>::random([b, n], Distribution::Normal(0.0, 1.0), &backend.device)
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .expect("floats");
    let labels: Vec<f32> = teacher
        .iter()
        .map(|t| (t * 1.5 + 1.0).clamp(0.0, 4.0).floor())
        .collect();
    let mask = vec![true; b * n];
    println!(
        "student step (MLP 136→32→1 + loss + Adam), B={b} N={n} k=10 S=8, {steps} steps\n\n| loss | ms/step | steps/s |\n|---|---|---|"
    );
    for distill in DistillConfig::all() {
        let name = distill.name();
        let objective = ObjectiveConfig::new(distill).init();
        let mut model = MlpScorerConfig::new(FEATURES, vec![32]).init(&device);
        let mut optim = AdamConfig::new().init();
        let targets = HostTargets {
            batch: b,
            len: n,
            mask: &mask,
            labels: &labels,
            teacher: Some(&teacher),
        };
        let mut run = |model: rankdistil_models::MlpScorer, i: u64| {
            objective.reseed(i);
            let loss = objective.forward(model.forward(x.clone()), &targets);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let model = optim.step(1e-3, model, grads);
            (model, loss)
        };
        let ms = time_steps(&mut model, &mut run, warmup, steps);
        println!("| {name} | {ms:.1} | {:.2} |", 1e3 / ms);
    }
    Ok(())
}

/// A query tower (64 → 64 → 32) scored by dot product against a fixed item table `[L, 32]`.
/// The sampled step gathers only the `p + m` candidates' rows; the full step scores all L.
pub fn sampled(backend: &Backend, warmup: usize, steps: usize) -> anyhow::Result<()> {
    use rand::{RngExt, SeedableRng, rngs::StdRng};
    use rankdistil_loss::{CoupledRankDistilConfig, SampledRankDistilConfig};

    let (b, f, d, p, m, k) = (64usize, 64usize, 32usize, 100usize, 100usize, 10usize);
    let device = backend.training_device();
    device.seed(5);
    let queries = Tensor::<3>::random([b, 1, f], Distribution::Normal(0.0, 1.0), &device);
    println!(
        "query tower 64→64→32 · item table [L, 32], B={b}, k={k}; sampled: p={p}, m={m}; {steps} steps\n\n| L | sampled loss alone ms/step | sampled step ms/step | full-catalog ms/step |\n|---|---|---|---|"
    );
    for l in [1_000usize, 10_000, 100_000, 1_000_000] {
        let mut rng = StdRng::seed_from_u64(l as u64);
        let table: Vec<f32> = (0..l * d).map(|_| rng.random::<f32>() - 0.5).collect();
        // The teacher's top-p per query (as a teacher top-p cache would hold them).
        let tops: Vec<Vec<u32>> = (0..b)
            .map(|_| rankdistil_loss::distinct_uniform(l, p, &Default::default(), &mut rng))
            .collect();
        let teacher_top: Vec<f32> = (0..b)
            .flat_map(|_| (0..p + m).map(|j| -(j as f32)))
            .collect();
        let loss = SampledRankDistilConfig::new()
            .with_k(k)
            .with_p(p)
            .with_m(m)
            .init();
        let mut tower = MlpScorerConfig::new(f, vec![64, d]).init(&device);
        let mut optim = AdamConfig::new().init();
        let mut step = |tower: rankdistil_models::MlpScorer, i: u64| {
            loss.reseed(i);
            let cands: Vec<_> = tops.iter().map(|t| loss.candidates(t, l)).collect();
            let rows: Vec<f32> = cands
                .iter()
                .flat_map(|c| {
                    c.items.iter().flat_map(|&it| {
                        table[it as usize * d..(it as usize + 1) * d]
                            .iter()
                            .copied()
                    })
                })
                .collect();
            let items =
                Tensor::<3>::from_data(burn::tensor::TensorData::new(rows, [b, p + m, d]), &device);
            let q = tower.forward_embedding(queries.clone()); // [B, 1, D]
            let scores = (items * q).sum_dim(2).squeeze_dim::<2>(2); // [B, p + m]
            let value = loss.forward(scores, &teacher_top, &cands);
            let grads = GradientsParams::from_grads(value.backward(), &tower);
            (optim.step(1e-3, tower, grads), value)
        };
        let sampled_ms = time_steps(&mut tower, &mut step, warmup, steps);

        // The loss alone: draw the negatives, then forward and backward on given candidate
        // scores; no item table is read.
        let scores = Tensor::<2>::random([b, p + m], Distribution::Normal(0.0, 1.0), &device);
        let loss_only = |i: u64| {
            loss.reseed(i);
            let cands: Vec<_> = tops.iter().map(|t| loss.candidates(t, l)).collect();
            let s = scores.clone().require_grad();
            let value = loss.forward(s.clone(), &teacher_top, &cands);
            let grads = value.backward();
            s.grad(&grads)
                .expect("scores take part")
                .sum()
                .into_scalar::<f32>()
        };
        (0..warmup as u64).for_each(|i| {
            loss_only(i);
        });
        let t = Instant::now();
        (0..steps as u64).for_each(|i| {
            loss_only(i);
        });
        let loss_ms = t.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64;

        // The full-catalog loss: score all L items, coupled RankDistil on the teacher's order.
        let full_steps = if l >= 1_000_000 { 2.min(steps) } else { steps };
        let table_t = Tensor::<2>::from_data(
            burn::tensor::TensorData::new(table.clone(), [l, d]),
            &device,
        )
        .transpose(); // [D, L]
        let teacher_full = Tensor::<2>::random([b, l], Distribution::Normal(0.0, 1.0), &device);
        let mask = Tensor::<2, Bool>::full([b, l], true, &device);
        let coupled = CoupledRankDistilConfig::new()
            .with_k(k)
            .with_samples(0)
            .init();
        let mut tower = MlpScorerConfig::new(f, vec![64, d]).init(&device);
        let mut optim = AdamConfig::new().init();
        let mut full = |tower: rankdistil_models::MlpScorer, _i: u64| {
            let q = tower.forward_embedding(queries.clone()).reshape([b, d]); // [B, D]
            let scores = q.matmul(table_t.clone()); // [B, L]
            let value = coupled.forward_device_order(scores, teacher_full.clone(), mask.clone());
            let grads = GradientsParams::from_grads(value.backward(), &tower);
            (optim.step(1e-3, tower, grads), value)
        };
        let full_ms = time_steps(&mut tower, &mut full, warmup.min(1), full_steps);
        println!("| {l} | {loss_ms:.2} | {sampled_ms:.2} | {full_ms:.1} |");
    }
    Ok(())
}

/// Mean milliseconds per step after `warmup` untimed steps.
fn time_steps(
    model: &mut rankdistil_models::MlpScorer,
    step: &mut impl FnMut(
        rankdistil_models::MlpScorer,
        u64,
    ) -> (rankdistil_models::MlpScorer, Tensor<1>),
    warmup: usize,
    steps: usize,
) -> f64 {
    let mut current = model.clone();
    for i in 0..warmup {
        let (m, l) = step(current, i as u64);
        current = m;
        l.into_scalar::<f32>();
    }
    let started = Instant::now();
    let mut last = None;
    for i in 0..steps {
        let (m, l) = step(current, (warmup + i) as u64);
        current = m;
        last = Some(l);
    }
    if let Some(l) = last {
        l.into_scalar::<f32>();
    }
    *model = current;
    started.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64
}
