//! The network the kernel runs: dense layers, row-major as Burn's `Linear`.

use crate::error::KernelError;
use crate::simd::simd;

/// The nonlinearity after each hidden layer. Both have a derivative that is a function of their
/// output, so the backward pass needs only the saved activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Tanh,
}

impl Activation {
    /// `y ← act(y + bias)`, in place, row by row (`y` is `[rows, bias.len()]`). One pass adds
    /// the bias and activates, where a bias filled in before the product would be another.
    pub(crate) fn apply_with_bias(self, y: &mut [f32], bias: &[f32]) {
        let rows = y.chunks_exact_mut(bias.len());
        match self {
            Activation::Relu => simd(|| {
                for row in rows {
                    row.iter_mut()
                        .zip(bias)
                        .for_each(|(v, b)| *v = (*v + b).max(0.0));
                }
            }),
            Activation::Tanh => {
                for row in rows {
                    row.iter_mut()
                        .zip(bias)
                        .for_each(|(v, b)| *v = (*v + b).tanh());
                }
            }
        }
    }

    /// `g ← g · act′` with the derivative taken from the activation's output `y`, times
    /// `dropout_scale` (`1 / (1 − p)`, 1 without dropout; only ReLU takes dropout).
    pub(crate) fn backprop(self, g: &mut [f32], y: &[f32], dropout_scale: f32) {
        let pairs = g.iter_mut().zip(y);
        match self {
            // A select, not a branch, so the loop vectorizes.
            Activation::Relu => simd(|| {
                pairs.for_each(|(g, &y)| *g = if y > 0.0 { *g * dropout_scale } else { 0.0 })
            }),
            Activation::Tanh => simd(|| pairs.for_each(|(g, &y)| *g *= 1.0 - y * y)),
        }
    }
}

/// One dense layer, `y = x·W + b`, with `W` row-major `[d_in, d_out]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub d_in: usize,
    pub d_out: usize,
    /// `[d_in · d_out]`, row-major.
    pub weight: Vec<f32>,
    /// `[d_out]`.
    pub bias: Vec<f32>,
}

impl Dense {
    /// A layer of zeros, the shape of a gradient sum.
    pub fn zeros(d_in: usize, d_out: usize) -> Self {
        Dense {
            d_in,
            d_out,
            weight: vec![0.0; d_in * d_out],
            bias: vec![0.0; d_out],
        }
    }
}

/// `F → h_1 → … → h_L → 1`: hidden layers, each followed by `activation`, then a linear output
/// layer of width 1. The same type holds a network's gradients.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseMlp {
    hidden: Vec<Dense>,
    output: Dense,
    activation: Activation,
    /// Dropout after each hidden activation, in training.
    dropout: f32,
}

impl DenseMlp {
    /// Checks that the layers chain and that every weight has its length.
    pub fn new(
        hidden: Vec<Dense>,
        output: Dense,
        activation: Activation,
    ) -> Result<Self, KernelError> {
        let mut d_in = hidden.first().unwrap_or(&output).d_in;
        for (i, layer) in hidden.iter().chain([&output]).enumerate() {
            let fail = |reason: String| Err(KernelError::Shape { layer: i, reason });
            if layer.d_in == 0 || layer.d_out == 0 {
                return fail(format!(
                    "[{}, {}] has an empty side",
                    layer.d_in, layer.d_out
                ));
            }
            if layer.d_in != d_in {
                return fail(format!(
                    "takes {} inputs, after a layer of {d_in}",
                    layer.d_in
                ));
            }
            if layer.weight.len() != layer.d_in * layer.d_out || layer.bias.len() != layer.d_out {
                return fail(format!(
                    "{} weights and {} biases for [{}, {}]",
                    layer.weight.len(),
                    layer.bias.len(),
                    layer.d_in,
                    layer.d_out
                ));
            }
            d_in = layer.d_out;
        }
        if output.d_out != 1 {
            return Err(KernelError::Shape {
                layer: hidden.len(),
                reason: format!("the output layer has width {}, not 1", output.d_out),
            });
        }
        Ok(DenseMlp {
            hidden,
            output,
            activation,
            dropout: 0.0,
        })
    }

    /// The same network with dropout `prob` after each hidden activation, as in training.
    /// Only a ReLU network takes it: the backward pass reads the masks from the zeros.
    pub fn with_dropout(mut self, prob: f32) -> Result<Self, KernelError> {
        if !(0.0..1.0).contains(&prob) {
            return Err(KernelError::Dropout(format!(
                "probability {prob} is not in [0, 1)"
            )));
        }
        if prob > 0.0 && self.activation != Activation::Relu {
            return Err(KernelError::Dropout(format!(
                "only after ReLU, not {:?}",
                self.activation
            )));
        }
        self.dropout = prob;
        Ok(self)
    }

    /// The same shapes, all zeros: a gradient sum to pass to [`crate::Workspace::backward`].
    pub fn zeros_like(&self) -> Self {
        DenseMlp {
            hidden: (self.hidden.iter())
                .map(|l| Dense::zeros(l.d_in, l.d_out))
                .collect(),
            output: Dense::zeros(self.output.d_in, 1),
            activation: self.activation,
            dropout: self.dropout,
        }
    }

    /// Features per row.
    pub fn d_input(&self) -> usize {
        self.hidden.first().unwrap_or(&self.output).d_in
    }

    pub fn hidden(&self) -> &[Dense] {
        &self.hidden
    }

    pub fn output(&self) -> &Dense {
        &self.output
    }

    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The dropout probability after each hidden activation (0: none).
    pub fn dropout(&self) -> f32 {
        self.dropout
    }

    /// What the backward pass scales a kept unit's gradient by.
    pub(crate) fn dropout_scale(&self) -> f32 {
        1.0 / (1.0 - self.dropout)
    }

    /// The widest layer input or output (the tile scratch's width).
    pub(crate) fn widest(&self) -> usize {
        (self.hidden.iter())
            .map(|l| l.d_out)
            .chain([self.d_input()])
            .max()
            .unwrap_or(1)
    }

    pub(crate) fn hidden_mut(&mut self) -> &mut [Dense] {
        &mut self.hidden
    }

    pub(crate) fn output_mut(&mut self) -> &mut Dense {
        &mut self.output
    }

    /// Sets every weight and bias to 0.
    pub(crate) fn fill_zero(&mut self) {
        for l in self.hidden.iter_mut().chain([&mut self.output]) {
            l.weight.fill(0.0);
            l.bias.fill(0.0);
        }
    }

    /// `self += other`, layer by layer (same shapes).
    pub(crate) fn add_assign(&mut self, other: &DenseMlp) {
        let pairs = self.hidden.iter_mut().chain([&mut self.output]);
        for (a, b) in pairs.zip(other.hidden.iter().chain([&other.output])) {
            a.weight
                .iter_mut()
                .zip(&b.weight)
                .for_each(|(a, b)| *a += b);
            a.bias.iter_mut().zip(&b.bias).for_each(|(a, b)| *a += b);
        }
    }

    /// Whether `other` has the same layer shapes.
    pub(crate) fn same_shape(&self, other: &DenseMlp) -> bool {
        self.shapes().eq(other.shapes())
    }

    /// `(d_in, d_out)` of every layer, the output last.
    pub(crate) fn shapes(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (self.hidden.iter().chain([&self.output])).map(|l| (l.d_in, l.d_out))
    }
}
