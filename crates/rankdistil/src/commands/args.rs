//! The flags several commands share, parsed once into checked settings.

use std::path::PathBuf;

use clap::Args;
use rankdistil_train::backend::{self, Backend};
use rankdistil_train::list::config::DataConfig;
use rankdistil_train::list::run_dir::RunTarget;
use rankdistil_train::list::teacher::{TeacherFiles, TeacherScores};
use rankdistil_train::list::teacher_file::TeacherColumn;

use crate::commands::choices::BackendFlag;

/// `--backend`.
#[derive(Debug, Args)]
pub struct BackendArg {
    /// Which device runs the tensors: `auto` takes a physical GPU when wgpu finds one and the
    /// CPU otherwise.
    #[arg(long, value_enum, default_value_t = BackendFlag::Auto)]
    pub backend: BackendFlag,
}

impl BackendArg {
    pub fn open(&self) -> rankdistil_train::Result<Backend> {
        Ok(backend::open(self.backend.into())?)
    }
}

/// The flags of a resumable training run: `train`, `distill` and `catalog`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The run's config: `configs/teacher.toml` for `train`, `configs/distill-METHOD.toml` for
    /// `distill`, `configs/catalog-DATA.toml` for `catalog`. With --resume the run reads its own
    /// config.toml, and a --config given must hold the same settings.
    #[arg(long, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArg,
    /// The run directory (default: `runs/<config name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from what it has finished.
    #[arg(long, requires = "out")]
    pub resume: bool,
}

impl RunArgs {
    /// Where the run goes and which config it reads.
    pub fn target(&self) -> anyhow::Result<RunTarget> {
        Ok(RunTarget::resolve(
            self.out.as_deref(),
            self.config.as_deref(),
            self.resume,
        )?)
    }
}

/// Where a student's teacher comes from: a teacher run, or the scores an outside teacher
/// wrote.
#[derive(Debug, Args)]
pub struct TeacherArgs {
    /// The teacher's run directory.
    /// (Give it or --teacher-scores: `require` says which is missing in one line.)
    #[arg(long, conflicts_with = "teacher_scores")]
    pub teacher: Option<PathBuf>,
    /// An outside teacher's scores of the training file (and the validation queries split
    /// from it): a TREC run (`qid Q0 docid rank score tag`) or one score per LETOR line.
    #[arg(long)]
    pub teacher_scores: Option<PathBuf>,
    /// Its scores of the `[data] valid` file, for agreement metrics during training.
    #[arg(long, requires = "teacher_scores")]
    pub teacher_valid_scores: Option<PathBuf>,
    /// Its scores of the `[data] test` file, for agreement metrics on test.
    #[arg(long, requires = "teacher_scores")]
    pub teacher_test_scores: Option<PathBuf>,
    /// Read the files' ranks, not their scores: a TREC run's rank column, or one rank per
    /// line, 1 first. For a ranker whose scores mean nothing, with a loss that reads only the
    /// order (adr_mse, rrd, listmle_kd)
    #[arg(long, requires = "teacher_scores")]
    pub teacher_ranks: bool,
}

impl TeacherArgs {
    /// Refuses a command given no teacher at all, before anything else runs.
    pub fn require(&self) -> anyhow::Result<()> {
        match (&self.teacher, &self.teacher_scores) {
            (None, None) => Err(no_teacher()),
            _ => Ok(()),
        }
    }

    /// The teacher's scores of `data` (a student config's `[data]`, required for an outside
    /// teacher; a run's own data otherwise).
    pub fn load(
        &self,
        data: Option<&DataConfig>,
        backend: &Backend,
        seed: u64,
        batch: usize,
    ) -> anyhow::Result<TeacherScores> {
        match (&self.teacher, &self.teacher_scores) {
            (Some(run), _) => Ok(TeacherScores::load(run, data, backend, seed, batch)?),
            (None, Some(train)) => {
                let data = data.ok_or_else(|| {
                    anyhow::anyhow!(
                        "--teacher-scores reads scores of the config's data: give it a [data] table"
                    )
                })?;
                let files = TeacherFiles {
                    train: train.clone(),
                    valid: self.teacher_valid_scores.clone(),
                    test: self.teacher_test_scores.clone(),
                    column: if self.teacher_ranks {
                        TeacherColumn::Ranks
                    } else {
                        TeacherColumn::Scores
                    },
                };
                Ok(TeacherScores::from_files(&files, data, seed)?)
            }
            (None, None) => Err(no_teacher()),
        }
    }
}

fn no_teacher() -> anyhow::Error {
    anyhow::anyhow!(
        "give the teacher: --teacher <run directory>, or an outside teacher's --teacher-scores <file>"
    )
}
