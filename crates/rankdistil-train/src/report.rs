//! Plain-text and Markdown tables of metrics.

use rankdistil_metrics::MetricSummary;

/// The columns every table shows, in order.
pub const COLUMNS: [&str; 7] = [
    "ndcg@1",
    "ndcg@5",
    "ndcg@10",
    "mrr",
    "precision@10",
    "overlap@10",
    "kendall_tau@10",
];

/// A Markdown table with one row per `(name, metrics)`; absent metrics print as `–`.
pub fn table(rows: &[(String, MetricSummary)]) -> String {
    let cols: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| rows.iter().any(|(_, m)| m.get(c).is_some()))
        .collect();
    let mut out = format!(
        "| model | {} |\n|---|{}\n",
        cols.join(" | "),
        "---|".repeat(cols.len())
    );
    for (name, m) in rows {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| m.get(c).map_or("–".into(), |v| format!("{v:.4}")))
            .collect();
        out += &format!("| {name} | {} |\n", cells.join(" | "));
    }
    out
}

/// Mean and sample standard deviation.
/// A table cell of `values` over seeds: `mean ± std`, or the value alone when there is one
/// seed (whose std would print as a misleading `± 0.0000`).
pub fn mean_std_cell(values: &[f64]) -> String {
    match values {
        [one] => format!("{one:.4}"),
        _ => {
            let (m, s) = mean_std(values);
            format!("{m:.4} ± {s:.4}")
        }
    }
}

pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_prints_its_value_and_more_print_mean_and_sample_std() {
        assert_eq!(mean_std_cell(&[0.78771]), "0.7877");
        // Mean 0.5, sample std √0.02 = 0.1414.
        assert_eq!(mean_std_cell(&[0.4, 0.6]), "0.5000 ± 0.1414");
    }
}
