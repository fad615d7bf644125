//! Batching queries into padded `[B, N, F]` lists with a validity mask.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

use crate::dataset::RankingDataset;

/// Marks a padded slot in [`ListBatch::rows`].
pub const PAD: usize = usize::MAX;

/// One padded batch, on the host.
#[derive(Debug, Clone)]
pub struct ListBatch {
    pub batch_size: usize,
    pub list_len: usize,
    pub num_features: usize,
    /// `[B * N * F]`, zeros in padded slots.
    pub features: Vec<f32>,
    /// `[B * N]`, zeros in padded slots.
    pub labels: Vec<f32>,
    /// `[B * N]`, true for a real item.
    pub mask: Vec<bool>,
    /// `[B * N]`: the data set row of each slot, or [`PAD`].
    pub rows: Vec<usize>,
    /// The query index of each list.
    pub queries: Vec<usize>,
}

impl ListBatch {
    /// Builds a batch from `(query, rows of that query)` pairs, padding to the longest list.
    pub fn from_rows(data: &RankingDataset, lists: &[(usize, Vec<usize>)]) -> Self {
        Self::from_rows_padded(data, lists, 1)
    }

    /// Like [`Self::from_rows`], with the list length rounded up to a multiple of `multiple`.
    /// On a GPU this bounds the number of distinct shapes, and so of kernel compilations and
    /// autotune runs.
    pub fn from_rows_padded(
        data: &RankingDataset,
        lists: &[(usize, Vec<usize>)],
        multiple: usize,
    ) -> Self {
        let b = lists.len();
        let longest = lists.iter().map(|(_, r)| r.len()).max().unwrap_or(0).max(1);
        let n = longest.div_ceil(multiple.max(1)) * multiple.max(1);
        let f = data.num_features;
        let mut features = vec![0.0; b * n * f];
        let mut labels = vec![0.0; b * n];
        let mut mask = vec![false; b * n];
        let mut rows_out = vec![PAD; b * n];
        for (i, (_, rows)) in lists.iter().enumerate() {
            for (j, &row) in rows.iter().enumerate() {
                let slot = i * n + j;
                features[slot * f..(slot + 1) * f]
                    .copy_from_slice(&data.features[row * f..(row + 1) * f]);
                labels[slot] = data.labels[row];
                mask[slot] = true;
                rows_out[slot] = row;
            }
        }
        Self {
            batch_size: b,
            list_len: n,
            num_features: f,
            features,
            labels,
            mask,
            rows: rows_out,
            queries: lists.iter().map(|(q, _)| *q).collect(),
        }
    }

    /// The lists in `range`, as a batch of their own (same list length).
    pub fn slice_lists(&self, range: std::ops::Range<usize>) -> ListBatch {
        let (n, f) = (self.list_len, self.num_features);
        let slots = range.start * n..range.end * n;
        ListBatch {
            batch_size: range.len(),
            list_len: n,
            num_features: f,
            features: self.features[slots.start * f..slots.end * f].to_vec(),
            labels: self.labels[slots.clone()].to_vec(),
            mask: self.mask[slots.clone()].to_vec(),
            rows: self.rows[slots].to_vec(),
            queries: self.queries[range].to_vec(),
        }
    }

    /// Per-slot values of a per-row array (teacher scores, say), 0 in padded slots.
    pub fn gather_rows(&self, per_row: &[f32]) -> Vec<f32> {
        self.rows
            .iter()
            .map(|&r| if r == PAD { 0.0 } else { per_row[r] })
            .collect()
    }

    /// Features `[B, N, F]`.
    pub fn features_tensor(&self, device: &Device) -> Tensor<3> {
        Tensor::from_data(
            TensorData::new(
                self.features.clone(),
                [self.batch_size, self.list_len, self.num_features],
            ),
            device,
        )
    }

    /// A `[B, N]` float tensor of per-slot values.
    pub fn slot_tensor(&self, values: Vec<f32>, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(values, [self.batch_size, self.list_len]),
            device,
        )
    }

    /// Labels `[B, N]`.
    pub fn labels_tensor(&self, device: &Device) -> Tensor<2> {
        self.slot_tensor(self.labels.clone(), device)
    }

    /// Mask `[B, N]`, true for a real item.
    pub fn mask_tensor(&self, device: &Device) -> Tensor<2, Bool> {
        Tensor::from_data(
            TensorData::new(self.mask.clone(), [self.batch_size, self.list_len]),
            device,
        )
    }

    /// Per-list slices of a `[B * N]` array, trimmed to the real items.
    pub fn per_list<'a>(&'a self, values: &'a [f32]) -> impl Iterator<Item = &'a [f32]> + 'a {
        (0..self.batch_size).map(move |i| {
            let n = self.mask[i * self.list_len..(i + 1) * self.list_len]
                .iter()
                .filter(|&&m| m)
                .count();
            &values[i * self.list_len..i * self.list_len + n]
        })
    }
}

/// How an epoch's batches are drawn.
#[derive(Debug, Clone, Copy)]
pub struct BatchPlan {
    pub batch_size: usize,
    /// Training caps each list at this many items by seeded random subsampling.
    pub max_list_len: Option<usize>,
    pub shuffle: bool,
}

impl BatchPlan {
    /// Training batches: shuffled queries and capped lists, reproducible from `(seed, epoch)`.
    pub fn training(batch_size: usize, max_list_len: Option<usize>) -> Self {
        Self {
            batch_size,
            max_list_len,
            shuffle: true,
        }
    }

    /// Evaluation batches: every query in order, full lists.
    pub fn evaluation(batch_size: usize) -> Self {
        Self {
            batch_size,
            max_list_len: None,
            shuffle: false,
        }
    }

    /// The `(query, rows)` lists of every batch of one epoch.
    pub fn epoch(
        &self,
        data: &RankingDataset,
        seed: u64,
        epoch: u64,
    ) -> Vec<Vec<(usize, Vec<usize>)>> {
        let mut rng = StdRng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut order: Vec<usize> = (0..data.num_queries())
            .filter(|&q| data.list_len(q) > 0)
            .collect();
        if self.shuffle {
            order.shuffle(&mut rng);
        }
        order
            .chunks(self.batch_size.max(1))
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|&q| {
                        let (a, b) = (data.offsets[q], data.offsets[q + 1]);
                        let mut rows: Vec<usize> = (a..b).collect();
                        if let Some(cap) = self.max_list_len
                            && rows.len() > cap
                        {
                            rows.shuffle(&mut rng);
                            rows.truncate(cap);
                            rows.sort_unstable();
                        }
                        (q, rows)
                    })
                    .collect()
            })
            .collect()
    }
}
