use burn::prelude::*;

use crate::ordering::{ListOrders, to_host};
use crate::plackett_luce::softplus;
use crate::reduce::mean_over;
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
    pub fn init(&self) -> PairwiseRankDistil {
        assert!(self.p >= 1, "p must be at least 1");
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
    pub p: usize,
    pub lambda: f64,
    pub temperature: f64,
}

impl PairwiseRankDistil {
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
