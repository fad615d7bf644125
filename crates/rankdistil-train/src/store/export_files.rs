//! What every serving export shares: the weights file (safetensors or burnpack) and the
//! `config.json` beside it. List and catalog exports build their own configs on top.

use std::path::{Path, PathBuf};

use crate::error::{Context, bail};
use burn::module::Module;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};

use crate::store::atomic::{AtomicFile, write_atomic};
use crate::store::digests::verify;
use crate::store::weights::{load_bytes_into, save_model};

pub const EXPORT_CONFIG: &str = "config.json";

/// The `kind` of a catalog export's `config.json`; per-item scorer exports have none.
pub const CATALOG_KIND: &str = "catalog";

/// What an export's weights file is (the CLI's `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Safetensors,
    Burnpack,
    /// An ONNX graph, for serving engines.
    Onnx,
}

impl ExportFormat {
    pub fn file(self) -> &'static str {
        match self {
            ExportFormat::Safetensors => "model.safetensors",
            ExportFormat::Burnpack => "model.bpk",
            ExportFormat::Onnx => "model.onnx",
        }
    }
}

/// Writes `model`'s weights as `format` into `out` (created if needed), atomically; returns the
/// weights file. `run` is recorded in safetensors metadata.
pub fn write_weights<M: Module>(
    model: &M,
    run: &Path,
    format: ExportFormat,
    out: &Path,
) -> crate::Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let weights = out.join(format.file());
    match format {
        ExportFormat::Burnpack => save_model(model, &weights)?,
        ExportFormat::Safetensors => {
            // The store opens a path itself: it writes the temporary file, which then commits.
            let file = AtomicFile::create(&weights)?;
            save_safetensors(model, run, file.temporary_path(), &weights)?;
            file.commit()?;
        }
        ExportFormat::Onnx => bail!("ONNX exports are written from a scorer's graph"),
    }
    Ok(weights)
}

/// `model`'s weights as safetensors bytes (named as a safetensors export names them), through
/// a scratch file in `out`, since the store writes to paths only.
pub fn safetensors_bytes<M: Module>(model: &M, run: &Path, out: &Path) -> crate::Result<Vec<u8>> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let scratch = tempfile::NamedTempFile::new_in(out)
        .with_context(|| format!("{}: cannot create a scratch file", out.display()))?;
    let shown = out.join(ExportFormat::Safetensors.file());
    save_safetensors(model, run, scratch.path(), &shown)?;
    Ok(std::fs::read(scratch.path())?)
}

/// Writes `model`'s weights as safetensors at `path` (a temporary file), naming `run` in its
/// metadata; an error names `shown`, the file the user asked for.
pub fn save_safetensors<M: Module>(
    model: &M,
    run: &Path,
    path: &Path,
    shown: &Path,
) -> crate::Result<()> {
    let mut store = SafetensorsStore::from_file(path)
        .overwrite(true)
        .metadata("producer", "rankdistil")
        .metadata("run", run.display().to_string());
    model.save_into(&mut store).map_err(|e| {
        crate::error::invalid!("{}: cannot write safetensors: {e}", shown.display())
    })?;
    sort_header(path)
}

/// Rewrites the safetensors header at `path` with its keys sorted: the store writes its
/// metadata from a hash map, so the same model would otherwise export to different bytes
/// (and digests) each time. The sorted header has the same length, so no offset moves.
fn sort_header(path: &Path) -> crate::Result<()> {
    let cannot =
        |e: std::io::Error| crate::error::invalid!("{}: cannot rewrite: {e}", path.display());
    let mut bytes = std::fs::read(path).map_err(cannot)?;
    let len = bytes
        .first_chunk::<8>()
        .map(|n| u64::from_le_bytes(*n) as usize)
        .filter(|&n| 8 + n <= bytes.len())
        .ok_or_else(|| {
            crate::error::invalid!("{}: a safetensors file without a header", path.display())
        })?;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len])?;
    let mut sorted = sorted_keys(header).to_string().into_bytes();
    crate::error::ensure!(
        sorted.len() <= len,
        "{}: header grew when sorted",
        path.display()
    );
    // The store pads its header with spaces to an aligned length; keep that length.
    sorted.resize(len, b' ');
    bytes[8..8 + len].copy_from_slice(&sorted);
    std::fs::write(path, bytes).map_err(cannot)
}

