//! A run of `rankdistil train`: a scorer trained from graded labels (a teacher, or a
//! label-only student) into its run directory.

use std::path::Path;

use crate::loss_config::ObjectiveConfig;

use crate::backend::Backend;
use crate::list::config::TeacherRunConfig;
use crate::list::data::{Splits, load_splits};
use crate::list::run_dir::load_normalizer;
use crate::list::training::{ListOutcome, ListRun, RunRecord};
use crate::progress::notice;
use crate::role::Role;
use crate::store::checkpoint::Checkpoint;

/// Trains `cfg` into `dir` (continuing it from its last checkpoint when `resume`), and
/// returns the splits it trained on with the outcome.
pub fn train_from_labels(
    cfg: &TeacherRunConfig,
    dir: &Path,
    resume: bool,
    progress: bool,
    backend: &Backend,
) -> crate::Result<(Splits, ListOutcome)> {
    // A resumed run keeps the statistics it started with.
    // One killed before its first checkpoint restarts, and computes them afresh.
    let checkpointed = resume && Checkpoint::of(dir).state()?.is_some();
    let stored = checkpointed.then(|| load_normalizer(dir)).transpose()?;
    let splits = load_splits(&cfg.data, cfg.train.seed, stored.as_ref())?;
    let scorer = cfg.model.scorer(splits.train.num_features);
    notice!(
        "train: {} ({} train / {} valid queries, {} features), {} parameters, backend {} ({})",
        splits.source,
        splits.train.num_queries(),
        splits.valid.num_queries(),
        scorer.d_input,
        scorer.num_params(),
        backend.name,
        backend.adapter
    );
    let mut objective = ObjectiveConfig::label_only(cfg.loss);
    objective.seed = cfg.train.seed;
    let outcome = ListRun {
        label: "train",
        splits: &splits,
        teacher: None,
        model: &cfg.model,
        train: &cfg.train,
        objective: &objective,
        record: Some(RunRecord {
            dir,
            resume,
            config_text: &toml::to_string(cfg)?,
            role: Role::Teacher,
            method: cfg.loss.name(),
            data: &cfg.data,
            teacher: None,
        }),
        progress,
    }
    .run(backend)?;
    Ok((splits, outcome))
}
