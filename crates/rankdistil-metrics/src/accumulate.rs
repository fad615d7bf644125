use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{IdcgZero, kendall_tau_at, mrr, ndcg_at, overlap_at, precision_at, recall_at};

/// Means over lists, each metric over the lists it counts.
#[derive(Debug, Clone, Default)]
pub struct MetricAccumulator {
    sums: BTreeMap<String, (f64, usize)>,
    idcg_zero: IdcgZero,
}

/// The averaged metrics, by name (`ndcg@10`, `mrr`, `overlap@10`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    pub values: BTreeMap<String, f64>,
    /// Lists that went into each metric.
    pub counts: BTreeMap<String, usize>,
}

impl MetricSummary {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }
}

/// The cutoffs every evaluation reports.
pub const CUTOFFS: [usize; 3] = [1, 5, 10];

impl MetricAccumulator {
    pub fn new(idcg_zero: IdcgZero) -> Self {
        Self {
            sums: BTreeMap::new(),
            idcg_zero,
        }
    }

    fn add(&mut self, name: String, value: Option<f64>) {
        if let Some(v) = value {
            let e = self.sums.entry(name).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }

    /// Adds one list's label metrics: NDCG@{1,5,10}, MRR, P@{1,5,10}, Recall@{10,20}.
    pub fn add_list(&mut self, scores: &[f32], labels: &[f32]) {
        for k in CUTOFFS {
            self.add(
                format!("ndcg@{k}"),
                ndcg_at(scores, labels, k, self.idcg_zero),
            );
            self.add(format!("precision@{k}"), precision_at(scores, labels, k));
        }
        self.add("mrr".into(), mrr(scores, labels));
        for k in [10, 20] {
            self.add(format!("recall@{k}"), recall_at(scores, labels, k));
        }
    }

    /// Adds one list's teacher agreement: overlap@10 and Kendall τ@10.
    pub fn add_agreement(&mut self, student: &[f32], teacher: &[f32]) {
        self.add("overlap@10".into(), overlap_at(student, teacher, 10));
        self.add(
            "kendall_tau@10".into(),
            kendall_tau_at(student, teacher, 10),
        );
    }

    pub fn summary(&self) -> MetricSummary {
        MetricSummary {
            values: self
                .sums
                .iter()
                .map(|(k, (s, n))| (k.clone(), s / *n as f64))
                .collect(),
            counts: self
                .sums
                .iter()
                .map(|(k, (_, n))| (k.clone(), *n))
                .collect(),
        }
    }
}
