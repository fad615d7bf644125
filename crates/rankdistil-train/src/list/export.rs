//! Serving exports: the student's weights (safetensors or burnpack) beside a `config.json` that
//! says everything needed to score with them anywhere, numpy included.

use std::path::{Path, PathBuf};

use crate::error::{Context, bail};
use burn::prelude::*;
use rankdistil_data::{FeatureNormalizer, MAX_FEATURES};
use rankdistil_metrics::MetricSummary;
use rankdistil_models::{LAYER_NORM_EPSILON, MlpScorer};
use serde::{Deserialize, Serialize};

use crate::list::config::ModelConfig;
use crate::list::onnx;
use crate::list::run_dir::RunMeta;
use crate::memory::check_described_model;
use crate::role::Role;
use crate::store::atomic::write_atomic;
use crate::store::export_files::{
    ExportConfigText, ExportFormat, read_weights, safetensors_bytes, write_config, write_weights,
};
use crate::store::staged_export::StagedExport;

/// `config.json` of an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportConfig {
    pub format: ExportFormat,
    /// The weights file, relative to the export directory.
    pub weights: String,
    /// Features per item the scorer takes.
    pub input_dim: usize,
    pub architecture: ModelConfig,
    /// How the weights compute a score: for each hidden layer i, `x = act(x @ hidden.{i}.weight
    /// + hidden.{i}.bias)` (weights are `[in, out]`), with a layer norm before `act` when the
    /// architecture has one, then `score = x @ output.weight + output.bias`.
    pub forward: String,
    /// ε of the layer norms (`norms.{i}.gamma`, `norms.{i}.beta`); absent without them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_norm_epsilon: Option<f64>,
    /// Applied to raw features first: `(f(x) − mean) / std`, with `f = sign·log1p|·|` for
    /// `log1p_zscore` and the identity otherwise.
    pub normalization: FeatureNormalizer,
    /// Items in the catalog for catalog scorers; `null` for a per-item feature scorer.
    pub catalog_size: Option<usize>,
    pub role: Role,
    pub method: String,
    pub metrics: ExportMetrics,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportMetrics {
    pub valid: MetricSummary,
    pub test: Option<MetricSummary>,
}

const FORWARD: &str = "x = normalize(features); for each hidden layer i: x = activation(x @ hidden.{i}.weight + hidden.{i}.bias); score = x @ output.weight + output.bias (weights are [in, out])";

const FORWARD_LAYER_NORM: &str = "x = normalize(features); for each hidden layer i: z = x @ hidden.{i}.weight + hidden.{i}.bias; x = activation((z - mean(z)) / sqrt(var(z) + layer_norm_epsilon) * norms.{i}.gamma + norms.{i}.beta), mean and biased var over the last axis; score = x @ output.weight + output.bias (weights are [in, out])";

const FORWARD_ONNX: &str = "scores = model.onnx(features): input \"features\" [N, input_dim] raw feature values (the normalization is in the graph), output \"scores\" [N]";

/// Writes the ONNX graph of `model` into `out`; returns its file.
fn write_onnx(model: &MlpScorer, run: &Path, meta: &RunMeta, out: &Path) -> crate::Result<PathBuf> {
    // The graph reads the weights by their export names.
    let weights = safetensors_bytes(model, run, out)?;
    let bytes = onnx::model_bytes(&meta.model, &meta.normalizer, &weights)?;
    let path = out.join(ExportFormat::Onnx.file());
    write_atomic(&path, &bytes)?;
    Ok(path)
}

/// Writes the run's best model and its `config.json` as the export `out`, replacing any
/// earlier export there as a whole; returns the weights file.
pub fn export(
    run: &Path,
    meta: &RunMeta,
    model: &MlpScorer,
    format: ExportFormat,
    out: &Path,
) -> crate::Result<PathBuf> {
    StagedExport::build(out, |dir| write_export(run, meta, model, format, dir))?;
    Ok(out.join(format.file()))
}

fn write_export(
    run: &Path,
    meta: &RunMeta,
    model: &MlpScorer,
    format: ExportFormat,
    out: &Path,
) -> crate::Result<()> {
    let _weights = match format {
        ExportFormat::Onnx => write_onnx(model, run, meta, out)?,
        _ => write_weights(model, run, format, out)?,
    };
    let layer_norm = meta.model.layer_norm;
    let forward = match (format, layer_norm) {
        (ExportFormat::Onnx, _) => FORWARD_ONNX,
        (_, true) => FORWARD_LAYER_NORM,
        (_, false) => FORWARD,
    };
    let config = ExportConfig {
        format,
        weights: format.file().into(),
        input_dim: meta.d_input,
        architecture: meta.model.clone(),
        forward: forward.into(),
        layer_norm_epsilon: layer_norm.then_some(LAYER_NORM_EPSILON),
        normalization: meta.normalizer.clone(),
        catalog_size: None,
        role: meta.role,
        method: meta.method.clone(),
        metrics: ExportMetrics {
            valid: meta.valid.clone(),
            test: meta.test.clone(),
        },
    };
    write_config(out, &config)
}

/// Loads an export directory onto `device`.
pub fn load_export(dir: &Path, device: &Device) -> crate::Result<(MlpScorer, ExportConfig)> {
    let file = ExportConfigText::read(dir)?;
    if file.is_catalog() {
        bail!(
            "{}: a catalog scorer's export (users' histories in, items out); use `rankdistil recommend --model {}`",
            file.path.display(),
            dir.display()
        );
    }
    let path = file.path.clone();
    let config: ExportConfig = serde_json::from_str(&file.text)
        .with_context(|| format!("{}: not a rankdistil export config", path.display()))?;
    if !(1..=MAX_FEATURES).contains(&config.input_dim) {
        bail!(
            "{}: input_dim = {}: expected 1 to {MAX_FEATURES} inputs",
            path.display(),
            config.input_dim
        );
    }
    config
        .architecture
        .check("architecture")
        .map_err(|e| crate::error::invalid!("{}: {e}", path.display()))?;
    check_described_model(
        &path,
        config.architecture.scorer(config.input_dim).num_params(),
    )?;
    if config.normalization.num_features() != config.input_dim {
        bail!(
            "{}: normalization has {} features but input_dim is {}",
            path.display(),
            config.normalization.num_features(),
            config.input_dim
        );
    }
    if config.architecture.layer_norm && config.layer_norm_epsilon != Some(LAYER_NORM_EPSILON) {
        bail!(
            "{}: the architecture has layer norms, so layer_norm_epsilon must be {LAYER_NORM_EPSILON} (found {:?})",
            path.display(),
            config.layer_norm_epsilon
        );
    }
    let scorer = config.architecture.scorer(config.input_dim);
    let model = read_weights(
        scorer.init(device),
        dir,
        &config.weights,
        config.format,
        &file,
    )?;
    Ok((model, config))
}
