use std::path::PathBuf;

use clap::Args;
use rankdistil_train::backend::Backend;
use rankdistil_train::catalog::model_dir::{self, ITEMS_FILE, STUDENT_META, TEACHER_META};
use rankdistil_train::catalog::onnx::ITEM_TABLE_FILE;
use rankdistil_train::list::run_dir::{META_FILE, load_meta, load_model};
use rankdistil_train::store::export_files::{EXPORT_CONFIG, ExportFormat};

use crate::commands::choices::FormatFlag;

/// Export a run's best model for serving: weights plus a config.json.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A run directory written by `train` or `distill`, or a catalog model folder written by
    /// `catalog` (`<run>/teacher`, `<run>/students/<method>-seed<S>`).
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, value_enum, default_value_t = FormatFlag::Safetensors)]
    pub format: FormatFlag,
    /// The export directory.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let format: ExportFormat = args.format.into();
    // Weights move through the host; the CPU backend is enough.
    let cpu = Backend::cpu();
    if model_dir::meta_path(&args.run).is_some() {
        let (meta, weights) =
            rankdistil_train::catalog::export::export(&args.run, format, &args.out, &cpu.device)?;
        let mut files = vec![weights];
        if format == ExportFormat::Onnx {
            files.push(args.out.join(ITEM_TABLE_FILE));
        }
        files.extend([ITEMS_FILE, EXPORT_CONFIG].map(|f| args.out.join(f)));
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        println!(
            "exported {} (catalog {}{}, {} items, dim {}) to {}",
            args.run.display(),
            meta.role,
            meta.method.map(|m| format!(" {m}")).unwrap_or_default(),
            meta.num_items,
            meta.model.dim,
            files.join(", ")
        );
        return Ok(());
    }
    if !args.run.join(META_FILE).exists() {
        anyhow::bail!(
            "{}: neither a run directory of `train` or `distill` (no {META_FILE}) nor a catalog model folder of `catalog` (no {TEACHER_META} or {STUDENT_META})",
            args.run.display(),
        );
    }
    let meta = load_meta(&args.run)?;
    let model = load_model(&args.run, &meta, &cpu.device)?;
    let weights =
        rankdistil_train::list::export::export(&args.run, &meta, &model, format, &args.out)?;
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
