//! Benchmarks: the reference step against PyTorch, its profile, the per-loss and
//! catalog-size suites, and LETOR parsing. Each prints a Markdown table.

pub mod options;
pub mod parse;
pub mod profile;
pub mod reference;
pub mod suites;
