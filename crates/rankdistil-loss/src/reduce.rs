use burn::prelude::*;

/// The mean of `per_list` over the lists where `counts` is true; 0 when none counts.
///
/// Lists that don't count are left out of the mean, not averaged in as 0.
pub(crate) fn mean_over(per_list: Tensor<1>, counts: Tensor<1, Bool>) -> Tensor<1> {
    let weight = counts.clone().float();
    let total = weight.sum().clamp_min(1.0);
    per_list.mask_fill(counts.bool_not(), 0.0).sum() / total
}

/// `[B]`, true for a list with at least one valid item.
pub(crate) fn nonempty(mask: Tensor<2, Bool>) -> Tensor<1, Bool> {
    mask.any_dim(1).squeeze_dim::<1>(1)
}

/// Valid items per list as floats, at least 1: `[B, 1]`.
pub(crate) fn valid_count(mask: Tensor<2, Bool>) -> Tensor<2> {
    mask.float().sum_dim(1).clamp_min(1.0)
}
