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
