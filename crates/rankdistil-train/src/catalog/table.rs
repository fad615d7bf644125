//! A catalog run's results table.

use crate::catalog::config::CatalogMethod;
use crate::catalog::scoring::CatalogMetrics;
use crate::report::mean_std_cell;

/// The results table: the teacher, the popularity baseline, and each method's mean ± std
/// over seeds.
pub fn table(
    teacher: CatalogMetrics,
    popularity: CatalogMetrics,
    rows: &[(CatalogMethod, Vec<CatalogMetrics>)],
) -> String {
    let (t, p) = (teacher, popularity);
    let mut md = format!(
        "| model | NDCG@10 | Recall@20 |\n|---|---|---|\n| teacher | {:.4} | {:.4} |\n| popularity (training counts) | {:.4} | {:.4} |\n",
        t.ndcg_at_10, t.recall_at_20, p.ndcg_at_10, p.recall_at_20
    );
    for (method, runs) in rows {
        let ndcg = mean_std_cell(&runs.iter().map(|r| r.ndcg_at_10).collect::<Vec<_>>());
        let recall = mean_std_cell(&runs.iter().map(|r| r.recall_at_20).collect::<Vec<_>>());
        md += &format!("| {} | {ndcg} | {recall} |\n", method.label());
    }
    md
}
