//! What a study found, from its record: each method's chosen settings and test metrics over
//! the seeds, the paired tests of the subject against label-only and the best baseline, and
//! the size sweep; as Markdown (`study.md`) and JSON (the summary in `study.json`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::report::mean_std;
use crate::study::book::{Book, Phase, StudyRun};
use crate::study::search::{Knobs, describe};
use crate::study::significance::{Difference, paired_bootstrap, unit_means};

/// What every study shares: how its findings are derived from its record.
pub struct Protocol<'a> {
    pub seeds: &'a [u64],
    /// The method whose gains are tested.
    pub subject: &'a str,
    /// Resamples of the paired bootstrap.
    pub bootstrap: usize,
    /// Seeds the bootstrap.
    pub seed: u64,
    /// The test metrics of the table, in order.
    pub columns: &'a [&'a str],
    /// What the tests pair: "queries" or "users".
    pub units: &'a str,
}

/// The teacher the students learn from.
#[derive(Debug, Clone, Serialize)]
pub struct TeacherSummary {
    pub params: usize,
    pub best_epoch: usize,
    pub epochs: usize,
    pub patience: Option<usize>,
    pub valid_ndcg10: f64,
    pub test: Option<BTreeMap<String, f64>>,
    /// Seconds it trained in this study; `None` when it was already trained.
    pub seconds: Option<f64>,
}

/// One method's row: its chosen settings, what tuning cost, and its test metrics.
#[derive(Debug, Clone, Serialize)]
pub struct MethodRow {
    pub method: String,
    pub chosen: Knobs,
    pub trials: usize,
    pub params: usize,
    pub tune_seconds: f64,
    pub final_seconds: f64,
    /// Validation NDCG@10 of the chosen settings over the final seeds: mean, std.
    pub valid_ndcg10: (f64, f64),
    /// Test metric → (mean, std) over the final seeds.
    pub test: BTreeMap<String, (f64, f64)>,
    /// Test NDCG@10 per unit, averaged over the seeds.
    #[serde(skip)]
    pub per_unit: Vec<f64>,
}

/// A paired test of the subject against another method.
#[derive(Debug, Clone, Serialize)]
pub struct PairedTest {
    pub against: String,
    pub difference: Difference,
    pub winner: String,
}

/// One method's test NDCG@10 at each student size.
#[derive(Debug, Clone, Serialize)]
pub struct SweepSeries {
    pub method: String,
    /// (parameters, mean, std), by size.
    pub points: Vec<(usize, f64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Findings {
    pub teacher: TeacherSummary,
    pub columns: Vec<String>,
    pub units: String,
    pub subject: String,
    pub seeds: Vec<u64>,
    pub rows: Vec<MethodRow>,
    /// The non-subject method other than label-only with the best validation NDCG@10.
    pub baseline: Option<String>,
    pub tests: Vec<PairedTest>,
    pub sweep: Vec<SweepSeries>,
}

impl Findings {
    pub fn new(
        protocol: &Protocol,
        book: &Book,
        teacher: TeacherSummary,
        chosen: &[(String, Knobs)],
    ) -> Self {
        let rows: Vec<MethodRow> = chosen
            .iter()
            .map(|(method, knobs)| method_row(book, method, knobs, protocol))
            .collect();
        let subject = protocol.subject.to_string();
        let baseline = rows
            .iter()
            .filter(|r| r.method != subject && r.method != "label_only")
            .max_by(|a, b| a.valid_ndcg10.0.total_cmp(&b.valid_ndcg10.0))
            .map(|r| r.method.clone());
        let row = |name: &str| rows.iter().find(|r| r.method == name);
        let tests = ["label_only".to_string()]
            .into_iter()
            .chain(baseline.clone())
            .filter_map(|other| {
                let (a, b) = (row(&subject)?, row(&other)?);
                let ok = !a.per_unit.is_empty() && a.per_unit.len() == b.per_unit.len();
                ok.then(|| {
                    let difference = paired_bootstrap(
                        &a.per_unit,
                        &b.per_unit,
                        protocol.bootstrap,
                        protocol.seed,
                    );
                    let winner = difference.winner(&subject, &other).to_string();
                    PairedTest {
                        against: other,
                        difference,
                        winner,
                    }
                })
            })
            .collect();
        let mut findings = Self {
            teacher,
            columns: protocol.columns.iter().map(|c| c.to_string()).collect(),
            units: protocol.units.into(),
            subject,
            seeds: protocol.seeds.to_vec(),
            rows,
            baseline,
            tests,
            sweep: Vec::new(),
        };
        findings.sweep = findings.sweep_series(book);
        findings
    }

    /// The methods the size sweep runs, with their chosen knobs: label-only, the best
    /// baseline and the subject.
    pub fn sweep_methods<'a>(&self, chosen: &'a [(String, Knobs)]) -> Vec<&'a (String, Knobs)> {
        let wanted = self.sweep_names();
        chosen.iter().filter(|(m, _)| wanted.contains(m)).collect()
    }

    fn sweep_names(&self) -> Vec<String> {
        let mut names = vec!["label_only".to_string()];
        names.extend(self.baseline.clone());
        names.push(self.subject.clone());
        names
    }

