use std::path::PathBuf;

use clap::Args;
use rankdistil_train::list::export::load_export;
use rankdistil_train::list::serve::{ScoreRequest, score_letor};
use rankdistil_train::store::output::Output;

use crate::commands::args::BackendArg;

/// Score a LETOR file with an exported model and write a TREC run file.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// An export directory (from `rankdistil export`).
    #[arg(long)]
    pub model: PathBuf,
    /// A LETOR file; it is streamed, a batch of queries at a time.
    #[arg(long)]
    pub data: PathBuf,
    /// The TREC run file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The run tag in the last TREC column.
    #[arg(long, default_value = "rankdistil")]
    pub tag: String,
    /// Queries scored per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_queries: usize,
    #[command(flatten)]
    pub backend: BackendArg,
}

pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let backend = args.backend.open()?;
    let (model, config) = load_export(&args.model, &backend.device)?;
    let request = ScoreRequest {
        export: &args.model,
        model: &model,
        config: &config,
        tag: &args.tag,
        batch_queries: args.batch_queries,
    };
    let mut sink = Output::open(args.out.as_deref())?;
    let scored = score_letor(&request, &args.data, &mut sink, &backend)?;
    sink.finish()?;
    if let Some(out) = &args.out {
        eprintln!(
            "scored {} queries, {} documents into {}",
            scored.queries,
            scored.rows,
            out.display()
        );
    }
    Ok(())
}
