//! Label losses for training a scorer from graded relevance (docs/LOSSES.md, "Label losses").

pub mod listmle;
pub mod ranknet;
pub mod sampled_softmax_ce;
pub mod softmax_ce;
