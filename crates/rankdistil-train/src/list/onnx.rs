//! A list scorer as an ONNX model. The graph takes raw LETOR feature values `features [N, F]`
//! and returns `scores [N]`: the feature normalisation, every hidden layer (with its layer
//! norm and activation) and the output layer are in it.

use rankdistil_data::{FeatureNormalizer, NormalizationKind};
use rankdistil_models::{Activation, LAYER_NORM_EPSILON};

use crate::list::config::ModelConfig;
use crate::onnx::{Attribute, Dim, FLOAT, Graph, Port, Weights};

/// The ONNX model of a list scorer of `architecture`, whose weights are the safetensors bytes
/// an export writes (`hidden.{i}.weight` `[in, out]`, ...), over raw features normalised by
/// `normalizer`.
pub fn model_bytes(
    architecture: &ModelConfig,
    normalizer: &FeatureNormalizer,
    safetensors: &[u8],
) -> crate::Result<Vec<u8>> {
    let mut weights = Weights::read(safetensors)?;
    let mut graph = Graph::default();
    let mut x = normalize(&mut graph, "features", normalizer);
    for i in 0..architecture.hidden.len() {
        x = graph.affine(&mut weights, &format!("hidden.{i}"), &x)?;
        if architecture.layer_norm {
            let gamma = graph.weight(&mut weights, &format!("norms.{i}.gamma"))?;
            let beta = graph.weight(&mut weights, &format!("norms.{i}.beta"))?;
            let attributes = vec![
                Attribute::int("axis", -1),
                Attribute::float("epsilon", LAYER_NORM_EPSILON as f32),
            ];
            x = graph.op("LayerNormalization", &[&x, &gamma, &beta], attributes);
        }
        x = match architecture.activation {
            Activation::Relu => graph.op("Relu", &[&x], vec![]),
            Activation::Tanh => graph.op("Tanh", &[&x], vec![]),
            Activation::Gelu => gelu(&mut graph, &x),
        };
    }
    let column = graph.affine(&mut weights, "output", &x)?; // [N, 1]
    let flat = graph.int64s("flat", vec![-1]);
    graph.op("Reshape", &[&column, &flat], vec![]);
    let features = Port {
        name: "features",
        elem_type: FLOAT,
        dims: vec![Dim::Free("N"), Dim::Fixed(normalizer.num_features())],
    };
    let scores = Port {
        name: "scores",
        elem_type: FLOAT,
        dims: vec![Dim::Free("N")],
    };
    Ok(graph.into_model("rankdistil_scorer", &[features], &scores))
}

/// The feature normalisation of `x`.
fn normalize(graph: &mut Graph, x: &str, normalizer: &FeatureNormalizer) -> String {
    if normalizer.kind == NormalizationKind::None {
        return x.into();
    }
    let f = normalizer.num_features();
    let mut x = x.to_string();
    if normalizer.kind == NormalizationKind::Log1pZscore {
        let sign = graph.op("Sign", &[&x], vec![]);
        let abs = graph.op("Abs", &[&x], vec![]);
        let log = ln_1p(graph, &abs);
        x = graph.op("Mul", &[&sign, &log], vec![]);
    }
    let mean = graph.constant("normalization.mean", &[f], normalizer.mean.clone());
    let std = graph.constant("normalization.std", &[f], normalizer.std.clone());
    let centred = graph.op("Sub", &[&x, &mean], vec![]);
    graph.op("Div", &[&centred, &std], vec![])
}

/// `ln(1 + u)` to f32's precision for small `u`, as the trainer's `ln_1p` (ONNX has no Log1p):
/// Kahan's `ln(w) · u / (w − 1)` with `w = 1 + u`, or `u` where `w − 1` rounds to 0. A plain
/// `Log(1 + u)` loses digits that a small feature std then magnifies.
fn ln_1p(graph: &mut Graph, u: &str) -> String {
    let one = graph.scalar("one", 1.0);
    let zero = graph.scalar("zero", 0.0);
    let w = graph.op("Add", &[u, &one], vec![]);
    let d = graph.op("Sub", &[&w, &one], vec![]);
    let log = graph.op("Log", &[&w], vec![]);
    let scaled = graph.op("Mul", &[&log, u], vec![]);
    let ratio = graph.op("Div", &[&scaled, &d], vec![]);
    let rounded = graph.op("Equal", &[&d, &zero], vec![]);
    graph.op("Where", &[&rounded, u, &ratio], vec![])
}

/// GELU as the trainer computes it: `x/2 · (1 + erf(x/√2))`.
fn gelu(graph: &mut Graph, x: &str) -> String {
    let root2 = graph.scalar("sqrt2", 2f32.sqrt());
    let half = graph.scalar("half", 0.5);
    let one = graph.scalar("one", 1.0);
    let scaled = graph.op("Div", &[x, &root2], vec![]);
    let erf = graph.op("Erf", &[&scaled], vec![]);
    let plus = graph.op("Add", &[&erf, &one], vec![]);
    let times = graph.op("Mul", &[x, &plus], vec![]);
    graph.op("Mul", &[&times, &half], vec![])
}
