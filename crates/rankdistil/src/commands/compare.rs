use std::path::PathBuf;

use clap::Args;
use rankdistil_train::list::compare::run_comparison;
use rankdistil_train::list::config::CompareConfig;
use rankdistil_train::settings;
use rankdistil_train::store::atomic::write_atomic;
use rankdistil_train::store::run_lock::RunLock;

use crate::commands::args::{BackendArg, TeacherArgs};

/// Train one student per method over several seeds and tabulate the test metrics.
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub teacher: TeacherArgs,
    /// A comparison config, e.g. configs/compare.toml.
    #[arg(long)]
    pub config: PathBuf,
    #[command(flatten)]
    pub backend: BackendArg,
    /// Where compare.md and compare.json go (default: runs/compare).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    args.teacher.require()?;
    let cfg: CompareConfig = settings::load(&args.config)?;
    let out = args.out.unwrap_or_else(|| PathBuf::from("runs/compare"));
    let _lock = RunLock::acquire(&out)?;
    let backend = args.backend.open()?;
    let (seed, batch) = (cfg.train.seed, cfg.train.eval_batch_size);
    let teacher = args
        .teacher
        .load(cfg.data.as_ref(), &backend, seed, batch)?;
    eprintln!(
        "compare: {} methods x {} seeds on {}, backend {} ({})",
        cfg.loss.len(),
        cfg.seeds.len(),
        teacher.splits.source,
        backend.name,
        backend.adapter
    );
    let comparison = run_comparison(&teacher, &cfg, &backend)?;
    let md = comparison.markdown();
    std::fs::create_dir_all(&out)?;
    write_atomic(&out.join("compare.md"), md.as_bytes())?;
    let json = serde_json::to_string_pretty(&comparison.json())?;
    write_atomic(&out.join("compare.json"), json.as_bytes())?;
    println!(
        "test metrics, mean ± std over seeds {:?}:\n\n{md}\nwritten to {}/compare.{{md,json}}",
        cfg.seeds,
        out.display()
    );
    Ok(())
}
