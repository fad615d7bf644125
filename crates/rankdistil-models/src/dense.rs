//! The scorer as a [`rankdistil_cpu`] network: its weights out to the hand-written CPU training
//! step, and that step's gradients back in under the scorer's parameter ids.

use burn::nn::Linear;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::TensorData;
use rankdistil_cpu::{Dense, DenseMlp};

use crate::mlp::{Activation, MlpScorer};

impl MlpScorer {
    /// The scorer's weights as a [`DenseMlp`] with its training dropout, or `None` for a network
    /// the CPU kernel does not run: layer norm, GELU, or dropout after tanh.
    pub fn to_dense(&self) -> Option<DenseMlp> {
        let activation = match self.activation {
            Activation::Relu => rankdistil_cpu::Activation::Relu,
            Activation::Tanh => rankdistil_cpu::Activation::Tanh,
            Activation::Gelu => return None,
        };
        if !self.norms.is_empty() {
            return None;
        }
        let hidden = self.hidden.iter().map(dense).collect();
        let mlp = DenseMlp::new(hidden, dense(&self.output), activation).ok()?;
        mlp.with_dropout(self.dropout.prob as f32).ok()
    }

    /// `grads`, laid out as [`Self::to_dense`] gave the weights, as the optimizer takes them:
    /// tensors on `device` (without autodiff) under this scorer's parameter ids.
    pub fn dense_gradients(&self, grads: &DenseMlp, device: &Device) -> GradientsParams {
        let device = device.clone().inner();
        let mut out = GradientsParams::new();
        let layers = self.hidden.iter().chain([&self.output]);
        for (layer, g) in layers.zip(grads.hidden().iter().chain([grads.output()])) {
            let weight = TensorData::new(g.weight.clone(), [g.d_in, g.d_out]);
            out.register(layer.weight.id, Tensor::<2>::from_data(weight, &device));
            if let Some(bias) = &layer.bias {
                let values = TensorData::new(g.bias.clone(), [g.d_out]);
                out.register(bias.id, Tensor::<1>::from_data(values, &device));
            }
        }
        out
    }
}

/// One `Linear` as a [`Dense`] layer (Burn's weight is `[d_in, d_out]`, as the kernel's).
fn dense(layer: &Linear) -> Dense {
    let [d_in, d_out] = layer.weight.dims();
    let values = |t: Tensor<1>| t.into_data().convert::<f32>().try_into_vec::<f32>();
    Dense {
        d_in,
        d_out,
        weight: values(layer.weight.val().reshape([d_in * d_out])).unwrap_or_default(),
        bias: match &layer.bias {
            Some(b) => values(b.val()).unwrap_or_default(),
            None => vec![0.0; d_out],
        },
    }
}