/// `value` with every object's keys in sorted order, whatever map serde_json is built with.
fn sorted_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let map = entries
                .into_iter()
                .map(|(k, v)| (k, sorted_keys(v)))
                .collect();
            serde_json::Value::Object(map)
        }
        other => other,
    }
}

/// Reads weights written by [`write_weights`] into `model`, which must match them exactly.
/// The bytes are read once and checked against the digest `config` records, so weights from
/// another export than the config's are refused.
pub fn read_weights<M: Module>(
    model: M,
    dir: &Path,
    name: &str,
    format: ExportFormat,
    config: &ExportConfigText,
) -> crate::Result<M> {
    let weights = dir.join(name);
    let path = &config.path;
    if format == ExportFormat::Onnx {
        bail!(
            "{}: an ONNX export, which onnxruntime serves (scripts/score_with_onnxruntime.py or scripts/recommend_with_onnxruntime.py); rankdistil reads safetensors and burnpack exports",
            path.display()
        );
    }
    let bytes = config.verified(dir, name)?;
    match format {
        ExportFormat::Burnpack => load_bytes_into(bytes, &weights, model, || {
            format!("as described in {}", path.display())
        }),
        _ => read_safetensors(model, bytes, &weights, path),
    }
}

fn read_safetensors<M: Module>(
    mut model: M,
    bytes: Vec<u8>,
    weights: &Path,
    config: &Path,
) -> crate::Result<M> {
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .validate(true)
        .allow_partial(false);
    let result = model.load_from(&mut store).map_err(|e| {
        crate::error::invalid!(
            "{}: not a readable safetensors file for this architecture (truncated or foreign?): {e}",
            weights.display()
        )
    })?;
    if !result.is_success() || !result.missing.is_empty() || !result.unused.is_empty() {
        bail!(
            "{}: the tensors do not match the architecture in {} (missing {:?}, unexpected {:?}, errors {:?})",
            weights.display(),
            config.display(),
            result.missing.iter().map(|m| &m.0).collect::<Vec<_>>(),
            result.unused,
            result.errors.len()
        );
    }
    Ok(model)
}

/// Writes an export's `config.json` into `out`.
pub fn write_config(out: &Path, config: &impl Serialize) -> crate::Result<()> {
    Ok(write_atomic(
        &out.join(EXPORT_CONFIG),
        serde_json::to_string_pretty(config)?.as_bytes(),
    )?)
}

/// An export directory's `config.json`, read but not yet typed.
pub struct ExportConfigText {
    pub path: PathBuf,
    pub text: String,
}

impl ExportConfigText {
    pub fn read(dir: &Path) -> crate::Result<Self> {
        if !dir.exists() {
            crate::error::bail!("{}: not found", dir.display());
        }
        let path = dir.join(EXPORT_CONFIG);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: cannot read; is {} a `rankdistil export` directory?",
                path.display(),
                dir.display()
            )
        })?;
        Ok(Self { path, text })
    }

    /// The bytes of the export's file `name`, read once and checked against the digest this
    /// config records.
    pub fn verified(&self, dir: &Path, name: &str) -> crate::Result<Vec<u8>> {
        let file = dir.join(name);
        let bytes =
            std::fs::read(&file).with_context(|| format!("{}: cannot read", file.display()))?;
        let config: serde_json::Value = serde_json::from_str(&self.text)
            .with_context(|| format!("{}: not a rankdistil export config", self.path.display()))?;
        verify(&config, &self.path, name, &bytes)?;
        Ok(bytes)
    }

    /// Whether it is a catalog scorer's export (`"kind": "catalog"`).
    pub fn is_catalog(&self) -> bool {
        serde_json::from_str::<serde_json::Value>(&self.text)
            .ok()
            .and_then(|v| v.get("kind")?.as_str().map(|k| k == CATALOG_KIND))
            .unwrap_or(false)
    }
}
