use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use rankdistil_data::{LetorOptions, LetorReader, RankingDataset};
use rankdistil_metrics::rank_order;

use rankdistil_train::list::export::load_export;
use rankdistil_train::list::scoring::score_dataset;
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
    let mut reader = LetorReader::open(
        &args.data,
        LetorOptions {
            num_features: Some(config.input_dim),
        },
    )?;
    let mut sink = Output::open(args.out.as_deref())?;
    let (mut queries, mut rows) = (0usize, 0usize);
    loop {
        let mut batch = RankingDataset::new(config.input_dim);
        while batch.num_queries() < args.batch_queries.max(1) {
            let next = reader.next_query().map_err(|e| {
                anyhow::anyhow!(
                    "{e} (the model in {} takes {} features)",
                    args.model.display(),
                    config.input_dim
                )
            })?;
            let Some(q) = next else { break };
            batch.push_query(q.qid, &q.features, &q.labels, q.doc_ids)?;
        }
        if batch.num_queries() == 0 {
            break;
        }
        config.normalization.apply(&mut batch);
        let scores = score_dataset(&model, &batch, &backend, batch.num_queries());
        for q in 0..batch.num_queries() {
            let (a, b) = (batch.offsets[q], batch.offsets[q + 1]);
            for (rank, &i) in rank_order(&scores[a..b]).iter().enumerate() {
                writeln!(
                    sink,
                    "{} Q0 {} {} {} {}",
                    batch.qids[q],
                    batch.doc_ids[a + i],
                    rank + 1,
                    scores[a + i],
                    args.tag
                )?;
            }
        }
        queries += batch.num_queries();
        rows += batch.num_rows();
    }
    sink.finish()?;
    if let Some(out) = &args.out {
        eprintln!(
            "scored {queries} queries, {rows} documents into {}",
            out.display()
        );
    }
    Ok(())
}
