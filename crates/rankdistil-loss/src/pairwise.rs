use burn::prelude::*;

use crate::checks::{at_least_one, or_panic, positive};
use crate::ordering::ListOrders;
use crate::plackett_luce::softplus;
use crate::reduce::mean_over;
use crate::teacher_order::OrderedLoss;
use crate::top_p::split_top_p;

/// Configuration of [`PairwiseRankDistil`].
#[derive(Config, Debug)]
pub struct PairwiseRankDistilConfig {
    /// The teacher's top-p items form the positives P.
    #[config(default = 10)]
    pub p: usize,
    /// Weight λ of the pairwise push-down term.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// Student temperature τ.
    #[config(default = 1.0)]
    pub temperature: f64,
}

impl PairwiseRankDistilConfig {
    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        at_least_one("p", self.p)?;
        positive("lambda", self.lambda)?;
        positive("temperature", self.temperature)
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> PairwiseRankDistil {
        or_panic(self.check());
        PairwiseRankDistil {
            p: self.p,
            lambda: self.lambda,
            temperature: self.temperature,
        }
    }
}

/// Pairwise RankDistil. **A reconstruction:** the paper names this variant but its exact
/// formula is not public. This form keeps the top-p order and pushes every other item below
/// every top-p item with a logistic pair loss:
///
/// ```text
/// L = ListMLE(s_P in teacher order; denominators over P only)
///     + λ · mean_{i∈P, j∈M} log(1 + exp(−(s_i − s_j)/τ))
/// ```
///
/// Memory is `O(B·p·N)`.
#[derive(Module, Debug)]
pub struct PairwiseRankDistil {
    /// As [`PairwiseRankDistilConfig::p`].
    pub p: usize,
    /// As [`PairwiseRankDistilConfig::lambda`].
    pub lambda: f64,
    /// As [`PairwiseRankDistilConfig::temperature`].
    pub temperature: f64,
}

crate::teacher_order::inherent_forward!(PairwiseRankDistil);

impl OrderedLoss for PairwiseRankDistil {
    fn teacher_head(&self) -> usize {
        self.p
    }

    fn forward_ordered(&self, student: Tensor<2>, orders: &ListOrders) -> Tensor<1> {
        let device = student.device();
        let split = split_top_p(student, orders, self.p, self.temperature);
        let mut per_list = split.listmle_p;
        if let (Some(x_m), Some(valid_m)) = (split.x_m, split.valid_m) {
            let [b, pp] = split.x_p.dims();
            let nm = x_m.dims()[1];
            let diff = split.x_p.unsqueeze_dim::<3>(2).expand([b, pp, nm])
                - x_m.unsqueeze_dim::<3>(1).expand([b, pp, nm]); // [B, p', M]
            let pair = split
                .valid_p
                .unsqueeze_dim::<3>(2)
                .expand([b, pp, nm])
                .bool_and(valid_m.unsqueeze_dim::<3>(1).expand([b, pp, nm]));
            let count = pair
                .clone()
                .float()
                .sum_dims_squeeze::<1, usize>(&[1, 2])
                .clamp_min(1.0); // [B]
            let push = softplus(diff.neg())
                .mask_fill(pair.bool_not(), 0.0)
                .sum_dims_squeeze::<1, usize>(&[1, 2])
                / count;
            per_list = per_list + push * self.lambda;
        }
        mean_over(per_list, orders.nonempty_tensor(&device))
    }
}
