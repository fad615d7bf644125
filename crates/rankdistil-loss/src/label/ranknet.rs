use burn::prelude::*;

use crate::pairs::logistic_pairs;
use crate::reduce::mean_over;

/// RankNet on labels: the pairwise logistic loss over every pair the labels order.
///
/// ```text
/// L = (1/#pairs) Σ_{y_i > y_j} log(1 + exp(−(s_i − s_j)))
/// ```
///
/// Lists with no such pair are left out. Time is `O(B·N²)`, memory `O(B·128·N)`: the pair
/// matrix is built 128 rows at a time.
#[derive(Module, Debug, Default)]
pub struct RankNet;

impl RankNet {
    /// The loss (it has no settings).
    pub fn new() -> Self {
        Self
    }

    /// Per-list pair sums and pair counts (TF-Ranking's `pairwise_logistic_loss` with a sum
    /// reduction is the first): (`[B]`, `[B]`).
    pub fn per_list_sum(
        &self,
        scores: Tensor<2>,
        labels: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> (Tensor<1>, Tensor<1>) {
        logistic_pairs(scores, labels, mask)
    }

    /// - scores, labels, mask: `[B, N]`; output: `[1]`
    pub fn forward(
        &self,
        scores: Tensor<2>,
        labels: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let (sum, count) = logistic_pairs(scores, labels, mask);
        let has_pair = count.clone().greater_elem(0.0);
        mean_over(sum / count.clamp_min(1.0), has_pair)
    }
}
