//! Benchmarks: the reference step against PyTorch, its profile, the per-loss and
//! catalog-size suites, an epoch of `fit` at MSLR-WEB30K's size, LETOR parsing, and the GPU step's launch and read-back counts. Each
//! prints a Markdown table.

pub mod epoch;
pub mod launches;
pub mod options;
pub mod parse;
pub mod profile;
pub mod reference;
pub mod suites;
