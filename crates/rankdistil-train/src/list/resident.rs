//! The training set on the device: features, labels and teacher scores uploaded once per run,
//! and each step's batch gathered there from its row index, so a step uploads
//! `B·N` row numbers instead of its `B·N·F` features.
//!
//! Only on a GPU, where an upload is a copy over the bus while the device waits; the CPU
//! backends read the host batch where it is. A set whose feature table does not fit one buffer
//! of the budget ([`crate::memory`]) keeps the host path.

use burn::prelude::*;
use burn::tensor::TensorData;
use rankdistil_data::{ListBatch, PAD, RankingDataset};
use rankdistil_loss::DeviceTargets;

use crate::backend::Backend;

/// A training set's tables on the device, one row per data set row plus a zero row that
/// padded slots read.
#[derive(Debug, Clone)]
pub struct ResidentSet {
    /// `[R + 1, F]`.
    features: Tensor<2>,
    /// `[R + 1]`.
    labels: Tensor<1>,
    /// `[R + 1]`, for a student.
    teacher: Option<Tensor<1>>,
    /// R: the row padded slots read.
    pad_row: usize,
}

/// One (micro-)batch gathered on the device.
pub struct DeviceBatch {
    /// `[B, N, F]`.
    pub features: Tensor<3>,
    pub targets: DeviceTargets,
}

impl ResidentSet {
    /// The bytes the feature table of `data` takes on the device: its largest buffer.
    pub fn table_bytes(data: &RankingDataset) -> u64 {
        (data.num_rows() as u64 + 1) * data.num_features as u64 * 4
    }

    /// Uploads `data` and its `teacher` scores (one per row) to `backend`'s training device,
    /// when the backend is a GPU and the feature table fits one buffer of its budget; `None`
    /// keeps the host path.
    pub fn upload(
        data: &RankingDataset,
        teacher: Option<&[f32]>,
        backend: &Backend,
    ) -> Option<Self> {
        let fits = Self::table_bytes(data) <= backend.buffer_budget;
        (backend.is_gpu && fits).then(|| Self::upload_to(data, teacher, &backend.training_device()))
    }

    /// Uploads `data` to `device`, whatever the backend.
    pub fn upload_to(data: &RankingDataset, teacher: Option<&[f32]>, device: &Device) -> Self {
        let rows = data.num_rows();
        let f = data.num_features;
        let mut features = Vec::with_capacity((rows + 1) * f);
        features.extend_from_slice(&data.features);
        features.resize((rows + 1) * f, 0.0);
        let column = |values: &[f32]| {
            let mut v = Vec::with_capacity(rows + 1);
            v.extend_from_slice(values);
            v.push(0.0);
            Tensor::<1>::from_data(TensorData::new(v, [rows + 1]), device)
        };
        Self {
            features: Tensor::from_data(TensorData::new(features, [rows + 1, f]), device),
            labels: column(&data.labels),
            teacher: teacher.map(column),
            pad_row: rows,
        }
    }

    /// The features and targets of `batch` (built by [`ListBatch::rows_only`] or with its
    /// features), gathered on the device: the upload is the batch's row index alone.
    pub fn gather(&self, batch: &ListBatch, device: &Device) -> DeviceBatch {
        let (b, n) = (batch.batch_size, batch.list_len);
        let f = self.features.dims()[1];
        let rows: Vec<i32> = (batch.rows.iter())
            .map(|&r| if r == PAD { self.pad_row } else { r } as i32)
            .collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(rows, [b * n]), device);
        let features = self
            .features
            .clone()
            .select(0, index.clone())
            .reshape([b, n, f]);
        let per_slot = |t: &Tensor<1>| t.clone().select(0, index.clone()).reshape([b, n]);
        let mask = index
            .clone()
            .not_equal_elem(self.pad_row as i64)
            .reshape([b, n]);
        // Known on the host: uploading B counts costs less than a reduction on the device.
        let list_counts: Vec<usize> = (0..b)
            .map(|i| {
                batch.mask[i * n..(i + 1) * n]
                    .iter()
                    .filter(|&&m| m)
                    .count()
            })
            .collect();
        let counts = list_counts.iter().map(|&c| c as i32).collect::<Vec<_>>();
        let counts = Tensor::<1, Int>::from_data(TensorData::new(counts, [b]), device);
        DeviceBatch {
            features,
            targets: DeviceTargets {
                labels: per_slot(&self.labels),
                teacher: self.teacher.as_ref().map(per_slot),
                mask,
                counts,
                list_counts,
            },
        }
    }
}
