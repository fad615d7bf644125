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
/// On a GPU backend, a head of at most [`BLOCK`] positions takes [`top_k_nll_fused`]: a few
/// fusable reductions instead of the blockwise scan's slices and concatenations, each of which
/// is a kernel launch there. The CPU backends keep [`top_k_nll_blockwise`], the reference.
///
/// - `x`: `[R, N]` logits in target order.
/// - `valid`: `[R, N]`, true for the valid prefix of each row.
/// - output: `[R]`, 0 for a row with no valid item.
pub(crate) fn top_k_nll(x: Tensor<2>, valid: Tensor<2, Bool>, k: usize) -> Tensor<1> {
    if k.min(x.dims()[1]) <= BLOCK && launches_kernels(&x.device()) {
        top_k_nll_fused(x, valid, k)
    } else {
        top_k_nll_blockwise(x, valid, k)
    }
}

/// Whether `device` runs on CubeCL (wgpu, Vulkan), where every kernel launch costs host time
/// and only elementwise chains and their reductions fuse.
#[cfg(feature = "kernels")]
pub(crate) fn launches_kernels(device: &Device) -> bool {
    device.identity().is_some()
}

/// Without the `kernels` feature burn has no CubeCL backend to ask about: every device takes
/// the CPU backends' formulation.
#[cfg(not(feature = "kernels"))]
pub(crate) fn launches_kernels(_device: &Device) -> bool {
    false
}

/// The blockwise reference of [`top_k_nll`], the CPU backends' path.
pub(crate) fn top_k_nll_blockwise(x: Tensor<2>, valid: Tensor<2, Bool>, k: usize) -> Tensor<1> {
    let [rows, n] = x.dims();
    let head_len = k.min(n);
    let x = x.mask_fill(valid.clone().bool_not(), NEG);
    // log Σ over the items below the head: [R, 1].
    let tail = if head_len < n {
        logsumexp(x.clone().slice([0..rows, head_len..n]), 1)
    } else {
        Tensor::full([rows, 1], NEG, &x.device())
    };
    head_nll_blockwise(
        x.slice([0..rows, 0..head_len]),
        valid.slice([0..rows, 0..head_len]),
        tail,
    )
}

/// The Plackett–Luce NLL of an ordered head followed by an unordered tail.
///
/// On a GPU backend a head of at most [`BLOCK`] positions is scored as one row, the tail as
/// a last item whose logit is its log-sum-exp, by [`top_k_nll_fused`]; elsewhere by
/// [`head_nll_blockwise`].
///
/// - `head`: `[R, K]` logits in target order, [`NEG`] where not valid.
/// - `valid`: `[R, K]`, true for the valid prefix of each head.
/// - `tail`: `[R, 1]`, log Σ exp over the items after the head ([`NEG`] when there are none).
/// - output: `[R]`, Σ over valid head positions of `log Σ_{j≥i} exp(x_j) − x_i`.
pub(crate) fn head_nll(head: Tensor<2>, valid: Tensor<2, Bool>, tail: Tensor<2>) -> Tensor<1> {
    let head_len = head.dims()[1];
    if head_len > BLOCK || !launches_kernels(&head.device()) {
        return head_nll_blockwise(head, valid, tail);
    }
    let tail_valid = tail.clone().greater_elem(NEG / 2.0);
    let row = Tensor::cat(vec![head, tail], 1); // [R, K + 1]
    top_k_nll_fused(row, Tensor::cat(vec![valid, tail_valid], 1), head_len)
}

