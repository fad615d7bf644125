//! Serving exports of catalog scorers: the weights, `items.txt` (the catalog's item ids in index
//! order) and a `config.json` that says how the weights turn a user's history into scores over
//! the catalog, so `rankdistil recommend` or numpy can serve them.

use std::path::{Path, PathBuf};

use crate::error::{Context, bail};
use burn::prelude::*;
use rankdistil_models::CatalogScorer;
use serde::{Deserialize, Serialize};

use crate::catalog::config::CatalogModel;
use crate::catalog::model_dir::{self, CatalogModelMeta, ITEMS_FILE};
use crate::catalog::onnx::{self, ITEM_TABLE_FILE};
use crate::memory::check_described_model;
use crate::role::Role;
use crate::store::atomic::write_atomic;
use crate::store::export_files::{
    CATALOG_KIND, ExportConfigText, ExportFormat, read_weights, safetensors_bytes, write_config,
    write_weights,
};
use crate::store::staged_export::StagedExport;

const FORWARD: &str = "q = mean of history.weight[h] over the user's history items h (positives, rating >= positives_min_rating; a zero vector for none); for each tower layer i: q = q @ tower.{i}.weight + tower.{i}.bias, with relu between layers but not after the last (weights are [in, out]); score[j] = q . items.weight[j] + bias.weight[j, 0] for every catalog item j, whose id is line j + 1 of the items file";

const FORWARD_ONNX: &str = "q = model.onnx(history, mask): input \"history\" int64 [B, H] catalog indices (line j + 1 of the items file is index j; any index in padded slots), input \"mask\" float [B, H] (1 for a history item, 0 for padding), output \"query\" [B, D]; score[j] = q . items.weight[j] + bias.weight[j, 0] with both tensors in the item table file";

/// `config.json` of a catalog export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogExportConfig {
    /// Always [`CATALOG_KIND`].
    pub kind: String,
    pub format: ExportFormat,
    /// The weights file, relative to the export directory.
    pub weights: String,
    /// The item ids, one per line in catalog order, relative to the export directory.
    pub items: String,
    /// An ONNX export's item table (`items.weight` `[L, D]`, `bias.weight` `[L, 1]`), which
    /// scores the query the graph returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_table: Option<String>,
    pub catalog_size: usize,
    /// D, the query and item embedding width.
    pub dim: usize,
    /// The model's `hidden`: `hidden[0]` is the history embedding width (D when empty), and the
    /// tower maps it through the rest to D.
    pub hidden: Vec<usize>,
    pub forward: String,
    /// Interactions rated at least this form the history, as in training.
    pub positives_min_rating: f32,
    pub role: Role,
    pub method: Option<String>,
    pub seed: Option<u64>,
    pub metrics: CatalogExportMetrics,
}

/// Full-catalog metrics on the training run's held-out positives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogExportMetrics {
    pub ndcg_at_10: f64,
    pub recall_at_20: f64,
}

/// Exports the catalog model folder `dir` as the export `out`, replacing any earlier export
/// there as a whole; returns the model's metadata and the weights file.
pub fn export(
    dir: &Path,
    format: ExportFormat,
    out: &Path,
    device: &Device,
) -> crate::Result<(CatalogModelMeta, std::path::PathBuf)> {
    let (model, meta) = model_dir::load(dir, device)?;
    let ids = model_dir::load_item_ids(dir, meta.num_items)?;
    StagedExport::build(out, |staged| {
        write_export(&model, &meta, &ids, (dir, format), staged)
    })?;
    Ok((meta, out.join(format.file())))
}

fn write_export(
    model: &CatalogScorer,
    meta: &CatalogModelMeta,
    ids: &[String],
    (dir, format): (&Path, ExportFormat),
    out: &Path,
) -> crate::Result<()> {
    let (_weights, item_table) = match format {
        ExportFormat::Onnx => write_onnx(model, meta, dir, out)?,
        _ => (write_weights(model, dir, format, out)?, None),
    };
    let mut items = ids.join("\n");
    items.push('\n');
    write_atomic(&out.join(ITEMS_FILE), items.as_bytes())?;
    let config = CatalogExportConfig {
        kind: CATALOG_KIND.into(),
        format,
        weights: format.file().into(),
        items: ITEMS_FILE.into(),
        item_table,
        catalog_size: meta.num_items,
        dim: meta.model.dim,
        hidden: meta.model.hidden.clone(),
        forward: match format {
            ExportFormat::Onnx => FORWARD_ONNX.into(),
            _ => FORWARD.into(),
        },
        positives_min_rating: meta.data.min_rating,
        role: meta.role,
        method: meta.method.clone(),
        seed: meta.seed,
        metrics: CatalogExportMetrics {
            ndcg_at_10: meta.ndcg_at_10,
            recall_at_20: meta.recall_at_20,
        },
    };
    write_config(out, &config)
}

/// Writes the query tower as `model.onnx` and the item table beside it; returns the model's
/// file and the table's name.
fn write_onnx(
    model: &CatalogScorer,
    meta: &CatalogModelMeta,
    dir: &Path,
    out: &Path,
) -> crate::Result<(PathBuf, Option<String>)> {
    let weights = safetensors_bytes(model, dir, out)?;
    let tower_layers = meta.model.hidden.len().max(1);
    let files = onnx::export_bytes(tower_layers, &weights)
        .with_context(|| format!("{}: cannot export as ONNX", dir.display()))?;
    let path = out.join(ExportFormat::Onnx.file());
    write_atomic(&path, &files.tower)?;
    write_atomic(&out.join(ITEM_TABLE_FILE), &files.item_table)?;
    Ok((path, Some(ITEM_TABLE_FILE.into())))
}

/// Loads a catalog export onto `device`: the scorer, its config and its item ids.
pub fn load(
    dir: &Path,
    device: &Device,
) -> crate::Result<(CatalogScorer, CatalogExportConfig, Vec<String>)> {
    let file = ExportConfigText::read(dir)?;
    let path = file.path.clone();
    if !file.is_catalog() {
        bail!(
            "{}: not a catalog scorer's export (it has no \"kind\": \"{CATALOG_KIND}\"); a per-item scorer's export is served by `rankdistil score --model {}`",
            path.display(),
            dir.display()
        );
    }
    let config: CatalogExportConfig = serde_json::from_str(&file.text)
        .with_context(|| format!("{}: malformed catalog export config", path.display()))?;
    if config.format == ExportFormat::Onnx {
        bail!(
            "{}: an ONNX export, which onnxruntime serves (scripts/recommend_with_onnxruntime.py); `recommend` reads safetensors and burnpack exports",
            path.display()
        );
    }
    if config.dim == 0 || config.catalog_size == 0 || config.hidden.contains(&0) {
        bail!(
            "{}: catalog_size, dim and every hidden width must be at least 1",
            path.display()
        );
    }
    let architecture = CatalogModel {
        dim: config.dim,
        hidden: config.hidden.clone(),
        dropout: 0.0,
    };
    check_described_model(&path, architecture.scorer(config.catalog_size).num_params())?;
    let items_path = dir.join(&config.items);
    let items_text = String::from_utf8(file.verified(dir, &config.items)?)
        .with_context(|| format!("{}: not UTF-8 text", items_path.display()))?;
    let ids = model_dir::read_item_ids(&items_path, &items_text, config.catalog_size)?;
    let model = architecture.scorer(config.catalog_size).init(device);
    let model = read_weights(model, dir, &config.weights, config.format, &file)?;
    Ok((model, config, ids))
}
