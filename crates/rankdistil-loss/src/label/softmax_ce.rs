use burn::prelude::*;

use crate::plackett_luce::{NEG, logsumexp};
use crate::reduce::mean_over;

/// Softmax cross-entropy with label-proportional targets (ListNet on labels).
///
/// ```text
/// L = −Σ_i (y_i / Σ_j y_j) · log softmax(s)_i
/// ```
///
/// Lists whose label sum is 0 are left out. TF-Ranking weights each list by Σy; this is the
/// unweighted mean over lists.
#[derive(Module, Debug, Default)]
pub struct SoftmaxCe;

impl SoftmaxCe {
    /// The loss (it has no settings).
    pub fn new() -> Self {
        Self
    }

    /// Per-list values and whether each list counts: (`[B]`, `[B]`).
    pub fn per_list(
        &self,
        scores: Tensor<2>,
        labels: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> (Tensor<1>, Tensor<1, Bool>) {
        let pad = mask.bool_not();
        let y = labels.mask_fill(pad.clone(), 0.0);
        let total = y.clone().sum_dim(1); // [B, 1]
        let counts = total.clone().greater_elem(0.0).squeeze_dim::<1>(1);
        let s = scores.mask_fill(pad.clone(), NEG);
        let neg_log_p = (logsumexp(s.clone(), 1) - s).mask_fill(pad, 0.0);
        let per_list = ((y / total.clamp_min(1e-30)) * neg_log_p)
            .sum_dim(1)
            .squeeze_dim::<1>(1);
        (per_list, counts)
    }

    /// - scores, labels, mask: `[B, N]`; output: `[1]`
    pub fn forward(
        &self,
        scores: Tensor<2>,
        labels: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let (per_list, counts) = self.per_list(scores, labels, mask);
        mean_over(per_list, counts)
    }
}
