//! Training one catalog scorer: the full-softmax label loss, sampled RankDistil from the
//! top-p cache, or softmax KD against the teacher's whole-catalog scores.

use std::time::Instant;

use anyhow::bail;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{RngExt, SeedableRng, rngs::StdRng, seq::SliceRandom};
use rankdistil_data::ImplicitSplit;
use rankdistil_loss::{SampledRankDistil, SoftmaxCe, SoftmaxKdConfig};
use rankdistil_models::CatalogScorer;

use super::scoring::padded;
use super::settings::CatalogStage;
use super::top_p_cache::TopPCache;
use crate::backend::Backend;
use crate::catalog_dir;

pub(super) enum Target<'a> {
    Labels,
    Sampled(&'a TopPCache, SampledRankDistil),
    SoftmaxKd(&'a [f32]),
}

pub(super) fn train(
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
