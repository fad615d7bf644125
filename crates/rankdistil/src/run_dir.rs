//! A run directory: `config.toml`, `normalizer.json`, `run.json` (architecture, normalisation, metrics),
//! `model.bpk` (the best epoch's weights) and `metrics.jsonl` (one line per epoch).
//!
//! Every file is written to a temporary name, fsynced, then renamed, so a kill at any moment
//! leaves the previous version intact.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
use rankdistil_data::FeatureNormalizer;
use rankdistil_metrics::MetricSummary;
use rankdistil_models::{MlpScorer, MlpScorerConfig};
use serde::{Deserialize, Serialize};

use crate::config::{DataConfig, ModelConfig};

pub const MODEL_FILE: &str = "model.bpk";
pub const META_FILE: &str = "run.json";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const CONFIG_FILE: &str = "config.toml";
pub const NORMALIZER_FILE: &str = "normalizer.json";

/// What a run directory says about its model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMeta {
    /// `teacher` or `student`.
    pub role: String,
    /// The training objective (`softmax_ce`, `coupled`, ...).
    pub method: String,
    pub d_input: usize,
    pub model: ModelConfig,
    pub num_params: usize,
    pub normalizer: FeatureNormalizer,
    pub backend: String,
    pub adapter: String,
    pub best_epoch: usize,
    pub valid: MetricSummary,
    pub test: Option<MetricSummary>,
    pub data_source: String,
    /// The data the run used; `distill` reuses a teacher's.
    pub data: DataConfig,
}

impl RunMeta {
    pub fn scorer_config(&self) -> MlpScorerConfig {
        scorer_config(self.d_input, &self.model)
    }
}

pub fn scorer_config(d_input: usize, m: &ModelConfig) -> MlpScorerConfig {
    MlpScorerConfig::new(d_input, m.hidden.clone())
        .with_activation(m.activation)
        .with_dropout(m.dropout)
        .with_layer_norm(m.layer_norm)
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = tmp_path(path);
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("{}: cannot create", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .with_context(|| format!("{}: cannot write", tmp.display()))?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("{}: cannot rename into place", path.display()))?;
    Ok(())
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Saves a model's weights atomically as burnpack.
pub fn save_model<M: Module>(model: &M, path: &Path) -> anyhow::Result<()> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("{}: cannot encode the model: {e:?}", path.display()))?;
    write_atomic(path, &bytes)
}

/// Loads a run's model onto `device`, checking the file matches the recorded architecture.
pub fn load_model(run: &Path, meta: &RunMeta, device: &Device) -> anyhow::Result<MlpScorer> {
    load_weights(&run.join(MODEL_FILE), &meta.scorer_config(), device)
}

/// Reads a burnpack file's record.
pub fn read_record(path: &Path) -> anyhow::Result<ModuleRecord> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{}: cannot read the checkpoint", path.display()))?;
    ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a readable burnpack checkpoint (truncated or foreign file?): {e:?}",
            path.display()
        )
    })
}

/// Loads burnpack weights into `model`. A record for another architecture makes burn panic;
/// it is reported as a mismatch instead.
pub fn load_into<M: Module>(
    path: &Path,
    model: M,
    describe: impl FnOnce() -> String,
) -> anyhow::Result<M> {
    let record = read_record(path)?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let loaded =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.load_record(record)));
    std::panic::set_hook(previous);
    loaded.map_err(|_| {
        anyhow::anyhow!(
            "{}: the weights do not fit the recorded architecture ({})",
            path.display(),
            describe()
        )
    })
}

/// Loads burnpack weights into a model of `config` on `device`.
pub fn load_weights(
    path: &Path,
    config: &MlpScorerConfig,
    device: &Device,
) -> anyhow::Result<MlpScorer> {
    let model = config.init(device);
    let expected = model.num_params();
    load_into(path, model, || {
        format!(
            "{} inputs, hidden {:?}, {} parameters",
            config.d_input, config.hidden, expected
        )
    })
}

/// Writes the feature normalisation at the start of a run, so it is there at every epoch.
pub fn save_normalizer(run: &Path, normalizer: &FeatureNormalizer) -> anyhow::Result<()> {
    write_atomic(
        &run.join(NORMALIZER_FILE),
        serde_json::to_string(normalizer)?.as_bytes(),
    )
}

