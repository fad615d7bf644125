use burn::prelude::*;

use crate::pairs::logistic_pairs;
use crate::reduce::mean_over;
use crate::targets::{DistillTerm, HostTargets};

/// RankNet distillation: a logistic loss on every pair the teacher orders.
///
/// ```text
/// L = mean over valid pairs with t_i > t_j of log(1 + exp(−(s_i − s_j)))
/// ```
///
/// Lists with no such pair are left out. Time is `O(B·N²)`, memory `O(B·128·N)`: the pair
/// matrix is built 128 rows at a time.
#[derive(Module, Debug, Default)]
pub struct RankNetKd;

impl RankNetKd {
    /// The loss (it has no settings).
    pub fn new() -> Self {
        Self
    }

    /// - student, teacher, mask: `[B, N]`; output: `[1]`
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let (sum, count) = logistic_pairs(student, teacher, mask);
        let has_pair = count.clone().greater_elem(0.0);
        mean_over(sum / count.clamp_min(1.0), has_pair)
    }
}

impl DistillTerm for RankNetKd {
    fn loss(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        let device = student.device();
        let teacher = targets.teacher_tensor(&device);
        self.forward(student, teacher, targets.mask_tensor(&device))
    }
}
