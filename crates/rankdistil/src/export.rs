//! Serving exports: the student's weights (safetensors or burnpack) beside a `config.json` that
//! says everything needed to score with them anywhere, numpy included.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use clap::ValueEnum;
use rankdistil_data::FeatureNormalizer;
use rankdistil_metrics::MetricSummary;
use rankdistil_models::{LAYER_NORM_EPSILON, MlpScorer, MlpScorerConfig};
use serde::{Deserialize, Serialize};

use crate::config::ModelConfig;
use crate::run_dir::{RunMeta, load_into, save_model, scorer_config, write_atomic};

pub const EXPORT_CONFIG: &str = "config.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Safetensors,
    Burnpack,
}

impl ExportFormat {
    pub fn file(self) -> &'static str {
        match self {
            ExportFormat::Safetensors => "model.safetensors",
            ExportFormat::Burnpack => "model.bpk",
        }
    }
}

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
    pub role: String,
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

/// Writes `model`'s weights as `format` into `out` (created if needed), atomically; returns the
/// weights file.
pub fn write_weights<M: Module>(
    model: &M,
    run: &Path,
    format: ExportFormat,
    out: &Path,
) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let weights = out.join(format.file());
    match format {
        ExportFormat::Burnpack => save_model(model, &weights)?,
        ExportFormat::Safetensors => {
            let tmp = out.join(format!("{}.tmp", format.file()));
            let mut store = SafetensorsStore::from_file(&tmp)
                .metadata("producer", "rankdistil")
                .metadata("run", run.display().to_string());
            model
                .save_into(&mut store)
                .map_err(|e| anyhow::anyhow!("{}: cannot write safetensors: {e}", tmp.display()))?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &weights)?;
        }
    }
    Ok(weights)
}

/// Reads weights written by [`write_weights`] into `model`, which must match them exactly;
/// `config` names the `config.json` that described them, for the error.
pub fn read_weights<M: Module>(
    model: M,
    weights: &Path,
    format: ExportFormat,
    config: &Path,
) -> anyhow::Result<M> {
    match format {
        ExportFormat::Burnpack => load_into(weights, model, || {
            format!("as described in {}", config.display())
        }),
        ExportFormat::Safetensors => {
            let mut model = model;
            let bytes = std::fs::read(weights)
                .with_context(|| format!("{}: cannot read the weights", weights.display()))?;
            let mut store = SafetensorsStore::from_bytes(Some(bytes))
                .validate(true)
                .allow_partial(false);
            let result = model.load_from(&mut store).map_err(|e| {
                anyhow::anyhow!(
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
    }
}

/// Writes the run's best model and its `config.json` into `out`.
pub fn export(
    run: &Path,
    meta: &RunMeta,
    model: &MlpScorer,
    format: ExportFormat,
    out: &Path,
) -> anyhow::Result<PathBuf> {
    let weights = write_weights(model, run, format, out)?;
    let layer_norm = meta.model.layer_norm;
    let config = ExportConfig {
        format,
        weights: format.file().into(),
        input_dim: meta.d_input,
        architecture: meta.model.clone(),
        forward: if layer_norm {
            FORWARD_LAYER_NORM
        } else {
            FORWARD
        }
        .into(),
        layer_norm_epsilon: layer_norm.then_some(LAYER_NORM_EPSILON),
        normalization: meta.normalizer.clone(),
        catalog_size: None,
        role: meta.role.clone(),
        method: meta.method.clone(),
        metrics: ExportMetrics {
            valid: meta.valid.clone(),
            test: meta.test.clone(),
        },
    };
    write_atomic(
        &out.join(EXPORT_CONFIG),
        serde_json::to_string_pretty(&config)?.as_bytes(),
    )?;
    Ok(weights)
}

/// The path and text of an export directory's `config.json`.
pub fn read_export_config(dir: &Path) -> anyhow::Result<(PathBuf, String)> {
    let path = dir.join(EXPORT_CONFIG);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read; is {} a `rankdistil export` directory?",
            path.display(),
            dir.display()
        )
    })?;
    Ok((path, text))
}

/// Loads an export directory onto `device`.
pub fn load_export(dir: &Path, device: &Device) -> anyhow::Result<(MlpScorer, ExportConfig)> {
    let (path, text) = read_export_config(dir)?;
    if crate::catalog_export::is_catalog_config(&text) {
        bail!(
            "{}: a catalog scorer's export (users' histories in, items out); use `rankdistil recommend --model {}`",
            path.display(),
            dir.display()
        );
    }
    let config: ExportConfig = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a rankdistil export config", path.display()))?;
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
    let scorer: MlpScorerConfig = scorer_config(config.input_dim, &config.architecture);
    let model = read_weights(
        scorer.init(device),
        &dir.join(&config.weights),
        config.format,
        &path,
    )?;
    Ok((model, config))
}
