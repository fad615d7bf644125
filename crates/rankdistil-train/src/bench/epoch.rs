//! `bench --suite epoch`: epochs of `fit`, as `train` and `distill` run them, on an
//! MSLR-WEB30K-sized synthetic set: a teacher 136→512→512→256→1 with softmax cross-entropy,
//! then a 32-unit student distilled from it with coupled RankDistil (8 sampled orders). Each
//! trains two epochs: the first pays for compiling and autotuning each batch shape on a GPU,
//! the second is what every later epoch costs. `scripts/torch_reference.py --epoch` runs the
//! same epochs in PyTorch.

use std::time::Instant;

use rankdistil_data::{FeatureNormalizer, RankingDataset, SyntheticConfig, generate};
use rankdistil_loss::{CoupledRankDistilConfig, LabelLossKind};

use crate::backend::Backend;
use crate::bench::options::FEATURES;
use crate::list::config::{ModelConfig, TrainConfig};
use crate::list::data::Splits;
use crate::list::scoring::score_dataset;
use crate::list::training::{ListRun, SplitScores};
use crate::loss_config::{DistillConfig, ObjectiveConfig};
use crate::progress::notice;

/// MSLR-WEB30K's training queries (all five folds' train split is 18,919; the whole set 31,531).
pub const MSLR_QUERIES: usize = 31_531;
/// Lists per batch, as allRank's MSLR configs train.
const BATCH: usize = 64;

/// One model's epochs.
pub struct EpochTiming {
    pub model: &'static str,
    pub rows: usize,
    /// The whole run: setting up (the upload of a resident set included), two epochs, and
    /// validation on 64 lists after each.
    pub seconds: f64,
    /// The first epoch's steps: compiles and autotuning included on a GPU.
    pub first: f64,
    /// The second epoch's steps: a steady epoch.
    pub steady: f64,
}

/// `queries` synthetic lists of 40–250 items with MSLR's 136 features (about 3.8M rows at
/// [`MSLR_QUERIES`]).
pub fn epoch_data(queries: usize) -> RankingDataset {
    generate(&SyntheticConfig {
        queries,
        min_items: 40,
        max_items: 250,
        features: FEATURES,
        seed: 11,
        ..SyntheticConfig::default()
    })
}

fn one_epoch(
    label: &'static str,
    splits: &Splits,
    teacher: Option<&[f32]>,
    (hidden, objective): (&str, &ObjectiveConfig),
    backend: &Backend,
) -> crate::Result<(EpochTiming, crate::list::training::ListOutcome)> {
    let model: ModelConfig = toml::from_str(&format!("hidden = {hidden}"))?;
    let train: TrainConfig = toml::from_str(&format!(
        "epochs = 2\nbatch_size = {BATCH}\nlearning_rate = 1e-3"
    ))?;
    let run = ListRun {
        label,
        splits,
        teacher: teacher.map(|train| SplitScores {
            train,
            valid: None,
            test: None,
        }),
        model: &model,
        train: &train,
        objective,
        record: None,
        progress: true,
    };
    let started = Instant::now();
    let outcome = run.run(backend)?;
    let epoch = |i: usize| outcome.epoch_seconds.get(i).copied().unwrap_or(f64::NAN);
    let timing = EpochTiming {
        model: label,
        rows: splits.train.num_rows(),
        seconds: started.elapsed().as_secs_f64(),
        first: epoch(0),
        steady: epoch(1),
    };
    Ok((timing, outcome))
}

/// The teacher's epoch, then the student's on the teacher's scores.
pub fn run(backend: &Backend, queries: usize) -> crate::Result<Vec<EpochTiming>> {
    let made = Instant::now();
    let splits = Splits {
        train: epoch_data(queries),
        valid: epoch_data(64.min(queries)),
        test: None,
        normalizer: FeatureNormalizer::identity(FEATURES),
        source: format!("{queries} synthetic lists of 40-250 items"),
    };
    notice!(
        "epoch: {} rows of {FEATURES} features made in {:.1}s",
        splits.train.num_rows(),
        made.elapsed().as_secs_f64()
    );
    let softmax = ObjectiveConfig::label_only(LabelLossKind::SoftmaxCe);
    let teacher_model = ("[512, 512, 256]", &softmax);
    let (teacher, fitted) = one_epoch("teacher", &splits, None, teacher_model, backend)?;
    let scores = score_dataset(&fitted.model, &splits.train, backend, BATCH);
    let coupled = ObjectiveConfig::new(DistillConfig::Coupled(
        CoupledRankDistilConfig::new().with_samples(8),
    ));
    let student_model = ("[32]", &coupled);
    let (student, _) = one_epoch("student", &splits, Some(&scores), student_model, backend)?;
    Ok(vec![teacher, student])
}

/// The suite's Markdown table: rows/s of the steady epoch.
pub fn table(rows: &[EpochTiming]) -> String {
    let mut out = String::from(
        "| model | rows | first epoch s | steady epoch s | rows/s | whole run s |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {:.0} | {:.1} |\n",
            r.model,
            r.rows,
            r.first,
            r.steady,
            r.rows as f64 / r.steady.max(1e-9),
            r.seconds
        ));
    }
    out
}
