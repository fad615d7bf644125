use burn::prelude::*;

use crate::checks::{or_panic, positive};
use crate::plackett_luce::{NEG, logsumexp};
use crate::reduce::{mean_over, nonempty};
use crate::targets::{DistillTerm, HostTargets};

/// Configuration of [`SoftmaxKd`].
#[derive(Config, Debug)]
pub struct SoftmaxKdConfig {
    /// Student temperature τ.
    #[config(default = 1.0)]
    pub temperature: f64,
    /// Teacher temperature τ_t.
    #[config(default = 1.0)]
    pub teacher_temperature: f64,
}

impl SoftmaxKdConfig {
    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        positive("temperature", self.temperature)?;
        positive("teacher_temperature", self.teacher_temperature)
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> SoftmaxKd {
        or_panic(self.check());
        SoftmaxKd {
            temperature: self.temperature,
            teacher_temperature: self.teacher_temperature,
        }
    }
}

/// Softmax distillation (ListNet / Hinton KD): the cross-entropy between the teacher's and the
/// student's softmax over the valid items of each list.
///
/// ```text
/// L = −Σ_i softmax(t/τ_t)_i · log softmax(s/τ)_i
/// ```
#[derive(Module, Debug)]
pub struct SoftmaxKd {
    /// As [`SoftmaxKdConfig::temperature`].
    pub temperature: f64,
    /// As [`SoftmaxKdConfig::teacher_temperature`].
    pub teacher_temperature: f64,
}

impl SoftmaxKd {
    /// - student, teacher, mask: `[B, N]`; output: `[1]`
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let pad = mask.clone().bool_not();
        let t = (teacher.detach() / self.teacher_temperature).mask_fill(pad.clone(), NEG);
        let target = (t.clone() - logsumexp(t, 1))
            .exp()
            .mask_fill(pad.clone(), 0.0); // [B, N]
        let s = (student / self.temperature).mask_fill(pad.clone(), NEG);
        let neg_log_p = (logsumexp(s.clone(), 1) - s).mask_fill(pad, 0.0); // [B, N]
        let per_list = (target * neg_log_p).sum_dim(1).squeeze_dim::<1>(1);
        mean_over(per_list, nonempty(mask))
    }
}

impl DistillTerm for SoftmaxKd {
    fn loss(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        let device = student.device();
        let teacher = targets.teacher_tensor(&device);
        self.forward(student, teacher, targets.mask_tensor(&device))
    }
}
