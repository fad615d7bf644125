//! ONNX graphs of trained scorers, for the serving engines that run them (onnxruntime, Vespa,
//! Triton): a `Graph` builder over the weights an export writes, assembled into a model of
//! opset [`OPSET`]. `list::onnx` builds a list scorer's graph, `catalog::onnx` a catalog
//! scorer's query tower.

mod proto;

use std::collections::HashMap;

use crate::error::Context;
use prost::Message;
use safetensors::SafeTensors;

use proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
};
pub(crate) use proto::{FLOAT, INT64};

/// The opset graphs are written against: the first with `LayerNormalization`.
pub const OPSET: i64 = 17;
/// The IR version that goes with [`OPSET`].
const IR_VERSION: i64 = 8;
/// protobuf's limit on one message: a graph whose weights pass it cannot be written.
pub const MAX_MODEL_BYTES: u64 = (2 << 30) - (1 << 20);

/// One axis of a graph input or output: a fixed size, or a named free one (`"N"`).
pub(crate) enum Dim<'a> {
    Fixed(usize),
    Free(&'a str),
}

/// A graph input or output: its name, element type ([`FLOAT`], [`INT64`]) and axes.
pub(crate) struct Port<'a> {
    pub name: &'a str,
    pub elem_type: i32,
    pub dims: Vec<Dim<'a>>,
}

/// The graph under construction: nodes in order, and the weights they read.
#[derive(Default)]
pub(crate) struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl Graph {
    /// Adds `op` of `inputs`, with `attributes`; returns its output's name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attributes: Vec<Attribute>) -> String {
        let output = format!("{}_{}", op.to_lowercase(), self.nodes.len());
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: output.clone(),
            op_type: op.into(),
            attribute: attributes.into_iter().map(|a| a.0).collect(),
        });
        output
    }

    /// A float constant of `dims`; returns its name.
    pub fn constant(&mut self, name: &str, dims: &[usize], values: Vec<f32>) -> String {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: FLOAT,
            float_data: values,
            name: name.into(),
            ..Default::default()
        });
        name.into()
    }

    /// A float scalar, named after the node it comes before so repeated uses stay distinct.
    pub fn scalar(&mut self, stem: &str, value: f32) -> String {
        let name = format!("{stem}_{}", self.nodes.len());
        self.constant(&name, &[], vec![value])
    }

    /// An int64 vector constant (axes, shapes); returns its name.
    pub fn int64s(&mut self, stem: &str, values: Vec<i64>) -> String {
        let name = format!("{stem}_{}", self.nodes.len());
        self.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: INT64,
            int64_data: values,
            name: name.clone(),
            ..Default::default()
        });
        name
    }

    /// The weight `name` of `weights` as a constant of the same name.
    pub fn weight(&mut self, weights: &mut Weights, name: &str) -> crate::Result<String> {
        let (shape, values) = weights.take(name)?;
        Ok(self.constant(name, &shape, values))
    }

    /// `x @ {layer}.weight + {layer}.bias`.
    pub fn affine(&mut self, weights: &mut Weights, layer: &str, x: &str) -> crate::Result<String> {
        let w = self.weight(weights, &format!("{layer}.weight"))?;
        let b = self.weight(weights, &format!("{layer}.bias"))?;
        let product = self.op("MatMul", &[x, &w], vec![]);
        Ok(self.op("Add", &[&product, &b], vec![]))
    }

    /// The encoded model of this graph, whose last node writes `output`.
    pub fn into_model(mut self, name: &str, inputs: &[Port], output: &Port) -> Vec<u8> {
        let last = self.nodes.last_mut().expect("the graph has nodes");
        last.output = vec![output.name.into()];
        ModelProto {
            ir_version: IR_VERSION,
            producer_name: "rankdistil".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(GraphProto {
                node: self.nodes,
                name: name.into(),
                initializer: self.initializers,
                input: inputs.iter().map(value_info).collect(),
                output: vec![value_info(output)],
            }),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
        }
        .encode_to_vec()
    }
}

fn value_info(port: &Port) -> ValueInfoProto {
    let dim = |d: &Dim| match d {
        Dim::Fixed(n) => Dimension {
            dim_value: Some(*n as i64),
            dim_param: None,
        },
        Dim::Free(name) => Dimension {
            dim_value: None,
            dim_param: Some((*name).into()),
        },
    };
    ValueInfoProto {
        name: port.name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: port.elem_type,
                shape: Some(TensorShapeProto {
                    dim: port.dims.iter().map(dim).collect(),
                }),
            }),
        }),
    }
}

/// A node attribute.
pub(crate) struct Attribute(AttributeProto);

impl Attribute {
    pub fn float(name: &str, f: f32) -> Self {
        Self(AttributeProto {
            name: name.into(),
            f,
            r#type: 1,
            ..Default::default()
        })
    }

    pub fn int(name: &str, i: i64) -> Self {
        Self(AttributeProto {
            name: name.into(),
            i,
            r#type: 2,
            ..Default::default()
        })
    }
}

/// The named f32 tensors of a safetensors file, each taken once by the graph that uses it.
pub(crate) struct Weights(HashMap<String, (Vec<usize>, Vec<f32>)>);

impl Weights {
    pub fn read(safetensors: &[u8]) -> crate::Result<Self> {
        let tensors = SafeTensors::deserialize(safetensors).context("the scorer's weights")?;
        Ok(Self(
            tensors
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
                .collect(),
        ))
    }

    /// The shape and values of `name`.
    pub fn take(&mut self, name: &str) -> crate::Result<(Vec<usize>, Vec<f32>)> {
        self.0
            .remove(name)
            .with_context(|| format!("the weights have no tensor {name}"))
    }
}
