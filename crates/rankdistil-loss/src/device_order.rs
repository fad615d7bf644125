//! Target orders drawn on the device, for a batch whose targets are already there: the
//! teacher's top-k, or `S` orders sampled from PL(teacher / τ_t) with the Gumbel trick, each laid
//! out as the permutation the Plackett–Luce kernels read ([`crate::ordering::ListOrders`]'s
//! layout, with no host sync).
//!
//! A top-k loss reads the first `k` positions in order and the other valid items as a set, so
//! only an arg-top-k per order is needed (Burn's GPU backends have no on-device sort). Each
//! order's permutation is then, for its list of `n` valid items in slots `0..n`:
//!
//! ```text
//! position(j) = rank of j in the top-k            j valid, in the top k' = min(k, n)
//!             = k' + #(valid slots before j not in the top k)   j valid, not in it
//!             = j                                  j padded (j ≥ n)
//! ```
//!
//! Ties go to the lower slot, as the host sort gives them, on the GPU backends' arg-top-k.

use burn::prelude::*;
use burn::tensor::{Distribution, IndexingUpdateOp, TensorData};

use crate::plackett_luce::NEG;

/// How the keys of one batch's orders are drawn.
#[derive(Debug, Clone)]
pub enum OrderKeys {
    /// The teacher's own order: one order per list, keyed by its scores.
    Teacher,
    /// `samples` orders per list keyed by `t/τ_t + g`, `g ~ Gumbel(0, 1)` drawn on the device.
    Sampled {
        /// S, the orders of each list.
        samples: usize,
        /// τ_t.
        temperature: f64,
    },
    /// As `Sampled`, with the uniform draws `u` `[B, S, N]` given (`g = −ln(−ln u)`): the
    /// same noise gives the host's [`crate::ListOrders`] and the device's orders alike.
    Noise {
        /// `[B, S, N]` uniform draws in (0, 1).
        uniform: Box<Tensor<3>>,
        /// τ_t.
        temperature: f64,
    },
}

impl OrderKeys {
    fn samples(&self) -> usize {
        match self {
            OrderKeys::Teacher => 1,
            OrderKeys::Sampled { samples, .. } => *samples,
            OrderKeys::Noise { uniform, .. } => uniform.dims()[1],
        }
    }

    /// `[B·S, N]` keys, padded slots (`padded`, `[B·S, N]`) at [`NEG`].
    fn keys(&self, teacher: Tensor<2>, padded: Tensor<2, Bool>) -> Tensor<2> {
        let [b, n] = teacher.dims();
        let s = self.samples();
        let uniform = match self {
            OrderKeys::Teacher => None,
            OrderKeys::Sampled { temperature, .. } => {
                let u = Tensor::<3>::random([b, s, n], Distribution::Default, &teacher.device());
                Some((u, *temperature))
            }
            OrderKeys::Noise {
                uniform,
                temperature,
            } => Some((*uniform.clone(), *temperature)),
        };
        let keys = match uniform {
            None => teacher,
            Some((u, temperature)) => {
                // u in (0, 1): a draw of exactly 0 would key a real item below the padding.
                let u = u.clamp(1.0e-12, 1.0 - 1.0e-7);
                let gumbel = u.log().neg().log().neg(); // [B, S, N]
                let t = (teacher / temperature).unsqueeze_dim::<3>(1); // [B, 1, N]
                (gumbel + t).reshape([b * s, n])
            }
        };
        keys.mask_fill(padded, NEG)
    }
}

/// The orders of a batch, drawn on the device: `[B, S·N]` slot indices, each list's `S`
/// orders side by side, valid items first with the top `min(head, n)` in key order.
///
/// The positions are found in f32 (exact for lists under 2²⁴ slots), where Burn's fusion
/// merges them into a few kernels; the only uploads are the lists' counts and two index
/// ramps (`N` and `head` values).
///
/// # Shapes
///
/// - teacher: `[B, N]`, the real items of list `b` in slots `0..counts[b]`
/// - counts: `B` values, on the host
/// - output: `[B, S·N]`
pub fn device_orders(
    teacher: Tensor<2>,
    counts: &[usize],
    keys: &OrderKeys,
    head: usize,
) -> Tensor<2, Int> {
    let [b, n] = teacher.dims();
    assert_eq!(counts.len(), b, "one count per list");
    let s = keys.samples();
    let rows = b * s;
    let device = teacher.device();
    if n <= 1 {
        // One slot: every order is that slot.
        return Tensor::zeros([b, s * n], &device);
    }
    // Burn's arg-top-k takes fewer than N: the top N − 1 in order leave the last slot's place
    // decided.
    let head = head.clamp(1, n - 1);
    let host =
        |v: Vec<f32>, shape: [usize; 2]| Tensor::<2>::from_data(TensorData::new(v, shape), &device);
    // Per order: its list's count n_b, and k' = min(head, n_b).
    let count: Vec<f32> = (counts.iter())
        .flat_map(|&c| std::iter::repeat_n(c as f32, s))
        .collect();
    let count = host(count, [rows, 1]);
    let kept = count.clone().clamp_max(head as f32);
    let slots = host((0..n).map(|j| j as f32).collect(), [1, n]); // [1, N]
    // 1 for a real item, 0 for a padded slot: integers in f32, so fusion keeps it one kernel.
    let valid = (count - slots.clone()).clamp(0.0, 1.0); // [B·S, N]
    let top = keys
        .keys(teacher, valid.clone().lower_elem(0.5))
        .argtopk(head, 1); // [B·S, head]
    // rank + 1 of each slot in the top, 0 outside it.
    let ranks = (1..=head as i64).collect::<Vec<_>>();
    let ranks = Tensor::<2, Int>::from_data(TensorData::new(ranks, [1, head]), &device);
    let rank = Tensor::<2, Int>::zeros([rows, n], &device)
        .scatter(1, top, ranks.expand([rows, head]), IndexingUpdateOp::Add)
        .float();
    let in_head = rank.clone().clamp(0.0, 1.0) * valid.clone(); // [B·S, N]
    let rest = valid.clone() - in_head.clone(); // valid, not in the top
    let before = rest.clone().cumsum(1) - rest.clone(); // rest slots before each slot
    let position = slots.expand([rows, n]) * (valid.neg() + 1.0) // padded: itself
        + (rank - 1.0) * in_head // in the top: its rank
        + (before + kept) * rest; // the rest, after the top
    let slots = Tensor::<2, Int>::from_data(
        TensorData::new((0..n as i64).collect::<Vec<_>>(), [1, n]),
        &device,
    );
    let index = Tensor::<2, Int>::zeros([rows, n], &device).scatter(
        1,
        position.int(),
        slots.expand([rows, n]),
        IndexingUpdateOp::Add,
    );
    index.reshape([b, s * n])
}

/// `[B·S]`: each order's weight in the mean over lists with a real item of the mean over
/// their orders, as [`crate::ordering::ListOrders::mean_weights_tensor`] gives, from the
/// lists' counts on the host.
#[cfg(feature = "kernels")]
pub(crate) fn mean_weights(counts: &[usize], samples: usize, device: &Device) -> Tensor<1> {
    let samples = samples.max(1);
    let lists = counts.iter().filter(|&&c| c > 0).count().max(1);
    let w = 1.0 / (samples * lists) as f32;
    let weights: Vec<f32> = (counts.iter())
        .flat_map(|&c| std::iter::repeat_n(if c > 0 { w } else { 0.0 }, samples))
        .collect();
    Tensor::from_data(TensorData::new(weights, [counts.len() * samples]), device)
}
