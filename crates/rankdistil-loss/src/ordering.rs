//! Target orders for Plackett–Luce losses, computed on the host: the teacher's order, orders
//! sampled from PL(teacher) with the Gumbel trick, and label orders with random tie-breaks.
//!
//! Sorting is descending and stable (ties go to the lower slot index). Padded slots go last.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{RngExt, rngs::StdRng};

/// `S` orders of each of `B` lists of `N` slots.
#[derive(Debug, Clone, PartialEq)]
pub struct ListOrders {
    /// B, the lists.
    pub(crate) batch: usize,
    /// S, the orders of each list.
    pub(crate) samples: usize,
    /// N, the slots of each list.
    pub(crate) len: usize,
    /// `[B * S * N]`: slot indices, valid items first in target order, then the padded slots.
    pub(crate) index: Vec<i64>,
    /// `[B]`: valid items per list.
    pub(crate) counts: Vec<usize>,
}

/// Orders slots by `(primary, secondary)` descending, full ties to the lower slot. Only the first
/// `head` positions are sorted; the rest follow as an unordered set, which is all a top-k
/// Plackett–Luce loss reads of them (O(n + head·log head) instead of O(n log n)).
fn order_desc(valid: &mut [usize], keys: &[(f64, f64)], head: usize) {
    let cmp = |a: &usize, b: &usize| {
        keys[*b]
            .0
            .total_cmp(&keys[*a].0)
            .then(keys[*b].1.total_cmp(&keys[*a].1))
            .then(a.cmp(b))
    };
    if head < valid.len() {
        valid.select_nth_unstable_by(head, cmp);
        valid[..head].sort_unstable_by(cmp);
    } else {
        valid.sort_unstable_by(cmp);
    }
}

impl ListOrders {
    /// `[B, S, N]`: the lists, the orders of each, and the slots of each list.
    pub fn dims(&self) -> [usize; 3] {
        [self.batch, self.samples, self.len]
    }

    /// `[B * S * N]`: each order's slot indices, valid items first in target order.
    pub fn slots(&self) -> &[i64] {
        &self.index
    }

    fn build(
        values: &[f32],
        mask: &[bool],
        batch: usize,
        len: usize,
        samples: usize,
        head: usize,
        mut key: impl FnMut(usize, usize, f32) -> (f64, f64),
    ) -> Self {
        assert_eq!(values.len(), batch * len, "values must be [B * N]");
        assert_eq!(mask.len(), batch * len, "mask must be [B * N]");
        let mut index = Vec::with_capacity(batch * samples * len);
        let mut counts = Vec::with_capacity(batch);
        for b in 0..batch {
            let row = b * len..(b + 1) * len;
            let (valid, pad): (Vec<usize>, Vec<usize>) =
                (0..len).partition(|&j| mask[row.start + j]);
            counts.push(valid.len());
            for s in 0..samples {
                // Keys only for valid slots, so padding never consumes random draws.
                let mut keys = vec![(0.0, 0.0); len];
                for &j in &valid {
                    keys[j] = key(b, s, values[row.start + j]);
                }
                let mut order = valid.clone();
                order_desc(&mut order, &keys, head);
                index.extend(order.iter().chain(&pad).map(|&j| j as i64));
            }
        }
        Self {
            batch,
            samples,
            len,
            index,
            counts,
        }
    }

    /// The teacher's own order (one sample per list).
    pub fn teacher(teacher: &[f32], mask: &[bool], batch: usize, len: usize) -> Self {
        Self::teacher_top(teacher, mask, batch, len, usize::MAX)
    }

    /// The teacher's order of the first `head` positions; the other valid items follow as a set.
    pub fn teacher_top(
        teacher: &[f32],
        mask: &[bool],
        batch: usize,
        len: usize,
        head: usize,
    ) -> Self {
        Self::build(teacher, mask, batch, len, 1, head, |_, _, t| {
            (t as f64, 0.0)
        })
    }

    /// `samples` orders per list from PL(teacher / temperature): argsort of
    /// `t/τ_t + g`, `g ~ Gumbel(0, 1)`. Only the first `head` positions are ordered.
    #[allow(clippy::too_many_arguments)]
    pub fn plackett_luce(
        teacher: &[f32],
        mask: &[bool],
        batch: usize,
        len: usize,
        samples: usize,
        head: usize,
        temperature: f64,
        rng: &mut StdRng,
    ) -> Self {
        Self::build(teacher, mask, batch, len, samples, head, |_, _, t| {
            (t as f64 / temperature + gumbel(rng), 0.0)
        })
    }

