//! Scoring users over the whole catalog, in chunks that keep every buffer under the budget,
//! and the full-catalog metrics.

use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use rankdistil_data::ImplicitSplit;
use rankdistil_metrics::{TopN, binary_ndcg_recall_of_top};
use rankdistil_models::CatalogScorer;
use rayon::prelude::*;

use crate::backend::Backend;
use crate::progress::Progress;

/// Padded `[B, H]` ids and mask of item lists, H their longest.
pub fn padded(lists: &[&[u32]], device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
    let h = lists.iter().map(|l| l.len()).max().unwrap_or(0).max(1);
    padded_to(lists, h, device)
}

/// [`padded`] to `h` positions, at least the longest list's.
pub fn padded_to(lists: &[&[u32]], h: usize, device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
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

pub fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("floats")
}

/// Users whose whole-catalog scores (`L` floats each) fit one buffer, at most 256.
fn users_per_chunk(backend: &Backend, num_items: usize) -> usize {
    (backend.buffer_budget / (num_items as u64 * 4)).clamp(1, 256) as usize
}

/// The teacher's scores over the whole catalog for every user, `[users × L]`, which softmax
/// KD reads; empty when no student `needs` them.
pub fn full_teacher_scores(
    teacher: &CatalogScorer,
    split: &ImplicitSplit,
    needs: bool,
    backend: &Backend,
) -> Vec<f32> {
    if !needs {
        return Vec::new();
    }
    let all: Vec<usize> = (0..split.train.len()).collect();
    score_users(teacher, split, &all, backend, false)
}

/// Scores every item for `users` (inputs: their training items), `[users.len() × L]`, with the
/// training items set to −∞ when `exclude_train`.
pub fn score_users(
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

/// On the CPU, the widest block of scores one step of [`top_items`] holds. Under glibc's
/// largest mmap threshold (32 MiB), so the allocator reuses it rather than mapping fresh,
/// zeroed pages for every block.
const CPU_SCORE_BLOCK_BYTES: u64 = 16 << 20;

/// Each user's `n` best items over the whole catalog, best first, as `(item, score)`: users
/// are scored a chunk at a time against a block of items at a time, and only each user's
/// running top n is kept, so no `[users, L]` matrix is ever held. Items in a user's
/// `exclude` list (sorted) score −∞, as they did in the whole-list path. `progress` counts
/// the users done.
pub(crate) fn top_items(
    model: &CatalogScorer,
    history: &[Vec<u32>],
    exclude: &[Vec<u32>],
    users: &[usize],
    backend: &Backend,
    n: usize,
    progress: &Progress,
) -> Vec<Vec<(u32, f32)>> {
    let l = model.num_items();
    let per = users.len().clamp(1, 256);
    let budget = if backend.is_gpu {
        backend.buffer_budget
    } else {
        backend.buffer_budget.min(CPU_SCORE_BLOCK_BYTES)
    };
    let mut out = Vec::with_capacity(users.len());
    for chunk in users.chunks(per) {
        let block = ((budget / (chunk.len() as u64 * 4)) as usize).clamp(1, l.max(1));
        let lists: Vec<&[u32]> = chunk.iter().map(|&u| history[u].as_slice()).collect();
        let (ids, mask) = padded(&lists, &backend.device);
        let q = model.query(ids, mask); // [U, D]
        let mut best: Vec<TopN> = chunk.iter().map(|_| TopN::new(n)).collect();
        // Where each user's exclusion list has got to: blocks arrive in item order.
        let mut cursor = vec![0usize; chunk.len()];
        for start in (0..l).step_by(block) {
            let end = (start + block).min(l);
            let mut scores = host(model.score_range(q.clone(), start..end)); // [U, end − start]
            let width = end - start;
            // Users are independent: their selections run in parallel, each on its own row.
            scores
                .par_chunks_mut(width)
                .zip(best.par_iter_mut())
                .zip(cursor.par_iter_mut())
                .zip(chunk.par_iter())
                .for_each(|(((row, top), at), &u)| {
                    let ex = &exclude[u];
                    while *at < ex.len() && (ex[*at] as usize) < end {
                        row[ex[*at] as usize - start] = f32::NEG_INFINITY;
                        *at += 1;
                    }
                    top.extend(start, row);
                });
        }
        out.extend(best.into_iter().map(|t| {
            t.into_sorted()
                .into_iter()
                .map(|(i, s)| (i as u32, s))
                .collect()
        }));
        progress.inc(chunk.len() as u64);
    }
    out
}

/// NDCG@10 and Recall@20 over the full catalog, training items excluded.
/// Full-catalog metrics: mean NDCG@10 and Recall@20 over the users with held-out items.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CatalogMetrics {
    pub ndcg_at_10: f64,
    pub recall_at_20: f64,
}

