pub mod bench;
pub mod compare;
pub mod distill;
pub mod eval;
pub mod gen_synthetic;
pub mod parity;
pub mod quickstart;
pub mod train;
