//! The per-loss suite (one student step per method) and the catalog-size suite (sampled
//! RankDistil against the full-catalog loss).

use std::time::Instant;

use crate::loss_config::{DistillConfig, ObjectiveConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use rankdistil_loss::{
    Candidates, CoupledRankDistilConfig, HostTargets, SampledRankDistil, SampledRankDistilConfig,
};
use rankdistil_models::{MlpScorer, MlpScorerConfig};

use crate::backend::Backend;
use crate::bench::options::FEATURES;
use crate::progress::logged;

/// One student step (MLP 136→32→1, the loss, Adam) per method at B=64, N=1000, k=10, S=8.
pub fn losses(backend: &Backend, warmup: usize, steps: usize) -> crate::Result<()> {
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
        logged!("bench: {name} student step, {warmup} warm-up and {steps} timed steps");
        let objective = ObjectiveConfig::new(distill).init();
        let mut model = MlpScorerConfig::new(FEATURES, vec![32]).init(&device);
        let mut optim = AdamConfig::new().init();
        let targets = HostTargets {
            batch: b,
            len: n,
            mask: &mask,
            labels: &labels,
            teacher: Some(&teacher),
            device: None,
        };
        let mut run = |model: MlpScorer, i: u64| {
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

/// The catalog-size suite's shapes: B queries, F query features, D embedding width, the
/// teacher's top p, m negatives, top k.
const B: usize = 64;
const F: usize = 64;
const D: usize = 32;
const P: usize = 100;
const M: usize = 100;
const K: usize = 10;

/// One catalog of the suite: a fixed item table, each query's teacher top p, and the loss.
struct Catalog {
    l: usize,
    table: Vec<f32>,
    tops: Vec<Vec<u32>>,
    teacher_top: Vec<f32>,
    loss: SampledRankDistil,
}

impl Catalog {
    fn new(l: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(l as u64);
        let table: Vec<f32> = (0..l * D).map(|_| rng.random::<f32>() - 0.5).collect();
        // The teacher's top-p per query (as a teacher top-p cache would hold them).
        let tops = (0..B)
            .map(|_| {
                let top = rand::seq::index::sample(&mut rng, l, P);
                top.into_iter().map(|i| i as u32).collect()
            })
            .collect();
        let teacher_top = (0..B)
            .flat_map(|_| (0..P + M).map(|j| -(j as f32)))
            .collect();
        let loss = SampledRankDistilConfig::new()
            .with_k(K)
            .with_p(P)
            .with_m(M)
            .init();
        Self {
            l,
            table,
            tops,
            teacher_top,
            loss,
        }
    }

    fn candidates(&self, step: u64) -> Vec<Candidates> {
        self.loss.reseed(step);
        self.tops
            .iter()
            .map(|t| self.loss.candidates(t, &[], self.l))
            .collect()
    }
}

/// A query tower (64 → 64 → 32) scored by dot product against a fixed item table `[L, 32]`.
/// The sampled step gathers only the `p + m` candidates' rows; the full step scores all L.
pub fn sampled(backend: &Backend, warmup: usize, steps: usize) -> crate::Result<()> {
    let device = backend.training_device();
    device.seed(5);
    let queries = Tensor::<3>::random([B, 1, F], Distribution::Normal(0.0, 1.0), &device);
    println!(
        "query tower 64→64→32 · item table [L, 32], B={B}, k={K}; sampled: p={P}, m={M}; {steps} steps\n\n| L | sampled loss alone ms/step | sampled step ms/step | full-catalog ms/step |\n|---|---|---|---|"
    );
    for l in [1_000usize, 10_000, 100_000, 1_000_000] {
        logged!("bench: catalog of {l} items: sampled, loss alone, full catalog");
        let catalog = Catalog::new(l);
        let sampled_ms = sampled_step_ms(&catalog, &queries, warmup, steps);
        let loss_ms = loss_alone_ms(&catalog, &device, warmup, steps);
        let full_steps = if l >= 1_000_000 { 2.min(steps) } else { steps };
        let full_ms = full_catalog_ms(&catalog, &queries, warmup.min(1), full_steps);
        println!("| {l} | {loss_ms:.2} | {sampled_ms:.2} | {full_ms:.1} |");
    }
    Ok(())
}

/// The sampled step: gather the candidates' rows, score them, the loss, Adam on the tower.
fn sampled_step_ms(catalog: &Catalog, queries: &Tensor<3>, warmup: usize, steps: usize) -> f64 {
    let device = queries.device();
    let mut tower = MlpScorerConfig::new(F, vec![64, D]).init(&device);
    let mut optim = AdamConfig::new().init();
    let mut step = |tower: MlpScorer, i: u64| {
        let cands = catalog.candidates(i);
        let rows: Vec<f32> = cands
            .iter()
            .flat_map(|c| c.items.iter())
            .flat_map(|&it| catalog.table[it as usize * D..(it as usize + 1) * D].iter())
            .copied()
            .collect();
        let items = Tensor::<3>::from_data(TensorData::new(rows, [B, P + M, D]), &device);
        let q = tower.forward_embedding(queries.clone()); // [B, 1, D]
        let scores = (items * q).sum_dim(2).squeeze_dim::<2>(2); // [B, p + m]
        let value = catalog.loss.forward(scores, &catalog.teacher_top, &cands);
        let grads = GradientsParams::from_grads(value.backward(), &tower);
        (optim.step(1e-3, tower, grads), value)
    };
    time_steps(&mut tower, &mut step, warmup, steps)
}

/// The loss alone: draw the negatives, then forward and backward on given candidate scores;
/// no item table is read.
fn loss_alone_ms(catalog: &Catalog, device: &Device, warmup: usize, steps: usize) -> f64 {
    let scores = Tensor::<2>::random([B, P + M], Distribution::Normal(0.0, 1.0), device);
    let loss_only = |i: u64| {
        let cands = catalog.candidates(i);
        let s = scores.clone().require_grad();
        let value = catalog
            .loss
            .forward(s.clone(), &catalog.teacher_top, &cands);
        let grads = value.backward();
        let grad = s.grad(&grads).expect("scores take part");
        grad.sum().into_scalar::<f32>()
    };
    (0..warmup as u64).for_each(|i| {
        loss_only(i);
    });
    let t = Instant::now();
    (0..steps as u64).for_each(|i| {
        loss_only(i);
    });
    t.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64
}

/// The full-catalog loss: score all L items, coupled RankDistil on the teacher's order.
fn full_catalog_ms(catalog: &Catalog, queries: &Tensor<3>, warmup: usize, steps: usize) -> f64 {
    let (device, l) = (queries.device(), catalog.l);
    let table = TensorData::new(catalog.table.clone(), [l, D]);
    let table_t = Tensor::<2>::from_data(table, &device).transpose(); // [D, L]
    let teacher_full = Tensor::<2>::random([B, l], Distribution::Normal(0.0, 1.0), &device);
    let mask = Tensor::<2, Bool>::full([B, l], true, &device);
    let coupled = CoupledRankDistilConfig::new()
        .with_k(K)
        .with_samples(0)
        .init();
    let mut tower = MlpScorerConfig::new(F, vec![64, D]).init(&device);
    let mut optim = AdamConfig::new().init();
    let mut full = |tower: MlpScorer, _i: u64| {
        let q = tower.forward_embedding(queries.clone()).reshape([B, D]); // [B, D]
        let scores = q.matmul(table_t.clone()); // [B, L]
        let value = coupled.forward_device_order(scores, teacher_full.clone(), mask.clone());
        let grads = GradientsParams::from_grads(value.backward(), &tower);
        (optim.step(1e-3, tower, grads), value)
    };
    time_steps(&mut tower, &mut full, warmup, steps)
}

/// Mean milliseconds per step after `warmup` untimed steps.
fn time_steps(
    model: &mut MlpScorer,
    step: &mut impl FnMut(MlpScorer, u64) -> (MlpScorer, Tensor<1>),
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
