//! What a distillation loss reads on the host, and how the objective calls it.

use burn::prelude::*;
use burn::tensor::TensorData;

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
}

impl HostTargets<'_> {
    /// `values` `[B * N]` as a `[B, N]` tensor.
    pub(crate) fn tensor(&self, values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [self.batch, self.len]),
            device,
        )
    }

    pub(crate) fn mask_tensor(&self, device: &Device) -> Tensor<2, Bool> {
        Tensor::from_data(
            TensorData::new(self.mask.to_vec(), [self.batch, self.len]),
            device,
        )
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
