//! Full-catalog metrics per user, for paired tests between models: NDCG@1/5/10 and Recall@20
//! of the held-out items, and the share of the top 10 a reference model (the teacher) also
//! puts in its top 10.

use std::collections::BTreeMap;

use rankdistil_data::ImplicitSplit;
use rankdistil_metrics::binary_ndcg_recall_of_top;
use rankdistil_models::CatalogScorer;

use crate::backend::Backend;
use crate::catalog::scoring::top_items;
use crate::progress::Progress;

/// The metrics [`user_metrics`] gives, in table order.
pub const USER_COLUMNS: [&str; 5] = ["ndcg@1", "ndcg@5", "ndcg@10", "recall@20", "overlap@10"];

/// The head a user's metrics read: Recall@20 needs 20 items.
const HEAD: usize = 20;

/// Each evaluable user's 20 best unseen items (their training items excluded), best first, in
/// the order of [`ImplicitSplit::evaluable`].
pub fn user_heads(
    model: &CatalogScorer,
    split: &ImplicitSplit,
    backend: &Backend,
) -> Vec<Vec<u32>> {
    let users = split.evaluable();
    let bar = Progress::new(users.len() as u64, "top-20 heads".into(), "users");
    let heads = top_items(
        model,
        &split.train,
        &split.train,
        &users,
        backend,
        HEAD,
        &bar,
    );
    bar.finish();
    heads
        .into_iter()
        .map(|top| top.into_iter().map(|(item, _)| item).collect())
        .collect()
}

/// Each metric of [`USER_COLUMNS`] per evaluable user, from `heads` ([`user_heads`]); overlap@10
/// only given the `reference` model's heads.
pub fn user_metrics(
    heads: &[Vec<u32>],
    split: &ImplicitSplit,
    reference: Option<&[Vec<u32>]>,
) -> BTreeMap<String, Vec<f64>> {
    let users = split.evaluable();
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (i, (head, &u)) in heads.iter().zip(&users).enumerate() {
        let top: Vec<usize> = head.iter().map(|&item| item as usize).collect();
        let held = &split.test[u];
        for k in [1, 5, 10] {
            let (ndcg, recall) = binary_ndcg_recall_of_top(&top, split.num_items, held, k, HEAD)
                .unwrap_or((0.0, 0.0));
            out.entry(format!("ndcg@{k}")).or_default().push(ndcg);
            if k == 10 {
                out.entry("recall@20".into()).or_default().push(recall);
            }
        }
        if let Some(reference) = reference {
            let theirs = &reference[i][..reference[i].len().min(10)];
            let shared = head.iter().take(10).filter(|x| theirs.contains(x)).count();
            out.entry("overlap@10".into())
                .or_default()
                .push(shared as f64 / 10.0);
        }
    }
    out
}

/// The mean of each metric over the users.
pub fn means(per_user: &BTreeMap<String, Vec<f64>>) -> BTreeMap<String, f64> {
    per_user
        .iter()
        .map(|(name, values)| {
            let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
            (name.clone(), mean)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_per_user_from_their_heads() {
        // Two users over 30 items; user 1 has no held-out items and is not evaluated.
        let split = ImplicitSplit {
            num_items: 30,
            train: vec![vec![0], vec![1], vec![2]],
            test: vec![vec![5, 7], vec![], vec![9]],
        };
        let heads: Vec<Vec<u32>> = vec![(3..23).collect(), (10..30).collect()];
        let reference: Vec<Vec<u32>> = vec![(8..28).collect(), (10..30).rev().collect()];
        let m = user_metrics(&heads, &split, Some(&reference));
        let d = |rank0: usize| 1.0 / ((rank0 + 2) as f64).log2();
        // User 0: held-out 5 at rank 3 and 7 at rank 5 (1-based).
        let idcg = d(0) + d(1);
        assert_eq!(m["ndcg@1"], [0.0, 0.0]);
        assert!((m["ndcg@5"][0] - (d(2) + d(4)) / idcg).abs() < 1e-12);
        assert!((m["ndcg@10"][0] - (d(2) + d(4)) / idcg).abs() < 1e-12);
        assert_eq!(m["recall@20"], [1.0, 0.0]);
        // User 0's top 10 is 3..13, the reference's 8..18: 8..13 shared. User 2's 10..20 and
        // the reference's 29..20 share nothing.
        assert_eq!(m["overlap@10"], [0.5, 0.0]);
        assert_eq!(means(&m)["recall@20"], 0.5);
        assert!(!user_metrics(&heads, &split, None).contains_key("overlap@10"));
    }
}
