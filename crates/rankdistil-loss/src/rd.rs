use burn::prelude::*;
use burn::tensor::TensorData;

use crate::checks::{at_least_one, or_panic, positive};
use crate::ordering::{ListOrders, gather_ordered, to_host};
use crate::plackett_luce::softplus;
use crate::reduce::{mean_over, valid_count};
use crate::targets::{DistillTerm, HostTargets};

/// Configuration of [`RankingDistillation`].
#[derive(Config, Debug)]
pub struct RankingDistillationConfig {
    /// K: the teacher's top-K items are the distilled positives.
    #[config(default = 10)]
    pub k: usize,
    /// λ_rd of the rank weights `exp(−r/λ_rd)`.
    #[config(default = 1.0)]
    pub lambda: f64,
    /// α, the weight of the distillation term (`rd_alpha`, apart from the objective's label
    /// mix α).
    #[config(default = 1.0)]
    pub rd_alpha: f64,
}

impl RankingDistillationConfig {
    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        at_least_one("k", self.k)?;
        positive("lambda", self.lambda)?;
        if !self.rd_alpha.is_finite() {
            return Err(format!(
                "rd_alpha = {}, expected a finite number",
                self.rd_alpha
            ));
        }
        Ok(())
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> RankingDistillation {
        or_panic(self.check());
        RankingDistillation {
            k: self.k,
            lambda: self.lambda,
            alpha: self.rd_alpha,
        }
    }
}

/// Ranking Distillation (Tang & Wang, KDD 2018): label BCE plus a weighted BCE that treats
/// the teacher's top-K items as positives.
///
/// ```text
/// L = mean_i BCE(σ(s_i), y_i > 0) + α Σ_{r=1..K'} w_r · (−log σ(s_{π(r)}))
/// w_r = exp(−r/λ_rd) / Σ_{r'=1..K'} exp(−r'/λ_rd),   π = the teacher's order
/// ```
#[derive(Module, Debug)]
pub struct RankingDistillation {
    /// As [`RankingDistillationConfig::k`].
    pub k: usize,
    /// As [`RankingDistillationConfig::lambda`].
    pub lambda: f64,
    /// As [`RankingDistillationConfig::rd_alpha`].
    pub alpha: f64,
}

impl RankingDistillation {
    /// - student, teacher, labels, mask: `[B, N]`; output: `[1]`
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        labels: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let (t, m, b, n) = to_host(teacher, mask);
        self.forward_ordered(student, labels, &ListOrders::teacher(&t, &m, b, n))
    }

    /// The loss for precomputed teacher orders.
    pub fn forward_ordered(
        &self,
        student: Tensor<2>,
        labels: Tensor<2>,
        orders: &ListOrders,
    ) -> Tensor<1> {
        let device = student.device();
        let (b, n) = (orders.batch, orders.len);
        let slot_mask = orders.slot_mask_tensor(&device); // [B, N]
        let positive = labels.greater_elem(0.0).float();
        let bce = (softplus(student.clone()) - student.clone() * positive)
            .mask_fill(slot_mask.clone().bool_not(), 0.0);
        let label_term = (bce.sum_dim(1) / valid_count(slot_mask)).squeeze_dim::<1>(1); // [B]

        let kk = self.k.min(n);
        let top = gather_ordered(student, orders.index_tensor(&device))
            .reshape([b, n])
            .slice([0..b, 0..kk]); // [B, K]
        let weights: Vec<f32> = orders
            .counts
            .iter()
            .flat_map(|&c| {
                let kc = kk.min(c);
                let z: f64 = (1..=kc).map(|r| (-(r as f64) / self.lambda).exp()).sum();
                (1..=kk).map(move |r| {
                    if r <= kc {
                        ((-(r as f64) / self.lambda).exp() / z) as f32
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        let w = Tensor::<2>::from_data(TensorData::new(weights, [b, kk]), &device);
        let distill = (softplus(top.neg()) * w).sum_dim(1).squeeze_dim::<1>(1); // [B]
        mean_over(
            label_term + distill * self.alpha,
            orders.nonempty_tensor(&device),
        )
    }
}

impl DistillTerm for RankingDistillation {
    fn loss(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        let orders = ListOrders::teacher_top(
            targets.teacher(),
            targets.mask,
            targets.batch,
            targets.len,
            self.k,
        );
        let labels = targets.labels_tensor(&student.device());
        self.forward_ordered(student, labels, &orders)
    }
}
