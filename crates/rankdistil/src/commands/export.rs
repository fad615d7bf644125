use std::path::PathBuf;

use clap::Args;

use crate::backend::Backend;
use crate::export::{EXPORT_CONFIG, ExportFormat, export};
use crate::run_dir::{load_meta, load_model};
use crate::{catalog_dir, catalog_export};

/// Export a run's best model for serving: weights plus a config.json.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A run directory written by `train` or `distill`, or a catalog model folder written by
    /// `catalog` (`<run>/teacher`, `<run>/students/<method>-seed<S>`).
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, value_enum, default_value_t = ExportFormat::Safetensors)]
    pub format: ExportFormat,
    /// The export directory.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    // Weights move through the host; the CPU backend is enough.
    let cpu = Backend::cpu();
    if catalog_dir::meta_path(&args.run).is_some() {
        let (meta, weights) =
            catalog_export::export(&args.run, args.format, &args.out, &cpu.device)?;
        println!(
            "exported {} (catalog {}{}, {} items, dim {}) to {}, {} and {}",
            args.run.display(),
            meta.role,
            meta.method.map(|m| format!(" {m}")).unwrap_or_default(),
            meta.num_items,
            meta.model.dim,
            weights.display(),
            args.out.join(catalog_dir::ITEMS_FILE).display(),
            args.out.join(EXPORT_CONFIG).display()
        );
        return Ok(());
    }
    if !args.run.join(crate::run_dir::META_FILE).exists() {
        anyhow::bail!(
            "{}: neither a run directory of `train` or `distill` (no {}) nor a catalog model folder of `catalog` (no {} or {})",
            args.run.display(),
            crate::run_dir::META_FILE,
            catalog_dir::TEACHER_META,
            catalog_dir::STUDENT_META
        );
    }
    let meta = load_meta(&args.run)?;
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
        args.out.join(EXPORT_CONFIG).display()
    );
    Ok(())
}
