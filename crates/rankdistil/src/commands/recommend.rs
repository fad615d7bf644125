//! `rankdistil recommend`: serve a catalog scorer's export. Each user's history comes from a
//! RecBole `.inter` file; the output is their top-N catalog items, never one they already have.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use rankdistil_train::catalog::export as catalog_export;
use rankdistil_train::catalog::recommend::{Users, recommend};
use rankdistil_train::store::output::Output;

use crate::commands::args::BackendArg;

/// Recommend the top-N catalog items for every user of a RecBole `.inter` file, with a catalog
/// scorer's export; writes `user_id<TAB>rank<TAB>item_id<TAB>score` lines.
#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// A catalog export directory (`rankdistil export --run <catalog run>/students/<name>`).
    #[arg(long)]
    pub model: PathBuf,
    /// A RecBole `.inter` file: each user's positives (rating at least the export's
    /// `positives_min_rating`) form the history, and none of the user's items is recommended.
    #[arg(long)]
    pub data: PathBuf,
    /// Items per user.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// The output TSV (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A RecBole `.inter` file of held-out interactions (e.g. a `.test.inter` split): prints
    /// NDCG@10 and Recall@20 of the whole-catalog ranking against each user's held-out
    /// positives.
    #[arg(long)]
    pub heldout: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArg,
}

pub fn run(args: RecommendArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.top >= 1, "--top must be at least 1");
    let started = Instant::now();
    let backend = args.backend.open()?;
    let (model, config, item_ids) = catalog_export::load(&args.model, &backend.device)?;
    let min_rating = config.positives_min_rating;
    let users = Users::read(&args.data, &item_ids, min_rating)?;
    let heldout = match &args.heldout {
        Some(path) => Some(users.heldout(path, &item_ids, min_rating)?),
        None => None,
    };
    let mut sink = Output::open(args.out.as_deref())?;
    let export = (&model, &config, &item_ids[..]);
    let done = recommend(
        export,
        &users,
        heldout.as_deref(),
        args.top,
        &mut sink,
        &backend,
    )?;
    sink.finish()?;
    let no_history = users.history.iter().filter(|h| h.is_empty()).count();
    eprintln!(
        "recommend: {} users, {} recommendations from a catalog of {} items in {:.2}s{}{}{}",
        users.data.users.len(),
        done.lines,
        config.catalog_size,
        started.elapsed().as_secs_f64(),
        args.out
            .as_ref()
            .map(|p| format!(", written to {}", p.display()))
            .unwrap_or_default(),
        match users.unknown {
            0 => String::new(),
            n => format!(
                "; {n} interactions name items outside the model's catalog and were skipped"
            ),
        },
        match no_history {
            0 => String::new(),
            n => format!(
                "; {n} users have no positive (rating >= {min_rating}) in the catalog, so they are scored from an empty history"
            ),
        },
    );
    if let (Some(path), Some((ndcg, recall, evaluated))) = (&args.heldout, done.heldout) {
        // stderr, as the summary: standard output may be the TSV.
        eprintln!(
            "held-out ({}): NDCG@10 {ndcg:.4}, Recall@20 {recall:.4} over {evaluated} users with held-out positives",
            path.display(),
        );
    }
    Ok(())
}
