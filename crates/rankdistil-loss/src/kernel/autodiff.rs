//! The backward of [`PlackettLuceKernels::ordered_top_k_nll`]: the kernel's per-order slot-space
//! rows, summed over each list's orders. Only the scores are differentiable.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{AutodiffBackend, Backend, TensorMetadata};
use burn::tensor::Shape;

use super::PlackettLuceKernels;

#[derive(Debug)]
struct NllBackward {
    samples: usize,
    head: usize,
    inv_tau: f32,
}

impl<B: Backend + PlackettLuceKernels> Backward<B, 1> for NllBackward {
    /// The scores, the orders and counts, and the forward's `lse` and `P`.
    type State = (FloatTensor<B>, IntTensor<B>, IntTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [scores_node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let Some(node) = scores_node else {
            return;
        };
        let (scores, index, counts, stats) = ops.state;
        let [batch, n] = scores.shape().dims::<2>();
        let rows = B::ordered_top_k_nll_backward(
            scores,
            index,
            counts,
            stats,
            grad,
            self.samples,
            self.head,
            self.inv_tau,
        ); // [B·S, N]
        let per_list = match self.samples {
            1 => B::float_reshape(rows, Shape::new([batch, n])),
            s => {
                let rows = B::float_reshape(rows, Shape::new([batch, s, n]));
                B::float_reshape(B::float_sum_dim(rows, 1), Shape::new([batch, n]))
            }
        };
        grads.register::<B>(node.id, per_list);
    }
}

impl<B: Backend + PlackettLuceKernels, C: CheckpointStrategy> PlackettLuceKernels
    for Autodiff<B, C>
{
    fn ordered_top_k_nll(
        scores: FloatTensor<Self>,
        index: IntTensor<Self>,
        counts: IntTensor<Self>,
        samples: usize,
        head: usize,
        inv_tau: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let step = NllBackward {
            samples,
            head,
            inv_tau,
        };
        match step
            .prepare::<C>([scores.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let primitive = scores.primitive().clone();
                let (nll, stats) = B::ordered_top_k_nll(
                    primitive.clone(),
                    index.clone(),
                    counts.clone(),
                    samples,
                    head,
                    inv_tau,
                );
                let state = (primitive, index, counts, stats.clone());
                (prep.finish(state, nll), Self::from_inner(stats))
            }
            OpsKind::UnTracked(prep) => {
                let (nll, stats) = B::ordered_top_k_nll(
                    scores.into_primitive(),
                    index,
                    counts,
                    samples,
                    head,
                    inv_tau,
                );
                (prep.finish(nll), Self::from_inner(stats))
            }
        }
    }

    /// Not itself differentiated: it is the backward.
    fn ordered_top_k_nll_backward(
        scores: FloatTensor<Self>,
        index: IntTensor<Self>,
        counts: IntTensor<Self>,
        stats: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        samples: usize,
        head: usize,
        inv_tau: f32,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::ordered_top_k_nll_backward(
            Self::inner(scores),
            index,
            counts,
            Self::inner(stats),
            Self::inner(grad),
            samples,
            head,
            inv_tau,
        ))
    }
}
