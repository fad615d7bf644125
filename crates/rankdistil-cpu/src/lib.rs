//! The training step's hot path on the CPU: a dense MLP scorer's forward and backward over
//! host buffers, written by hand.
//!
//! Burn's autodiff runs the scorer as a graph of whole-batch tensors. Every op allocates a fresh
//! `[rows, H]` buffer, which the kernel maps anew as zeroed pages once it passes the allocator's
//! mmap threshold, and walks it once; the weight gradients first copy a transposed view. Here:
//!
//! - a tile of rows goes through every layer while it sits in the core's L2 cache, forward and
//!   backward, with the bias, activation and its derivative applied in place;
//! - the rows are split across the rayon pool, each thread with its own tile scratch and
//!   gradient sums, added once at the end;
//! - the saved activations and scratch live in a [`Workspace`] kept from one step to the next;
//! - every product is one call to the `gemm` crate on strided views, transposes included.
//!
//! The loss stays with Burn: [`Workspace::forward`] gives the scores, the caller's autodiff
//! gives `∂loss/∂scores`, and [`Workspace::backward`] turns that into parameter gradients.

mod dense;
mod dropout;
mod error;
mod matmul;
mod simd;
mod tile;
mod workspace;

pub use dense::{Activation, Dense, DenseMlp};
pub use error::KernelError;
pub use workspace::Workspace;
