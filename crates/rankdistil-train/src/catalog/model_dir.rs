//! A saved catalog scorer: `model.bpk`, its metadata (`catalog-teacher.json` or
//! `catalog-student.json`) and `items.txt`, the catalog's item ids in index order, so that
//! exports and recommendations can speak the data's own ids.

use std::path::{Path, PathBuf};

use crate::error::{Context, bail};
use burn::prelude::*;
use rankdistil_models::CatalogScorer;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::catalog::config::{CatalogData, CatalogModel};
use crate::fit::MODEL_FILE;
use crate::memory::check_described_model;
use crate::role::Role;
use crate::store::atomic::write_atomic;
use crate::store::checkpoint::CHECKPOINT_DIR;
use crate::store::weights::{load_into, save_model};

pub const TEACHER_META: &str = "catalog-teacher.json";
pub const STUDENT_META: &str = "catalog-student.json";
pub const ITEMS_FILE: &str = "items.txt";

/// What a saved catalog scorer needs to be rebuilt and fed the same data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogModelMeta {
    pub data: CatalogData,
    pub model: CatalogModel,
    pub num_items: usize,
    pub ndcg_at_10: f64,
    pub recall_at_20: f64,
    pub role: Role,
    /// The student's training method (`label_only`, `sampled`, `softmax_kd`).
    pub method: Option<String>,
    pub seed: Option<u64>,
    /// The epoch kept: the best on validation, or the last.
    #[serde(default)]
    pub epoch: Option<usize>,
    /// Seconds it trained.
    #[serde(default)]
    pub seconds: Option<f64>,
}

/// Writes `model`, its metadata and the item ids into `dir`.
pub fn save(
    dir: &Path,
    model: &CatalogScorer,
    meta: &CatalogModelMeta,
    item_ids: &[String],
) -> crate::Result<()> {
    crate::error::ensure!(
        item_ids.len() == meta.num_items,
        "{} item ids for a catalog of {} items",
        item_ids.len(),
        meta.num_items
    );
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    save_model(model, &dir.join(MODEL_FILE))?;
    let mut items = item_ids.join("\n");
    items.push('\n');
    write_atomic(&dir.join(ITEMS_FILE), items.as_bytes())?;
    let name = if meta.role == Role::Teacher {
        TEACHER_META
    } else {
        STUDENT_META
    };
    Ok(write_atomic(
        &dir.join(name),
        serde_json::to_string_pretty(meta)?.as_bytes(),
    )?)
}

/// The metadata file of a catalog model folder, if it is one.
pub fn meta_path(dir: &Path) -> Option<PathBuf> {
    [TEACHER_META, STUDENT_META]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.exists())
}

pub fn load_meta(dir: &Path) -> crate::Result<CatalogModelMeta> {
    let Some(path) = meta_path(dir) else {
        bail!(
            "{}: no {TEACHER_META} or {STUDENT_META}; is it a catalog model folder (`<catalog run>/teacher` or `<catalog run>/students/<name>`)?",
            dir.display()
        );
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let meta: CatalogModelMeta = serde_json::from_str(&text)
        .with_context(|| format!("{}: malformed catalog model metadata", path.display()))?;
    let model = &meta.model;
    if model.dim == 0 || meta.num_items == 0 || model.hidden.contains(&0) {
        bail!(
            "{}: num_items, dim and every hidden width must be at least 1",
            path.display()
        );
    }
    if !(0.0..1.0).contains(&model.dropout) {
        bail!(
            "{}: model.dropout = {}: expected a number in [0, 1)",
            path.display(),
            model.dropout
        );
    }
    check_described_model(&path, model.scorer(meta.num_items).num_params())?;
    Ok(meta)
}

pub fn load(dir: &Path, device: &Device) -> crate::Result<(CatalogScorer, CatalogModelMeta)> {
    let meta = load_meta(dir)?;
    let model = meta.model.scorer(meta.num_items).init(device);
    let model = load_into(&dir.join(MODEL_FILE), model, || {
        format!(
            "{} items, dim {}, hidden {:?}",
            meta.num_items, meta.model.dim, meta.model.hidden
        )
    })?;
    Ok((model, meta))
}

/// The item ids of a catalog model folder, one per catalog index.
pub fn load_item_ids(dir: &Path, num_items: usize) -> crate::Result<Vec<String>> {
    let path = dir.join(ITEMS_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read the item ids", path.display()))?;
    read_item_ids(&path, &text, num_items)
}

/// Parses `items.txt`: one non-empty, distinct id per line, `num_items` lines.
pub fn read_item_ids(path: &Path, text: &str, num_items: usize) -> crate::Result<Vec<String>> {
    let ids: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect();
    if ids.len() != num_items {
        bail!(
            "{}: {} item ids, expected {num_items} (one per catalog item)",
            path.display(),
            ids.len()
        );
    }
    let mut seen = std::collections::HashMap::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() {
            bail!("{}:{}: an empty item id", path.display(), i + 1);
        }
        if let Some(first) = seen.insert(id.as_str(), i) {
            bail!(
                "{}:{}: item id \"{id}\" repeats line {}",
                path.display(),
                i + 1,
                first + 1
            );
        }
    }
    Ok(ids)
}

/// Saves a finished model's folder; its checkpoints are then of no further use.
pub fn save_model_dir(
    dir: &Path,
    model: &CatalogScorer,
    meta: &CatalogModelMeta,
    item_ids: &[String],
) -> crate::Result<()> {
    save(dir, model, meta, item_ids)?;
    let checkpoint = dir.join(CHECKPOINT_DIR);
    if checkpoint.exists() {
        std::fs::remove_dir_all(&checkpoint)
            .with_context(|| format!("{}: cannot remove", checkpoint.display()))?;
    }
    Ok(())
}

/// Loads the catalog model folder `dir`, which must score this data's `num_items` items (and,
/// given `model`, have that architecture).
pub fn load_matching(
    dir: &Path,
    backend: &Backend,
    num_items: usize,
    model: Option<&CatalogModel>,
) -> crate::Result<CatalogScorer> {
    let (scorer, meta) = load(dir, &backend.device)?;
    crate::error::ensure!(
        meta.num_items == num_items,
        "{}: the model has {} items, this data {num_items}",
        dir.display(),
        meta.num_items
    );
    if let Some(model) = model {
        crate::error::ensure!(
            meta.model == *model,
            "{}: the saved model is {:?}, the config asks for {model:?}",
            dir.display(),
            meta.model
        );
    }
    Ok(scorer)
}
