//! One module per subcommand, and the flags they share.

pub mod args;
pub mod bench;
pub mod catalog;
pub mod choices;
pub mod compare;
pub mod distill;
pub mod eval;
pub mod export;
pub mod gen_synthetic;
pub mod parity;
pub mod plot;
pub mod quickstart;
pub mod recommend;
pub mod score;
pub mod study;
pub mod teacher_cache;
pub mod train;
