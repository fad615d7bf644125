//! The study's record of finished runs, `study.json`, rewritten after every run: a resumed
//! study reads it back and trains only what it lacks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::store::atomic::write_atomic;
use crate::study::search::{Knobs, describe};

/// The study's file in its output directory.
pub const STUDY_FILE: &str = "study.json";

/// Why a run was trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// A trial of the tuning: validation only.
    Tune,
    /// The chosen settings on one of the final seeds.
    Final,
    /// The chosen settings at another student size.
    Sweep,
}

/// One trained student.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StudyRun {
    pub phase: Phase,
    pub method: String,
    pub knobs: Knobs,
    pub seed: u64,
    /// The sweep's hidden widths; `None` for the study's own architecture.
    pub size: Option<Vec<usize>>,
    pub params: usize,
    /// Validation NDCG@10 of the best epoch, which chooses settings; NaN (`null` in the file)
    /// for a run without validation.
    #[serde(deserialize_with = "nan_if_null")]
    pub valid_ndcg10: f64,
    /// Test metrics (not of tuning runs, which never see the test split).
    pub test: Option<BTreeMap<String, f64>>,
    /// Test NDCG@10 per query or user, for the paired tests (final runs).
    pub test_per_unit: Option<Vec<f64>>,
    pub seconds: f64,
}

/// JSON has no NaN: serde_json writes it as `null`, and this reads it back.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl StudyRun {
    fn key(&self) -> String {
        run_key(
            self.phase,
            &self.method,
            &self.knobs,
            self.seed,
            self.size.as_deref(),
        )
    }
}

fn run_key(phase: Phase, method: &str, knobs: &Knobs, seed: u64, size: Option<&[usize]>) -> String {
    format!("{phase:?}/{method}/{}/{seed}/{size:?}", describe(knobs))
}

/// What `study.json` holds: the config the study ran, and its runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Book {
    pub config: String,
    pub runs: Vec<StudyRun>,
    /// The summary the report derives (chosen settings, tests), for readers of the file.
    #[serde(default)]
    pub summary: serde_json::Value,
    #[serde(skip)]
    path: PathBuf,
}

impl Book {
    /// A new study in `out`, or with `resume` the one there, which must have run `config`.
    pub fn open(out: &Path, config: &str, resume: bool) -> crate::Result<Self> {
        let path = out.join(STUDY_FILE);
        if !resume {
            if path.exists() {
                bail!(
                    "{}: a study is already here; pass --resume to continue it, or choose another --out",
                    path.display()
                );
            }
            std::fs::create_dir_all(out)
                .with_context(|| format!("{}: cannot create", out.display()))?;
            // Recorded before anything trains, so that a study killed in its teachers
            // resumes with --resume as one killed later does.
            let book = Self {
                config: config.into(),
                path,
                ..Self::default()
            };
            book.save()?;
            return Ok(book);
        }
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{}: cannot read; --resume continues a study",
                path.display()
            )
        })?;
        let mut book: Book = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a study record", path.display()))?;
        if book.config != config {
            bail!(
                "{}: was written by another config; a resumed study keeps its config",
                path.display()
            );
        }
        book.path = path;
        Ok(book)
    }

    /// The finished run with these settings, if any.
    pub fn find(
        &self,
        phase: Phase,
        method: &str,
        knobs: &Knobs,
        seed: u64,
        size: Option<&[usize]>,
    ) -> Option<&StudyRun> {
        let key = run_key(phase, method, knobs, seed, size);
        self.runs.iter().find(|r| r.key() == key)
    }

    /// Records a finished run and rewrites the file.
    pub fn add(&mut self, run: StudyRun) -> crate::Result<()> {
        self.runs.push(run);
        self.save()
    }

    pub fn save(&self) -> crate::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        Ok(write_atomic(&self.path, text.as_bytes())?)
    }
}
