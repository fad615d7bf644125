use std::collections::{HashMap, HashSet};

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{Rng, RngExt};

use crate::plackett_luce::{NEG, logsumexp};
use crate::reduce::mean_over;
use crate::uniform_draw::distinct_uniform;

/// Configuration of [`SampledSoftmaxCe`].
#[derive(Config, Debug)]
pub struct SampledSoftmaxCeConfig {
    /// Items drawn from the catalog per batch, shared by its lists.
    pub negatives: usize,
    /// The share of the draws made by training popularity (the item of a random training
    /// interaction); the rest are uniform. 0 draws uniformly without replacement. Below 1, so
    /// that every item can be drawn: an item no one trained on is never a popular draw.
    #[config(default = 0.0)]
    pub popular: f64,
    /// Shift each drawn logit by `−log(E[count])`, so the drawn exp-sum estimates the sum over
    /// every item that is not a positive without bias.
    #[config(default = true)]
    pub logq_correction: bool,
}

impl SampledSoftmaxCeConfig {
    /// The loss with these settings.
    pub fn init(&self) -> SampledSoftmaxCe {
        assert!(
            (0.0..1.0).contains(&self.popular),
            "the popular share is in [0, 1)"
        );
        SampledSoftmaxCe {
            negatives: self.negatives,
            popular: self.popular,
            logq_correction: self.logq_correction,
        }
    }
}

/// The items of the training interactions, for drawing negatives by popularity.
#[derive(Debug, Clone)]
pub struct Popularity {
    /// One entry per training interaction: drawing one uniformly draws an item by popularity.
    interactions: Vec<u32>,
    /// Interactions per item.
    counts: Vec<u32>,
}

impl Popularity {
    /// Training interactions in all.
    pub fn total(&self) -> usize {
        self.interactions.len()
    }

    /// One draw from the mixture: with probability `popular` the item of a random training
    /// interaction, else a uniform item.
    pub fn draw(&self, popular: f64, catalog: usize, rng: &mut impl Rng) -> u32 {
        if !self.interactions.is_empty() && rng.random::<f64>() < popular {
            self.interactions[rng.random_range(0..self.interactions.len())]
        } else {
            rng.random_range(0..catalog as u32)
        }
    }

    /// The mixture's probability of item j: `(1 − α)/L + α·n_j/N`.
    pub fn proposal(&self, j: u32, popular: f64, catalog: usize) -> f64 {
        (1.0 - popular) / catalog as f64
            + popular * self.counts[j as usize] as f64 / self.interactions.len().max(1) as f64
    }

    /// From the items of every training interaction, in a catalog of `catalog` items.
    pub fn new(items: impl IntoIterator<Item = u32>, catalog: usize) -> Self {
        let interactions: Vec<u32> = items.into_iter().collect();
        let mut counts = vec![0u32; catalog];
        for &i in &interactions {
            counts[i as usize] += 1;
        }
        Self {
            interactions,
            counts,
        }
    }
}

/// A batch's drawn items, each once, with the logit shift that corrects for how it was drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Draw {
    /// The drawn items, each once.
    pub items: Vec<u32>,
    /// Each drawn item's logit shift δ_j.
    pub shifts: Vec<f32>,
}

/// Sampled softmax cross-entropy, the label loss for catalogs too large to score whole: each
/// list's softmax runs over its positives P plus the items M drawn for the batch, each drawn
/// logit shifted by minus the log of its expected count in the draw.
///
/// ```text
/// L = −Σ_{i∈P} (y_i / Σ_j y_j) · s_i + log( Σ_{i∈P} exp(s_i) + Σ_{j∈M∖P} exp(s_j + δ_j) )
/// uniform, without replacement (popular = 0):  δ_j = log(L/m)
/// mixed, with replacement:  δ_j = log(c_j) − log(m·Q(j)),  Q(j) = (1 − α)/L + α·n_j/N
/// ```
///
/// `c_j` is how often j was drawn, `n_j` its training interactions out of N, α the popular
/// share. Either way `Σ_{j∈M∖P} exp(s_j + δ_j)` estimates `Σ_{j∉P} exp(s_j)` without bias, and
/// the cost is `O(B·(|P| + m))` whatever L is. Popular draws are the harder negatives: the
/// items a model most confuses with a user's own. With `popular = 0` and `m ≥ L` every item is
/// drawn, δ = 0 and this is [`SoftmaxCe`](super::softmax_ce::SoftmaxCe) over the whole
/// catalog.
#[derive(Module, Debug)]
pub struct SampledSoftmaxCe {
    /// As [`SampledSoftmaxCeConfig::negatives`].
    pub negatives: usize,
    /// As [`SampledSoftmaxCeConfig::popular`].
    pub popular: f64,
    /// As [`SampledSoftmaxCeConfig::logq_correction`].
    pub logq_correction: bool,
}

