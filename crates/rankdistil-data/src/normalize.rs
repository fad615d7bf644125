use serde::{Deserialize, Serialize};

use crate::dataset::RankingDataset;

/// How raw features are transformed before the scorer sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormalizationKind {
    /// Raw features.
    #[default]
    None,
    /// `(x - mean) / std` per feature.
    Zscore,
    /// `sign(x) * ln(1 + |x|)`, then z-score. MSLR's raw features span six orders of magnitude.
    Log1pZscore,
}

/// Per-feature statistics fitted on the training split, stored with the model and applied to
/// every split (and at serving time) identically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureNormalizer {
    pub kind: NormalizationKind,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl FeatureNormalizer {
    /// The identity transform for `num_features` features.
    pub fn identity(num_features: usize) -> Self {
        Self {
            kind: NormalizationKind::None,
            mean: vec![0.0; num_features],
            std: vec![1.0; num_features],
        }
    }

    /// Fits the statistics on `data` (the training split). Constant features get std 1.
    pub fn fit(data: &RankingDataset, kind: NormalizationKind) -> Self {
        let f = data.num_features;
        if kind == NormalizationKind::None {
            return Self::identity(f);
        }
        let rows = data.num_rows().max(1);
        let mut sum = vec![0f64; f];
        let mut sq = vec![0f64; f];
        for row in data.features.chunks_exact(f.max(1)) {
            for (i, &x) in row.iter().enumerate() {
                let x = pre(kind, x) as f64;
                sum[i] += x;
                sq[i] += x * x;
            }
        }
        let mean: Vec<f32> = sum.iter().map(|s| (s / rows as f64) as f32).collect();
        let std = sq
            .iter()
            .zip(&sum)
            .map(|(q, s)| {
                let m = s / rows as f64;
                let var = (q / rows as f64 - m * m).max(0.0);
                let sd = var.sqrt();
                if sd < 1e-12 { 1.0 } else { sd as f32 }
            })
            .collect();
        Self { kind, mean, std }
    }

    pub fn num_features(&self) -> usize {
        self.mean.len()
    }

    /// Transforms one row in place.
    pub fn apply_row(&self, row: &mut [f32]) {
        if self.kind == NormalizationKind::None {
            return;
        }
        for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *x = (pre(self.kind, *x) - m) / s;
        }
    }

    /// Transforms every row of `data` in place.
    pub fn apply(&self, data: &mut RankingDataset) {
        let f = data.num_features;
        if f == 0 {
            return;
        }
        for row in data.features.chunks_exact_mut(f) {
            self.apply_row(row);
        }
    }
}

fn pre(kind: NormalizationKind, x: f32) -> f32 {
    match kind {
        NormalizationKind::Log1pZscore => x.signum() * x.abs().ln_1p(),
        _ => x,
    }
}
