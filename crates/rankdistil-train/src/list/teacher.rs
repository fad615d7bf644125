//! A teacher run's scores on every split, computed once and read by every student that
//! `distill`, `compare` and `quickstart` train from it.

use std::path::Path;
use std::time::Instant;

use rankdistil_metrics::MetricSummary;

use crate::backend::Backend;
use crate::list::config::DataConfig;
use crate::list::data::{Splits, load_splits};
use crate::list::run_dir::{RunMeta, load_meta, load_model};
use crate::list::scoring::{evaluate, score_dataset};
use crate::list::training::SplitScores;

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
    /// normalised with the teacher's statistics. `seed` splits data without a validation file.
    pub fn load(
        run: &Path,
        data: Option<&DataConfig>,
        backend: &Backend,
        seed: u64,
        batch: usize,
    ) -> anyhow::Result<Self> {
        let meta = load_meta(run)?;
        let model = load_model(run, &meta, &backend.device)?;
        let splits = load_splits(data.unwrap_or(&meta.data), seed, Some(&meta.normalizer))?;
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

    /// The scores as a student run reads them.
    pub fn scores(&self) -> SplitScores<'_> {
        SplitScores {
            train: &self.train,
            valid: &self.valid,
            test: self.test.as_deref(),
        }
    }
}
