//! The top-k Plackett–Luce NLL of host-given orders as two CubeCL kernels, for the GPU
//! backends: one launch forward and one backward, where the tensor version
//! ([`crate::plackett_luce::top_k_nll`] over a gather) launches about thirty.
//!
//! For list `b`, order `s` (a permutation `π` of the `N` slots whose first `n_b` entries are the
//! valid items in target order) and `k' = min(k, n_b)`:
//!
//! ```text
//! x_p      = scores[b, π(p)] / τ
//! lse_i    = log Σ_{p=i..n_b−1} exp(x_p)
//! nll[b,s] = Σ_{i<k'} (lse_i − x_i)
//! P_j      = Σ_{i≤j} exp(lse_j − lse_i) = 1 + P_{j−1}·exp(lse_j − lse_{j−1})
//! ∂nll/∂x_p = Σ_{i ≤ min(p, k'−1)} exp(x_p − lse_i) − [p < k']
//!           = exp(x_p − lse_u)·P_u − [p < k'],  u = min(p, k'−1)
//! ```
//!
//! The forward scans each order in parallel over its items (a suffix log-sum-exp, then `P`
//! over the head) and leaves `lse` and `P` to the backward, which is then one expression per
//! slot. Every sum keeps a running max and every factor is at most 1, so extreme logits stay
//! finite as in the tensor version, which stays the reference (and the CPU backends' path).
//!
//! Wired through burn's backend extension, as `burn-signal` wires its FFTs: [`cube`] launches
//! the kernels, the `Fusion` impl is generated, and [`autodiff`] holds the backward.

mod autodiff;
mod cube;

use burn::backend::fusion::custom::TensorSpec;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::prelude::*;
use burn::tensor::Shape;

/// The kernels' backend extension. `head` is `min(k, N)`; `samples` orders per list.
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait PlackettLuceKernels: Backend {
    /// `scores [B, N]`, `index [B, S·N]`, `counts [B]` → `(nll [B·S], stats [B·S, 2·head])`,
    /// `stats` holding each order's `lse` then its `P` (zero past `k'`).
    #[fusion(meta = forward_specs)]
    fn ordered_top_k_nll(
        scores: FloatTensor<Self>,
        index: IntTensor<Self>,
        counts: IntTensor<Self>,
        samples: usize,
        head: usize,
        inv_tau: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// `grad [B·S]` of the NLL → `[B·S, N]`: each order's gradient, in slot space.
    #[fusion(meta = backward_spec)]
    #[allow(clippy::too_many_arguments)]
    fn ordered_top_k_nll_backward(
        scores: FloatTensor<Self>,
        index: IntTensor<Self>,
        counts: IntTensor<Self>,
        stats: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        samples: usize,
        head: usize,
        inv_tau: f32,
    ) -> FloatTensor<Self>;
}

fn forward_specs(
    scores: &TensorSpec,
    _index: &TensorSpec,
    _counts: &TensorSpec,
    samples: &usize,
    head: &usize,
    _inv_tau: &f32,
) -> (TensorSpec, TensorSpec) {
    let rows = scores.shape[0] * samples;
    (
        TensorSpec::new(Shape::new([rows]), scores.dtype),
        TensorSpec::new(Shape::new([rows, 2 * *head]), scores.dtype),
    )
}

#[allow(clippy::too_many_arguments)]
fn backward_spec(
    scores: &TensorSpec,
    _index: &TensorSpec,
    _counts: &TensorSpec,
    _stats: &TensorSpec,
    _grad: &TensorSpec,
    samples: &usize,
    _head: &usize,
    _inv_tau: &f32,
) -> TensorSpec {
    let [batch, n] = [scores.shape[0], scores.shape[1]];
    TensorSpec::new(Shape::new([batch * samples, n]), scores.dtype)
}

/// The top-k Plackett–Luce NLL of each of `S` orders of each list, on a GPU backend.
///
/// # Shapes
///
/// - `scores`: `[B, N]` student scores in slot order.
/// - `index`: `[B, S·N]`; each list's `S` orders side by side, each a permutation of the `N`
///   slots with the valid items first, in target order.
/// - `counts`: `[B]`, the valid items of each list.
/// - output: `[B·S]`, 0 for an empty list.
///
/// Only for devices where [`crate::plackett_luce::launches_kernels`] holds.
pub(crate) fn ordered_top_k_nll(
    scores: Tensor<2>,
    index: Tensor<2, Int>,
    counts: Tensor<1, Int>,
    samples: usize,
    k: usize,
    temperature: f64,
) -> Tensor<1> {
    let [batch, n] = scores.dims();
    if batch * samples == 0 || n == 0 {
        // Nothing to launch over: every order is empty.
        return Tensor::zeros([batch * samples], &scores.device());
    }
    let head = k.min(n);
    let (nll, _stats) = <Dispatch as PlackettLuceKernels>::ordered_top_k_nll(
        scores.into_dispatch(),
        index.into_dispatch(),
        counts.into_dispatch(),
        samples,
        head,
        (1.0 / temperature) as f32,
    );
    Tensor::from_dispatch(nll)
}
