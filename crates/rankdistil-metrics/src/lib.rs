//! Ranking metrics over one list at a time, on the host, with the conventions of the rankdistil
//! spec (`docs/LOSSES.md`, "Metrics"): lists are sorted by score descending with ties to the lower index,
//! k' = min(k, n), and each metric is averaged over the lists it counts.

mod accumulate;
mod agreement;
mod relevance;

pub use accumulate::{MetricAccumulator, MetricSummary};
pub use agreement::{kendall_tau_at, overlap_at};
pub use relevance::{
    IdcgZero, TopN, binary_ndcg_recall, binary_ndcg_recall_of_top, mrr, ndcg_at, precision_at,
    rank_order, recall_at, top_n,
};
