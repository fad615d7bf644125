//! A list scorer as an ONNX model (opset 17) that serving engines run: onnxruntime, Vespa,
//! Triton. The graph takes raw LETOR feature values `features [N, F]` and returns
//! `scores [N]`: the feature normalisation, every hidden layer (with its layer norm and
//! activation) and the output layer are in it.
//!
//! The ONNX messages are the fields of `onnx.proto` this export writes, encoded by prost.

use std::collections::HashMap;

use anyhow::Context;
use prost::Message;
use rankdistil_data::{FeatureNormalizer, NormalizationKind};
use rankdistil_models::{Activation, LAYER_NORM_EPSILON};
use safetensors::SafeTensors;

use crate::list::config::ModelConfig;

/// The opset the graph is written against: the first with `LayerNormalization`.
pub const OPSET: i64 = 17;
/// The IR version that goes with [`OPSET`].
const IR_VERSION: i64 = 8;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(string, tag = "3")]
    producer_version: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, Message)]
struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    domain: String,
    #[prost(int64, tag = "2")]
    version: i64,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(float, tag = "2")]
    f: f32,
    #[prost(int64, tag = "3")]
    i: i64,
    /// `AttributeProto.AttributeType`: FLOAT = 1, INT = 2.
    #[prost(int32, tag = "20")]
    r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    /// `TensorProto.DataType`: FLOAT = 1, INT64 = 7.
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(int64, repeated, tag = "7")]
    int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    elem_type: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(int64, optional, tag = "1")]
    dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    dim_param: Option<String>,
}

const FLOAT: i32 = 1;
const INT64: i32 = 7;

/// The graph under construction: nodes in order, and the weights they read.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl Graph {
    /// Adds `op` of `inputs`, with `attributes`; returns its output's name.
    fn op(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        let output = format!("{}_{}", op.to_lowercase(), self.nodes.len());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: output.clone(),
            op_type: op.into(),
            attribute: attributes,
        });
        output
    }

    /// A float constant of `dims`; returns its name.
    fn constant(&mut self, name: &str, dims: &[usize], values: Vec<f32>) -> String {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            float_data: values,
            name: name.into(),
            ..Default::default()
        });
        name.into()
    }

    /// The feature normalisation of `x`.
    fn normalize(&mut self, x: &str, normalizer: &FeatureNormalizer) -> String {
        if normalizer.kind == NormalizationKind::None {
            return x.into();
        }
        let f = normalizer.num_features();
        let mut x = x.to_string();
        if normalizer.kind == NormalizationKind::Log1pZscore {
            let sign = self.op("Sign", &[&x], vec![]);
            let abs = self.op("Abs", &[&x], vec![]);
            let log = self.ln_1p(&abs);
            x = self.op("Mul", &[&sign, &log], vec![]);
        }
        let mean = self.constant("normalization.mean", &[f], normalizer.mean.clone());
        let std = self.constant("normalization.std", &[f], normalizer.std.clone());
        let centred = self.op("Sub", &[&x, &mean], vec![]);
        self.op("Div", &[&centred, &std], vec![])
    }

    /// `ln(1 + u)` to f32's precision for small `u`, as the trainer's `ln_1p` (ONNX has no
    /// Log1p): Kahan's `ln(w) · u / (w − 1)` with `w = 1 + u`, or `u` where `w − 1` rounds
    /// to 0. A plain `Log(1 + u)` loses digits that a small feature std then magnifies.
    fn ln_1p(&mut self, u: &str) -> String {
        let one = self.constant("one", &[], vec![1.0]);
        let zero = self.constant("zero", &[], vec![0.0]);
        let w = self.op("Add", &[u, &one], vec![]);
        let d = self.op("Sub", &[&w, &one], vec![]);
        let log = self.op("Log", &[&w], vec![]);
        let scaled = self.op("Mul", &[&log, u], vec![]);
        let ratio = self.op("Div", &[&scaled, &d], vec![]);
        let rounded = self.op("Equal", &[&d, &zero], vec![]);
        self.op("Where", &[&rounded, u, &ratio], vec![])
    }

    /// GELU as the trainer computes it: `x/2 · (1 + erf(x/√2))`.
    fn gelu(&mut self, x: &str) -> String {
        let root2 = self.constant(
            &format!("sqrt2_{}", self.nodes.len()),
            &[],
            vec![2f32.sqrt()],
        );
        let half = self.constant(&format!("half_{}", self.nodes.len()), &[], vec![0.5]);
        let one = self.constant(&format!("one_{}", self.nodes.len()), &[], vec![1.0]);
        let scaled = self.op("Div", &[x, &root2], vec![]);
        let erf = self.op("Erf", &[&scaled], vec![]);
        let plus = self.op("Add", &[&erf, &one], vec![]);
        let times = self.op("Mul", &[x, &plus], vec![]);
        self.op("Mul", &[&times, &half], vec![])
    }
}

