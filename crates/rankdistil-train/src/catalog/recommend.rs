//! Serving a catalog scorer's export: each user's history comes from a RecBole `.inter` file;
//! the output is their top-N catalog items, never one they already have, as
//! `user_id<TAB>rank<TAB>item_id<TAB>score` lines.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use rankdistil_data::{Interactions, read_recbole_inter};
use rankdistil_metrics::binary_ndcg_recall_of_top;
use rankdistil_models::CatalogScorer;

use crate::backend::Backend;
use crate::catalog::export::CatalogExportConfig;
use crate::catalog::scoring::top_items;
use crate::progress::Progress;

/// The users of a file, in an export's catalog order.
pub struct Users {
    /// The file's interactions, items renumbered to the catalog; unknown items dropped.
    pub data: Interactions,
    /// Each user's positives, sorted: what the model reads.
    pub history: Vec<Vec<u32>>,
    /// Every item each user has, sorted: never recommended.
    pub seen: Vec<Vec<u32>>,
    /// Interactions whose item the catalog does not know.
    pub unknown: usize,
}

impl Users {
    /// Reads `path` onto the catalog `item_ids`; ratings at least `min_rating` are positives.
    pub fn read(path: &Path, item_ids: &[String], min_rating: f32) -> crate::Result<Self> {
        let (data, _, unknown) = read_recbole_inter(path)?.into_catalog(item_ids);
        let users = data.users.len();
        let (mut history, mut seen) = (vec![Vec::new(); users], vec![Vec::new(); users]);
        for e in &data.events {
            seen[e.user as usize].push(e.item);
            if e.rating >= min_rating {
                history[e.user as usize].push(e.item);
            }
        }
        history
            .iter_mut()
            .chain(seen.iter_mut())
            .for_each(sort_distinct);
        Ok(Self {
            data,
            history,
            seen,
            unknown,
        })
    }

    /// The held-out positives in `path` of each of these users, by user id.
    pub fn heldout(
        &self,
        path: &Path,
        item_ids: &[String],
        min_rating: f32,
    ) -> crate::Result<Vec<Vec<u32>>> {
        let (held, _, _) = read_recbole_inter(path)?.into_catalog(item_ids);
        let index: HashMap<&str, usize> = (self.data.users.iter().enumerate())
            .map(|(i, u)| (u.as_str(), i))
            .collect();
        let mut per_user = vec![Vec::new(); self.data.users.len()];
        for e in held.events.iter().filter(|e| e.rating >= min_rating) {
            if let Some(&u) = index.get(held.users[e.user as usize].as_str()) {
                per_user[u].push(e.item);
            }
        }
        per_user.iter_mut().for_each(sort_distinct);
        Ok(per_user)
    }
}

fn sort_distinct(list: &mut Vec<u32>) {
    list.sort_unstable();
    list.dedup();
}

/// What [`recommend`] wrote and measured.
pub struct Recommended {
    pub lines: usize,
    /// Mean NDCG@10 and Recall@20 against the held-out positives, and the users they cover.
    pub heldout: Option<(f64, f64, usize)>,
}

/// Writes every user's top `top` items into `sink`, a chunk of users at a time so the lists
/// stream out as they are ranked; with `heldout`, also measures the whole-catalog ranking.
pub fn recommend(
    (model, config, item_ids): (&CatalogScorer, &CatalogExportConfig, &[String]),
    users: &Users,
    heldout: Option<&[Vec<u32>]>,
    top: usize,
    sink: &mut impl Write,
    backend: &Backend,
) -> crate::Result<Recommended> {
    writeln!(sink, "user_id\trank\titem_id\tscore")?;
    let depth = if heldout.is_some() { top.max(20) } else { top };
    let (mut ndcg, mut recall, mut evaluated, mut lines) = (0.0, 0.0, 0usize, 0usize);
    let all: Vec<usize> = (0..users.data.users.len()).collect();
    let bar = Progress::new(all.len() as u64, "recommend".into(), "users");
    for chunk in all.chunks(256) {
        let best = top_items(
            model,
            &users.history,
            &users.seen,
            chunk,
            backend,
            depth,
            &bar,
        );
        for (best, &u) in best.iter().zip(chunk) {
            if let Some(held) = heldout {
                let order: Vec<usize> = best.iter().map(|&(i, _)| i as usize).collect();
                let l = config.catalog_size;
                if let Some((n, r)) = binary_ndcg_recall_of_top(&order, l, &held[u], 10, 20) {
                    (ndcg, recall, evaluated) = (ndcg + n, recall + r, evaluated + 1);
                }
            }
            // A score of −∞: the user has seen every remaining item.
            for (rank, &(i, score)) in best.iter().take(top).enumerate() {
                if !score.is_finite() {
                    break;
                }
                let (user, item) = (&users.data.users[u], &item_ids[i as usize]);
                writeln!(sink, "{user}\t{}\t{item}\t{score}", rank + 1)?;
                lines += 1;
            }
        }
    }
    bar.finish();
    let n = evaluated.max(1) as f64;
    Ok(Recommended {
        lines,
        heldout: heldout.map(|_| (ndcg / n, recall / n, evaluated)),
    })
}
