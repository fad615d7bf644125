//! Scoring whole data sets and evaluating the scores.

use rankdistil_data::{BatchPlan, ListBatch, PAD, RankingDataset};
use rankdistil_metrics::{IdcgZero, MetricAccumulator, MetricSummary};
use rankdistil_models::MlpScorer;

use crate::backend::Backend;
use crate::memory::lists_per_chunk;

/// One score per row of `data`, in row order. Lists are scored whole, up to `batch_size` at a
/// time and fewer when a batch's widest activation would exceed the backend's buffer budget.
pub fn score_dataset(
    model: &MlpScorer,
    data: &RankingDataset,
    backend: &Backend,
    batch_size: usize,
) -> Vec<f32> {
    let device = &backend.device;
    let mut out = vec![0.0f32; data.num_rows()];
    let widest = model.widest();
    // A list too wide for one buffer is scored alone; the budget is checked before training.
    let lists_per_batch = lists_per_chunk(
        batch_size,
        data.max_list_len().max(1),
        widest,
        backend.buffer_budget,
    )
    .unwrap_or(1)
    .min(batch_size.max(1));
    for lists in BatchPlan::evaluation(lists_per_batch).epoch(data, 0, 0) {
        let batch = ListBatch::from_rows_padded(data, &lists, backend.padding(lists_per_batch));
        let scores = model.forward(batch.features_tensor(device)); // [B, N]
        let scores = scores
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("float scores");
        for (slot, &row) in batch.rows.iter().enumerate() {
            if row != PAD {
                out[row] = scores[slot];
            }
        }
    }
    out
}

/// Label metrics over every query, and teacher agreement when teacher scores are given. A list
/// with no relevant item scores NDCG 0 and counts (TF-Ranking's convention).
pub fn evaluate(data: &RankingDataset, scores: &[f32], teacher: Option<&[f32]>) -> MetricSummary {
    evaluate_with(data, scores, teacher, IdcgZero::Zero)
}

/// [`evaluate`] with a chosen NDCG convention for lists with no relevant item.
pub fn evaluate_with(
    data: &RankingDataset,
    scores: &[f32],
    teacher: Option<&[f32]>,
    idcg_zero: IdcgZero,
) -> MetricSummary {
    let mut acc = MetricAccumulator::new(idcg_zero);
    for q in 0..data.num_queries() {
        let (a, b) = (data.offsets[q], data.offsets[q + 1]);
        acc.add_list(&scores[a..b], &data.labels[a..b]);
        if let Some(t) = teacher {
            acc.add_agreement(&scores[a..b], &t[a..b]);
        }
    }
    acc.summary()
}

/// Scores from a seeded uniform random scorer, the floor every model must beat.
pub fn random_scores(rows: usize, seed: u64) -> Vec<f32> {
    use rand::{RngExt, SeedableRng, rngs::StdRng};
    let mut rng = StdRng::seed_from_u64(seed);
    (0..rows).map(|_| rng.random::<f32>()).collect()
}
