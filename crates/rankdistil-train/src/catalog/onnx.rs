//! A catalog scorer for serving engines: its query tower as an ONNX model (a user's history
//! ids and their mask in, the D-dim query vector out) and its item table as safetensors, so
//! an engine's nearest-neighbour or dot-product stage scores the catalog.

use crate::error::bail;
use safetensors::{Dtype, tensor::TensorView};

use crate::onnx::{Attribute, Dim, FLOAT, Graph, INT64, MAX_MODEL_BYTES, Port, Weights};

/// The item table's file in an ONNX catalog export.
pub const ITEM_TABLE_FILE: &str = "items.safetensors";

/// The two files of an ONNX catalog export.
pub struct CatalogOnnx {
    /// `model.onnx`: `history` int64 `[B, H]`, `mask` float `[B, H]` in; `query` `[B, D]` out.
    pub tower: Vec<u8>,
    /// `items.safetensors`: `items.weight` `[L, D]` and `bias.weight` `[L, 1]`.
    pub item_table: Vec<u8>,
}

/// Splits the safetensors bytes of a catalog scorer with `tower_layers` tower layers into its
/// query tower's ONNX graph and its item table.
pub fn export_bytes(tower_layers: usize, safetensors: &[u8]) -> crate::Result<CatalogOnnx> {
    let mut weights = Weights::read(safetensors)?;
    let item_table = item_table(&mut weights)?;
    let (shape, table) = weights.take("history.weight")?;
    let bytes = 4 * table.len() as u64;
    if bytes > MAX_MODEL_BYTES {
        bail!(
            "the history table ({} × {} floats, {:.1} GiB) passes protobuf's 2 GiB limit on one ONNX model; export the catalog model as safetensors",
            shape[0],
            shape[1],
            bytes as f64 / (1u64 << 30) as f64
        );
    }
    let mut graph = Graph::default();
    let table = graph.constant("history.weight", &shape, table);
    let mut x = history_bag(&mut graph, &table);
    for i in 0..tower_layers {
        x = graph.affine(&mut weights, &format!("tower.{i}"), &x)?;
        if i + 1 < tower_layers {
            x = graph.op("Relu", &[&x], vec![]);
        }
    }
    let dim = |elem_type| Port {
        name: "",
        elem_type,
        dims: vec![Dim::Free("B"), Dim::Free("H")],
    };
    let history = Port {
        name: "history",
        ..dim(INT64)
    };
    let mask = Port {
        name: "mask",
        ..dim(FLOAT)
    };
    let query = Port {
        name: "query",
        elem_type: FLOAT,
        dims: vec![Dim::Free("B"), Dim::Free("D")],
    };
    let tower = graph.into_model("rankdistil_query_tower", &[history, mask], &query);
    Ok(CatalogOnnx { tower, item_table })
}

/// The mean of the history rows the mask keeps: `[B, E]`, zeros for an empty history.
fn history_bag(graph: &mut Graph, table: &str) -> String {
    let embedded = graph.op(
        "Gather",
        &[table, "history"],
        vec![Attribute::int("axis", 0)],
    );
    let last = graph.int64s("axis2", vec![2]);
    let weights = graph.op("Unsqueeze", &["mask", &last], vec![]); // [B, H, 1]
    let kept = graph.op("Mul", &[&embedded, &weights], vec![]); // [B, H, E]
    let items = graph.int64s("axis1", vec![1]);
    let flat = vec![Attribute::int("keepdims", 0)];
    let sum = graph.op("ReduceSum", &[&kept, &items], flat); // [B, E]
    let kept = vec![Attribute::int("keepdims", 1)];
    let count = graph.op("ReduceSum", &["mask", &items], kept); // [B, 1]
    let one = graph.scalar("one", 1.0);
    let count = graph.op("Max", &[&count, &one], vec![]);
    graph.op("Div", &[&sum, &count], vec![])
}

/// `items.weight` and `bias.weight` as a safetensors file of their own.
fn item_table(weights: &mut Weights) -> crate::Result<Vec<u8>> {
    let tensors = ["items.weight", "bias.weight"].map(|name| {
        weights.take(name).map(|(shape, values)| {
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, shape, bytes)
        })
    });
    let tensors = tensors.into_iter().collect::<crate::Result<Vec<_>>>()?;
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| Ok((*name, TensorView::new(Dtype::F32, shape.clone(), bytes)?)))
        .collect::<crate::Result<Vec<_>>>()?;
    Ok(safetensors::serialize(views, None)?)
}
