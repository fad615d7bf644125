//! The item rows a catalog step reads: each step gathers only the rows its users' histories
//! and candidates touch, renumbered `0..R` in sorted order, so its cost does not grow with
//! the catalog.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{RngExt, rngs::StdRng};
use rankdistil_data::ImplicitSplit;

use crate::catalog::scoring::padded_to;

/// Whether a step's varying sizes are rounded up to buckets on `device`. A GPU compiles (and
/// autotunes) kernels for each new shape, so a step whose row count changes with every draw
/// would compile in steady state; the CPU backends compile nothing and keep the exact sizes,
/// and with them their numerics.
pub fn buckets_sizes(device: &Device) -> bool {
    device.identity().is_some()
}

/// `len` rounded up to its bucket, a power of two.
pub fn bucket(len: usize) -> usize {
    len.max(1).next_power_of_two()
}

/// The history rows a batch reads (sorted, distinct) and each history as padded positions in
/// them, `[B, H]` ids and mask: only those rows enter the graph. Where sizes are bucketed,
/// H is rounded up to its bucket (the extra positions masked).
pub fn gathered_histories<'a>(
    histories: impl Iterator<Item = &'a [u32]> + Clone,
    device: &Device,
) -> (Vec<u32>, Tensor<2, Int>, Tensor<2, Bool>) {
    let rows = distinct(histories.clone().flatten().copied());
    let lists: Vec<Vec<u32>> = histories
        .map(|h| h.iter().map(|&i| local(&rows, i)).collect())
        .collect();
    let lists: Vec<&[u32]> = lists.iter().map(Vec::as_slice).collect();
    let longest = lists.iter().map(|l| l.len()).max().unwrap_or(0).max(1);
    let width = match buckets_sizes(device) {
        true => bucket(longest),
        false => longest,
    };
    let (ids, mask) = padded_to(&lists, width, device);
    (rows, ids, mask)
}

/// The rows the sampled label softmax reads: every user's items and the draw, sorted and
/// distinct.
pub fn label_rows(batch: &[usize], split: &ImplicitSplit, drawn: &[u32]) -> Vec<u32> {
    distinct(
        batch
            .iter()
            .flat_map(|&u| split.train[u].iter().copied())
            .chain(drawn.iter().copied()),
    )
}

/// The sampled label softmax's targets over the rows a batch shares (`rows`, sorted): each
/// user's own items (label 1), the `drawn` items (label 0, logit shifted by `shifts`), and the
/// rest masked out. Returns labels and mask `[B, R]` and the shifts `[1, R]`.
pub fn label_targets(
    batch: &[usize],
    split: &ImplicitSplit,
    rows: &[u32],
    drawn: &[u32],
    shifts: &[f32],
    device: &Device,
) -> (Tensor<2>, Tensor<2, Bool>, Tensor<2>) {
    let (b, r) = (batch.len(), rows.len());
    let drawn_local: Vec<usize> = drawn.iter().map(|&i| local(rows, i) as usize).collect();
    let mut column_shift = vec![0f32; r];
    for (&j, &d) in drawn_local.iter().zip(shifts) {
        column_shift[j] = d;
    }
    let mut labels = vec![0f32; b * r];
    let mut valid = vec![false; b * r];
    for (row, &u) in batch.iter().enumerate() {
        let row = row * r;
        drawn_local.iter().for_each(|&j| valid[row + j] = true);
        // A drawn item the user has is a positive, not a sample.
        for &it in &split.train[u] {
            let j = local(rows, it) as usize;
            labels[row + j] = 1.0;
            valid[row + j] = true;
        }
    }
    (
        Tensor::from_data(TensorData::new(labels, [b, r]), device),
        Tensor::from_data(TensorData::new(valid, [b, r]), device),
        Tensor::from_data(TensorData::new(column_shift, [1, r]), device),
    )
}

/// Each user's training items with `dropout` of them dropped (denoising input); a history
/// never comes out empty.
pub fn denoised(
    batch: &[usize],
    split: &ImplicitSplit,
    dropout: f64,
    rng: &mut StdRng,
) -> Vec<Vec<u32>> {
    batch
        .iter()
        .map(|&u| {
            let kept: Vec<u32> = split.train[u]
                .iter()
                .copied()
                .filter(|_| rng.random::<f64>() >= dropout)
                .collect();
            if kept.is_empty() {
                split.train[u][..1].to_vec()
            } else {
                kept
            }
        })
        .collect()
}

/// Row `i`'s position in the sorted distinct `rows` a step gathered.
pub fn local(rows: &[u32], i: u32) -> u32 {
    rows.binary_search(&i).expect("the row was gathered") as u32
}

/// Sorted distinct row ids.
pub fn distinct(ids: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut rows: Vec<u32> = ids.collect();
    rows.sort_unstable();
    rows.dedup();
    rows
}
