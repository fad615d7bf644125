//! A list scorer's parameter gradients over the micro-batches of one training step: through
//! Burn's autodiff, or, where the backend says so, through `rankdistil-cpu`'s hand-written MLP
//! forward and backward, with Burn's autodiff for the loss alone.
//!
//! The kernel path scores on the host, hands the scores to the loss as a leaf tensor, reads
//! back `∂loss/∂scores` (`[B, N]`, small) and runs the MLP backward by hand. The loss code, and
//! so its spec vectors, are the same on both paths.

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use rankdistil_cpu::{DenseMlp, Workspace};
use rankdistil_models::MlpScorer;

/// One micro-batch's features: `[b, n, f]` row-major on the host, and the same tensor on the
/// device if it is already there.
pub struct Features<'a> {
    pub host: &'a [f32],
    pub dims: [usize; 3],
    pub uploaded: Option<Tensor<3>>,
}

/// The gradient sums of one step.
pub struct StepGradients<'w> {
    pass: Pass<'w>,
}

enum Pass<'w> {
    Autodiff(GradientsAccumulator<MlpScorer>),
    Kernel {
        workspace: &'w mut Workspace,
        /// The scorer's weights at this step.
        mlp: DenseMlp,
        sums: DenseMlp,
    },
}

impl<'w> StepGradients<'w> {
    /// Starts a step of `model`. With a kernel `workspace` (the backend runs the kernel), the
    /// step runs through it when it covers the scorer, and through autodiff otherwise.
    pub fn new(model: &MlpScorer, workspace: Option<&'w mut Workspace>) -> Self {
        // The weights are read to the host only for the kernel: on a GPU that read would be a
        // device sync per parameter in every step.
        let kernel = workspace.and_then(|w| model.to_dense().map(|mlp| (w, mlp)));
        let pass = match kernel {
            Some((workspace, mlp)) => Pass::Kernel {
                workspace,
                sums: mlp.zeros_like(),
                mlp,
            },
            None => Pass::Autodiff(GradientsAccumulator::new()),
        };
        StepGradients { pass }
    }

    /// Whether the step runs the hand-written kernel.
    pub fn is_kernel(&self) -> bool {
        matches!(self.pass, Pass::Kernel { .. })
    }

    /// Scores `features`, takes `loss` of the `[b, n]` scores and adds its gradients to the
    /// sums. Returns the loss, detached.
    pub fn add(
        &mut self,
        model: &MlpScorer,
        features: Features,
        device: &Device,
        loss: impl FnOnce(Tensor<2>) -> Tensor<1>,
    ) -> crate::Result<Tensor<1>> {
        let [b, n, _] = features.dims;
        match &mut self.pass {
            Pass::Autodiff(accumulator) => {
                let x = features.uploaded.unwrap_or_else(|| {
                    let data = TensorData::new(features.host.to_vec(), features.dims);
                    Tensor::from_data(data, device)
                });
                let loss = loss(model.forward(x)); // [1]
                accumulator.accumulate(model, GradientsParams::from_grads(loss.backward(), model));
                Ok(loss.detach())
            }
            Pass::Kernel {
                workspace,
                mlp,
                sums,
            } => {
                let mut scores = vec![0.0; b * n];
                workspace.forward(mlp, features.host, &mut scores)?;
                let scores = TensorData::new(scores, [b, n]);
                let scores = Tensor::<2>::from_data(scores, device).require_grad(); // [b, n]
                let loss = loss(scores.clone()); // [1]
                let grads = loss.backward();
                let d_scores = match scores.grad(&grads) {
                    Some(g) => g.into_data().convert::<f32>().try_into_vec::<f32>(),
                    None => Ok(vec![0.0; b * n]), // a loss that does not read the scores
                };
                let d_scores = d_scores.map_err(|e| {
                    crate::Error::Device(format!("cannot read the score gradients: {e:?}"))
                })?;
                workspace.backward(mlp, features.host, &d_scores, sums)?;
                Ok(loss.detach())
            }
        }
    }

    /// The summed gradients, as the optimizer takes them.
    pub fn finish(self, model: &MlpScorer, device: &Device) -> GradientsParams {
        match self.pass {
            Pass::Autodiff(mut accumulator) => accumulator.grads(),
            Pass::Kernel { sums, .. } => model.dense_gradients(&sums, device),
        }
    }
}
