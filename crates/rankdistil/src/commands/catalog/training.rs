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
use rankdistil_loss::{
    Draw, Popularity, SampledRankDistil, SampledSoftmaxCeConfig, SoftmaxCe, SoftmaxKdConfig,
};
use rankdistil_models::CatalogScorer;

use super::scoring::padded;
use super::settings::CatalogStage;
use super::top_p_cache::TopPCache;
use crate::backend::Backend;
use crate::catalog_dir;
use crate::row_adam::RowAdam;

pub(super) enum Target<'a> {
    Labels,
    /// Sampled RankDistil from the cache, mixed with weight α (the third field) with the
    /// sampled label softmax: `(1 − α)·distill + α·label`.
    Sampled(&'a TopPCache, SampledRankDistil, f64),
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
    // Sampled training reads a few hundred rows of each per-item table per step; those tables
    // train with row-sparse Adam, so a step's cost does not grow with the catalog.
    let label_term = match &target {
        Target::Labels => true,
        Target::Sampled(_, _, alpha) => *alpha > 0.0,
        Target::SoftmaxKd(_) => false,
    };
    let sampled_ce = (label_term && stage.train.negatives > 0).then(|| {
        SampledSoftmaxCeConfig::new(stage.train.negatives)
            .with_popular(stage.train.popular_negatives)
            .init()
    });
    let distill_popular = matches!(&target, Target::Sampled(_, loss, _) if loss.popular > 0.0);
    let popularity = (stage.train.popular_negatives > 0.0 || distill_popular)
        .then(|| Popularity::new(split.train.iter().flatten().copied(), l));
    if let Some(loss) = &sampled_ce {
        let how = if loss.popular > 0.0 {
            format!(
                "{} draws per batch, {:.0}% by training popularity",
                loss.negatives,
                loss.popular * 100.0
            )
        } else {
            format!("{} of the {l} items drawn per batch", loss.negatives.min(l))
        };
        let term = match &target {
            Target::Sampled(_, _, alpha) => format!("label term (alpha = {alpha}): "),
            _ => String::new(),
        };
        eprintln!("catalog: {name}: {term}sampled softmax over each user's items plus {how}");
    }
    let sparse_rows = matches!(target, Target::Sampled(..)) || sampled_ce.is_some();
    let mut sparse = sparse_rows.then(|| SparseTables::new(&model));
    let mut touched: Option<TouchedRows> = None;
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
                Target::Labels if sampled_ce.is_some() => {
                    let loss = sampled_ce.as_ref().expect("checked by the guard");
                    let tables = sparse
                        .as_ref()
                        .expect("sampled label training keeps row-sparse tables");
                    let inputs = denoised(batch, split, stage.train.input_dropout, &mut rng);
                    let (history_rows, ids, mask) =
                        gathered_histories(inputs.iter().map(Vec::as_slice), &device);
                    // One candidate set for the whole batch: every user's items and the
                    // draw. Each user's softmax runs over their own items and the drawn ones;
                    // other users' items are masked out of it.
                    let Draw {
                        items: drawn,
                        shifts,
                    } = loss.draw(l, popularity.as_ref(), &mut rng);
                    let candidate_rows = label_rows(batch, split, &drawn);
                    let (labels, valid, column_shift) =
                        label_targets(batch, split, &candidate_rows, &drawn, &shifts, &device);
                    let step_rows = tables.gather(history_rows, candidate_rows);
                    let [history, items, bias] = step_rows.split();
                    let q = model.query_from(history, ids, mask);
                    let scores = model.score_rows_from(items, bias, q); // [B, R]
                    touched = Some(step_rows);
                    loss.forward(scores, labels, valid, column_shift)
                }
                Target::Labels => {
                    let inputs = denoised(batch, split, stage.train.input_dropout, &mut rng);
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
                Target::Sampled(cache, loss, alpha) => {
                    loss.reseed(step);
                    let tables = sparse
                        .as_ref()
                        .expect("sampled training keeps row-sparse tables");
                    // Only the rows this batch reads enter the graph, renumbered 0..R.
                    let (history_rows, ids, mask) = gathered_histories(
                        batch.iter().map(|&u| split.train[u].as_slice()),
                        &device,
                    );
                    let cands: Vec<_> = batch
                        .iter()
                        .map(|&u| match (&popularity, distill_popular) {
                            (Some(pop), true) => {
                                loss.candidates_by_popularity(&cache.users[u].0, l, pop)
                            }
                            _ => loss.candidates(&cache.users[u].0, l),
                        })
                        .collect();
                    // The label term's draw, when mixed in: its rows (the users' items and
                    // the draw) join the gathered ones, and its softmax reads only those.
                    let label_draw = sampled_ce
                        .as_ref()
                        .map(|ce| ce.draw(l, popularity.as_ref(), &mut rng));
                    let label_rows = label_draw
                        .as_ref()
                        .map(|d| label_rows(batch, split, &d.items));
                    let candidate_rows = distinct(
                        cands
                            .iter()
                            .flat_map(|c| c.items.iter().copied())
                            .chain(label_rows.iter().flatten().copied()),
                    );
                    let c = cands.iter().map(|x| x.items.len()).max().unwrap_or(1);
                    // Padding points at local row 0, a real candidate; the loss masks it out.
                    let mut flat = vec![0i64; b * c];
                    let mut teacher = vec![0f32; b * c];
                    for (i, (cand, &u)) in cands.iter().zip(batch).enumerate() {
                        for (j, &it) in cand.items.iter().enumerate() {
                            flat[i * c + j] = local(&candidate_rows, it) as i64;
                        }
                        teacher[i * c..i * c + cand.top]
                            .copy_from_slice(&cache.users[u].1[..cand.top]);
                    }
                    let cand_ids =
                        Tensor::<2, Int>::from_data(TensorData::new(flat, [b, c]), &device);
                    let label = label_draw.zip(label_rows).map(|(draw, rows)| {
                        let at: Vec<i64> = rows
                            .iter()
                            .map(|&i| local(&candidate_rows, i) as i64)
                            .collect();
                        let n = at.len();
                        let at = Tensor::<1, Int>::from_data(TensorData::new(at, [n]), &device);
                        let targets =
                            label_targets(batch, split, &rows, &draw.items, &draw.shifts, &device);
                        (at, targets)
                    });
                    let step_rows = tables.gather(history_rows, candidate_rows);
                    let [history, items, bias] = step_rows.split();
                    let q = model.query_from(history, ids, mask);
                    // Every user against every gathered row in one product, then each user's
                    // own candidates: on the CPU this beats gathering [B, C, D] item rows,
                    // whose backward scatters B·C rows one at a time.
                    let scores = model
                        .score_rows_from(items.clone(), bias.clone(), q.clone())
                        .gather(1, cand_ids); // [B, R] -> [B, C]
                    touched = Some(step_rows);
                    let distill = loss.forward(scores, &teacher, &cands);
                    match (label, sampled_ce.as_ref()) {
                        (Some((at, (labels, valid, shifts))), Some(ce)) => {
                            let scores = model.score_rows_from(
                                items.select(0, at.clone()),
                                bias.select(0, at),
                                q,
                            ); // [B, R_label]
                            let label = ce.forward(scores, labels, valid, shifts);
                            distill * (1.0 - alpha) + label * *alpha
                        }
                        _ => distill,
                    }
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
            let grads = loss.backward();
            if let (Some(tables), Some(rows)) = (sparse.as_mut(), touched.take()) {
                tables.step(stage.train.learning_rate, &grads, rows);
            }
            let grads = GradientsParams::from_grads(grads, &model);
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
    if let Some(tables) = sparse {
        model = model.with_tables(tables.into_tables().map(Tensor::from_inner));
    }
    Ok(model.valid())
}

/// The history rows a batch reads (sorted, distinct) and each history as padded positions in
/// them, `[B, H]` ids and mask: only those rows enter the graph.
fn gathered_histories<'a>(
    histories: impl Iterator<Item = &'a [u32]> + Clone,
    device: &Device,
) -> (Vec<u32>, Tensor<2, Int>, Tensor<2, Bool>) {
    let rows = distinct(histories.clone().flatten().copied());
    let lists: Vec<Vec<u32>> = histories
        .map(|h| h.iter().map(|&i| local(&rows, i)).collect())
        .collect();
    let (ids, mask) = padded(&lists.iter().map(Vec::as_slice).collect::<Vec<_>>(), device);
    (rows, ids, mask)
}

/// The rows the sampled label softmax reads: every user's items and the draw, sorted and
/// distinct.
fn label_rows(batch: &[usize], split: &ImplicitSplit, drawn: &[u32]) -> Vec<u32> {
    distinct(
        batch
            .iter()
            .flat_map(|&u| split.train[u].iter().copied())
            .chain(drawn.iter().copied()),
    )
}

/// The sampled label softmax's targets over the rows a batch shares (`rows`, sorted): each
/// user's own items (label 1), the `drawn` items (label 0, logit shifted by `shifts`), and the
/// rest masked out. Returns labels and mask `[B, R]` and the shifts `[1, R]`.
fn label_targets(
    batch: &[usize],
    split: &ImplicitSplit,
    rows: &[u32],
    drawn: &[u32],
    shifts: &[f32],
    device: &Device,
) -> (Tensor<2>, Tensor<2, Bool>, Tensor<2>) {
    let (b, r) = (batch.len(), rows.len());
    let drawn_local: Vec<usize> = drawn.iter().map(|&i| local(rows, i) as usize).collect();
    let mut column_shift = vec![0f32; r];
    for (&j, &d) in drawn_local.iter().zip(shifts) {
        column_shift[j] = d;
    }
    let mut labels = vec![0f32; b * r];
    let mut valid = vec![false; b * r];
    for (row, &u) in batch.iter().enumerate() {
        let row = row * r;
        drawn_local.iter().for_each(|&j| valid[row + j] = true);
        // A drawn item the user has is a positive, not a sample.
        for &it in &split.train[u] {
            let j = local(rows, it) as usize;
            labels[row + j] = 1.0;
            valid[row + j] = true;
        }
    }
    (
        Tensor::from_data(TensorData::new(labels, [b, r]), device),
        Tensor::from_data(TensorData::new(valid, [b, r]), device),
        Tensor::from_data(TensorData::new(column_shift, [1, r]), device),
    )
}

/// Each user's training items with `dropout` of them dropped (denoising input); a history
/// never comes out empty.
fn denoised(
    batch: &[usize],
    split: &ImplicitSplit,
    dropout: f64,
    rng: &mut StdRng,
) -> Vec<Vec<u32>> {
    batch
        .iter()
        .map(|&u| {
            let kept: Vec<u32> = split.train[u]
                .iter()
                .copied()
                .filter(|_| rng.random::<f64>() >= dropout)
                .collect();
            if kept.is_empty() {
                split.train[u][..1].to_vec()
            } else {
                kept
            }
        })
        .collect()
}

/// Row `i`'s position in the sorted distinct `rows` a step gathered.
fn local(rows: &[u32], i: u32) -> u32 {
    rows.binary_search(&i).expect("the row was gathered") as u32
}

/// Sorted distinct row ids.
fn distinct(ids: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut rows: Vec<u32> = ids.collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}

/// The per-item tables of a row-sparse run, outside autodiff, with their Adam moments: the
/// history embeddings `[L, E]`, and the item embeddings and biases side by side `[L, D + 1]`,
/// since a step touches the same rows of both. Adam is per coordinate, so sharing a table
/// changes nothing but the number of kernels. The model's own copies are stale until training
/// ends.
struct SparseTables {
    /// Each table has no other handle between steps, so its rows are written in place.
    tables: Vec<Tensor<2>>,
    adam: [RowAdam; 2],
    /// D, the item embedding width.
    dim: usize,
}

/// One step's rows of each table: their ids, and the autodiff leaves the loss reads them from.
struct TouchedRows {
    rows: [Tensor<1, Int>; 2],
    leaves: [Tensor<2>; 2],
    dim: usize,
}

impl TouchedRows {
    /// The leaves as the scorer reads them: history rows `[R_h, E]`, item rows `[R_c, D]` and
    /// their biases `[R_c, 1]`.
    fn split(&self) -> [Tensor<2>; 3] {
        let [history, candidates] = self.leaves.clone();
        let [r, width] = candidates.dims();
        [
            history,
            candidates.clone().slice([0..r, 0..self.dim]),
            candidates.slice([0..r, self.dim..width]),
        ]
    }
}

impl SparseTables {
    fn new(model: &CatalogScorer) -> Self {
        let [history, items, bias] = model.tables().map(|t| t.inner());
        let dim = items.dims()[1];
        let tables = vec![history, Tensor::cat(vec![items, bias], 1)];
        let adam = [0, 1].map(|t| RowAdam::new(tables[t].dims(), &tables[t].device()));
        Self { tables, adam, dim }
    }

    /// History, items and biases, as [`CatalogScorer::tables`] gives them.
    fn into_tables(self) -> [Tensor<2>; 3] {
        let [history, candidates]: [Tensor<2>; 2] = self
            .tables
            .try_into()
            .unwrap_or_else(|_| unreachable!("two tables"));
        let [l, width] = candidates.dims();
        [
            history,
            candidates.clone().slice([0..l, 0..self.dim]),
            candidates.slice([0..l, self.dim..width]),
        ]
    }

    /// The history rows `history` and the item rows `candidates` (each sorted and distinct), as
    /// fresh leaves that take gradients.
    fn gather(&self, history: Vec<u32>, candidates: Vec<u32>) -> TouchedRows {
        let device = self.tables[0].device();
        let rows = [history, candidates].map(|r| {
            let n = r.len();
            let r: Vec<i64> = r.into_iter().map(i64::from).collect();
            Tensor::<1, Int>::from_data(TensorData::new(r, [n]), &device)
        });
        let leaves = std::array::from_fn(|t| {
            Tensor::from_inner(self.tables[t].clone().select(0, rows[t].clone())).require_grad()
        });
        TouchedRows {
            rows,
            leaves,
            dim: self.dim,
        }
    }

    fn step(&mut self, learning_rate: f64, grads: &burn::tensor::Gradients, touched: TouchedRows) {
        let TouchedRows { rows, leaves, .. } = touched;
        let tables = std::mem::take(&mut self.tables);
        self.tables = tables
            .into_iter()
            .zip(rows.into_iter().zip(leaves))
            .zip(&mut self.adam)
            .map(|((table, (rows, leaf)), adam)| match leaf.grad(grads) {
                Some(grad) => adam.step(learning_rate, table, rows, grad),
                // A leaf the loss did not reach has no gradient: nothing to update.
                None => table,
            })
            .collect();
    }
}
