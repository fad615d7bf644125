//! The flags several commands share, parsed once into checked settings.

use std::path::PathBuf;

use clap::Args;
use rankdistil_train::backend::{self, Backend, BackendChoice, BackendError};
use rankdistil_train::list::run_dir::RunTarget;

/// `--backend`.
#[derive(Debug, Args)]
pub struct BackendArg {
    /// Which device runs the tensors: `auto` takes a physical GPU when wgpu finds one and the
    /// CPU otherwise.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
}

impl BackendArg {
    pub fn open(&self) -> Result<Backend, BackendError> {
        backend::open(self.backend)
    }
}

/// The flags of a resumable training run: `train`, `distill` and `catalog`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The run's config, e.g. configs/teacher.toml (with --resume, the run's own config.toml).
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
        RunTarget::resolve(self.out.as_deref(), self.config.as_deref(), self.resume)
    }
}