pub fn save_meta(run: &Path, meta: &RunMeta) -> anyhow::Result<()> {
    write_atomic(
        &run.join(META_FILE),
        serde_json::to_string_pretty(meta)?.as_bytes(),
    )
}

/// Reads a file of a run directory, saying what `run` should have been when it is missing.
fn read_run_file(run: &Path, path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!(
            "{}: cannot read; is {} a run directory written by `rankdistil train` or `distill`?",
            path.display(),
            run.display()
        )
    })
}

pub fn load_meta(run: &Path) -> anyhow::Result<RunMeta> {
    let path = run.join(META_FILE);
    let text = read_run_file(run, &path)?;
    let meta: RunMeta = serde_json::from_str(&text)
        .with_context(|| format!("{}: malformed run metadata", path.display()))?;
    if meta.normalizer.num_features() != meta.d_input {
        bail!(
            "{}: normalisation has {} features but the model takes {}",
            path.display(),
            meta.normalizer.num_features(),
            meta.d_input
        );
    }
    Ok(meta)
}

/// The run directory and config file of `train`/`distill`: `--out` or `runs/<config name>`, and
/// with `--resume` the run's own `config.toml`, which must sit beside a complete checkpoint.
pub fn resolve_run(
    out: Option<&Path>,
    config: Option<&Path>,
    resume: bool,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let out = match (out, config) {
        (Some(o), _) => o.to_path_buf(),
        (None, Some(c)) => PathBuf::from("runs").join(c.file_stem().unwrap_or_default()),
        (None, None) => bail!("give --config (or --resume with --out)"),
    };
    if !resume {
        let config = config.context("--config is required unless --resume is given")?;
        return Ok((out, config.to_path_buf()));
    }
    if crate::checkpoint::load_state(&out)?.is_none() {
        bail!("{}: no complete checkpoint to resume from", out.display());
    }
    let config = out.join(CONFIG_FILE);
    Ok((out, config))
}

/// Creates a fresh run directory, refusing to overwrite an existing run.
pub fn create_run_dir(path: &Path) -> anyhow::Result<()> {
    if path.join(META_FILE).exists() || path.join(METRICS_FILE).exists() {
        bail!(
            "{} already holds a run; choose another --out (nothing was overwritten)",
            path.display()
        );
    }
    std::fs::create_dir_all(path)
        .with_context(|| format!("{}: cannot create the run directory", path.display()))
}

/// Drops metrics lines of epochs after `epoch` (written before a kill, not checkpointed).
pub fn truncate_metrics(run: &Path, epoch: usize) -> anyhow::Result<()> {
    let path = run.join(METRICS_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["epoch"].as_u64())
                .is_some_and(|e| e as usize <= epoch)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    write_atomic(&path, kept.as_bytes())
}

/// Appends one JSON line to the run's metrics log.
pub fn append_metrics(run: &Path, line: &serde_json::Value) -> anyhow::Result<()> {
    let path = run.join(METRICS_FILE);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("{}: cannot open", path.display()))?;
    writeln!(f, "{line}").with_context(|| format!("{}: cannot append", path.display()))?;
    Ok(())
}

/// One epoch of a run's `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub train_loss: f64,
    /// Validation metrics by name (`ndcg@10`, `mrr`, ...).
    pub valid: std::collections::BTreeMap<String, f64>,
}

/// Reads a run's `metrics.jsonl`; a malformed line is an error naming the file and line.
pub fn read_metrics(run: &Path) -> anyhow::Result<Vec<EpochMetrics>> {
    let path = run.join(METRICS_FILE);
    let text = read_run_file(run, &path)?;
    let mut epochs = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = || format!("{}:{}", path.display(), i + 1);
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}: not a JSON line", at()))?;
        let (Some(epoch), Some(train_loss), Some(valid)) = (
            v["epoch"].as_u64(),
            v["train_loss"].as_f64(),
            v["valid"].as_object(),
        ) else {
            bail!(
                "{}: expected an object with \"epoch\", \"train_loss\" and \"valid\"",
                at()
            );
        };
        let valid = valid
            .iter()
            .filter_map(|(k, x)| Some((k.clone(), x.as_f64()?)))
            .collect();
        epochs.push(EpochMetrics {
            epoch: epoch as usize,
            train_loss,
            valid,
        });
    }
    if epochs.is_empty() {
        bail!("{}: no epochs logged yet", path.display());
    }
    Ok(epochs)
}