    /// The order by labels, ties broken uniformly at random.
    pub fn labels_random_ties(
        labels: &[f32],
        mask: &[bool],
        batch: usize,
        len: usize,
        rng: &mut StdRng,
    ) -> Self {
        Self::build(labels, mask, batch, len, 1, usize::MAX, |_, _, y| {
            (y as f64, rng.random::<f64>())
        })
    }

    /// `[B, S, N]` slot indices.
    pub fn index_tensor(&self, device: &Device) -> Tensor<3, Int> {
        Tensor::from_data(
            TensorData::new(self.index.clone(), [self.batch, self.samples, self.len]),
            device,
        )
    }

    /// `[B, S, N]`, true for the valid prefix of each order.
    pub fn valid_tensor(&self, device: &Device) -> Tensor<3, Bool> {
        Tensor::from_data(
            TensorData::new(self.valid(), [self.batch, self.samples, self.len]),
            device,
        )
    }

    fn valid(&self) -> Vec<bool> {
        let mut data = Vec::with_capacity(self.index.len());
        for &n in &self.counts {
            for _ in 0..self.samples {
                data.extend((0..self.len).map(|j| j < n));
            }
        }
        data
    }

    /// `[B, S·N]` slot indices: each list's `S` orders side by side, for one gather along the
    /// slots with no expanded copy of the scores.
    pub fn flat_index_tensor(&self, device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(
            TensorData::new(self.index.clone(), [self.batch, self.samples * self.len]),
            device,
        )
    }

    /// `[B·S]`: each order's weight in the mean over lists with a valid item of the mean over
    /// their orders, `1 / (S · lists that count)`, and 0 for an empty list. Known on the host,
    /// so the mean on the device is one weighted sum.
    pub fn mean_weights_tensor(&self, device: &Device) -> Tensor<1> {
        let counting = self.counts.iter().filter(|&&n| n > 0).count().max(1);
        let w = 1.0 / (self.samples.max(1) * counting) as f32;
        let data: Vec<f32> = (self.counts.iter())
            .flat_map(|&n| std::iter::repeat_n(if n > 0 { w } else { 0.0 }, self.samples))
            .collect();
        Tensor::from_data(TensorData::new(data, [self.batch * self.samples]), device)
    }

    /// `[B, N]` in slot space, true for a real item (the mask the orders were built from).
    pub fn slot_mask_tensor(&self, device: &Device) -> Tensor<2, Bool> {
        let n = self.len;
        let mut data = vec![false; self.batch * n];
        for (b, &count) in self.counts.iter().enumerate() {
            let first = b * self.samples * n;
            for &slot in &self.index[first..first + count] {
                data[b * n + slot as usize] = true;
            }
        }
        Tensor::from_data(TensorData::new(data, [self.batch, n]), device)
    }

    /// `[B]`: valid items per list.
    pub fn counts_tensor(&self, device: &Device) -> Tensor<1, Int> {
        let data: Vec<i64> = self.counts.iter().map(|&n| n as i64).collect();
        Tensor::from_data(TensorData::new(data, [self.batch]), device)
    }

    /// `[B]`, true for a list with at least one valid item.
    pub fn nonempty_tensor(&self, device: &Device) -> Tensor<1, Bool> {
        let data: Vec<bool> = self.counts.iter().map(|&n| n > 0).collect();
        Tensor::from_data(TensorData::new(data, [self.batch]), device)
    }
}

/// A standard Gumbel draw.
pub(crate) fn gumbel(rng: &mut StdRng) -> f64 {
    let u: f64 = rng.random();
    -(-(u.max(1e-300)).ln()).ln()
}

/// Reads a `[B, N]` tensor and its mask to the host.
pub(crate) fn to_host(
    values: Tensor<2>,
    mask: Tensor<2, Bool>,
) -> (Vec<f32>, Vec<bool>, usize, usize) {
    let [b, n] = values.dims();
    let values = values
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float data");
    let mask = mask.into_data().try_into_vec::<bool>().expect("bool data");
    (values, mask, b, n)
}

/// Student scores gathered into each order: `[B, N]` -> `[B, S, N]`.
pub(crate) fn gather_ordered(student: Tensor<2>, index: Tensor<3, Int>) -> Tensor<3> {
    let [b, s, n] = index.dims();
    student
        .unsqueeze_dim::<3>(1)
        .expand([b, s, n])
        .gather(2, index)
}
