#![doc = include_str!("../README.md")]

mod coupled;
mod decoupled;
pub mod label;
mod listmle_kd;
mod mse_kd;
mod objective;
mod ordering;
mod pairs;
mod pairwise;
mod plackett_luce;
mod ranknet_kd;
mod rd;
mod reduce;
mod sampled;
mod softmax_kd;
mod top_p;
mod uniform_draw;

pub use coupled::{CoupledRankDistil, CoupledRankDistilConfig};
pub use decoupled::{DecoupledRankDistil, DecoupledRankDistilConfig};
pub use label::listmle::{ListMle, ListMleConfig};
pub use label::ranknet::RankNet;
pub use label::sampled_softmax_ce::{Draw, Popularity, SampledSoftmaxCe, SampledSoftmaxCeConfig};
pub use label::softmax_ce::SoftmaxCe;
pub use listmle_kd::{ListMleKd, ListMleKdConfig};
pub use mse_kd::MseKd;
pub use objective::{
    DistillLoss, DistillMethod, HostTargets, LabelLoss, LabelLossKind, Objective, ObjectiveConfig,
};
pub use ordering::ListOrders;
pub use pairwise::{PairwiseRankDistil, PairwiseRankDistilConfig};
pub use ranknet_kd::RankNetKd;
pub use rd::{RankingDistillation, RankingDistillationConfig};
pub use sampled::{Candidates, SampledRankDistil, SampledRankDistilConfig};
pub use softmax_kd::{SoftmaxKd, SoftmaxKdConfig};
pub use uniform_draw::distinct_uniform;

/// The stable reverse cumulative log-sum-exp behind every Plackett–Luce loss here, exposed for
/// tests and benchmarks: per-row top-k PL NLL of `x` `[R, N]` (already in target order) with
/// a valid prefix `valid` `[R, N]`.
pub fn top_k_plackett_luce_nll(
    x: burn::prelude::Tensor<2>,
    valid: burn::prelude::Tensor<2, burn::prelude::Bool>,
    k: usize,
) -> burn::prelude::Tensor<1> {
    plackett_luce::top_k_nll(x, valid, k)
}
