//! Logistic pair losses over all ordered pairs of a list, `O(B·N²)` memory.

use burn::prelude::*;

use crate::plackett_luce::softplus;

/// Per-list sum and count of `log(1 + exp(−(s_i − s_j)))` over the valid pairs with
/// `target_i > target_j`: (`[B]`, `[B]`).
pub(crate) fn logistic_pairs(
    student: Tensor<2>,
    target: Tensor<2>,
    mask: Tensor<2, Bool>,
) -> (Tensor<1>, Tensor<1>) {
    let [b, n] = student.dims();
    let expand_i = |x: Tensor<2>| x.unsqueeze_dim::<3>(2).expand([b, n, n]);
    let expand_j = |x: Tensor<2>| x.unsqueeze_dim::<3>(1).expand([b, n, n]);
    let target = target.detach();
    let pair = expand_i(target.clone())
        .greater(expand_j(target))
        .bool_and(expand_i(mask.clone().float()).equal_elem(1.0))
        .bool_and(expand_j(mask.float()).equal_elem(1.0)); // [B, N, N]
    let diff = expand_i(student.clone()) - expand_j(student); // [B, N, N]
    let loss = softplus(diff.neg()).mask_fill(pair.clone().bool_not(), 0.0);
    (
        loss.sum_dims_squeeze::<1, usize>(&[1, 2]),
        pair.float().sum_dims_squeeze::<1, usize>(&[1, 2]),
    )
}
