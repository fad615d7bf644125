//! The student objective `(1 − α)·distill + α·label_loss`, with both losses chosen at run time.

use burn::prelude::*;

use crate::label::listmle::{ListMle, ListMleConfig};
use crate::label::ranknet::RankNet;
use crate::label::softmax_ce::SoftmaxCe;
use crate::mse_kd::MseKd;
use crate::targets::{DistillTerm, HostTargets};

/// The label losses (docs/LOSSES.md, "Label losses").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LabelLossKind {
    /// Softmax cross-entropy ([`SoftmaxCe`]).
    #[default]
    SoftmaxCe,
    /// ListMLE ([`ListMle`]).
    Listmle,
    /// RankNet ([`RankNet`]).
    Ranknet,
    /// Mean squared error against the labels ([`MseKd`]).
    Mse,
}

impl LabelLossKind {
    /// The name configs use.
    pub fn name(self) -> &'static str {
        match self {
            LabelLossKind::SoftmaxCe => "softmax_ce",
            LabelLossKind::Listmle => "listmle",
            LabelLossKind::Ranknet => "ranknet",
            LabelLossKind::Mse => "mse",
        }
    }
}

/// A label loss chosen at run time.
#[derive(Debug, Clone)]
pub enum LabelLoss {
    /// Softmax cross-entropy.
    SoftmaxCe(SoftmaxCe),
    /// ListMLE.
    Listmle(ListMle),
    /// RankNet.
    Ranknet(RankNet),
    /// Mean squared error against the labels.
    Mse(MseKd),
}

impl LabelLoss {
    /// The label loss of `kind`, its random stream (ListMLE's tie-breaks) seeded with `seed`.
    pub fn new(kind: LabelLossKind, seed: u64) -> Self {
        match kind {
            LabelLossKind::SoftmaxCe => LabelLoss::SoftmaxCe(SoftmaxCe::new()),
            LabelLossKind::Listmle => {
                LabelLoss::Listmle(ListMleConfig::new().with_seed(seed).init())
            }
            LabelLossKind::Ranknet => LabelLoss::Ranknet(RankNet::new()),
            LabelLossKind::Mse => LabelLoss::Mse(MseKd::new()),
        }
    }

    /// Restarts any random stream (ListMLE's tie-breaks) at `stream`.
    pub fn reseed(&self, stream: u64) {
        if let LabelLoss::Listmle(l) = self {
            l.reseed(stream);
        }
    }

    /// - scores: `[B, N]`; output: `[1]`
    pub fn forward(&self, scores: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        let device = scores.device();
        let labels = targets.labels_tensor(&device);
        let mask = targets.mask_tensor(&device);
        match self {
            LabelLoss::SoftmaxCe(l) => l.forward(scores, labels, mask),
            LabelLoss::Listmle(l) => {
                let orders = l.orders(targets.labels, targets.mask, targets.batch, targets.len);
                crate::reduce::mean_over(
                    l.per_list(scores, &orders),
                    orders.nonempty_tensor(&device),
                )
            }
            LabelLoss::Ranknet(l) => l.forward(scores, labels, mask),
            LabelLoss::Mse(l) => l.forward(scores, labels, mask),
        }
    }
}

/// The student objective `(1 − α)·distill + α·label_loss`; without a distillation term (the
/// `label_only` method) it is the label loss alone.
#[derive(Debug)]
pub struct Objective {
    /// The distillation term; `None` for `label_only`.
    pub distill: Option<Box<dyn DistillTerm>>,
    /// The label loss.
    pub label: LabelLoss,
    /// α, the label loss's share of the mix.
    pub alpha: f64,
}

impl Objective {
    /// Whether this objective reads teacher scores.
    pub fn needs_teacher(&self) -> bool {
        self.distill.is_some()
    }

    /// Restarts every random stream at `stream` (the global step), so runs replay exactly.
    pub fn reseed(&self, stream: u64) {
        if let Some(d) = &self.distill {
            d.reseed(stream);
        }
        self.label.reseed(stream);
    }

    /// - student: `[B, N]`; output: `[1]`
    pub fn forward(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        match &self.distill {
            Some(d) if self.alpha == 0.0 => d.loss(student, targets),
            Some(d) => {
                d.loss(student.clone(), targets) * (1.0 - self.alpha)
                    + self.label.forward(student, targets) * self.alpha
            }
            None => self.label.forward(student, targets),
        }
    }
}
