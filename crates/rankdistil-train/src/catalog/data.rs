//! A catalog run's interactions: read from a RecBole `.inter` file or generated, in the item
//! order of a saved model when one is reused, and split into training and held-out positives.

use crate::error::{Context, bail};
use rankdistil_data::{ImplicitSplit, read_recbole_inter, synthetic_catalog};

use crate::catalog::config::CatalogData;

/// The data's users, its split, and its item ids.
pub struct CatalogSplit {
    pub num_users: usize,
    pub split: ImplicitSplit,
    pub item_ids: Vec<String>,
}

/// Reads or generates `data` and splits it. Given a `catalog` (a saved model's item ids), item
/// indices follow that catalog, so the model scores each item with its own row.
pub fn load_split(data: &CatalogData, catalog: Option<&[String]>) -> crate::Result<CatalogSplit> {
    let inter = match (&data.inter, &data.synthetic) {
        (Some(p), None) => {
            crate::data_files::require(p)?;
            read_recbole_inter(p)?
        }
        (None, Some(s)) => synthetic_catalog(s.users, s.items, s.per_user, s.dim, s.seed),
        _ => bail!(
            "[data] needs exactly one of `inter = \"<file.inter>\"` and a [data.synthetic] table"
        ),
    };
    let inter = match catalog {
        Some(ids) => {
            let source = match &data.inter {
                Some(p) => p.display().to_string(),
                None => "the synthetic catalog".into(),
            };
            inter
                .aligned_to(ids)
                .with_context(|| format!("{source}: does not fit the model"))?
        }
        None => inter,
    };
    let split = ImplicitSplit::from_ratings(&inter, data.min_rating, data.holdout, data.seed);
    Ok(CatalogSplit {
        num_users: inter.users.len(),
        split,
        item_ids: inter.items,
    })
}
