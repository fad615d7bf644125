use std::path::PathBuf;

use clap::Args;
use rankdistil_train::catalog::config::CatalogRunConfig;
use rankdistil_train::catalog::run::{CatalogPlan, RUN_CONFIG, TABLE_FILE};
use rankdistil_train::settings;
use rankdistil_train::store::run_lock::RunLock;

use crate::commands::args::RunArgs;

/// Train and compare catalog rankers on any RecBole `.inter` file or a synthetic catalog; every model is
/// saved for `export` and `recommend`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Reuse this catalog teacher (a `teacher/` folder of an earlier run) instead of training one.
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Reuse this top-p cache (from `rankdistil teacher-cache`) instead of building one.
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

pub fn run(args: CatalogArgs) -> anyhow::Result<()> {
    let run = &args.run;
    let out = match (&run.out, &run.config) {
        (Some(out), _) => out.clone(),
        (None, Some(c)) => PathBuf::from("runs").join(c.file_stem().unwrap_or_default()),
        (None, None) => anyhow::bail!("give --config (or --resume with --out)"),
    };
    let _lock = RunLock::acquire(&out)?;
    // Resuming without --config continues with the run's own.
    let config_path = run.config.clone().unwrap_or_else(|| out.join(RUN_CONFIG));
    let config: CatalogRunConfig = settings::load(&config_path)?;
    let backend = run.backend.open()?;
    let report = CatalogPlan {
        config: &config,
        config_path: &config_path,
        out: &out,
        teacher: args.teacher.as_deref(),
        cache: args.cache.as_deref(),
        resume: run.resume,
    }
    .run(&backend)?;
    println!(
        "full-catalog metrics ({} items, training items excluded), students over seeds {:?}:\n\n{}\nfull-catalog evaluation of the teacher took {:.2}s; written to {}",
        report.num_items,
        config.seeds,
        report.table,
        report.teacher_eval_seconds,
        out.join(TABLE_FILE).display()
    );
    Ok(())
}
