use std::path::PathBuf;

use clap::Args;
use rankdistil_metrics::IdcgZero;
use rankdistil_train::list::data::load_for_model;
use rankdistil_train::list::run_dir::{load_meta, load_model};
use rankdistil_train::list::scoring::{evaluate_with, random_scores, score_dataset};
use rankdistil_train::report::table;

use crate::commands::args::BackendArg;

/// Evaluate a trained run on a LETOR file and print a metrics table.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A run directory written by `train` or `distill`.
    #[arg(long)]
    pub run: PathBuf,
    /// A LETOR file.
    #[arg(long)]
    pub data: PathBuf,
    /// Also report agreement with this teacher run (overlap@10, Kendall τ@10).
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArg,
    /// NDCG of a query with no relevant document: 0 and counted (TF-Ranking), 1 and counted
    /// (LightGBM, XGBoost, allRank), or left out.
    #[arg(long, value_enum, default_value_t = NdcgEmpty::Zero)]
    pub ndcg_empty: NdcgEmpty,
    /// Lists per scoring batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NdcgEmpty {
    Zero,
    One,
    Skip,
}

impl From<NdcgEmpty> for IdcgZero {
    fn from(v: NdcgEmpty) -> Self {
        match v {
            NdcgEmpty::Zero => IdcgZero::Zero,
            NdcgEmpty::One => IdcgZero::One,
            NdcgEmpty::Skip => IdcgZero::Skip,
        }
    }
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let meta = load_meta(&args.run)?;
    let backend = args.backend.open()?;
    let model = load_model(&args.run, &meta, &backend.device)?;
    let data = load_for_model(&args.data, &meta.normalizer)?;
    let scores = score_dataset(&model, &data, &backend, args.batch_size);
    let teacher_scores = match &args.teacher {
        Some(t) => {
            let tmeta = load_meta(t)?;
            let tmodel = load_model(t, &tmeta, &backend.device)?;
            let tdata = load_for_model(&args.data, &tmeta.normalizer)?;
            Some(score_dataset(&tmodel, &tdata, &backend, args.batch_size))
        }
        None => None,
    };
    let convention = IdcgZero::from(args.ndcg_empty);
    let metrics = evaluate_with(&data, &scores, teacher_scores.as_deref(), convention);
    let random = evaluate_with(&data, &random_scores(data.num_rows(), 0), None, convention);
    println!(
        "{} ({} {}, {} parameters) on {}: {} queries, {} documents\n\n{}",
        args.run.display(),
        meta.role,
        meta.method,
        meta.num_params,
        args.data.display(),
        data.num_queries(),
        data.num_rows(),
        table(&[
            (args.run.display().to_string(), metrics),
            ("random scorer".into(), random)
        ])
    );
    Ok(())
}
