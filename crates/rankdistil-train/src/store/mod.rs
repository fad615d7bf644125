//! What list and catalog runs keep on disk alike: weights, checkpoints, the metrics log and the
//! shared parts of a serving export. Every file goes through [`atomic`].

pub mod checkpoint;
pub mod digests;
pub mod export_files;
pub mod metrics_log;
pub mod output;
pub mod run_lock;
pub mod staged_export;
pub mod stray;
pub mod weights;

pub use rankdistil_data::atomic;