fn float_attribute(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f,
        r#type: 1,
        ..Default::default()
    }
}

fn int_attribute(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: 2,
        ..Default::default()
    }
}

/// A named tensor of a safetensors file: its shape and values.
type Weights = HashMap<String, (Vec<usize>, Vec<f32>)>;

fn read_weights(safetensors: &[u8]) -> anyhow::Result<Weights> {
    let tensors = SafeTensors::deserialize(safetensors).context("the scorer's weights")?;
    Ok(tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, (view.shape().to_vec(), values))
        })
        .collect())
}

/// The ONNX model of a list scorer of `architecture`, whose weights are the safetensors bytes
/// an export writes (`hidden.{i}.weight` `[in, out]`, ...), over raw features normalised by
/// `normalizer`.
pub fn model_bytes(
    architecture: &ModelConfig,
    normalizer: &FeatureNormalizer,
    safetensors: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let mut weights = read_weights(safetensors)?;
    let mut take = |name: &str| {
        weights
            .remove(name)
            .with_context(|| format!("the weights have no tensor {name}"))
    };
    let mut graph = Graph::default();
    let mut x = graph.normalize("features", normalizer);
    for i in 0..architecture.hidden.len() {
        let (shape, w) = take(&format!("hidden.{i}.weight"))?;
        let w = graph.constant(&format!("hidden.{i}.weight"), &shape, w);
        let (shape, b) = take(&format!("hidden.{i}.bias"))?;
        let b = graph.constant(&format!("hidden.{i}.bias"), &shape, b);
        let product = graph.op("MatMul", &[&x, &w], vec![]);
        x = graph.op("Add", &[&product, &b], vec![]);
        if architecture.layer_norm {
            let (shape, gamma) = take(&format!("norms.{i}.gamma"))?;
            let gamma = graph.constant(&format!("norms.{i}.gamma"), &shape, gamma);
            let (shape, beta) = take(&format!("norms.{i}.beta"))?;
            let beta = graph.constant(&format!("norms.{i}.beta"), &shape, beta);
            let attributes = vec![
                int_attribute("axis", -1),
                float_attribute("epsilon", LAYER_NORM_EPSILON as f32),
            ];
            x = graph.op("LayerNormalization", &[&x, &gamma, &beta], attributes);
        }
        x = match architecture.activation {
            Activation::Relu => graph.op("Relu", &[&x], vec![]),
            Activation::Tanh => graph.op("Tanh", &[&x], vec![]),
            Activation::Gelu => graph.gelu(&x),
        };
    }
    let (shape, w) = take("output.weight")?;
    let w = graph.constant("output.weight", &shape, w);
    let (shape, b) = take("output.bias")?;
    let b = graph.constant("output.bias", &shape, b);
    let product = graph.op("MatMul", &[&x, &w], vec![]);
    let column = graph.op("Add", &[&product, &b], vec![]); // [N, 1]
    graph.initializers.push(TensorProto {
        dims: vec![1],
        data_type: INT64,
        int64_data: vec![-1],
        name: "flat".into(),
        ..Default::default()
    });
    graph.op("Reshape", &[&column, "flat"], vec![]);
    Ok(model(graph, normalizer.num_features()).encode_to_vec())
}

/// The model around `graph`: `features [N, F]` in, `scores [N]` out.
fn model(mut graph: Graph, num_features: usize) -> ModelProto {
    // The last node writes the graph's output.
    let last = graph.nodes.last_mut().expect("the graph has nodes");
    last.output = vec!["scores".into()];
    let tensor = |name: &str, dims: Vec<Dimension>| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto { dim: dims }),
            }),
        }),
    };
    let items = || Dimension {
        dim_value: None,
        dim_param: Some("N".into()),
    };
    let width = Dimension {
        dim_value: Some(num_features as i64),
        dim_param: None,
    };
    ModelProto {
        ir_version: IR_VERSION,
        producer_name: "rankdistil".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(GraphProto {
            node: graph.nodes,
            name: "rankdistil_scorer".into(),
            initializer: graph.initializers,
            input: vec![tensor("features", vec![items(), width])],
            output: vec![tensor("scores", vec![items()])],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
    }
}
