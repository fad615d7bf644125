//! Logistic pair losses over all ordered pairs of a list.
//!
//! The `[B, N, N]` pair matrix is built a block of rows at a time and never kept for autodiff:
//! the gradient is written out by hand, so memory is `O(B·ROWS·N)` rather than a dozen
//! `[B, N, N]` tensors held for the backward pass (gigabytes at N = 1000).

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use crate::plackett_luce::softplus;

/// Rows `i` of the pair matrix per block.
const ROWS: usize = 128;

/// Per-list sum and count of `log(1 + exp(−(s_i − s_j)))` over the valid pairs with
/// `target_i > target_j`: (`[B]`, `[B]`).
///
/// With `w_ij` the pair indicator and `σ` the logistic function, the sum's gradient is
///
/// ```text
/// ∂/∂s_k = Σ_i w_ik σ(s_k − s_i) − Σ_j w_kj σ(s_j − s_k)
/// ```
///
/// It reaches `student` through `Σ_k (s_k − sg(s_k)) · g_k`, which is exactly 0 in value.
pub(crate) fn logistic_pairs(
    student: Tensor<2>,
    target: Tensor<2>,
    mask: Tensor<2, Bool>,
) -> (Tensor<1>, Tensor<1>) {
    let [b, n] = student.dims();
    let device = student.device();
    let s = student.clone().detach();
    let t = target.detach();
    let valid = mask.float(); // [B, N]
    let s_j = s.clone().unsqueeze_dim::<3>(1); // [B, 1, N]
    let t_j = t.clone().unsqueeze_dim::<3>(1);
    let valid_j = valid.clone().unsqueeze_dim::<3>(1);
    let mut sum = Tensor::<1>::zeros([b], &device);
    let mut count = Tensor::<1>::zeros([b], &device);
    let mut as_loser = Tensor::<2>::zeros([b, n], &device); // Σ_i w_ik σ(s_k − s_i)
    let mut as_winner = Vec::new(); // per block: Σ_j w_kj σ(s_j − s_k), [B, R]
    for start in (0..n).step_by(ROWS) {
        let rows = start..(start + ROWS).min(n);
        let r = rows.len();
        let block = |x: &Tensor<2>| x.clone().slice([0..b, rows.clone()]).unsqueeze_dim::<3>(2);
        let pair = block(&t).greater(t_j.clone()).float() * block(&valid) * valid_j.clone(); // [B, R, N]
        let diff = s_j.clone() - block(&s); // s_j − s_i: [B, R, N]
        sum = sum + (softplus(diff.clone()) * pair.clone()).sum_dims_squeeze::<1, usize>(&[1, 2]);
        count = count + pair.clone().sum_dims_squeeze::<1, usize>(&[1, 2]);
        let weighted = sigmoid(diff) * pair; // w_ij σ(s_j − s_i)
        as_loser = as_loser + weighted.clone().sum_dim(1).reshape([b, n]);
        as_winner.push(weighted.sum_dim(2).reshape([b, r]));
    }
    let grad = if as_winner.is_empty() {
        as_loser
    } else {
        as_loser - Tensor::cat(as_winner, 1)
    };
    let carrier = ((student.clone() - student.detach()) * grad)
        .sum_dim(1)
        .squeeze_dim(1); // [B], 0
    (sum + carrier, count)
}
