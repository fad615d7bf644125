//! The top-k Plackett–Luce negative log-likelihood of lists already in target order, with a
//! stable reverse cumulative log-sum-exp.
//!
//! For a row `x` in target order with `n` valid items (a valid prefix):
//!
//! ```text
//! nll = Σ_{i<k'} [ log Σ_{j=i..n-1} exp(x_j) − x_i ],   k' = min(k, n)
//! ```
//!
//! The suffix sums are taken blockwise from the end: the items past the head collapse into one
//! log-sum-exp with its own max, and each block of at most [`BLOCK`] head positions takes a
//! max-shifted log-sum-exp over `[its suffix, carry]`. Every log-sum-exp is shifted by the max
//! of exactly the terms it sums, so logits spread over [−2000, 2000] stay finite, where a single
//! global-max shift with a cumulative sum would underflow. Memory is `O(R·(N + BLOCK²))`.

use std::sync::Mutex;

use burn::prelude::*;
use burn::tensor::TensorData;

/// Logit for a slot that must not contribute: `exp(NEG − m)` is 0 for any real `m`.
pub(crate) const NEG: f32 = -1.0e30;

/// Head positions handled per block of the reverse scan.
pub(crate) const BLOCK: usize = 64;

/// Max-shifted log-sum-exp along `dim`, keeping it. The shift is detached: it cancels in the
/// value, and its gradient is zero.
pub(crate) fn logsumexp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let m = x.clone().max_dim(dim).detach();
    (x - m.clone()).exp().sum_dim(dim).log() + m
}

/// `ln(1 + exp(x))`, stable for large |x|.
pub(crate) fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p()
}

/// `[L, L]` mask, true where column `j` < row `i` (the part of a suffix that is not in it).
///
/// Built once per `(L, device)` and reused: on a GPU a fresh one would be a host upload in
/// every step, and `L` is at most [`BLOCK`], so the cache stays small.
fn before_mask(len: usize, device: &Device) -> Tensor<2, Bool> {
    static CACHE: Mutex<Vec<(usize, Device, Tensor<2, Bool>)>> = Mutex::new(Vec::new());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, _, mask)) = cache.iter().find(|(l, d, _)| *l == len && d == device) {
        return mask.clone();
    }
    let data: Vec<bool> = (0..len * len).map(|e| e % len < e / len).collect();
    let mask = Tensor::<2, Bool>::from_data(TensorData::new(data, [len, len]), device);
    cache.push((len, device.clone(), mask.clone()));
    mask
}

/// Per-row top-k Plackett–Luce NLL.
///
/// - `x`: `[R, N]` logits in target order.
/// - `valid`: `[R, N]`, true for the valid prefix of each row.
/// - output: `[R]`, 0 for a row with no valid item.
pub(crate) fn top_k_nll(x: Tensor<2>, valid: Tensor<2, Bool>, k: usize) -> Tensor<1> {
    let [rows, n] = x.dims();
    let head_len = k.min(n);
    let x = x.mask_fill(valid.clone().bool_not(), NEG);
    // log Σ over the items below the head: [R, 1].
    let tail = if head_len < n {
        logsumexp(x.clone().slice([0..rows, head_len..n]), 1)
    } else {
        Tensor::full([rows, 1], NEG, &x.device())
    };
    head_nll(
        x.slice([0..rows, 0..head_len]),
        valid.slice([0..rows, 0..head_len]),
        tail,
    )
}

/// The Plackett–Luce NLL of an ordered head followed by an unordered tail.
///
/// - `head`: `[R, K]` logits in target order, [`NEG`] where not valid.
/// - `valid`: `[R, K]`, true for the valid prefix of each head.
/// - `tail`: `[R, 1]`, log Σ exp over the items after the head ([`NEG`] when there are none).
/// - output: `[R]`, Σ over valid head positions of `log Σ_{j≥i} exp(x_j) − x_i`.
pub(crate) fn head_nll(head: Tensor<2>, valid: Tensor<2, Bool>, tail: Tensor<2>) -> Tensor<1> {
    let [rows, head_len] = head.dims();
    let device = head.device();
    let mut carry = tail;
    let mut terms = Vec::new();
    let mut end = head_len;
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let len = end - start;
        let block = head.clone().slice([0..rows, start..end]); // [R, L]
        let suffix = block
            .clone()
            .unsqueeze_dim::<3>(1)
            .expand([rows, len, len])
            .mask_fill(
                before_mask(len, &device)
                    .unsqueeze_dim::<3>(0)
                    .expand([rows, len, len]),
                NEG,
            ); // [R, L, L]
        let with_carry = Tensor::cat(
            vec![
                suffix,
                carry.clone().unsqueeze_dim::<3>(2).expand([rows, len, 1]),
            ],
            2,
        ); // [R, L, L + 1]
        let lse = logsumexp(with_carry, 2).squeeze_dim::<2>(2); // [R, L]
        carry = lse.clone().slice([0..rows, 0..1]);
        let ok = valid.clone().slice([0..rows, start..end]);
        terms.push((lse - block).mask_fill(ok.bool_not(), 0.0));
        end = start;
    }
    if terms.is_empty() {
        return Tensor::zeros([rows], &device);
    }
    terms.reverse();
    Tensor::cat(terms, 1).sum_dim(1).squeeze_dim::<1>(1)
}
