//! The rankdistil training library: everything the `rankdistil` CLI does, callable directly.
//!
//! - [`list`] trains list scorers (teachers from labels, students from a teacher's scores),
//!   compares distillation methods and runs the quickstart.
//! - [`catalog`] trains catalog scorers over 10³–10⁶ items with sampled RankDistil.
//! - [`fit`] is the training loop both share; [`store`] the files both write.
//! - [`backend`] opens the device; [`memory`] keeps buffers under the GPU's limit.
//! - [`bench`](mod@bench) and [`parity`] measure speed and cross-backend agreement;
//!   [`device_counts`] counts a GPU step's launches, read-backs, submits and compiles.

pub mod backend;
pub mod bench;
pub mod catalog;
mod data_files;
pub mod device_counts;
pub mod error;
pub mod fit;
pub mod list;
pub mod loss_config;
pub mod memory;
pub mod onnx;
pub mod optimizer;
pub mod parity;
pub mod process;
pub mod progress;
pub mod report;
pub mod role;
pub mod settings;
pub mod step_gradients;
pub mod store;
pub mod study;

pub use error::{Error, Result};
