//! A list run's directory: `config.toml` (the resolved config), `normalizer.json`, `run.json`
//! (architecture, normalisation, metrics), `model.bpk` (the best epoch), `metrics.jsonl` and
//! `checkpoint/`.

use std::path::{Path, PathBuf};

use crate::error::{Context, bail};
use burn::prelude::*;
use rankdistil_data::FeatureNormalizer;
use rankdistil_metrics::MetricSummary;
use rankdistil_models::{MlpScorer, MlpScorerConfig};
use serde::{Deserialize, Serialize};

use crate::fit::MODEL_FILE;
use crate::list::config::{DataConfig, ModelConfig};
use crate::memory::check_described_model;
use crate::progress::notice;
use crate::role::Role;
use crate::settings::{self, Checked};
use crate::store::atomic::write_atomic;
use crate::store::checkpoint::Checkpoint;
use crate::store::metrics_log::METRICS_FILE;
use crate::store::run_lock::RunLock;
use crate::store::weights::load_into;

pub const META_FILE: &str = "run.json";
pub const CONFIG_FILE: &str = "config.toml";
pub const NORMALIZER_FILE: &str = "normalizer.json";

/// What a run directory says about its model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMeta {
    pub role: Role,
    /// The training objective (`softmax_ce`, `coupled`, ...).
    pub method: String,
    pub d_input: usize,
    pub model: ModelConfig,
    pub num_params: usize,
    pub normalizer: FeatureNormalizer,
    pub backend: String,
    pub adapter: String,
    /// Where the GPU's compiled kernels and autotune results persist; `None` on the CPU.
    #[serde(default)]
    pub kernel_cache: Option<PathBuf>,
    pub best_epoch: usize,
    pub valid: MetricSummary,
    pub test: Option<MetricSummary>,
    pub data_source: String,
    /// The data the run used; `distill` reuses a teacher's.
    pub data: DataConfig,
    /// A student's teacher: its run directory, or the outside teacher's score file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
}

impl RunMeta {
    pub fn scorer_config(&self) -> MlpScorerConfig {
        self.model.scorer(self.d_input)
    }
}

/// Loads a run's best model onto `device`, checking the file matches the recorded architecture.
pub fn load_model(run: &Path, meta: &RunMeta, device: &Device) -> crate::Result<MlpScorer> {
    let config = meta.scorer_config();
    let model = config.init(device);
    let expected = model.num_params();
    load_into(&run.join(MODEL_FILE), model, || {
        format!(
            "{} inputs, hidden {:?}, {} parameters",
            config.d_input, config.hidden, expected
        )
    })
}

pub fn save_normalizer(run: &Path, normalizer: &FeatureNormalizer) -> crate::Result<()> {
    Ok(write_atomic(
        &run.join(NORMALIZER_FILE),
        serde_json::to_string(normalizer)?.as_bytes(),
    )?)
}

/// The normalisation a run started with, so a resumed run keeps its statistics.
pub fn load_normalizer(run: &Path) -> crate::Result<FeatureNormalizer> {
    let path = run.join(NORMALIZER_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: malformed", path.display()))
}

pub fn save_meta(run: &Path, meta: &RunMeta) -> crate::Result<()> {
    Ok(write_atomic(
        &run.join(META_FILE),
        serde_json::to_string_pretty(meta)?.as_bytes(),
    )?)
}

pub fn load_meta(run: &Path) -> crate::Result<RunMeta> {
    if !run.exists() {
        bail!("{}: not found", run.display());
    }
    let path = run.join(META_FILE);
    if !path.exists() && run.join(CONFIG_FILE).is_file() {
        bail!(
            "{}: the run has not finished ({META_FILE} is written when it does); continue it with --resume --out {}",
            run.display(),
            run.display()
        );
    }
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read; is {} a run directory written by `rankdistil train` or `distill`?",
            path.display(),
            run.display()
        )
    })?;
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
    meta.data
        .check()
        .map_err(|e| crate::error::invalid!("{}: {e}", path.display()))?;
    meta.model
        .check("model")
        .map_err(|e| crate::error::invalid!("{}: {e}", path.display()))?;
    check_described_model(&path, meta.scorer_config().num_params())?;
    Ok(meta)
}

/// Where a `train` or `distill` run goes and which config it reads, with the directory locked
/// for this process.
#[derive(Debug)]
pub struct RunTarget {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub resume: bool,
    /// A `--config` given with `--resume`: it must say what the run's own config says.
    pub given_config: Option<PathBuf>,
    pub lock: RunLock,
}