    /// Test NDCG@10 against parameters: the sweep's sizes and the study's own.
    fn sweep_series(&self, book: &Book) -> Vec<SweepSeries> {
        self.sweep_names()
            .into_iter()
            .map(|method| {
                let mut by_size: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
                let chosen = self
                    .rows
                    .iter()
                    .find(|r| r.method == method)
                    .map(|r| &r.chosen);
                let runs = book.runs.iter().filter(|r| {
                    r.method == method
                        && Some(&r.knobs) == chosen
                        && (r.phase == Phase::Sweep || r.phase == Phase::Final)
                });
                for run in runs {
                    let value = run.test.as_ref().and_then(|t| t.get("ndcg@10"));
                    by_size.entry(run.params).or_default().extend(value);
                }
                let points = by_size
                    .into_iter()
                    .map(|(params, values)| {
                        let (m, s) = mean_std(&values);
                        (params, m, s)
                    })
                    .collect();
                SweepSeries { method, points }
            })
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("findings serialise")
    }

    /// `study.md`: the teacher, the table, the paired tests and the sweep.
    pub fn markdown(&self) -> String {
        let t = &self.teacher;
        let test = |name: &str| {
            t.test
                .as_ref()
                .and_then(|m| m.get(name))
                .map_or("–".into(), |v| format!("{v:.4}"))
        };
        let mut out = format!(
            "Teacher: {} parameters, best epoch {} of at most {} (patience {}), valid NDCG@10 {:.4}, test NDCG@10 {}{}.\n\n",
            t.params,
            t.best_epoch,
            t.epochs,
            t.patience.map_or("none".into(), |p| p.to_string()),
            t.valid_ndcg10,
            test("ndcg@10"),
            t.seconds
                .map(|s| format!(", trained in {s:.0} s"))
                .unwrap_or_default()
        );
        out += &self.table();
        out += "\n";
        for test in &self.tests {
            let d = &test.difference;
            out += &format!(
                "- {} − {}: NDCG@10 {:+.4}, 95% interval [{:+.4}, {:+.4}] over {} {}: **{}**\n",
                self.subject, test.against, d.mean, d.low, d.high, d.units, self.units, test.winner
            );
        }
        out += &self.sweep_table();
        out
    }

    fn table(&self) -> String {
        let mut out = format!(
            "| method | {} | valid ndcg@10 | chosen (of {} trials) | tuning + final time |\n|---|{}---|---|---|\n",
            self.columns.join(" | "),
            self.rows.first().map_or(0, |r| r.trials),
            "---|".repeat(self.columns.len())
        );
        for row in &self.rows {
            let cells: Vec<String> = (self.columns.iter())
                .map(|c| {
                    row.test
                        .get(c)
                        .map_or("–".into(), |(m, s)| format!("{m:.4} ± {s:.4}"))
                })
                .collect();
            out += &format!(
                "| {} | {} | {:.4} | {} | {:.0} s + {:.0} s |\n",
                row.method,
                cells.join(" | "),
                row.valid_ndcg10.0,
                describe(&row.chosen),
                row.tune_seconds,
                row.final_seconds
            );
        }
        out
    }

    fn sweep_table(&self) -> String {
        if self.sweep.iter().all(|s| s.points.len() < 2) {
            return String::new();
        }
        let mut out = "\n| method | parameters: test NDCG@10 |\n|---|---|\n".to_string();
        for series in &self.sweep {
            let cells: Vec<String> = series
                .points
                .iter()
                .map(|(p, m, s)| format!("{p}: {m:.4} ± {s:.4}"))
                .collect();
            out += &format!("| {} | {} |\n", series.method, cells.join(", "));
        }
        out
    }
}

/// The row of `method` at its chosen `knobs`.
fn method_row(book: &Book, method: &str, knobs: &Knobs, protocol: &Protocol) -> MethodRow {
    let mine = |phase: Phase| {
        book.runs
            .iter()
            .filter(move |r| r.method == method && r.phase == phase)
    };
    let finals: Vec<&StudyRun> = mine(Phase::Final)
        .filter(|r| &r.knobs == knobs && r.size.is_none() && protocol.seeds.contains(&r.seed))
        .collect();
    let mut test = BTreeMap::new();
    for &column in protocol.columns {
        let values: Vec<f64> = finals
            .iter()
            .filter_map(|r| r.test.as_ref()?.get(column).copied())
            .collect();
        if !values.is_empty() {
            test.insert(column.to_string(), mean_std(&values));
        }
    }
    // A catalog study's final runs train on every training positive, so only its tuning
    // trial of the chosen knobs has a validation score.
    let mut valid: Vec<f64> = (finals.iter())
        .map(|r| r.valid_ndcg10)
        .filter(|v| v.is_finite())
        .collect();
    if valid.is_empty() {
        valid.extend(
            mine(Phase::Tune)
                .filter(|r| &r.knobs == knobs)
                .map(|r| r.valid_ndcg10),
        );
    }
    let per_run: Vec<Vec<f64>> = finals
        .iter()
        .filter_map(|r| r.test_per_unit.clone())
        .collect();
    MethodRow {
        method: method.into(),
        chosen: knobs.clone(),
        trials: mine(Phase::Tune).count(),
        params: finals.first().map_or(0, |r| r.params),
        tune_seconds: mine(Phase::Tune).map(|r| r.seconds).sum(),
        final_seconds: finals.iter().map(|r| r.seconds).sum(),
        valid_ndcg10: mean_std(&valid),
        test,
        per_unit: unit_means(&per_run),
    }
}
