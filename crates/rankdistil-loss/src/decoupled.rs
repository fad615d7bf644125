use burn::prelude::*;

use crate::ordering::{ListOrders, to_host};
use crate::plackett_luce::softplus;
use crate::reduce::mean_over;
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
    pub fn init(&self) -> DecoupledRankDistil {
        assert!(self.p >= 1, "p must be at least 1");
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
    pub p: usize,
    pub lambda: f64,
    pub temperature: f64,
}

impl DecoupledRankDistil {
    /// - student, teacher, mask: `[B, N]`; output: `[1]`
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let (t, m, b, n) = to_host(teacher, mask);
        self.forward_ordered(student, &ListOrders::teacher(&t, &m, b, n))
    }

    /// The loss for precomputed teacher orders.
    pub fn forward_ordered(&self, student: Tensor<2>, orders: &ListOrders) -> Tensor<1> {
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