impl RunTarget {
    /// `--out` or `runs/<config name>`, locked; with `--resume` the run's own `config.toml`.
    /// A run killed before its first complete checkpoint restarts from epoch 1 under
    /// `--resume`.
    pub fn resolve(out: Option<&Path>, config: Option<&Path>, resume: bool) -> crate::Result<Self> {
        let dir = match (out, config) {
            (Some(o), _) => o.to_path_buf(),
            (None, Some(c)) => PathBuf::from("runs").join(c.file_stem().unwrap_or_default()),
            (None, None) => bail!("give --config (or --resume with --out)"),
        };
        if resume && !dir.join(CONFIG_FILE).is_file() {
            bail!(
                "{}: no run to resume (no {CONFIG_FILE}); start it with --config",
                dir.display()
            );
        }
        if !resume {
            // Refused before any data is loaded; `create_run_dir` checks again under the lock.
            refuse_existing(&dir)?;
        }
        let lock = RunLock::acquire(&dir)?;
        if !resume {
            let config = config.context("--config is required unless --resume is given")?;
            return Ok(Self {
                dir,
                config: config.to_path_buf(),
                resume,
                given_config: None,
                lock,
            });
        }
        if Checkpoint::of(&dir).state()?.is_none() {
            notice!(
                "{}: no complete checkpoint yet; restarting from epoch 1 (the partial epoch is discarded)",
                dir.display()
            );
        }
        Ok(Self {
            config: dir.join(CONFIG_FILE),
            given_config: config.map(Path::to_path_buf),
            dir,
            resume,
            lock,
        })
    }

    /// Under `--resume`, what a complete run says instead of resuming: the command then
    /// changes nothing and succeeds.
    pub fn complete(&self) -> Option<String> {
        self.resume.then(|| complete_notice(&self.dir)).flatten()
    }

    /// The run's config, read and checked: the given file, or under `--resume` the run's own
    /// `config.toml`; a `--config` given with `--resume` must then hold the same settings, or
    /// the run is refused with the first key that differs.
    pub fn load_config<T: Checked + Serialize>(&self) -> crate::Result<T> {
        let config: T = settings::load(&self.config)?;
        let Some(given) = &self.given_config else {
            return Ok(config);
        };
        let other: T = settings::load(given)?;
        let (run, new) = (
            toml::Value::try_from(&config)?,
            toml::Value::try_from(&other)?,
        );
        if let Some((key, before, now)) = first_difference("", &run, &new) {
            bail!(
                "{}: --resume with --config {}, whose {key} = {now} differs from the run's {before} ({}); resume without --config, or start a new run with another --out",
                self.dir.display(),
                given.display(),
                self.config.display()
            );
        }
        Ok(config)
    }
}

/// The first key whose value differs between two configs, with both values (`none` for a
/// key one of them lacks).
fn first_difference(
    prefix: &str,
    a: &toml::Value,
    b: &toml::Value,
) -> Option<(String, String, String)> {
    let show = |v: Option<&toml::Value>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
    match (a, b) {
        (toml::Value::Table(x), toml::Value::Table(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let key = match prefix {
                    "" => k.clone(),
                    p => format!("{p}.{k}"),
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => first_difference(&key, u, v),
                    (u, v) => Some((key, show(u), show(v))),
                }
            })
        }
        _ if a == b => None,
        _ => Some((prefix.to_string(), show(Some(a)), show(Some(b)))),
    }
}

/// What a resume of the complete run in `dir` says, if it is complete: its `run.json` is
/// written when it finishes, and a resume would train past its last epoch and rewrite its
/// files.
pub fn complete_notice(dir: &Path) -> Option<String> {
    dir.join(META_FILE).is_file().then(|| {
        format!(
            "{}: the run is complete ({META_FILE} is written); nothing to resume, and nothing was changed (evaluate it with `rankdistil eval --run {}`)",
            dir.display(),
            dir.display()
        )
    })
}

/// Refuses to resume the run in `dir` when it is complete ([`complete_notice`]).
pub fn check_unfinished(dir: &Path) -> crate::Result<()> {
    match complete_notice(dir) {
        Some(notice) => bail!("{notice}"),
        None => Ok(()),
    }
}

/// Refuses a new run in a directory that holds one.
fn refuse_existing(dir: &Path) -> crate::Result<()> {
    if dir.join(META_FILE).exists() || dir.join(METRICS_FILE).exists() {
        bail!(
            "{} already holds a run; continue it with --resume, or choose another --out (nothing was overwritten)",
            dir.display()
        );
    }
    Ok(())
}

/// Creates a run directory holding its config and normalisation, refusing one that already
/// holds a run.
pub fn create_run_dir(
    dir: &Path,
    config_text: &str,
    normalizer: &FeatureNormalizer,
) -> crate::Result<()> {
    refuse_existing(dir)?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the run directory", dir.display()))?;
    write_atomic(&dir.join(CONFIG_FILE), config_text.as_bytes())?;
    save_normalizer(dir, normalizer)
}
