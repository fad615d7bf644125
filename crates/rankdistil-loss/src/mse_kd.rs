use burn::prelude::*;

use crate::reduce::{mean_over, nonempty, valid_count};
use crate::targets::{DistillTerm, HostTargets};

/// Score regression onto the teacher: `L = mean_i (s_i − t_i)²` over the valid items.
///
/// The same per-list mean, with labels as the target, is the `mse` label loss.
#[derive(Module, Debug, Default)]
pub struct MseKd;

impl MseKd {
    /// The loss (it has no settings).
    pub fn new() -> Self {
        Self
    }

    /// - student, target, mask: `[B, N]`; output: `[1]`
    pub fn forward(
        &self,
        student: Tensor<2>,
        target: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let sq = (student - target.detach())
            .square()
            .mask_fill(mask.clone().bool_not(), 0.0);
        let per_list = (sq.sum_dim(1) / valid_count(mask.clone())).squeeze_dim::<1>(1);
        mean_over(per_list, nonempty(mask))
    }
}

impl DistillTerm for MseKd {
    fn loss(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        let device = student.device();
        let teacher = targets.teacher_tensor(&device);
        self.forward(student, teacher, targets.mask_tensor(&device))
    }
}
