//! Label losses for training a scorer from graded relevance (docs/LOSSES.md, "Label losses").

/// ListMLE over label orders with random tie-breaks.
pub mod listmle;
/// RankNet over label pairs.
pub mod ranknet;
/// Sampled softmax cross-entropy over positives and drawn items.
pub mod sampled_softmax_ce;
/// Softmax cross-entropy over a list's graded labels.
pub mod softmax_ce;
