use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

/// What NDCG@k is for a list whose ideal DCG is 0 (no relevant item).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdcgZero {
    /// 0, and the list counts (TF-Ranking's convention, the default).
    #[default]
    Zero,
    /// 1, and the list counts (LightGBM, XGBoost, allRank).
    One,
    /// The list is left out of the mean.
    Skip,
}

/// Item indices sorted by score descending; ties keep the lower index first.
pub fn rank_order(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // `sort_by` is stable, so equal scores stay in index order.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// The first `n` of [`rank_order`], without sorting the rest: O(L + n log n), for taking the
/// top of a large catalog.
pub fn top_n(scores: &[f32], n: usize) -> Vec<usize> {
    let n = n.min(scores.len());
    if n == 0 {
        return Vec::new();
    }
    if n * 32 <= scores.len() {
        // One pass, nothing of size L allocated: for the head of a long list.
        let mut best = TopN::new(n);
        best.extend(0, scores);
        return best.into_sorted().into_iter().map(|(i, _)| i).collect();
    }
    // Index order breaks ties, as rank_order's stable sort does.
    let cmp = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
    let mut order: Vec<usize> = (0..scores.len()).collect();
    if n < order.len() {
        order.select_nth_unstable_by(n - 1, cmp);
        order.truncate(n);
    }
    order.sort_by(cmp);
    order
}

/// The `n` best items of a list that arrives in blocks, in [`top_n`]'s order (score
/// descending, ties to the lower index), without holding the list: for scoring a catalog block
/// by block.
///
/// Indices must arrive in increasing order, as the blocks of one list do.
#[derive(Debug, Clone)]
pub struct TopN {
    n: usize,
    /// The best so far, with the one ranked last on top.
    best: BinaryHeap<Ranked>,
}

impl TopN {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            // Grows as items arrive: `n` may be far past the items there are.
            best: BinaryHeap::with_capacity(n.saturating_add(1).min(1 << 12)),
        }
    }

    /// Offers items `offset..offset + scores.len()`.
    pub fn extend(&mut self, offset: usize, scores: &[f32]) {
        if self.n == 0 {
            return;
        }
        for (j, &score) in scores.iter().enumerate() {
            let index = offset + j;
            if self.best.len() < self.n {
                self.best.push(Ranked { score, index });
            } else if let Some(mut worst) = self.best.peek_mut()
                // An equal score arrives after every kept item, so it ranks below them all:
                // almost every item of a long list loses this one comparison.
                && score.total_cmp(&worst.score) == Ordering::Greater
            {
                *worst = Ranked { score, index };
            }
        }
    }

    /// `(index, score)` of the kept items, best first.
    pub fn into_sorted(self) -> Vec<(usize, f32)> {
        self.best
            .into_sorted_vec()
            .into_iter()
            .map(|r| (r.index, r.score))
            .collect()
    }
}

/// An item in [`TopN`]'s heap, ordered so that the one ranked last is the greatest.
#[derive(Debug, Clone)]
struct Ranked {
    score: f32,
    index: usize,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.index.cmp(&other.index))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// NDCG@`k` and Recall@`r` of one list with binary relevance, the relevant items given by
/// their distinct indices: the same values as [`ndcg_at`] (with [`IdcgZero::Zero`]) and
/// [`recall_at`] on 0/1 labels, from a single [`top_n`] and without building a label vector.
/// `None` when nothing is relevant. For full-catalog evaluation, where L is large and the
/// relevant items are few.
pub fn binary_ndcg_recall(
    scores: &[f32],
    relevant: &[u32],
    k: usize,
    r: usize,
) -> Option<(f64, f64)> {
    binary_ndcg_recall_of_top(&top_n(scores, k.max(r)), scores.len(), relevant, k, r)
}

/// [`binary_ndcg_recall`] from the list's head `top` (at least its first `max(k, r)` items, as
/// [`top_n`] or [`TopN`] give them) and its length `len`.
pub fn binary_ndcg_recall_of_top(
    top: &[usize],
    len: usize,
    relevant: &[u32],
    k: usize,
    r: usize,
) -> Option<(f64, f64)> {
    if relevant.is_empty() || len == 0 {
        return None;
    }
    let hit = |i: &usize| relevant.contains(&(*i as u32));
    let dcg: f64 = top
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, i)| hit(i))
        .map(|(rank, _)| discount(rank))
        .sum();
    let idcg: f64 = (0..relevant.len().min(k).min(len)).map(discount).sum();
    let hits = top.iter().take(r).filter(|i| hit(i)).count();
    Some((dcg / idcg, hits as f64 / relevant.len() as f64))
}

fn gain(y: f32) -> f64 {
    (2f64).powf(y as f64) - 1.0
}

fn discount(rank0: usize) -> f64 {
    1.0 / ((rank0 + 2) as f64).log2()
}

/// NDCG@k, `None` when the list does not count (empty, or [`IdcgZero::Skip`] with no relevant
/// item).
pub fn ndcg_at(scores: &[f32], labels: &[f32], k: usize, idcg_zero: IdcgZero) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    let kk = k.min(scores.len());
    // Only the heads are ordered: a full-catalog list can hold 10⁶ items.
    let dcg: f64 = top_n(scores, kk)
        .iter()
        .enumerate()
        .map(|(r, &i)| gain(labels[i]) * discount(r))
        .sum();
    let idcg: f64 = top_n(labels, kk)
        .iter()
        .enumerate()
        .map(|(r, &i)| gain(labels[i]) * discount(r))
        .sum();
    if idcg > 0.0 {
        Some(dcg / idcg)
    } else {
        match idcg_zero {
            IdcgZero::Zero => Some(0.0),
            IdcgZero::One => Some(1.0),
            IdcgZero::Skip => None,
        }
    }
}

/// Reciprocal rank of the first relevant (`y > 0`) item; 0 when there is none.
pub fn mrr(scores: &[f32], labels: &[f32]) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    Some(
        rank_order(scores)
            .iter()
            .position(|&i| labels[i] > 0.0)
            .map_or(0.0, |r| 1.0 / (r + 1) as f64),
    )
}

fn relevant_in_top(scores: &[f32], labels: &[f32], k: usize) -> usize {
    top_n(scores, k)
        .iter()
        .filter(|&&i| labels[i] > 0.0)
        .count()
}

/// Fraction of the top-k' that is relevant.
pub fn precision_at(scores: &[f32], labels: &[f32], k: usize) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    let kk = k.min(scores.len());
    Some(relevant_in_top(scores, labels, kk) as f64 / kk as f64)
}

/// Fraction of the relevant items found in the top-k; `None` for a list with none.
pub fn recall_at(scores: &[f32], labels: &[f32], k: usize) -> Option<f64> {
    let relevant = labels.iter().filter(|&&y| y > 0.0).count();
    if relevant == 0 {
        return None;
    }
    Some(relevant_in_top(scores, labels, k) as f64 / relevant as f64)
}
