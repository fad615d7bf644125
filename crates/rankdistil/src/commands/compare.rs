use std::path::PathBuf;

use clap::Args;
use rankdistil_metrics::MetricSummary;
use serde_json::json;

use crate::backend::{self, BackendChoice};
use crate::config::{self, CompareConfig};
use crate::distillation::TeacherScores;
use crate::report::mean_std;
use crate::run_dir::write_atomic;

/// Train one student per method over several seeds and tabulate the test metrics.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The teacher's run directory.
    #[arg(long)]
    pub teacher: PathBuf,
    /// A comparison config, e.g. configs/compare.toml.
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Where compare.md and compare.json go (default: runs/compare).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

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
                    let (m, s) = mean_std(&vals);
                    format!("{m:.4} ± {s:.4}")
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
    backend: &backend::Backend,
) -> anyhow::Result<Comparison> {
    anyhow::ensure!(
        teacher.splits.test.is_some(),
        "compare needs a test split: set [data] test = \"...\" or use synthetic data"
    );
    let mut rows = Vec::new();
    for &method in &cfg.methods {
        let mut runs = Vec::new();
        for &seed in &cfg.seeds {
            let mut objective = cfg.objective(method)?;
            objective.seed = seed;
            let mut settings = cfg.train.clone();
            settings.seed = seed;
            let (outcome, test) = teacher.train_student(
                method.name(),
                &cfg.model,
                &settings,
                objective,
                backend,
                None,
                false,
                false,
            )?;
            let test = test.expect("checked above");
            eprintln!(
                "compare: {:<11} seed {seed}: test ndcg@10 {:.4}, overlap@10 {:.4} (best epoch {}, {:.1}s)",
                method.name(),
                test.get("ndcg@10").unwrap_or(f64::NAN),
                test.get("overlap@10").unwrap_or(f64::NAN),
                outcome.best_epoch,
                outcome.seconds
            );
            runs.push(test);
        }
        rows.push((method.name().to_string(), runs));
    }
    Ok(Comparison {
        rows,
        teacher: teacher.test_metrics.clone(),
    })
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let cfg: CompareConfig = config::load(&args.config)?;
    for &m in &cfg.methods {
        cfg.objective(m)?.validate().map_err(|e| {
            anyhow::anyhow!("{}: [loss] for {}: {e}", args.config.display(), m.name())
        })?;
    }
    anyhow::ensure!(
        !cfg.seeds.is_empty(),
        "{}: `seeds` is empty",
        args.config.display()
    );
    let out = args.out.unwrap_or_else(|| PathBuf::from("runs/compare"));
    let backend = backend::open(args.backend)?;
    let teacher = TeacherScores::load(
        &args.teacher,
        cfg.data.as_ref(),
        &backend,
        cfg.train.seed,
        cfg.train.eval_batch_size,
    )?;
    eprintln!(
        "compare: {} methods x {} seeds on {}, backend {} ({})",
        cfg.methods.len(),
        cfg.seeds.len(),
        teacher.splits.source,
        backend.name,
        backend.adapter
    );
    let cmp = run_comparison(&teacher, &cfg, &backend)?;
    let md = cmp.markdown();
    std::fs::create_dir_all(&out)?;
    write_atomic(&out.join("compare.md"), md.as_bytes())?;
    write_atomic(
        &out.join("compare.json"),
        serde_json::to_string_pretty(&cmp.json())?.as_bytes(),
    )?;
    println!(
        "test metrics, mean ± std over seeds {:?}:\n\n{md}\nwritten to {}/compare.{{md,json}}",
        cfg.seeds,
        out.display()
    );
    Ok(())
}
