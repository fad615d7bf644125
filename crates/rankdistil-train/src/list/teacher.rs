//! A teacher's scores on every split, computed once and read by every student that `distill`,
//! `compare` and `quickstart` train from it: scored by a teacher run, or read from the files
//! an outside teacher wrote.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rankdistil_data::FeatureNormalizer;
use rankdistil_metrics::MetricSummary;

use crate::backend::Backend;
use crate::list::config::DataConfig;
use crate::list::data::{Splits, load_splits};
use crate::list::run_dir::{load_meta, load_model};
use crate::list::scoring::{evaluate, score_dataset};
use crate::list::teacher_file::{TeacherColumn, TeacherFile};
use crate::list::training::SplitScores;
use crate::progress::notice;

pub struct TeacherScores {
    /// Where the scores came from, for logs.
    pub source: String,
    /// The teacher run's parameters; `None` for an outside teacher.
    pub num_params: Option<usize>,
    /// The data the scores are of, which a student records.
    pub data: DataConfig,
    /// The splits, normalised as the teacher's run was (or fitted on train for an outside one).
    pub splits: Splits,
    pub train: Vec<f32>,
    pub valid: Option<Vec<f32>>,
    pub test: Option<Vec<f32>>,
    /// The teacher's own metrics on the test split.
    pub test_metrics: Option<MetricSummary>,
}

/// An outside teacher's score files: `train` covers the training file (the validation
/// queries split from it included); `valid` and `test` cover those files when the data names
/// them.
pub struct TeacherFiles {
    pub train: PathBuf,
    pub valid: Option<PathBuf>,
    pub test: Option<PathBuf>,
    /// Whether the files' scores or their ranks give the order.
    pub column: TeacherColumn,
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
    ) -> crate::Result<Self> {
        let meta = load_meta(run)?;
        let model = load_model(run, &meta, &backend.device)?;
        let data = data.unwrap_or(&meta.data).clone();
        let splits = load_splits(&data, seed, Some(&meta.normalizer))?;
        let started = Instant::now();
        let score = |d| score_dataset(&model, d, backend, batch);
        let (train, valid) = (score(&splits.train), score(&splits.valid));
        let test = splits.test.as_ref().map(score);
        notice!(
            "teacher {}: scored {} rows in {:.1}s (cached for every epoch and student)",
            run.display(),
            rows(&splits),
            started.elapsed().as_secs_f64()
        );
        Ok(Self::new(
            run.display().to_string(),
            Some(meta.num_params),
            data,
            splits,
            (train, Some(valid), test),
        ))
    }

    /// Reads an outside teacher's scores of `data`, whose normalisation is fitted on train.
    pub fn from_files(files: &TeacherFiles, data: &DataConfig, seed: u64) -> crate::Result<Self> {
        let splits = load_splits(data, seed, None)?;
        let mut train_file = TeacherFile::read(&files.train, data.train.as_deref(), files.column)?;
        let train = train_file.take_scores(&splits.train)?;
        let valid = match (&files.valid, &data.valid) {
            // Validation queries split from the training file are in its scores.
            (_, None) => Some(train_file.take_scores(&splits.valid)?),
            (Some(path), Some(letor)) => {
                Some(read_all(path, Some(letor), &splits.valid, files.column)?)
            }
            (None, Some(_)) => None,
        };
        let test = match (&files.test, &splits.test, &data.test) {
            (Some(path), Some(split), letor) => {
                Some(read_all(path, letor.as_deref(), split, files.column)?)
            }
            // Synthetic data's test queries are split from the same data, and may be scored.
            (None, Some(split), None) if train_file.scores(split) => {
                Some(train_file.take_scores(split)?)
            }
            _ => None,
        };
        train_file.finish()?;
        notice!(
            "teacher {}: read scores for {} rows",
            files.train.display(),
            rows(&splits)
        );
        let (source, data) = (files.train.display().to_string(), data.clone());
        Ok(Self::new(source, None, data, splits, (train, valid, test)))
    }

    fn new(
        source: String,
        num_params: Option<usize>,
        data: DataConfig,
        splits: Splits,
        (train, valid, test): (Vec<f32>, Option<Vec<f32>>, Option<Vec<f32>>),
    ) -> Self {
        let test_metrics =
            (splits.test.as_ref().zip(test.as_ref())).map(|(t, s)| evaluate(t, s, None));
        Self {
            source,
            num_params,
            data,
            splits,
            train,
            valid,
            test,
            test_metrics,
        }
    }

    /// The normalisation the student's inputs get.
    pub fn normalizer(&self) -> &FeatureNormalizer {
        &self.splits.normalizer
    }

    /// The scores as a student run reads them.
    pub fn scores(&self) -> SplitScores<'_> {
        SplitScores {
            train: &self.train,
            valid: self.valid.as_deref(),
            test: self.test.as_deref(),
        }
    }
}

/// Every row of `split` scored by the file at `path`, which must score nothing else.
fn read_all(
    path: &Path,
    letor: Option<&Path>,
    split: &rankdistil_data::RankingDataset,
    column: TeacherColumn,
) -> crate::Result<Vec<f32>> {
    let mut file = TeacherFile::read(path, letor, column)?;
    let scores = file.take_scores(split)?;
    file.finish()?;
    Ok(scores)
}

fn rows(splits: &Splits) -> usize {
    let test = splits.test.as_ref().map_or(0, |t| t.num_rows());
    splits.train.num_rows() + splits.valid.num_rows() + test
}
