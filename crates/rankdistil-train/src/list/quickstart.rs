//! `quickstart`: on one data set, a teacher from labels, a label-only and a RankDistil student
//! from its scores, a random scorer, and a small comparison against baselines.

use std::path::{Path, PathBuf};

use crate::loss_config::ObjectiveConfig;
use rankdistil_loss::LabelLossKind;
use rankdistil_metrics::MetricSummary;

use crate::backend::Backend;
use crate::list::compare::{Comparison, run_comparison};
use crate::list::config::{CompareConfig, DistillRunConfig, QuickstartConfig};
use crate::list::data::load_splits;
use crate::list::scoring::{evaluate, random_scores};
use crate::list::teacher::TeacherScores;
use crate::list::training::{ListRun, RunRecord};
use crate::progress::notice;
use crate::role::Role;

/// What the quickstart measured.
pub struct QuickstartReport {
    /// Test metrics of the teacher, the two students and the random scorer.
    pub rows: Vec<(String, MetricSummary)>,
    pub comparison: Comparison,
    pub test_queries: usize,
    /// The run directories of the teacher and the two students, as `train` and `distill`
    /// would write them, so each can be exported or scored.
    pub runs: Vec<PathBuf>,
}

/// Runs the quickstart into `out`; `config_text` is recorded as the teacher run's config.
pub fn run_quickstart(
    cfg: &QuickstartConfig,
    config_text: &str,
    out: &Path,
    backend: &Backend,
) -> crate::Result<QuickstartReport> {
    let teacher_dir = out.join("teacher");
    train_teacher(cfg, config_text, &teacher_dir, backend)?;
    // Students learn from the saved teacher, as `distill` would.
    let (seed, batch) = (cfg.teacher.train.seed, cfg.teacher.train.eval_batch_size);
    let teacher = TeacherScores::load(&teacher_dir, None, backend, seed, batch)?;
    let test = teacher.splits.test.as_ref();
    let test =
        test.ok_or_else(|| crate::error::invalid!("the quickstart's data has no test split"))?;
    let mut rows = vec![("teacher".to_string(), teacher.test_metrics.clone())];
    let label_only = ObjectiveConfig::label_only(LabelLossKind::SoftmaxCe);
    let mut runs = vec![teacher_dir.clone()];
    for (name, dir, objective) in [
        ("label-only student", "label-only", &label_only),
        ("RankDistil student", "rankdistil", &cfg.distill),
    ] {
        let dir = out.join(dir);
        // Recorded as a `distill` run of the saved teacher, so `export --run` takes it.
        let config = DistillRunConfig {
            data: Some(cfg.data.clone()),
            model: cfg.student.model.clone(),
            train: cfg.student.train.clone(),
            loss: objective.clone(),
        };
        let teacher_source = teacher_dir.display().to_string();
        let student = ListRun {
            label: name,
            splits: &teacher.splits,
            teacher: Some(teacher.scores()),
            model: &cfg.student.model,
            train: &cfg.student.train,
            objective,
            record: Some(RunRecord {
                dir: &dir,
                resume: false,
                config_text: &toml::to_string(&config)?,
                role: Role::Student,
                method: objective.name(),
                data: &cfg.data,
                teacher: Some(&teacher_source),
            }),
            progress: true,
        }
        .run(backend)?;
        rows.push((name.to_string(), student.test));
        runs.push(dir);
    }
    let random = random_scores(test.num_rows(), 0);
    let random = evaluate(test, &random, teacher.test.as_deref());
    let rows = rows
        .into_iter()
        .map(|(name, metrics)| (name, metrics.expect("the data has a test split")))
        .chain([("random scorer".to_string(), random)])
        .collect();
    let compare = CompareConfig {
        data: None,
        model: cfg.student.model.clone(),
        train: cfg.student.train.clone(),
        loss: cfg.compare.loss.clone(),
        seeds: cfg.compare.seeds.clone(),
    };
    Ok(QuickstartReport {
        rows,
        comparison: run_comparison(&teacher, &compare, backend)?,
        test_queries: test.num_queries(),
        runs,
    })
}

/// The teacher, from labels, saved as a `train` run would be.
fn train_teacher(
    cfg: &QuickstartConfig,
    config_text: &str,
    dir: &Path,
    backend: &Backend,
) -> crate::Result<()> {
    let splits = load_splits(&cfg.data, cfg.teacher.train.seed, None)?;
    let d_input = splits.train.num_features;
    let (teacher_params, student_params) = (
        cfg.teacher.model.scorer(d_input).num_params(),
        cfg.student.model.scorer(d_input).num_params(),
    );
    notice!(
        "quickstart: {} ({} / {} / {} train/valid/test queries); teacher {teacher_params} parameters, student {student_params} ({:.0}x smaller)",
        splits.source,
        splits.train.num_queries(),
        splits.valid.num_queries(),
        splits.test.as_ref().map_or(0, |t| t.num_queries()),
        teacher_params as f64 / student_params as f64
    );
    let label_only = ObjectiveConfig::label_only(LabelLossKind::SoftmaxCe);
    ListRun {
        label: "teacher",
        splits: &splits,
        teacher: None,
        model: &cfg.teacher.model,
        train: &cfg.teacher.train,
        objective: &label_only,
        record: Some(RunRecord {
            dir,
            resume: false,
            config_text,
            role: Role::Teacher,
            method: LabelLossKind::SoftmaxCe.name(),
            data: &cfg.data,
            teacher: None,
        }),
        progress: true,
    }
    .run(backend)?;
    Ok(())
}
