use burn::nn::{
    Dropout, DropoutConfig, Gelu, LayerNorm, LayerNormConfig, Linear, LinearConfig, Relu, Tanh,
};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// The hidden activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    #[default]
    Relu,
    Gelu,
    Tanh,
}

/// The ε of every layer norm, `(z − mean) / √(var + ε) · γ + β` (biased variance, last axis).
/// Exports state it so other runtimes can score with the weights.
pub const LAYER_NORM_EPSILON: f64 = 1e-5;

/// An MLP scorer: `F -> hidden[0] -> ... -> hidden[last] -> 1`, applied to every item.
#[derive(Config, Debug)]
pub struct MlpScorerConfig {
    /// Input features per item.
    pub d_input: usize,
    /// Hidden widths, input side first. Empty gives a linear scorer.
    pub hidden: Vec<usize>,
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Dropout after each hidden activation (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Layer norm before each hidden activation.
    #[config(default = false)]
    pub layer_norm: bool,
}

impl MlpScorerConfig {
    pub fn init(&self, device: &Device) -> MlpScorer {
        let mut widths = vec![self.d_input];
        widths.extend(&self.hidden);
        let hidden = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        let norms = if self.layer_norm {
            self.hidden
                .iter()
                .map(|&h| {
                    LayerNormConfig::new(h)
                        .with_epsilon(LAYER_NORM_EPSILON)
                        .init(device)
                })
                .collect()
        } else {
            Vec::new()
        };
        MlpScorer {
            hidden,
            norms,
            output: LinearConfig::new(*widths.last().expect("d_input is first"), 1).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: self.activation,
            relu: Relu::new(),
            gelu: Gelu::new(),
            tanh: Tanh::new(),
        }
    }

    /// Trainable parameters of the network this config builds.
    pub fn num_params(&self) -> usize {
        let mut widths = vec![self.d_input];
        widths.extend(&self.hidden);
        widths.push(1);
        let linear: usize = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
        let norms: usize = if self.layer_norm {
            self.hidden.iter().map(|h| 2 * h).sum()
        } else {
            0
        };
        linear + norms
    }
}

/// A per-item MLP scorer.
#[derive(Module, Debug)]
pub struct MlpScorer {
    hidden: Vec<Linear>,
    norms: Vec<LayerNorm>,
    output: Linear,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
    relu: Relu,
    gelu: Gelu,
    tanh: Tanh,
}

impl MlpScorer {
    /// Scores every item of every list.
    ///
    /// - features: `[B, N, F]`
    /// - output: `[B, N]`
    pub fn forward(&self, features: Tensor<3>) -> Tensor<2> {
        let mut x = features; // [B, N, F]
        for (i, layer) in self.hidden.iter().enumerate() {
            x = layer.forward(x); // [B, N, H_i]
            if let Some(norm) = self.norms.get(i) {
                x = norm.forward(x);
            }
            x = self.activate(x);
            x = self.dropout.forward(x);
        }
        self.output.forward(x).squeeze_dim(2) // [B, N]
    }

    /// The last hidden layer's activations, as an embedding: `[B, N, F] -> [B, N, H_last]`
    /// (a query tower for catalog scoring).
    pub fn forward_embedding(&self, features: Tensor<3>) -> Tensor<3> {
        let mut x = features;
        for (i, layer) in self.hidden.iter().enumerate() {
            x = layer.forward(x);
            if let Some(norm) = self.norms.get(i) {
                x = norm.forward(x);
            }
            if i + 1 < self.hidden.len() {
                x = self.activate(x);
                x = self.dropout.forward(x);
            }
        }
        x
    }

    fn activate(&self, x: Tensor<3>) -> Tensor<3> {
        match self.activation {
            Activation::Relu => self.relu.forward(x),
            Activation::Gelu => self.gelu.forward(x),
            Activation::Tanh => self.tanh.forward(x),
        }
    }

    /// The widest activation per item: the input or the widest hidden layer.
    pub fn widest(&self) -> usize {
        self.hidden
            .iter()
            .map(|l| l.weight.dims()[1])
            .chain([self.d_input()])
            .max()
            .unwrap_or(1)
    }

    /// Input features the first layer expects.
    pub fn d_input(&self) -> usize {
        match self.hidden.first() {
            Some(l) => l.weight.dims()[0],
            None => self.output.weight.dims()[0],
        }
    }
}
