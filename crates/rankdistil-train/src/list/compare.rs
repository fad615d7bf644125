//! `compare`: one student per method and seed from one teacher, and the table of their test
//! metrics (mean ± std over seeds).

use rankdistil_metrics::MetricSummary;
use serde_json::json;

use crate::backend::Backend;
use crate::list::config::CompareConfig;
use crate::list::teacher::TeacherScores;
use crate::list::training::ListRun;
use crate::progress::notice;
use crate::report::{mean_std, mean_std_cell};

/// The comparison's columns.
pub const COMPARE_COLUMNS: [&str; 5] = ["ndcg@1", "ndcg@5", "ndcg@10", "mrr", "overlap@10"];

/// Per-method test metrics over seeds.
pub struct Comparison {
    pub rows: Vec<(String, Vec<MetricSummary>)>,
    pub teacher: Option<MetricSummary>,
}

impl Comparison {
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "| method | {} |\n|---|{}\n",
            COMPARE_COLUMNS.join(" | "),
            "---|".repeat(COMPARE_COLUMNS.len())
        );
        if let Some(t) = &self.teacher {
            let cells: Vec<String> = COMPARE_COLUMNS
                .iter()
                .map(|c| t.get(c).map_or("–".into(), |v| format!("{v:.4}")))
                .collect();
            out += &format!("| teacher | {} |\n", cells.join(" | "));
        }
        for (name, runs) in &self.rows {
            let cells: Vec<String> = COMPARE_COLUMNS
                .iter()
                .map(|c| {
                    let vals: Vec<f64> = runs.iter().filter_map(|m| m.get(c)).collect();
                    if vals.is_empty() {
                        return "–".into();
                    }
                    mean_std_cell(&vals)
                })
                .collect();
            out += &format!("| {name} | {} |\n", cells.join(" | "));
        }
        out
    }

    pub fn json(&self) -> serde_json::Value {
        let methods: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|(name, runs)| {
                let stats: serde_json::Map<String, serde_json::Value> = COMPARE_COLUMNS
                    .iter()
                    .map(|c| {
                        let vals: Vec<f64> = runs.iter().filter_map(|m| m.get(c)).collect();
                        let (m, s) = mean_std(&vals);
                        (c.to_string(), json!({"mean": m, "std": s, "runs": vals}))
                    })
                    .collect();
                json!({"method": name, "seeds": runs.len(), "metrics": stats})
            })
            .collect();
        json!({"teacher": self.teacher.as_ref().map(|t| &t.values), "methods": methods})
    }
}

/// Trains every `(method, seed)` student of `cfg` and collects their test metrics.
pub fn run_comparison(
    teacher: &TeacherScores,
    cfg: &CompareConfig,
    backend: &Backend,
) -> crate::Result<Comparison> {
    crate::error::ensure!(
        teacher.splits.test.is_some(),
        "compare needs a test split: set [data] test = \"...\" or use synthetic data"
    );
    let mut rows = Vec::new();
    for loss in &cfg.loss {
        let mut runs = Vec::new();
        for &seed in &cfg.seeds {
            let mut objective = loss.clone();
            objective.seed = seed;
            let mut settings = cfg.train.clone();
            settings.seed = seed;
            let outcome = ListRun {
                label: loss.name(),
                splits: &teacher.splits,
                teacher: Some(teacher.scores()),
                model: &cfg.model,
                train: &settings,
                objective: &objective,
                record: None,
                progress: false,
            }
            .run(backend)?;
            let test = outcome.test.expect("checked above");
            notice!(
                "compare: {:<11} seed {seed}: test ndcg@10 {:.4}, overlap@10 {:.4} (best epoch {}, {:.1}s)",
                loss.name(),
                test.get("ndcg@10").unwrap_or(f64::NAN),
                test.get("overlap@10").unwrap_or(f64::NAN),
                outcome.best_epoch,
                outcome.seconds
            );
            runs.push(test);
        }
        rows.push((loss.name().to_string(), runs));
    }
    Ok(Comparison {
        rows,
        teacher: teacher.test_metrics.clone(),
    })
}
