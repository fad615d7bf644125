#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod adr_mse;
mod cd;
mod checks;
mod coupled;
mod decoupled;
mod device_order;
#[cfg(feature = "kernels")]
mod kernel;
pub mod label;
mod listmle_kd;
mod margin_mse;
mod mse_kd;
mod objective;
mod ordering;
mod pairs;
mod pairwise;
mod plackett_luce;
mod ranknet_kd;
mod rd;
mod reduce;
mod rrd;
mod sampled;
mod softmax_kd;
mod targets;
mod teacher_order;
mod top_p;
mod uniform_draw;

pub use adr_mse::{AdrMse, AdrMseConfig, RankDiscount};
pub use cd::{CollaborativeDistillation, CollaborativeDistillationConfig};
pub use coupled::{CoupledRankDistil, CoupledRankDistilConfig};
pub use decoupled::{DecoupledRankDistil, DecoupledRankDistilConfig};
pub use device_order::{OrderKeys, device_orders};
pub use label::listmle::{ListMle, ListMleConfig};
pub use label::ranknet::RankNet;
pub use label::sampled_softmax_ce::{Draw, Popularity, SampledSoftmaxCe, SampledSoftmaxCeConfig};
pub use label::softmax_ce::SoftmaxCe;
pub use listmle_kd::{ListMleKd, ListMleKdConfig};
pub use margin_mse::{MarginMse, MarginMseConfig};
pub use mse_kd::MseKd;
pub use objective::{LabelLoss, LabelLossKind, Objective};
pub use ordering::ListOrders;
pub use pairwise::{PairwiseRankDistil, PairwiseRankDistilConfig};
pub use ranknet_kd::RankNetKd;
pub use rd::{RankingDistillation, RankingDistillationConfig};
pub use rrd::{RelaxedRankingDistillation, RelaxedRankingDistillationConfig, RrdDraw};
pub use sampled::{Candidates, SampledRankDistil, SampledRankDistilConfig};
pub use softmax_kd::{SoftmaxKd, SoftmaxKdConfig};
pub use targets::{DeviceTargets, DistillTerm, HostTargets};
pub use teacher_order::OrderedLoss;
