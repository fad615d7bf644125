//! `rankdistil recommend`: serve a catalog scorer's export. Each user's history comes from a
//! RecBole `.inter` file; the output is their top-N catalog items, never one they already have.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use rankdistil_data::read_recbole_inter;
use rankdistil_metrics::binary_ndcg_recall_of_top;

use rankdistil_train::catalog::export as catalog_export;
use rankdistil_train::catalog::scoring::top_items;
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
    let data = read_recbole_inter(&args.data)?;
    let l = config.catalog_size;

    // The file's items in the export's catalog order; interactions with items it lacks are
    // skipped.
    let (data, _, unknown) = data.into_catalog(&item_ids);
    let users = data.users.len();
    let (mut history, mut seen) = (vec![Vec::new(); users], vec![Vec::new(); users]);
    for e in &data.events {
        seen[e.user as usize].push(e.item);
        if e.rating >= config.positives_min_rating {
            history[e.user as usize].push(e.item);
        }
    }
    for list in history.iter_mut().chain(seen.iter_mut()) {
        list.sort_unstable();
        list.dedup();
    }

    // Held-out positives per user of `--data`, as catalog indices.
    let heldout: Option<Vec<Vec<u32>>> = match &args.heldout {
        None => None,
        Some(path) => {
            let (held, _, _) = read_recbole_inter(path)?.into_catalog(&item_ids);
            let index: std::collections::HashMap<&str, usize> = data
                .users
                .iter()
                .enumerate()
                .map(|(i, u)| (u.as_str(), i))
                .collect();
            let mut per_user = vec![Vec::new(); users];
            for e in &held.events {
                if e.rating < config.positives_min_rating {
                    continue;
                }
                if let Some(&u) = index.get(held.users[e.user as usize].as_str()) {
                    per_user[u].push(e.item);
                }
            }
            for list in &mut per_user {
                list.sort_unstable();
                list.dedup();
            }
            Some(per_user)
        }
    };
    let (mut ndcg, mut recall, mut evaluated) = (0.0, 0.0, 0usize);

    let mut sink = Output::open(args.out.as_deref())?;
    writeln!(sink, "user_id\trank\titem_id\tscore")?;
    let all: Vec<usize> = (0..users).collect();
    let depth = if heldout.is_some() {
        args.top.max(20)
    } else {
        args.top
    };
    let mut written = 0usize;
    // A chunk of users at a time, so the lists stream out as they are ranked.
    for chunk in all.chunks(256) {
        let top = top_items(&model, &history, &seen, chunk, &backend, depth);
        for (best, &u) in top.iter().zip(chunk) {
            if let Some(held) = heldout.as_ref() {
                let order: Vec<usize> = best.iter().map(|&(i, _)| i as usize).collect();
                if let Some((n, r)) = binary_ndcg_recall_of_top(&order, l, &held[u], 10, 20) {
                    ndcg += n;
                    recall += r;
                    evaluated += 1;
                }
            }
            for (rank, &(i, score)) in best.iter().take(args.top).enumerate() {
                if !score.is_finite() {
                    break; // the user has seen every remaining item
                }
                writeln!(
                    sink,
                    "{}\t{}\t{}\t{}",
                    data.users[u],
                    rank + 1,
                    item_ids[i as usize],
                    score
                )?;
                written += 1;
            }
        }
    }
    sink.finish()?;
    let no_history = history.iter().filter(|h| h.is_empty()).count();
    eprintln!(
        "recommend: {users} users, {written} recommendations from a catalog of {l} items in {:.2}s{}{}{}",
        started.elapsed().as_secs_f64(),
        args.out
            .as_ref()
            .map(|p| format!(", written to {}", p.display()))
            .unwrap_or_default(),
        if unknown > 0 {
            format!(
                "; {unknown} interactions name items outside the model's catalog and were skipped"
            )
        } else {
            String::new()
        },
        if no_history > 0 {
            format!(
                "; {no_history} users have no positive (rating >= {}) in the catalog, so they are scored from an empty history",
                config.positives_min_rating
            )
        } else {
            String::new()
        },
    );
    if let Some(path) = &args.heldout {
        let n = evaluated.max(1) as f64;
        // stderr, as the summary: standard output may be the TSV.
        eprintln!(
            "held-out ({}): NDCG@10 {:.4}, Recall@20 {:.4} over {evaluated} users with held-out positives",
            path.display(),
            ndcg / n,
            recall / n
        );
    }
    Ok(())
}
