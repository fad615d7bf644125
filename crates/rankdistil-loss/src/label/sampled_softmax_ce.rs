use std::collections::HashSet;

use burn::prelude::*;
use rand::{Rng, RngExt};

use crate::plackett_luce::{NEG, logsumexp};
use crate::reduce::mean_over;

/// Configuration of [`SampledSoftmaxCe`].
#[derive(Config, Debug)]
pub struct SampledSoftmaxCeConfig {
    /// Negatives drawn uniformly without replacement from the whole catalog, shared by a batch.
    pub negatives: usize,
    /// Add `log(L/m)` to each negative's logit, so their exp-sum estimates the sum over every
    /// item that is not a positive without bias.
    #[config(default = true)]
    pub logq_correction: bool,
}

impl SampledSoftmaxCeConfig {
    pub fn init(&self) -> SampledSoftmaxCe {
        SampledSoftmaxCe {
            negatives: self.negatives,
            logq_correction: self.logq_correction,
        }
    }
}

/// Sampled softmax cross-entropy, the label loss for catalogs too large to score whole: each
/// list's softmax runs over its positives P plus m items M drawn uniformly without replacement
/// from all L, each sampled logit shifted by `log(L/m)`.
///
/// ```text
/// L = −Σ_{i∈P} (y_i / Σ_j y_j) · s_i + log( Σ_{i∈P} exp(s_i) + Σ_{j∈M∖P} exp(s_j + log(L/m)) )
/// ```
///
/// Each item outside P is in M with probability m/L, so the shifted sum estimates
/// `Σ_{j∉P} exp(s_j)` without bias, and the cost is `O(B·(|P| + m))` whatever L is. With
/// `m ≥ L` every item is drawn, the shift is 0 and this is [`SoftmaxCe`](super::softmax_ce::SoftmaxCe)
/// over the whole catalog.
#[derive(Module, Debug)]
pub struct SampledSoftmaxCe {
    pub negatives: usize,
    pub logq_correction: bool,
}

impl SampledSoftmaxCe {
    /// Draws `min(m, L)` distinct items uniformly from a catalog of `catalog` items, in draw
    /// order. Rejection sampling keeps it `O(m)` for `m ≪ L`.
    pub fn draw(&self, catalog: usize, rng: &mut impl Rng) -> Vec<u32> {
        let m = self.negatives.min(catalog);
        if m * 2 > catalog {
            // Dense regime: a partial Fisher–Yates over the catalog.
            let mut pool: Vec<u32> = (0..catalog as u32).collect();
            for i in 0..m {
                let j = rng.random_range(i..catalog);
                pool.swap(i, j);
            }
            pool.truncate(m);
            return pool;
        }
        let mut chosen = HashSet::with_capacity(m);
        let mut items = Vec::with_capacity(m);
        while items.len() < m {
            let j = rng.random_range(0..catalog as u32);
            if chosen.insert(j) {
                items.push(j);
            }
        }
        items
    }

    /// The logit shift of a sampled item when `drawn` of `catalog` items were drawn:
    /// `log(L/m)`, or 0 without the correction.
    pub fn shift(&self, drawn: usize, catalog: usize) -> f32 {
        if self.logq_correction && drawn > 0 {
            (catalog as f64 / drawn as f64).ln() as f32
        } else {
            0.0
        }
    }

    /// - scores, labels, mask: `[B, C]`, each list's positives (label > 0) and its sampled
    ///   items (label 0; a sampled item that is also a positive is masked out by the caller)
    /// - shift: the sampled items' logit shift, from [`Self::shift`]
    /// - output: `[1]`, the mean over lists with a positive
    pub fn forward(
        &self,
        scores: Tensor<2>,
        labels: Tensor<2>,
        mask: Tensor<2, Bool>,
        shift: f32,
    ) -> Tensor<1> {
        let pad = mask.bool_not();
        let y = labels.mask_fill(pad.clone(), 0.0);
        let total = y.clone().sum_dim(1); // [B, 1]
        let counts = total.clone().greater_elem(0.0).squeeze_dim::<1>(1);
        let sampled = y.clone().equal_elem(0.0).float() * shift; // [B, C]
        let logits = (scores.clone() + sampled).mask_fill(pad.clone(), NEG);
        let target = ((y / total.clamp_min(1e-30)) * scores.mask_fill(pad, 0.0)).sum_dim(1);
        let per_list = (logsumexp(logits, 1) - target).squeeze_dim::<1>(1); // [B]
        mean_over(per_list, counts)
    }
}
