use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use rankdistil_train::device_counts::distinct_kernels;
use rankdistil_train::list::config::{QUICKSTART_TOML, QuickstartConfig};
use rankdistil_train::list::quickstart::run_quickstart;
use rankdistil_train::report::table;
use rankdistil_train::settings;

use crate::commands::args::BackendArg;

/// Generate synthetic data, train a teacher, a label-only student and a RankDistil student,
/// run a small comparison, and print a table.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    /// Where the runs go (default: runs/quickstart, or runs/quickstart-N if that exists).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A quickstart config to use instead of the built-in one.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// `base`, or the first `base-N` that does not exist yet.
fn fresh_dir(base: &Path) -> PathBuf {
    if !base.exists() {
        return base.to_path_buf();
    }
    (2..)
        .map(|i| PathBuf::from(format!("{}-{i}", base.display())))
        .find(|p| !p.exists())
        .expect("some suffix is free")
}

pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let cfg: QuickstartConfig = match &args.config {
        Some(p) => settings::load(p)?,
        None => settings::parse(QUICKSTART_TOML)
            .map_err(|e| anyhow::anyhow!("built-in quickstart config: {e}"))?,
    };
    let base = Path::new("runs/quickstart");
    let numbered = args.out.is_none() && base.exists();
    let out = args.out.unwrap_or_else(|| fresh_dir(base));
    let backend = args.backend.open()?;
    if numbered {
        eprintln!(
            "quickstart: {} holds an earlier quickstart, kept as it is; this one goes to {} (choose with --out)",
            base.display(),
            out.display()
        );
    }
    eprintln!(
        "quickstart: backend {} ({}), runs in {}",
        backend.name,
        backend.adapter,
        out.display()
    );
    let (report, kernels) =
        distinct_kernels(|| run_quickstart(&cfg, QUICKSTART_TOML, &out, &backend));
    let report = report?;
    if backend.is_gpu {
        // On a GPU each new kernel is a compilation (or a load from the kernel cache): the
        // cold-start cost.
        eprintln!(
            "quickstart: {kernels} distinct kernels launched on {}",
            backend.adapter
        );
    }
    let runs: Vec<String> = report
        .runs
        .iter()
        .map(|r| r.display().to_string())
        .collect();
    println!(
        "\nheld-out synthetic test queries ({}):\n\n{}\nbaselines, student architecture, seeds {:?}:\n\n{}\ndone in {:.0}s; the runs are {} (export one with `rankdistil export --run {} --out DIR`)",
        report.test_queries,
        table(&report.rows),
        cfg.compare.seeds,
        report.comparison.markdown(),
        started.elapsed().as_secs_f64(),
        runs.join(", "),
        runs.last().map_or("RUN", String::as_str),
    );
    Ok(())
}