/// A scorer's [`CatalogMetrics`], and the seconds their evaluation took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CatalogEvaluation {
    pub metrics: CatalogMetrics,
    pub seconds: f64,
}

pub fn evaluate_catalog(
    model: &CatalogScorer,
    split: &ImplicitSplit,
    backend: &Backend,
) -> CatalogEvaluation {
    let started = Instant::now();
    let users = split.evaluable();
    let l = split.num_items;
    let (mut ndcg, mut recall) = (0.0, 0.0);
    let bar = Progress::new(users.len() as u64, "evaluation".into(), "users");
    let top = top_items(model, &split.train, &split.train, &users, backend, 20, &bar);
    bar.finish();
    for (best, &u) in top.iter().zip(&users) {
        let best: Vec<usize> = best.iter().map(|&(i, _)| i as usize).collect();
        if let Some((n, r)) = binary_ndcg_recall_of_top(&best, l, &split.test[u], 10, 20) {
            ndcg += n;
            recall += r;
        }
    }
    let n = users.len().max(1) as f64;
    CatalogEvaluation {
        metrics: CatalogMetrics {
            ndcg_at_10: ndcg / n,
            recall_at_20: recall / n,
        },
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// NDCG@10 and Recall@20 of the popularity baseline: every user gets the items with the most
/// training interactions (ties to the lower id), their own training items excluded.
pub fn evaluate_popularity(split: &ImplicitSplit) -> CatalogMetrics {
    let l = split.num_items;
    let mut counts = vec![0f32; l];
    split
        .train
        .iter()
        .flatten()
        .for_each(|&i| counts[i as usize] += 1.0);
    let longest = split.train.iter().map(Vec::len).max().unwrap_or(0);
    // Enough of the global order that every user still has 20 after their own items.
    let order = rankdistil_metrics::top_n(&counts, longest + 20);
    let users = split.evaluable();
    let (mut ndcg, mut recall) = (0.0, 0.0);
    for &u in &users {
        let own = &split.train[u];
        let top: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| own.binary_search(&(i as u32)).is_err())
            .take(20)
            .collect();
        if let Some((n, r)) = binary_ndcg_recall_of_top(&top, l, &split.test[u], 10, 20) {
            ndcg += n;
            recall += r;
        }
    }
    let n = users.len().max(1) as f64;
    CatalogMetrics {
        ndcg_at_10: ndcg / n,
        recall_at_20: recall / n,
    }
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
        // The running top n over item blocks is the head of each whole scored list.
        for (budget, n) in [(7 * 4 * 13, 20), (7 * 4 * 200, 5), (4, 200)] {
            let mut blocks = backend.clone();
            blocks.buffer_budget = budget;
            let chunk: Vec<usize> = (0..7).collect();
            let hidden = Progress::hidden();
            let top = top_items(
                &model,
                &split.train,
                &split.train,
                &chunk,
                &blocks,
                n,
                &hidden,
            );
            for (u, best) in top.iter().enumerate() {
                let row = &a[u * 200..(u + 1) * 200];
                let want: Vec<(u32, f32)> = rankdistil_metrics::top_n(row, n)
                    .into_iter()
                    .map(|i| (i as u32, row[i]))
                    .collect();
                assert_eq!(best.len(), want.len(), "user {u}, budget {budget}");
                for ((i, s), (j, t)) in best.iter().zip(&want) {
                    assert_eq!(i, j, "user {u}, budget {budget}");
                    assert!(s == t || (s - t).abs() < 1e-5, "{s} vs {t}");
                }
            }
        }
        let m = evaluate_catalog(&model, &split, &backend).metrics;
        assert!((0.0..=1.0).contains(&m.ndcg_at_10) && (0.0..=1.0).contains(&m.recall_at_20));
    }

    #[test]
    fn the_popularity_baseline_ranks_by_training_counts_without_a_users_own_items() {
        // Item 0 is in every history, then 1, then 2; each user holds out one item.
        let split = ImplicitSplit {
            num_items: 5,
            train: vec![vec![0, 1, 2], vec![0, 1], vec![0]],
            test: vec![vec![4], vec![2], vec![1]],
        };
        let CatalogMetrics {
            ndcg_at_10: ndcg,
            recall_at_20: recall,
        } = evaluate_popularity(&split);
        // User 0 gets [3, 4]: its held-out item at rank 2. User 1 gets [2, 3, 4]: rank 1.
        // User 2 gets [1, 2, 3, 4]: rank 1.
        let want = (1.0 / 3f64.log2() + 1.0 + 1.0) / 3.0;
        assert!((ndcg - want).abs() < 1e-12, "{ndcg} vs {want}");
        assert_eq!(recall, 1.0);
    }
}
