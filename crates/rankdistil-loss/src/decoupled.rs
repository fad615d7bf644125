use burn::prelude::*;

use crate::checks::{at_least_one, or_panic, positive};
use crate::ordering::ListOrders;
use crate::plackett_luce::softplus;
use crate::reduce::mean_over;
use crate::teacher_order::OrderedLoss;
use crate::top_p::split_top_p;

/// Configuration of [`DecoupledRankDistil`].
#[derive(Config, Debug)]
pub struct DecoupledRankDistilConfig {
    /// The teacher's top-p items form the positives P.
    #[config(default = 10)]
    pub p: usize,
    /// Weight λ of the push-down term.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// Student temperature τ.
    #[config(default = 1.0)]
    pub temperature: f64,
}

impl DecoupledRankDistilConfig {
    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        at_least_one("p", self.p)?;
        positive("lambda", self.lambda)?;
        positive("temperature", self.temperature)
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> DecoupledRankDistil {
        or_panic(self.check());
        DecoupledRankDistil {
            p: self.p,
            lambda: self.lambda,
            temperature: self.temperature,
        }
    }
}

/// Decoupled RankDistil. **A reconstruction:** the paper names this variant but its exact
/// formula is not public. This form keeps the top-p order and pushes the rest down separately:
///
/// ```text
/// L = ListMLE(s_P in teacher order; denominators over P only) + λ · mean_{j∈M} softplus(s_j/τ)
/// ```
///
/// P is the teacher's top-p items, M every other valid item.
#[derive(Module, Debug)]
pub struct DecoupledRankDistil {
    /// As [`DecoupledRankDistilConfig::p`].
    pub p: usize,
    /// As [`DecoupledRankDistilConfig::lambda`].
    pub lambda: f64,
    /// As [`DecoupledRankDistilConfig::temperature`].
    pub temperature: f64,
}

crate::teacher_order::inherent_forward!(DecoupledRankDistil);

impl OrderedLoss for DecoupledRankDistil {
    fn teacher_head(&self) -> usize {
        self.p
    }

    fn forward_ordered(&self, student: Tensor<2>, orders: &ListOrders) -> Tensor<1> {
        let device = student.device();
        let split = split_top_p(student, orders, self.p, self.temperature);
        let mut per_list = split.listmle_p;
        if let (Some(x_m), Some(valid_m)) = (split.x_m, split.valid_m) {
            let count = valid_m.clone().float().sum_dim(1).clamp_min(1.0); // [B, 1]
            let push = softplus(x_m).mask_fill(valid_m.bool_not(), 0.0).sum_dim(1) / count;
            per_list = per_list + push.squeeze_dim::<1>(1) * self.lambda;
        }
        mean_over(per_list, orders.nonempty_tensor(&device))
    }
}
