//! A seeded synthetic learning-to-rank generator with a planted nonlinear ground truth.
//!
//! Each item's true utility is a random two-layer tanh network of its features plus pairwise
//! feature interactions, so a deep teacher can fit it and a shallow student cannot fully.
//! Graded labels 0..=4 come from thresholding that utility plus noise at global quantiles,
//! which keeps most items irrelevant, as in web-search data.

use rand::{RngExt, SeedableRng, rngs::StdRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::RankingDataset;

/// Parameters of the generator.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    pub queries: usize,
    pub min_items: usize,
    pub max_items: usize,
    pub features: usize,
    /// Hidden units of the planted utility network.
    pub hidden: usize,
    /// Label noise, as a fraction of the utility's standard deviation.
    pub noise: f32,
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            queries: 600,
            min_items: 20,
            max_items: 300,
            features: 40,
            hidden: 48,
            noise: 0.6,
            seed: 7,
        }
    }
}

impl SyntheticConfig {
    /// Checks the sizes, so a bad config is an error message rather than a panic.
    pub fn validate(&self) -> Result<(), String> {
        if self.queries == 0 || self.features == 0 || self.hidden == 0 {
            return Err("queries, features and hidden must be at least 1".into());
        }
        if self.min_items == 0 || self.min_items > self.max_items {
            return Err(format!(
                "min_items = {}, max_items = {}: expected 1 <= min_items <= max_items",
                self.min_items, self.max_items
            ));
        }
        if !(self.noise >= 0.0 && self.noise.is_finite()) {
            return Err(format!(
                "noise = {}, expected a finite number >= 0",
                self.noise
            ));
        }
        // Features, labels and row ids of every item, plus the planted utility's weights.
        let items = self.queries as u128 * self.max_items as u128;
        let bytes = items * (self.features as u128 + 4) * 4
            + self.features as u128 * self.hidden as u128 * 8;
        crate::host_memory::check(
            &format!(
                "{} queries of up to {} items with {} features",
                self.queries, self.max_items, self.features
            ),
            bytes,
        )
    }
}

/// Label thresholds as quantiles of the noisy utility: 55% of items are 0, 2% are 4.
const GRADE_QUANTILES: [f64; 4] = [0.55, 0.78, 0.91, 0.98];

fn normal(rng: &mut StdRng) -> f32 {
    // Box-Muller; the guard keeps ln away from 0.
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// The planted utility function, drawn once per seed.
struct Utility {
    w: Vec<f32>,
    b: Vec<f32>,
    v: Vec<f32>,
    pairs: Vec<(usize, usize, f32)>,
    features: usize,
}

impl Utility {
    fn new(features: usize, hidden: usize, rng: &mut StdRng) -> Self {
        let scale = 2.5 / (features as f32).sqrt();
        let w = (0..hidden * features)
            .map(|_| normal(rng) * scale)
            .collect();
        let b = (0..hidden).map(|_| normal(rng) * 0.5).collect();
        let v = (0..hidden).map(|_| normal(rng)).collect();
        let pairs = (0..features / 2)
            .map(|_| {
                let a = rng.random_range(0..features);
                let c = rng.random_range(0..features);
                (a, c, normal(rng) * 0.8)
            })
            .collect();
        Self {
            w,
            b,
            v,
            pairs,
            features,
        }
    }

    fn eval(&self, x: &[f32]) -> f32 {
        let mut out = 0.0;
        for (h, (&b, &v)) in self.b.iter().zip(&self.v).enumerate() {
            let w = &self.w[h * self.features..(h + 1) * self.features];
            let z: f32 = w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + b;
            out += v * z.tanh();
        }
        for &(a, c, s) in &self.pairs {
            out += s * x[a] * x[c];
        }
        out
    }
}

/// Generates the data set. The same config always gives the same data.
pub fn generate(config: &SyntheticConfig) -> RankingDataset {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let f = config.features;
    let utility = Utility::new(f, config.hidden, &mut rng);
    let mut sizes = Vec::with_capacity(config.queries);
    let mut features = Vec::new();
    let mut biases = Vec::new();
    for _ in 0..config.queries {
        let n = rng.random_range(config.min_items..=config.max_items.max(config.min_items));
        // A per-query shift of the features makes queries differ in difficulty and relevance.
        let shift: Vec<f32> = (0..f).map(|_| normal(&mut rng) * 0.3).collect();
        let query_bias = normal(&mut rng) * 0.5;
        sizes.push(n);
        for _ in 0..n {
            features.extend((0..f).map(|i| normal(&mut rng) + shift[i]));
            biases.push(query_bias);
        }
    }
    // The utility draws nothing, so it runs on every core with the same result.
    let mut noisy: Vec<f32> = features
        .par_chunks(f.max(1))
        .with_min_len(256)
        .map(|x| utility.eval(x))
        .collect();
    for (u, b) in noisy.iter_mut().zip(&biases) {
        *u += b;
    }
    let sd = {
        let m = noisy.iter().sum::<f32>() / noisy.len().max(1) as f32;
        (noisy.iter().map(|u| (u - m) * (u - m)).sum::<f32>() / noisy.len().max(1) as f32).sqrt()
    };
    for u in noisy.iter_mut() {
        *u += normal(&mut rng) * config.noise * sd;
    }
    let mut sorted = noisy.clone();
    sorted.sort_by(f32::total_cmp);
    let cuts: Vec<f32> = GRADE_QUANTILES
        .iter()
        .map(|q| sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)])
        .collect();
    let mut data = RankingDataset::new(f);
    let mut row = 0;
    for (q, &n) in sizes.iter().enumerate() {
        let labels: Vec<f32> = noisy[row..row + n]
            .iter()
            .map(|u| cuts.iter().filter(|&&c| *u >= c).count() as f32)
            .collect();
        let ids = (0..n).map(|i| format!("q{}-d{}", q + 1, i)).collect();
        data.push_query(
            (q + 1).to_string(),
            &features[row * f..(row + n) * f],
            &labels,
            ids,
        )
        .expect("generated shapes agree");
        row += n;
    }
    data
}
