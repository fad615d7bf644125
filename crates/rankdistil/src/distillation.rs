//! Students trained from a teacher run: shared by `distill`, `compare` and `quickstart`.

use std::path::Path;
use std::time::Instant;

use rankdistil_loss::ObjectiveConfig;
use rankdistil_metrics::MetricSummary;

use crate::backend::Backend;
use crate::config::{DataConfig, ModelConfig, TrainConfig};
use crate::data_source::{Splits, load_splits};
use crate::run_dir::{RunMeta, load_meta, load_model, scorer_config};
use crate::scoring::{evaluate, score_dataset};
use crate::train::{TrainJob, TrainOutcome};

/// A teacher's scores on every split, computed once and reused by every student.
pub struct TeacherScores {
    pub meta: RunMeta,
    pub splits: Splits,
    pub train: Vec<f32>,
    pub valid: Vec<f32>,
    pub test: Option<Vec<f32>>,
    /// The teacher's own metrics on the test split.
    pub test_metrics: Option<MetricSummary>,
}

impl TeacherScores {
    /// Loads a teacher run and scores the data (the teacher's own data unless `data` is given),
    /// normalised with the teacher's statistics.
    pub fn load(
        run: &Path,
        data: Option<&DataConfig>,
        backend: &Backend,
        seed: u64,
        batch: usize,
    ) -> anyhow::Result<Self> {
        let meta = load_meta(run)?;
        let model = load_model(run, &meta, &backend.device)?;
        let data_cfg = data.unwrap_or(&meta.data).clone();
        let splits = load_splits(&data_cfg, seed, Some(&meta.normalizer))?;
        let started = Instant::now();
        let train = score_dataset(&model, &splits.train, backend, batch);
        let valid = score_dataset(&model, &splits.valid, backend, batch);
        let test = splits
            .test
            .as_ref()
            .map(|t| score_dataset(&model, t, backend, batch));
        let test_metrics = splits
            .test
            .as_ref()
            .zip(test.as_ref())
            .map(|(t, s)| evaluate(t, s, None));
        eprintln!(
            "teacher {}: scored {} rows in {:.1}s (cached for every epoch and student)",
            run.display(),
            splits.train.num_rows()
                + splits.valid.num_rows()
                + splits.test.as_ref().map_or(0, |t| t.num_rows()),
            started.elapsed().as_secs_f64()
        );
        Ok(Self {
            meta,
            splits,
            train,
            valid,
            test,
            test_metrics,
        })
    }

    /// Trains one student and evaluates it on the test split (labels and teacher agreement).
    #[allow(clippy::too_many_arguments)]
    pub fn train_student(
        &self,
        name: &str,
        model: &ModelConfig,
        settings: &TrainConfig,
        objective: ObjectiveConfig,
        backend: &Backend,
        out: Option<&Path>,
        progress: bool,
        resume: bool,
    ) -> anyhow::Result<(TrainOutcome, Option<MetricSummary>)> {
        let needs_teacher = objective.method != rankdistil_loss::DistillMethod::LabelOnly;
        let outcome = TrainJob {
            name,
            train: &self.splits.train,
            valid: &self.splits.valid,
            teacher_train: needs_teacher.then_some(self.train.as_slice()),
            teacher_valid: Some(&self.valid),
            model: scorer_config(self.meta.d_input, model),
            settings,
            objective,
            backend,
            out,
            progress,
            resume,
        }
        .run()?;
        let test = self.splits.test.as_ref().map(|t| {
            let scores = score_dataset(&outcome.model, t, backend, settings.eval_batch_size);
            evaluate(t, &scores, self.test.as_deref())
        });
        Ok((outcome, test))
    }
}
