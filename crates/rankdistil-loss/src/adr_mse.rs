use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::sigmoid;
use serde::{Deserialize, Serialize};

use crate::checks::{or_panic, positive};
use crate::ordering::ListOrders;
use crate::reduce::mean_over;
use crate::targets::{DistillTerm, HostTargets};

/// How [`AdrMse`] weighs an item's error by its teacher rank `r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankDiscount {
    /// `1 / log₂(r + 1)`, as Rank-DistiLLM trains with.
    #[default]
    Log2,
    /// `1 / r`.
    Reciprocal,
    /// Every item weighs 1.
    None,
}

impl RankDiscount {
    fn weight(self, rank: usize) -> f32 {
        let r = rank as f64;
        (match self {
            RankDiscount::Log2 => 1.0 / (r + 1.0).log2(),
            RankDiscount::Reciprocal => 1.0 / r,
            RankDiscount::None => 1.0,
        }) as f32
    }
}

/// Configuration of [`AdrMse`].
#[derive(Config, Debug)]
pub struct AdrMseConfig {
    /// T, the temperature of the approximate rank's sigmoids.
    #[config(default = 1.0)]
    pub temperature: f64,
    /// The weight of an item's error by its teacher rank.
    #[config(default = "RankDiscount::Log2")]
    pub discount: RankDiscount,
}

impl AdrMseConfig {
    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        positive("temperature", self.temperature)
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> AdrMse {
        or_panic(self.check());
        AdrMse {
            temperature: self.temperature,
            discount: self.discount,
        }
    }
}

/// ADR-MSE (Schlatt et al. 2024, Rank-DistiLLM; Lightning IR's `ApproxRankMSE`): the squared
/// error between the student's approximate rank and the teacher's rank, weighted by the rank.
///
/// ```text
/// r̂_i = 1 + Σ_{j ≠ i} σ((s_j − s_i) / T)
/// L   = mean over lists of  mean_i w(r_i) · (r̂_i − r_i)²,   w(r) = 1 / log₂(r + 1)
/// ```
///
/// `r_i` is item i's rank (1 = first) in the teacher's order, ties to the lower slot. Only that
/// order is read, so the loss serves teachers that give a ranking and no scores: any scores
/// that sort the same give the same loss. Memory is `O(B·N²)`: the pair matrix of each list.
///
/// # Shapes
///
/// - student, teacher, mask: `[B, N]`
/// - output: `[1]`
#[derive(Module, Debug)]
pub struct AdrMse {
    /// As [`AdrMseConfig::temperature`].
    pub temperature: f64,
    /// As [`AdrMseConfig::discount`].
    #[module(skip)]
    pub discount: RankDiscount,
}

impl AdrMse {
    /// The loss of `student` against the order of `teacher` over the valid items of `mask`.
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let (t, m, b, n) = crate::ordering::to_host(teacher, mask);
        self.forward_ordered(student, &ListOrders::teacher(&t, &m, b, n))
    }

    /// The loss for a precomputed teacher order.
    pub fn forward_ordered(&self, student: Tensor<2>, orders: &ListOrders) -> Tensor<1> {
        let device = student.device();
        let [b, _, n] = orders.dims();
        let (ranks, weights) = self.ranks_and_weights(orders);
        let ranks = Tensor::<2>::from_data(TensorData::new(ranks, [b, n]), &device);
        let weights = Tensor::<2>::from_data(TensorData::new(weights, [b, n]), &device);
        let valid = orders.slot_mask_tensor(&device);
        let valid_j = valid.clone().float().unsqueeze_dim::<3>(1); // [B, 1, N]
        let s = student / self.temperature;
        // [B, N, N]: entry (i, j) is σ(s_j − s_i); the diagonal's σ(0) = ½ is taken back out.
        let beats = sigmoid(s.clone().unsqueeze_dim::<3>(1) - s.unsqueeze_dim::<3>(2)) * valid_j;
        let approx = beats.sum_dim(2).squeeze_dim::<2>(2) + 0.5; // 1 + Σ_j − ½
        let per_item = (approx - ranks).square() * weights; // 0 weight on padding
        let count = valid.clone().float().sum_dim(1).clamp_min(1.0);
        let per_list = (per_item.sum_dim(1) / count).squeeze_dim::<1>(1);
        mean_over(per_list, orders.nonempty_tensor(&device))
    }

    /// `[B * N]` in slot space: each valid item's teacher rank, and its weight (0 for padding).
    fn ranks_and_weights(&self, orders: &ListOrders) -> (Vec<f32>, Vec<f32>) {
        let [b, _, n] = orders.dims();
        let (mut ranks, mut weights) = (vec![0.0; b * n], vec![0.0; b * n]);
        for (list, &count) in orders.counts.iter().enumerate() {
            for (position, &slot) in orders.slots()[list * n..list * n + count]
                .iter()
                .enumerate()
            {
                let k = list * n + slot as usize;
                ranks[k] = (position + 1) as f32;
                weights[k] = self.discount.weight(position + 1);
            }
        }
        (ranks, weights)
    }
}

impl DistillTerm for AdrMse {
    fn loss(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        let orders =
            ListOrders::teacher(targets.teacher(), targets.mask, targets.batch, targets.len);
        self.forward_ordered(student, &orders)
    }
}
