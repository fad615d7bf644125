use std::path::PathBuf;

use clap::Args;

use crate::backend::Backend;
use crate::export::{ExportFormat, export};
use crate::run_dir::{load_meta, load_model};

/// Export a run's best model for serving: weights plus a config.json.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A run directory written by `train` or `distill`.
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, value_enum, default_value_t = ExportFormat::Safetensors)]
    pub format: ExportFormat,
    /// The export directory.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let meta = load_meta(&args.run)?;
    // Weights move through the host; the CPU backend is enough.
    let cpu = Backend::cpu();
    let model = load_model(&args.run, &meta, &cpu.device)?;
    let weights = export(&args.run, &meta, &model, args.format, &args.out)?;
    println!(
        "exported {} ({} {}, {} inputs, {} parameters) to {} and {}",
        args.run.display(),
        meta.role,
        meta.method,
        meta.d_input,
        meta.num_params,
        weights.display(),
        args.out.join(crate::export::EXPORT_CONFIG).display()
    );
    Ok(())
}
