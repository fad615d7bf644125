//! Serving a list scorer's export: a LETOR file streamed through it, a batch of queries at a
//! time, into a TREC run (`qid Q0 docid rank score tag`).

use std::io::Write;
use std::path::Path;

use rankdistil_data::{LetorOptions, LetorReader, RankingDataset};
use rankdistil_metrics::rank_order;
use rankdistil_models::MlpScorer;

use crate::backend::Backend;
use crate::list::export::ExportConfig;
use crate::list::scoring::score_dataset;

/// What [`score_letor`] scored.
pub struct Scored {
    pub queries: usize,
    pub rows: usize,
}

/// How a LETOR file is scored.
pub struct ScoreRequest<'a> {
    /// The export directory, for errors.
    pub export: &'a Path,
    pub model: &'a MlpScorer,
    pub config: &'a ExportConfig,
    /// The run tag in the last TREC column.
    pub tag: &'a str,
    /// Queries scored per batch.
    pub batch_queries: usize,
}

/// Streams `data` through the model into `sink`, one TREC line per document, best first.
pub fn score_letor(
    request: &ScoreRequest,
    data: &Path,
    sink: &mut impl Write,
    backend: &Backend,
) -> crate::Result<Scored> {
    let width = request.config.input_dim;
    let options = LetorOptions {
        num_features: Some(width),
    };
    let mut reader = LetorReader::open(data, options)?;
    let mut scored = Scored {
        queries: 0,
        rows: 0,
    };
    loop {
        let mut batch = RankingDataset::new(width);
        while batch.num_queries() < request.batch_queries.max(1) {
            let next = reader.next_query().map_err(|e| {
                crate::error::invalid!(
                    "{e} (the model in {} takes {width} features)",
                    request.export.display()
                )
            })?;
            let Some(q) = next else { break };
            batch.push_query(q.qid, &q.features, &q.labels, q.doc_ids)?;
        }
        if batch.num_queries() == 0 {
            let model = format!("the model in {}", request.export.display());
            reader.check_feature_count(width, &model)?;
            return Ok(scored);
        }
        request.config.normalization.apply(&mut batch);
        let scores = score_dataset(request.model, &batch, backend, batch.num_queries());
        write_run(&batch, &scores, request.tag, sink)?;
        scored.queries += batch.num_queries();
        scored.rows += batch.num_rows();
    }
}

fn write_run(
    batch: &RankingDataset,
    scores: &[f32],
    tag: &str,
    sink: &mut impl Write,
) -> std::io::Result<()> {
    for q in 0..batch.num_queries() {
        let (a, b) = (batch.offsets[q], batch.offsets[q + 1]);
        for (rank, &i) in rank_order(&scores[a..b]).iter().enumerate() {
            let (qid, doc) = (&batch.qids[q], &batch.doc_ids[a + i]);
            writeln!(sink, "{qid} Q0 {doc} {} {} {tag}", rank + 1, scores[a + i])?;
        }
    }
    Ok(())
}
