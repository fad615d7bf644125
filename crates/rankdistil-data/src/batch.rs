//! Batching queries into padded `[B, N, F]` lists with a validity mask.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use rayon::prelude::*;

use crate::dataset::RankingDataset;

/// Marks a padded slot in [`ListBatch::rows`], and a padded list in [`ListBatch::queries`].
pub const PAD: usize = usize::MAX;

/// How far a batch is padded beyond its real lists and items.
///
/// On a GPU every distinct `[B, N]` shape costs a kernel compilation and an autotune run, so
/// list lengths round up to a power of two and a short last batch is filled with empty lists:
/// an epoch then sees a handful of shapes. Empty lists and padded slots never count in a loss
/// or a metric. On the CPU nothing is padded beyond the longest list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    /// Round the list length up to a power of two, at least this (0: no rounding).
    pub min_bucket: usize,
    /// Fill the batch with empty lists up to this many (0: no filling).
    pub lists: usize,
}

impl Padding {
    /// Only up to the longest list.
    pub const NONE: Padding = Padding {
        min_bucket: 0,
        lists: 0,
    };

    /// Power-of-two list lengths from 32, and batches of exactly `lists` lists.
    pub fn buckets(lists: usize) -> Self {
        Self {
            min_bucket: 32,
            lists,
        }
    }

    /// The padded length of lists whose longest has `longest` items.
    pub fn list_len(&self, longest: usize) -> usize {
        let longest = longest.max(1);
        match self.min_bucket {
            0 => longest,
            min => longest.next_power_of_two().max(min),
        }
    }

    /// The padded number of lists of a batch of `lists`.
    pub fn batch_size(&self, lists: usize) -> usize {
        lists.max(self.lists)
    }
}

/// One padded batch, on the host.
#[derive(Debug, Clone)]
pub struct ListBatch {
    pub batch_size: usize,
    pub list_len: usize,
    pub num_features: usize,
    /// `[B * N * F]`, zeros in padded slots; empty for a batch built by [`Self::rows_only`].
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
        Self::from_rows_padded(data, lists, Padding::NONE)
    }

    /// Like [`Self::from_rows`], padded further as `padding` says.
    pub fn from_rows_padded(
        data: &RankingDataset,
        lists: &[(usize, Vec<usize>)],
        padding: Padding,
    ) -> Self {
        let mut batch = Self::rows_only(data, lists, padding);
        let f = data.num_features.max(1);
        batch.features = vec![0.0; batch.rows.len() * data.num_features];
        // A large batch is copied on every core: at 64 × 2000 × 136 it is 70 MB a step.
        let rows = &batch.rows;
        batch
            .features
            .par_chunks_mut(f)
            .with_min_len(1024)
            .zip(rows.par_iter())
            .filter(|(_, row)| **row != PAD)
            .for_each(|(slot, &row)| slot.copy_from_slice(&data.features[row * f..(row + 1) * f]));
        batch
    }

    /// Like [`Self::from_rows_padded`], without copying the features: `features` is empty,
    /// for a training set whose features are already on the device and gathered there by
    /// [`Self::rows`].
    pub fn rows_only(
        data: &RankingDataset,
        lists: &[(usize, Vec<usize>)],
        padding: Padding,
    ) -> Self {
        let b = padding.batch_size(lists.len());
        let longest = lists.iter().map(|(_, r)| r.len()).max().unwrap_or(0);
        let n = padding.list_len(longest);
        let mut labels = vec![0.0; b * n];
        let mut mask = vec![false; b * n];
        let mut rows_out = vec![PAD; b * n];
        for (i, (_, rows)) in lists.iter().enumerate() {
            for (j, &row) in rows.iter().enumerate() {
                let slot = i * n + j;
                labels[slot] = data.labels[row];
                mask[slot] = true;
                rows_out[slot] = row;
            }
        }
        Self {
            batch_size: b,
            list_len: n,
            num_features: data.num_features,
            features: Vec::new(),
            labels,
            mask,
            rows: rows_out,
            queries: (lists.iter().map(|(q, _)| *q))
                .chain(std::iter::repeat(PAD))
                .take(b)
                .collect(),
        }
    }

    /// How many of the lists have a real item: the ones a loss averages over.
    pub fn nonempty_lists(&self, range: std::ops::Range<usize>) -> usize {
        range
            .filter(|&i| self.mask[i * self.list_len..(i + 1) * self.list_len].contains(&true))
            .count()
    }

    /// The lists in `range`, as a batch of their own (same list length).
    pub fn slice_lists(&self, range: std::ops::Range<usize>) -> ListBatch {
        let (n, f) = (self.list_len, self.num_features);
        let slots = range.start * n..range.end * n;
        ListBatch {
            batch_size: range.len(),
            list_len: n,
            num_features: f,
            // A batch without host features (`rows_only`) slices to one without.
            features: match self.features.is_empty() {
                true => Vec::new(),
                false => self.features[slots.start * f..slots.end * f].to_vec(),
            },
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
