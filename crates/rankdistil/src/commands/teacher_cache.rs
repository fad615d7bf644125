use std::path::PathBuf;

use clap::Args;
use rankdistil_train::catalog::teacher_cache::TeacherCachePlan;
use rankdistil_train::store::run_lock::RunLock;

use crate::commands::args::BackendArg;

/// Score the whole catalog with a catalog teacher, once, and write each user's top-p unseen
/// items and scores to a binary file that `rankdistil catalog --cache` reads.
#[derive(Debug, Args)]
pub struct TeacherCacheArgs {
    /// A catalog teacher folder (`<catalog run>/teacher`).
    #[arg(long)]
    pub teacher: PathBuf,
    /// A RecBole `.inter` file to score instead of the teacher's own data (same catalog).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    pub p: usize,
    /// The cache file (default: `<teacher>/teacher-top<p>.bin`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArg,
}

pub fn run(args: TeacherCacheArgs) -> anyhow::Result<()> {
    // The cache goes into the teacher's folder by default: one writer there at a time.
    let _lock = (args.teacher.is_dir())
        .then(|| RunLock::acquire(&args.teacher))
        .transpose()?;
    let backend = args.backend.open()?;
    let report = TeacherCachePlan {
        teacher: &args.teacher,
        data: args.data.as_deref(),
        p: args.p,
        out: args.out.as_deref(),
    }
    .run(&backend)?;
    println!(
        "teacher top-{} cache: {} users × {} items scored in {:.2}s, written to {}",
        args.p,
        report.users,
        report.num_items,
        report.seconds,
        report.path.display()
    );
    Ok(())
}
