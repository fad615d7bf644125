//! Runtime choice of a distillation loss and the mixed student objective
//! `(1 − α)·distill + α·label_loss`.

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use crate::label::listmle::{ListMle, ListMleConfig};
use crate::label::ranknet::RankNet;
use crate::label::softmax_ce::SoftmaxCe;
use crate::ordering::ListOrders;
use crate::{
    CoupledRankDistil, CoupledRankDistilConfig, DecoupledRankDistil, DecoupledRankDistilConfig,
    ListMleKd, ListMleKdConfig, MseKd, PairwiseRankDistil, PairwiseRankDistilConfig, RankNetKd,
    RankingDistillation, RankingDistillationConfig, SoftmaxKd, SoftmaxKdConfig,
};

/// The distillation methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistillMethod {
    /// Coupled RankDistil (§1).
    Coupled,
    /// Decoupled RankDistil (§3, a reconstruction).
    Decoupled,
    /// Pairwise RankDistil (§3, a reconstruction).
    Pairwise,
    SoftmaxKd,
    Mse,
    RanknetKd,
    ListmleKd,
    /// Ranking Distillation (Tang & Wang 2018).
    Rd,
    /// No teacher: the label loss alone (the baseline distillation must beat).
    LabelOnly,
}

impl DistillMethod {
    pub const ALL: [DistillMethod; 9] = [
        DistillMethod::Coupled,
        DistillMethod::Decoupled,
        DistillMethod::Pairwise,
        DistillMethod::SoftmaxKd,
        DistillMethod::Mse,
        DistillMethod::RanknetKd,
        DistillMethod::ListmleKd,
        DistillMethod::Rd,
        DistillMethod::LabelOnly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DistillMethod::Coupled => "coupled",
            DistillMethod::Decoupled => "decoupled",
            DistillMethod::Pairwise => "pairwise",
            DistillMethod::SoftmaxKd => "softmax_kd",
            DistillMethod::Mse => "mse",
            DistillMethod::RanknetKd => "ranknet_kd",
            DistillMethod::ListmleKd => "listmle_kd",
            DistillMethod::Rd => "rd",
            DistillMethod::LabelOnly => "label_only",
        }
    }
}

/// The label losses (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LabelLossKind {
    #[default]
    SoftmaxCe,
    Listmle,
    Ranknet,
    Mse,
}

fn d_k() -> usize {
    10
}
fn d_samples() -> usize {
    8
}
fn d_one() -> f64 {
    1.0
}

/// Every knob of the student objective, as it appears in a `[loss]` TOML table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveConfig {
    pub method: DistillMethod,
    /// Top-k of coupled RankDistil, K of rd.
    #[serde(default = "d_k")]
    pub k: usize,
    /// Gumbel samples S of coupled RankDistil (0 = the teacher's order).
    #[serde(default = "d_samples")]
    pub samples: usize,
    /// Student temperature τ.
    #[serde(default = "d_one")]
    pub temperature: f64,
    /// Teacher temperature τ_t.
    #[serde(default = "d_one")]
    pub teacher_temperature: f64,
    /// Top-p positives of the decoupled and pairwise variants.
    #[serde(default = "d_k")]
    pub p: usize,
    /// λ of the decoupled/pairwise push-down term, λ_rd of rd.
    #[serde(default = "d_one")]
    pub lambda: f64,
    /// α of rd's distillation term.
    #[serde(default = "d_one")]
    pub rd_alpha: f64,
    /// α of the mix `(1 − α)·distill + α·label_loss`.
    #[serde(default)]
    pub alpha: f64,
    /// The label loss of the mix (and of `label_only`).
    #[serde(default)]
    pub label_loss: LabelLossKind,
    #[serde(default)]
    pub seed: u64,
}

impl ObjectiveConfig {
    pub fn new(method: DistillMethod) -> Self {
        Self {
            method,
            k: d_k(),
            samples: d_samples(),
            temperature: 1.0,
            teacher_temperature: 1.0,
            p: d_k(),
            lambda: 1.0,
            rd_alpha: 1.0,
            alpha: 0.0,
            label_loss: LabelLossKind::SoftmaxCe,
            seed: 0,
        }
    }

    /// Checks the settings, so a bad config is an error message rather than a panic in `init`.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(format!("{name} = {v}, expected a finite number > 0"))
            }
        };
        if self.k == 0 {
            return Err("k = 0, expected k >= 1".into());
        }
        if self.p == 0 {
            return Err("p = 0, expected p >= 1".into());
        }
        positive("temperature", self.temperature)?;
        positive("teacher_temperature", self.teacher_temperature)?;
        positive("lambda", self.lambda)?;
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(format!("alpha = {}, expected 0 <= alpha <= 1", self.alpha));
        }
        if !self.rd_alpha.is_finite() {
            return Err(format!(
                "rd_alpha = {}, expected a finite number",
                self.rd_alpha
            ));
        }
        Ok(())
    }

    /// Builds the objective. Call [`Self::validate`] first on user input: `init` panics on
    /// settings it rejects.
    pub fn init(&self) -> Objective {
        let distill = match self.method {
            DistillMethod::Coupled => DistillLoss::Coupled(
                CoupledRankDistilConfig::new()
                    .with_k(self.k)
                    .with_samples(self.samples)
                    .with_temperature(self.temperature)
                    .with_teacher_temperature(self.teacher_temperature)
                    .with_seed(self.seed)
                    .init(),
            ),
            DistillMethod::Decoupled => DistillLoss::Decoupled(
                DecoupledRankDistilConfig::new()
                    .with_p(self.p)
                    .with_lambda(self.lambda)
                    .with_temperature(self.temperature)
                    .init(),
            ),
            DistillMethod::Pairwise => DistillLoss::Pairwise(
                PairwiseRankDistilConfig::new()
                    .with_p(self.p)
                    .with_lambda(self.lambda)
                    .with_temperature(self.temperature)
                    .init(),
            ),
            DistillMethod::SoftmaxKd => DistillLoss::SoftmaxKd(
                SoftmaxKdConfig::new()
                    .with_temperature(self.temperature)
                    .with_teacher_temperature(self.teacher_temperature)
                    .init(),
            ),
            DistillMethod::Mse => DistillLoss::Mse(MseKd::new()),
            DistillMethod::RanknetKd => DistillLoss::RanknetKd(RankNetKd::new()),
            DistillMethod::ListmleKd => DistillLoss::ListmleKd(
                ListMleKdConfig::new()
                    .with_temperature(self.temperature)
                    .init(),
            ),
            DistillMethod::Rd => DistillLoss::Rd(
                RankingDistillationConfig::new()
                    .with_k(self.k)
                    .with_lambda(self.lambda)
                    .with_alpha(self.rd_alpha)
                    .init(),
            ),
            DistillMethod::LabelOnly => DistillLoss::None,
        };
        Objective {
            distill,
            label: LabelLoss::new(self.label_loss, self.seed),
            alpha: if self.method == DistillMethod::LabelOnly {
                1.0
            } else {
                self.alpha
            },
        }
    }
}

