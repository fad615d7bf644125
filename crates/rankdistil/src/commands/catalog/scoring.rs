//! Scoring users over the whole catalog, in chunks that keep every buffer under the budget,
//! and the full-catalog metrics.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use rankdistil_data::ImplicitSplit;
use rankdistil_metrics::{IdcgZero, ndcg_at, recall_at};
use rankdistil_models::CatalogScorer;

use crate::backend::Backend;

/// Padded `[B, H]` ids and mask of item lists.
pub(super) fn padded(lists: &[&[u32]], device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    let h = lists.iter().map(|l| l.len()).max().unwrap_or(0).max(1);
    let mut ids = vec![0i64; lists.len() * h];
    let mut mask = vec![false; lists.len() * h];
    for (b, l) in lists.iter().enumerate() {
        for (j, &i) in l.iter().enumerate() {
            ids[b * h + j] = i as i64;
            mask[b * h + j] = true;
        }
    }
    (
        Tensor::from_data(TensorData::new(ids, [lists.len(), h]), device),
        Tensor::from_data(TensorData::new(mask, [lists.len(), h]), device),
    )
}

pub(super) fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("floats")
}

/// Users whose whole-catalog scores (`L` floats each) fit one buffer, at most 256.
pub(crate) fn users_per_chunk(backend: &Backend, num_items: usize) -> usize {
    (backend.buffer_budget / (num_items as u64 * 4)).clamp(1, 256) as usize
}

/// Scores every item for `users` (inputs: their training items), `[users.len() × L]`, with the
/// training items set to −∞ when `exclude_train`.
pub(crate) fn score_users(
    model: &CatalogScorer,
    split: &ImplicitSplit,
    users: &[usize],
    backend: &Backend,
    exclude_train: bool,
) -> Vec<f32> {
    let l = split.num_items;
    let mut out = Vec::with_capacity(users.len() * l);
    let per = users_per_chunk(backend, l);
    for chunk in users.chunks(per) {
        let lists: Vec<&[u32]> = chunk.iter().map(|&u| split.train[u].as_slice()).collect();
        let (ids, mask) = padded(&lists, &backend.device);
        let q = model.query(ids, mask);
        let mut scores = host(model.score_range(q, 0..l));
        if exclude_train {
            for (b, &u) in chunk.iter().enumerate() {
                for &i in &split.train[u] {
                    scores[b * l + i as usize] = f32::NEG_INFINITY;
                }
            }
        }
        out.extend(scores);
    }
    out
}

/// NDCG@10 and Recall@20 over the full catalog, training items excluded.
pub fn evaluate_catalog(
    model: &CatalogScorer,
    split: &ImplicitSplit,
    backend: &Backend,
) -> (f64, f64, f64) {
    let started = Instant::now();
    let users = split.evaluable();
    let l = split.num_items;
    let (mut ndcg, mut recall) = (0.0, 0.0);
    let mut labels = vec![0f32; l];
    // A chunk of users at a time: all of them at once would hold users × L scores.
    for chunk in users.chunks(users_per_chunk(backend, l)) {
        let scores = score_users(model, split, chunk, backend, true);
        for (b, &u) in chunk.iter().enumerate() {
            split.test[u].iter().for_each(|&i| labels[i as usize] = 1.0);
            let s = &scores[b * l..(b + 1) * l];
            ndcg += ndcg_at(s, &labels, 10, IdcgZero::Zero).unwrap_or(0.0);
            recall += recall_at(s, &labels, 20).unwrap_or(0.0);
            split.test[u].iter().for_each(|&i| labels[i as usize] = 0.0);
        }
    }
    let n = users.len().max(1) as f64;
    (ndcg / n, recall / n, started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use rankdistil_data::synthetic_catalog;

    use super::*;

    #[test]
    fn evaluation_excludes_training_items_and_chunks_the_catalog() {
        let data = synthetic_catalog(30, 200, 10, 4, 5);
        let split = ImplicitSplit::from_ratings(&data, 4.0, 0.2, 1);
        let backend = Backend::cpu();
        let model = rankdistil_models::CatalogScorerConfig::new(200, 8).init(&backend.device);
        let users: Vec<usize> = (0..30).collect();
        let mut small = backend.clone();
        small.buffer_budget = 200 * 4 * 7; // 7 users per chunk
        let a = score_users(&model, &split, &users, &backend, true);
        let b = score_users(&model, &split, &users, &small, true);
        assert_eq!(a.len(), 30 * 200);
        for (x, y) in a.iter().zip(&b) {
            assert!(x == y || (x - y).abs() < 1e-5, "{x} vs {y}");
        }
        for u in 0..30 {
            for &i in &split.train[u] {
                assert_eq!(a[u * 200 + i as usize], f32::NEG_INFINITY);
            }
        }
        let (ndcg, recall, _) = evaluate_catalog(&model, &split, &backend);
        assert!((0.0..=1.0).contains(&ndcg) && (0.0..=1.0).contains(&recall));
    }
}
