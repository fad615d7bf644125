//! What a distillation loss reads on the host, and how the objective calls it.

use burn::prelude::*;
use burn::tensor::TensorData;

/// One batch's targets already on the device, gathered there from a resident training set:
/// losses read these instead of uploading the host copies, and losses that order the teacher
/// may draw their orders from them on the device.
#[derive(Debug, Clone)]
pub struct DeviceTargets {
    /// `[B, N]`: true for a real item. Real items come first in each list (slots `0..n_b`),
    /// as a padded batch lays them out.
    pub mask: Tensor<2, Bool>,
    /// `[B, N]`: graded relevance labels, 0 in padded slots.
    pub labels: Tensor<2>,
    /// `[B, N]`: teacher scores, 0 in padded slots.
    pub teacher: Option<Tensor<2>>,
    /// `[B]`: real items per list.
    pub counts: Tensor<1, Int>,
    /// The same counts, on the host (known there from the batch's lists).
    pub list_counts: Vec<usize>,
}

/// One batch's targets, on the host: `[B * N]` each.
#[derive(Debug, Clone, Copy)]
pub struct HostTargets<'a> {
    /// B, the lists.
    pub batch: usize,
    /// N, the slots of each list.
    pub len: usize,
    /// `[B * N]`: true for a real item.
    pub mask: &'a [bool],
    /// `[B * N]`: graded relevance labels.
    pub labels: &'a [f32],
    /// Teacher scores; required by every method but `label_only`.
    pub teacher: Option<&'a [f32]>,
    /// The same targets on the device, when the batch was gathered there: then nothing above
    /// is uploaded.
    pub device: Option<&'a DeviceTargets>,
}

impl HostTargets<'_> {
    /// `values` `[B * N]` as a `[B, N]` tensor.
    fn tensor(&self, values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [self.batch, self.len]),
            device,
        )
    }

    /// Labels `[B, N]` on `device`: the resident copy, or the host's uploaded.
    pub(crate) fn labels_tensor(&self, device: &Device) -> Tensor<2> {
        match self.device {
            Some(d) => d.labels.clone(),
            None => self.tensor(self.labels, device),
        }
    }

    /// Teacher scores `[B, N]` on `device`: the resident copy, or the host's uploaded.
    pub(crate) fn teacher_tensor(&self, device: &Device) -> Tensor<2> {
        match self.device.and_then(|d| d.teacher.clone()) {
            Some(t) => t,
            None => self.tensor(self.teacher(), device),
        }
    }

    pub(crate) fn mask_tensor(&self, device: &Device) -> Tensor<2, Bool> {
        match self.device {
            Some(d) => d.mask.clone(),
            None => Tensor::from_data(
                TensorData::new(self.mask.to_vec(), [self.batch, self.len]),
                device,
            ),
        }
    }

    pub(crate) fn teacher(&self) -> &[f32] {
        self.teacher
            .expect("a distillation method needs teacher scores; only label_only runs without")
    }
}

/// A distillation loss as the objective calls it.
pub trait DistillTerm: std::fmt::Debug {
    /// - student: `[B, N]`; output: `[1]`
    fn loss(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1>;

    /// Restarts any random stream at `stream` (the global step), so runs replay exactly.
    fn reseed(&self, _stream: u64) {}
}