/// The blockwise reference of [`head_nll`].
pub(crate) fn head_nll_blockwise(
    head: Tensor<2>,
    valid: Tensor<2, Bool>,
    tail: Tensor<2>,
) -> Tensor<1> {
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

/// [`top_k_nll`] for a head of `K ≤` [`BLOCK`] positions, with nothing sliced, expanded or
/// concatenated: head position `i`'s log-sum-exp runs over the whole row, with the slots before
/// `i` pushed to [`NEG`] by a constant `[1, K, N]` bias. Each of the `K` log-sum-exps is shifted
/// by the max of exactly its own terms, as in the blockwise scan, so extreme logits stay
/// finite. A position past a row's valid prefix sums only [`NEG`] terms, which is how it is
/// recognised and dropped. Memory is `O(R·K·N)`.
pub(crate) fn top_k_nll_fused(x: Tensor<2>, valid: Tensor<2, Bool>, k: usize) -> Tensor<1> {
    let [rows, n] = x.dims();
    let head = k.min(n);
    let device = x.device();
    let x = x.mask_fill(valid.clone().bool_not(), NEG); // [R, N]
    let (suffix_bias, in_head) = head_constants(head, n, &device); // [1, K, N], [1, N]
    let lse = logsumexp(x.clone().unsqueeze_dim::<3>(1) + suffix_bias, 2); // [R, K, 1]
    let lse = lse.clone().mask_fill(lse.lower_equal_elem(NEG / 2.0), 0.0);
    let chosen = x.mask_fill(valid.bool_and(in_head).bool_not(), 0.0); // [R, N]
    (lse.sum_dim(1).reshape([rows, 1]) - chosen.sum_dim(1)).reshape([rows])
}

/// `[1, K, N]`: 0 where slot `j ≥ i`, [`NEG`] before; and `[1, N]`: true for the first `K`
/// slots. Built once per `(K, N, device)` and reused, as [`before_mask`] is; on a GPU lists are
/// padded to a few lengths, and at most [`HEAD_CONSTANTS_KEPT`] pairs are kept.
fn head_constants(head: usize, n: usize, device: &Device) -> (Tensor<3>, Tensor<2, Bool>) {
    type Kept = Vec<((usize, usize), Device, Tensor<3>, Tensor<2, Bool>)>;
    static CACHE: Mutex<Kept> = Mutex::new(Vec::new());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, _, bias, in_head)) = cache
        .iter()
        .find(|(key, d, _, _)| *key == (head, n) && d == device)
    {
        return (bias.clone(), in_head.clone());
    }
    let bias: Vec<f32> = (0..head * n)
        .map(|e| if e % n < e / n { NEG } else { 0.0 })
        .collect();
    let bias = Tensor::<3>::from_data(TensorData::new(bias, [1, head, n]), device);
    let in_head: Vec<bool> = (0..n).map(|j| j < head).collect();
    let in_head = Tensor::<2, Bool>::from_data(TensorData::new(in_head, [1, n]), device);
    if cache.len() >= HEAD_CONSTANTS_KEPT {
        cache.remove(0);
    }
    cache.push(((head, n), device.clone(), bias.clone(), in_head.clone()));
    (bias, in_head)
}

/// How many `(K, N, device)` constant pairs [`head_constants`] keeps.
const HEAD_CONSTANTS_KEPT: usize = 32;

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use burn::tensor::TensorData;

    use super::{NEG, top_k_nll_blockwise, top_k_nll_fused};

    /// Rows of logits over a wide range, valid prefixes of every length (0 included).
    fn rows(device: &Device) -> (Tensor<2>, Tensor<2, Bool>, Vec<usize>) {
        let (r, n) = (7, 13);
        let counts = vec![13, 10, 9, 3, 1, 0, 12];
        let x: Vec<f32> = (0..r * n)
            .map(|e| ((e * 37 % 101) as f32 - 50.0) * if e % 5 == 0 { 40.0 } else { 0.3 })
            .collect();
        let valid: Vec<bool> = (0..r * n).map(|e| e % n < counts[e / n]).collect();
        (
            Tensor::from_data(TensorData::new(x, [r, n]), device),
            Tensor::from_data(TensorData::new(valid, [r, n]), device),
            counts,
        )
    }

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec().unwrap()
    }

    #[test]
    fn the_fused_nll_equals_the_blockwise_one_in_value_and_gradient() {
        let device = Device::flex().autodiff();
        for k in [1, 4, 10, 13, 20] {
            let (x, valid, counts) = rows(&device);
            let x = x.require_grad();
            let fused = top_k_nll_fused(x.clone(), valid.clone(), k);
            let blockwise = top_k_nll_blockwise(x.clone(), valid, k);
            let weights = Tensor::<1>::from_floats([1.0, -2.0, 0.5, 3.0, 1.5, 2.0, -1.0], &device);
            let g_fused = x
                .grad(&(fused.clone() * weights.clone()).sum().backward())
                .unwrap();
            let g_block = x
                .grad(&(blockwise.clone() * weights).sum().backward())
                .unwrap();
            let (a, b) = (values(fused), values(blockwise));
            for (row, (a, b)) in a.iter().zip(&b).enumerate() {
                assert!(a.is_finite(), "k {k} row {row}: {a}");
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "k {k} row {row}: {a} vs {b}"
                );
            }
            assert_eq!(a[5], 0.0, "an empty row");
            let ga = g_fused
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            let gb = g_block
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            for (e, (a, b)) in ga.iter().zip(&gb).enumerate() {
                assert!((a - b).abs() <= 1e-5, "k {k} element {e}: {a} vs {b}");
                if e % 13 >= counts[e / 13] {
                    assert_eq!(*a, 0.0, "a slot past the valid prefix");
                }
            }
        }
        const { assert!(NEG < -1e29) };
    }
}
