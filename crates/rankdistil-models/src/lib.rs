//! MLP scorers for rankdistil: one network scores every item of every list independently,
//! `[B, N, F] -> [B, N]`. Teachers and students differ only in their configs.

mod mlp;

pub use mlp::{Activation, MlpScorer, MlpScorerConfig};
