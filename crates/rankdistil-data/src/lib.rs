//! Ranking data for rankdistil: a streaming LETOR/SVMlight reader with line-precise errors,
//! feature normalisation fitted on the training split, a seeded synthetic LTR generator, and
//! batching into padded `[B, N, F]` lists with masks.

pub mod atomic;
mod batch;
mod cache;
mod dataset;
mod error;
mod fault;
pub mod host_memory;
mod interactions;
mod letor;
mod normalize;
pub mod synthetic;

pub use batch::{BatchPlan, ListBatch, PAD, Padding};
pub use cache::{CacheStatus, cache_path, read_letor_cached};
pub use dataset::{QueryView, RankingDataset};
pub use error::{DataError, QUOTE_CHARS, quoted};
pub use interactions::{
    ImplicitSplit, Interaction, Interactions, read_recbole_inter, read_recbole_inter_from,
    synthetic_catalog,
};
pub use letor::{
    LetorOptions, LetorQuery, LetorReader, MAX_FEATURES, MAX_LABEL, read_all, read_letor,
    write_letor,
};
pub use normalize::{FeatureNormalizer, NormalizationKind};
pub use synthetic::{SyntheticConfig, generate};