impl SampledSoftmaxCe {
    /// Draws a batch's items from a catalog of `catalog` items. Popular draws need
    /// `popularity`; without it every draw is uniform.
    pub fn draw(
        &self,
        catalog: usize,
        popularity: Option<&Popularity>,
        rng: &mut impl Rng,
    ) -> Draw {
        match popularity.filter(|p| self.popular > 0.0 && !p.interactions.is_empty()) {
            None => self.draw_uniform(catalog, rng),
            Some(popularity) => self.draw_mixed(catalog, popularity, rng),
        }
    }

    /// `min(m, L)` distinct items, uniformly.
    fn draw_uniform(&self, catalog: usize, rng: &mut impl Rng) -> Draw {
        let m = self.negatives.min(catalog);
        let items = distinct_uniform(catalog, m, &HashSet::new(), rng);
        let shift = if self.logq_correction && m > 0 {
            (catalog as f64 / m as f64).ln() as f32
        } else {
            0.0
        };
        Draw {
            shifts: vec![shift; items.len()],
            items,
        }
    }

    /// m draws with replacement from the mixture; a repeated item is one column whose shift
    /// counts its repeats.
    fn draw_mixed(&self, catalog: usize, popularity: &Popularity, rng: &mut impl Rng) -> Draw {
        let mut counts: HashMap<u32, u32> = HashMap::with_capacity(self.negatives);
        let mut items = Vec::with_capacity(self.negatives);
        for _ in 0..self.negatives {
            let j = popularity.draw(self.popular, catalog, rng);
            let c = counts.entry(j).or_insert(0);
            if *c == 0 {
                items.push(j);
            }
            *c += 1;
        }
        let m = self.negatives as f64;
        let shifts = items
            .iter()
            .map(|j| {
                if !self.logq_correction {
                    return 0.0;
                }
                let q = popularity.proposal(*j, self.popular, catalog);
                ((counts[j] as f64).ln() - (m * q).ln()) as f32
            })
            .collect();
        Draw { items, shifts }
    }

    /// - scores, labels, mask: `[B, C]`, each list's positives (label > 0) and the drawn items
    ///   (label 0; a drawn item that is also a positive is masked out by the caller)
    /// - shifts: `[1, C]` or `[B, C]`, the drawn items' δ from [`Draw`] (read where label is 0)
    /// - output: `[1]`, the mean over lists with a positive
    pub fn forward(
        &self,
        scores: Tensor<2>,
        labels: Tensor<2>,
        mask: Tensor<2, Bool>,
        shifts: Tensor<2>,
    ) -> Tensor<1> {
        let pad = mask.bool_not();
        let y = labels.mask_fill(pad.clone(), 0.0);
        let total = y.clone().sum_dim(1); // [B, 1]
        let counts = total.clone().greater_elem(0.0).squeeze_dim::<1>(1);
        let drawn = y.clone().equal_elem(0.0).float() * shifts; // [B, C]
        let logits = (scores.clone() + drawn).mask_fill(pad.clone(), NEG);
        let target = ((y / total.clamp_min(1e-30)) * scores.mask_fill(pad, 0.0)).sum_dim(1);
        let per_list = (logsumexp(logits, 1) - target).squeeze_dim::<1>(1); // [B]
        mean_over(per_list, counts)
    }

    /// [`Self::forward`] with every drawn item shifted by the same `shift`.
    pub fn forward_uniform(
        &self,
        scores: Tensor<2>,
        labels: Tensor<2>,
        mask: Tensor<2, Bool>,
        shift: f32,
    ) -> Tensor<1> {
        let c = scores.dims()[1];
        let shifts =
            Tensor::<2>::from_data(TensorData::new(vec![shift; c], [1, c]), &scores.device());
        self.forward(scores, labels, mask, shifts)
    }
}
