//! Scoring whole data sets and evaluating the scores.

use burn::prelude::*;
use rankdistil_data::{BatchPlan, ListBatch, PAD, RankingDataset};
use rankdistil_metrics::{IdcgZero, MetricAccumulator, MetricSummary};
use rankdistil_models::MlpScorer;

/// One score per row of `data`, in row order. Lists are scored whole, `batch_size` at a time.
pub fn score_dataset(model: &MlpScorer, data: &RankingDataset, device: &Device, batch_size: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; data.num_rows()];
    for lists in BatchPlan::evaluation(batch_size).epoch(data, 0, 0) {
        let batch = ListBatch::from_rows(data, &lists);
        let scores = model.forward(batch.features_tensor(device)); // [B, N]
        let scores = scores
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .expect("float scores");
        for (slot, &row) in batch.rows.iter().enumerate() {
            if row != PAD {
                out[row] = scores[slot];
            }
        }
    }
    out
}

/// Label metrics over every query, and teacher agreement when teacher scores are given.
pub fn evaluate(data: &RankingDataset, scores: &[f32], teacher: Option<&[f32]>) -> MetricSummary {
    let mut acc = MetricAccumulator::new(IdcgZero::Zero);
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