/// One batch's targets, on the host: `[B * N]` each.
#[derive(Debug, Clone, Copy)]
pub struct HostTargets<'a> {
    pub batch: usize,
    pub len: usize,
    pub mask: &'a [bool],
    pub labels: &'a [f32],
    /// Teacher scores; required by every method but `label_only`.
    pub teacher: Option<&'a [f32]>,
}

impl HostTargets<'_> {
    fn tensor(&self, values: &[f32], device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [self.batch, self.len]),
            device,
        )
    }

    fn mask_tensor(&self, device: &Device) -> Tensor<2, Bool> {
        Tensor::from_data(
            TensorData::new(self.mask.to_vec(), [self.batch, self.len]),
            device,
        )
    }

    fn teacher(&self) -> &[f32] {
        self.teacher
            .expect("a distillation method needs teacher scores; only label_only runs without")
    }
}

#[derive(Debug, Clone)]
pub enum DistillLoss {
    Coupled(CoupledRankDistil),
    Decoupled(DecoupledRankDistil),
    Pairwise(PairwiseRankDistil),
    SoftmaxKd(SoftmaxKd),
    Mse(MseKd),
    RanknetKd(RankNetKd),
    ListmleKd(ListMleKd),
    Rd(RankingDistillation),
    None,
}

/// A label loss chosen at run time.
#[derive(Debug, Clone)]
pub enum LabelLoss {
    SoftmaxCe(SoftmaxCe),
    Listmle(ListMle),
    Ranknet(RankNet),
    Mse(MseKd),
}

impl LabelLoss {
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
        let labels = targets.tensor(targets.labels, &device);
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

/// The student objective `(1 − α)·distill + α·label_loss`.
#[derive(Debug, Clone)]
pub struct Objective {
    pub distill: DistillLoss,
    pub label: LabelLoss,
    pub alpha: f64,
}

impl Objective {
    /// Whether this objective reads teacher scores.
    pub fn needs_teacher(&self) -> bool {
        !matches!(self.distill, DistillLoss::None)
    }

    /// Restarts every random stream at `stream` (the global step), so runs replay exactly.
    pub fn reseed(&self, stream: u64) {
        if let DistillLoss::Coupled(l) = &self.distill {
            l.reseed(stream);
        }
        self.label.reseed(stream);
    }

    /// - student: `[B, N]`; output: `[1]`
    pub fn forward(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        let device = student.device();
        let distill = self.distill_term(student.clone(), targets, &device);
        match distill {
            Some(d) if self.alpha == 0.0 => d,
            Some(d) => d * (1.0 - self.alpha) + self.label.forward(student, targets) * self.alpha,
            None => self.label.forward(student, targets),
        }
    }

    fn distill_term(
        &self,
        student: Tensor<2>,
        targets: &HostTargets,
        device: &Device,
    ) -> Option<Tensor<1>> {
        let (b, n) = (targets.batch, targets.len);
        let teacher_order =
            |head: usize| ListOrders::teacher_top(targets.teacher(), targets.mask, b, n, head);
        Some(match &self.distill {
            DistillLoss::None => return None,
            DistillLoss::Coupled(l) => {
                let orders = l.orders(targets.teacher(), targets.mask, b, n);
                l.forward_ordered(student, &orders)
            }
            DistillLoss::Decoupled(l) => l.forward_ordered(student, &teacher_order(l.p)),
            DistillLoss::Pairwise(l) => l.forward_ordered(student, &teacher_order(l.p)),
            DistillLoss::ListmleKd(l) => l.forward_ordered(student, &teacher_order(usize::MAX)),
            DistillLoss::Rd(l) => l.forward_ordered(
                student,
                targets.tensor(targets.labels, device),
                &teacher_order(l.k),
            ),
            DistillLoss::SoftmaxKd(l) => l.forward(
                student,
                targets.tensor(targets.teacher(), device),
                targets.mask_tensor(device),
            ),
            DistillLoss::Mse(l) => l.forward(
                student,
                targets.tensor(targets.teacher(), device),
                targets.mask_tensor(device),
            ),
            DistillLoss::RanknetKd(l) => l.forward(
                student,
                targets.tensor(targets.teacher(), device),
                targets.mask_tensor(device),
            ),
        })
    }
}
