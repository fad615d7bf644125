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

/// How the per-item layers see a batch of lists. The scores are the same either way; only the
/// shape of the products differs, and which one is faster depends on the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ItemLayout {
    /// `[B, N, F]` through every layer. Where N fills Burn's row tiles, each layer is a batched
    /// product against the shared weight.
    #[default]
    Lists,
    /// Flattened to `[B·N, F]`, as PyTorch runs `Linear`: one plain product per layer.
    Rows,
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
            layout: ItemLayout::Lists,
        }
    }

    /// Trainable parameters of the network this config builds (saturating: a size past
    /// `usize` is one no machine holds).
    pub fn num_params(&self) -> usize {
        let mut widths = vec![self.d_input];
        widths.extend(&self.hidden);
        widths.push(1);
        let linear = (widths.windows(2))
            .map(|w| w[0].saturating_mul(w[1]).saturating_add(w[1]))
            .fold(0usize, usize::saturating_add);
        let norms = match self.layer_norm {
            true => (self.hidden.iter())
                .map(|h| h.saturating_mul(2))
                .fold(0usize, usize::saturating_add),
            false => 0,
        };
        linear.saturating_add(norms)
    }
}

/// A per-item MLP scorer.
#[derive(Module, Debug)]
pub struct MlpScorer {
    pub(crate) hidden: Vec<Linear>,
    pub(crate) norms: Vec<LayerNorm>,
    pub(crate) output: Linear,
    pub(crate) dropout: Dropout,
    #[module(skip)]
    pub(crate) activation: Activation,
    relu: Relu,
    gelu: Gelu,
    tanh: Tanh,
    #[module(skip)]
    layout: ItemLayout,
}

impl MlpScorer {
    /// The same scorer running its layers in `layout`.
    pub fn with_layout(mut self, layout: ItemLayout) -> Self {
        self.layout = layout;
        self
    }

    pub fn layout(&self) -> ItemLayout {
        self.layout
    }

    /// Scores every item of every list.
    ///
    /// - features: `[B, N, F]`
    /// - output: `[B, N]`
    pub fn forward(&self, features: Tensor<3>) -> Tensor<2> {
        let [b, n, f] = features.dims();
        match self.layout {
            ItemLayout::Lists => {
                let x = self.hidden_layers(features, true); // [B, N, H_last]
                self.output.forward(x).squeeze_dim(2) // [B, N]
            }
            ItemLayout::Rows => {
                let x = self.hidden_layers(features.reshape([b * n, f]), true); // [B·N, H_last]
                self.output.forward(x).reshape([b, n]) // [B, N]
            }
        }
    }

    /// The last hidden layer's activations, as an embedding: `[B, N, F] -> [B, N, H_last]`
    /// (a query tower for catalog scoring).
    pub fn forward_embedding(&self, features: Tensor<3>) -> Tensor<3> {
        self.hidden_layers(features, false)
    }

    /// Every hidden layer on `[.., F]`: affine map, layer norm, activation and dropout, except
    /// that `activate_last` false leaves the last one as its affine map (and norm).
    fn hidden_layers<const D: usize>(&self, features: Tensor<D>, activate_last: bool) -> Tensor<D> {
        let mut x = features;
        let last = self.hidden.len().saturating_sub(1);
        for (i, layer) in self.hidden.iter().enumerate() {
            x = layer.forward(x); // [.., H_i]
            if let Some(norm) = self.norms.get(i) {
                x = norm.forward(x);
            }
            if activate_last || i < last {
                x = self.activate(x);
                x = self.dropout.forward(x);
            }
        }
        x
    }

    fn activate<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
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
