//! MLP scorers for rankdistil: one network scores every item of every list independently,
//! `[B, N, F] -> [B, N]`, and catalog scorers (a query tower against an item table) for
//! large item sets. Teachers and students differ only in their configs.

mod catalog;
mod dense;
mod mlp;

pub use catalog::{CatalogScorer, CatalogScorerConfig};
pub use mlp::{Activation, ItemLayout, LAYER_NORM_EPSILON, MlpScorer, MlpScorerConfig};
