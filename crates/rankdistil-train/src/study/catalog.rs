//! A study over a catalog: two teachers (one on the training positives less a validation
//! share, trained until validation stops improving; one on all of them, for as many epochs),
//! every method's tuning trials against the first, the chosen settings on the final seeds
//! against the second (tested per user), the paired tests and the embedding-size sweep.

use std::time::Instant;

use crate::error::Context;
use rankdistil_data::ImplicitSplit;
use rankdistil_models::CatalogScorer;

use crate::backend::Backend;
use crate::catalog::config::{CatalogMethod, CatalogStage};
use crate::catalog::data::{CatalogSplit, load_split};
use crate::catalog::footprint;
use crate::catalog::model_dir::save_model_dir;
use crate::catalog::model_dir::{self, CatalogModelMeta};
use crate::catalog::scoring::{CatalogMetrics, evaluate_catalog, full_teacher_scores};
use crate::catalog::top_p_cache::{TopPCache, build_cache};
use crate::catalog::training::{
    CatalogTraining, CatalogValidation, MethodSettings, Target, TeacherSignal,
};
use crate::catalog::user_metrics::{USER_COLUMNS, means, user_heads, user_metrics};
use crate::progress::notice;
use crate::role::Role;
use crate::study::book::{Book, Phase, StudyRun};
use crate::study::catalog_config::{CatalogStudyConfig, CatalogTrial};
use crate::study::drive::{Measured, Plan, RunSpec, Study, StudyRunner, Sweep, drive};
use crate::study::report::{Findings, Protocol, TeacherSummary};
use crate::study::search::Knobs;

/// Seeds the validation split apart from the test split.
const VALIDATION_SEED: u64 = 0x5eed_7a11;

/// A catalog study and where it writes.
pub type CatalogStudy<'a> = Study<'a, CatalogStudyConfig>;

/// A split with its teacher and what students read from it.
struct TeacherSplit<'a> {
    split: &'a ImplicitSplit,
    /// The teacher's top-p unseen items per user, for sampled RankDistil.
    cache: TopPCache,
    /// The teacher's scores over the whole catalog, `[users × L]`, for softmax KD.
    full: Vec<f32>,
    /// The teacher's top 20 per evaluable user, for overlap@10.
    heads: Vec<Vec<u32>>,
}

/// The two teachers' story, for the report.
struct Teachers {
    summary: TeacherSummary,
    tuning: CatalogScorer,
    last: CatalogScorer,
}

impl CatalogStudy<'_> {
    /// Runs what the study's record lacks and returns its findings.
    pub fn run(&self, backend: &Backend) -> crate::Result<Findings> {
        let config = self.config;
        let data = load_split(&config.data, None)?;
        let tuning_split = data.split.validation(config.validation, VALIDATION_SEED);
        self.check_fits(&data)?;
        let mut book = Book::open(self.out, &toml::to_string(config)?, self.resume)?;
        notice!(
            "study: {} users, {} items; {} training positives ({} of them held out to validate on), {} test positives",
            data.num_users,
            data.split.num_items,
            data.split.train.iter().map(Vec::len).sum::<usize>(),
            tuning_split.test.iter().map(Vec::len).sum::<usize>(),
            data.split.test.iter().map(Vec::len).sum::<usize>(),
        );
        let teachers = self.teachers(&data, &tuning_split, backend)?;
        let tuning = self.stage(&tuning_split, teachers.tuning, backend);
        let last = self.stage(&data.split, teachers.last, backend);
        let runner = CatalogRunner {
            study: self,
            tuning,
            last,
            backend,
        };
        let plan = Plan {
            protocol: self.protocol(),
            sweep: config.sweep.as_ref().map(|sweep| Sweep {
                sizes: sweep.dim.iter().map(|&d| vec![d]).collect(),
                seeds: sweep.seeds.as_deref().unwrap_or(&config.seeds),
            }),
        };
        drive(&runner, &mut book, &plan, teachers.summary)
    }

    fn protocol(&self) -> Protocol<'_> {
        Protocol {
            seeds: &self.config.seeds,
            subject: self.config.subject.name(),
            bootstrap: self.config.bootstrap,
            seed: self.config.tuning.seed,
            columns: &USER_COLUMNS,
            units: "users",
        }
    }

    fn reads_full_scores(&self) -> bool {
        (self.config.method.iter()).any(|m| m.method.reads_full_scores())
    }

    /// Softmax KD and Margin-MSE keep the teacher's scores over the whole catalog for every
    /// user.
    fn check_fits(&self, data: &CatalogSplit) -> crate::Result<()> {
        if !self.reads_full_scores() {
            return Ok(());
        }
        let (users, l) = (data.split.train.len(), data.split.num_items);
        footprint::check_full_scores(users, l)
            .map_err(|e| crate::error::invalid!("{e}: drop its [[method]] table"))
    }

    /// The tuning teacher (validated, early-stopped) and the final one (all training
    /// positives, as many epochs), each trained unless its folder is finished.
    fn teachers(
        &self,
        data: &CatalogSplit,
        tuning_split: &ImplicitSplit,
        backend: &Backend,
    ) -> crate::Result<Teachers> {
        let stage = &self.config.teacher;
        let validation = CatalogValidation {
            split: tuning_split,
            patience: self.config.patience,
            backend,
        };
        let (tuning, tuning_meta) = self.teacher(
            "teacher-tuning",
            stage,
            tuning_split,
            Some(validation),
            data,
            backend,
        )?;
        let best_epoch = tuning_meta.epoch.unwrap_or(stage.train.epochs);
        let mut last_stage = stage.clone();
        last_stage.train.epochs = best_epoch;
        let (last, last_meta) =
            self.teacher("teacher", &last_stage, &data.split, None, data, backend)?;
        let heads = user_heads(&last, &data.split, backend);
        let test = means(&user_metrics(&heads, &data.split, None));
        notice!(
            "study: teacher: best epoch {best_epoch} on validation (NDCG@10 {:.4}); retrained on all training positives: test NDCG@10 {:.4}",
            tuning_meta.ndcg_at_10,
            test["ndcg@10"]
        );
        let seconds = tuning_meta
            .seconds
            .zip(last_meta.seconds)
            .map(|(a, b)| a + b);
        let summary = TeacherSummary {
            params: stage.model.scorer(data.split.num_items).num_params(),
            best_epoch,
            epochs: stage.train.epochs,
            patience: Some(self.config.patience),
            valid_ndcg10: tuning_meta.ndcg_at_10,
            test: Some(test),
            seconds,
        };
        Ok(Teachers {
            summary,
            tuning,
            last,
        })
    }

    /// One teacher in `out/<name>`: read back when finished, else trained (or continued).
    fn teacher(
        &self,
        name: &str,
        stage: &CatalogStage,
        split: &ImplicitSplit,
        validation: Option<CatalogValidation>,
        data: &CatalogSplit,
        backend: &Backend,
    ) -> crate::Result<(CatalogScorer, CatalogModelMeta)> {
        let dir = self.out.join(name);
        if model_dir::meta_path(&dir).is_some() {
            let (model, meta) = model_dir::load(&dir, &backend.device)?;
            crate::error::ensure!(
                meta.model == stage.model && meta.num_items == split.num_items,
                "{}: holds another teacher than the study's; remove it or choose another --out",
                dir.display()
            );
            notice!("study: {name} reused from {}", dir.display());
            return Ok((model, meta));
        }
        let started = Instant::now();
        let fitted = CatalogTraining {
            stage,
            split,
            target: Target::Labels,
            seed: self.config.tuning.seed,
            name,
            dir: &dir,
            validation,
        }
        .fit(backend)?;
        let m = match &fitted.valid {
            Some(v) => CatalogMetrics {
                ndcg_at_10: v.get("ndcg@10").unwrap_or(0.0),
                recall_at_20: v.get("recall@20").unwrap_or(0.0),
            },
            None => evaluate_catalog(&fitted.model, split, backend).metrics,
        };
        let meta = CatalogModelMeta {
            data: self.config.data.clone(),
            model: stage.model.clone(),
            num_items: split.num_items,
            ndcg_at_10: m.ndcg_at_10,
            recall_at_20: m.recall_at_20,
            role: Role::Teacher,
            method: None,
            seed: None,
            epoch: Some(fitted.epoch),
            seconds: Some(started.elapsed().as_secs_f64()),
        };
        save_model_dir(&dir, &fitted.model, &meta, &data.item_ids)?;
        Ok((fitted.model, meta))
    }

    /// What students of `split` read from its teacher.
    fn stage<'s>(
        &self,
        split: &'s ImplicitSplit,
        teacher: CatalogScorer,
        backend: &Backend,
    ) -> TeacherSplit<'s> {
        let p = self.config.largest_p().max(1);
        let cache = build_cache(&teacher, split, p, backend);
        let full = full_teacher_scores(&teacher, split, self.reads_full_scores(), backend);
        let heads = user_heads(&teacher, split, backend);
        TeacherSplit {
            split,
            cache,
            full,
            heads,
        }
    }

    /// Trains the student `spec` asks for on `stage`'s split and measures it: validation
    /// NDCG@10 when tuning, the test split's per-user metrics otherwise.
    fn measured(
        &self,
        stage: &TeacherSplit,
        spec: &RunSpec,
        backend: &Backend,
    ) -> crate::Result<StudyRun> {
        let (knobs, phase, seed, size) = (spec.knobs, spec.phase, spec.seed, spec.size);
        let method = method(spec.method);
        let dim = size.and_then(|s| s.first().copied());
        let trial = self
            .config
            .trial(method, knobs, dim)
            .map_err(crate::Error::msg)?;
        let started = Instant::now();
        let student = self.student(stage, method, &trial, seed, backend)?;
        let seconds = started.elapsed().as_secs_f64();
        let (valid_ndcg10, test, test_per_unit) = match phase {
            Phase::Tune => (
                evaluate_catalog(&student, stage.split, backend)
                    .metrics
                    .ndcg_at_10,
                None,
                None,
            ),
            _ => {
                let heads = user_heads(&student, stage.split, backend);
                let per_user = user_metrics(&heads, stage.split, Some(&stage.heads));
                let per_unit = (phase == Phase::Final).then(|| per_user["ndcg@10"].clone());
                (f64::NAN, Some(means(&per_user)), per_unit)
            }
        };
        Ok(spec.record(Measured {
            params: trial.stage.model.scorer(stage.split.num_items).num_params(),
            valid_ndcg10,
            test,
            test_per_unit,
            seconds,
        }))
    }

    /// Trains one student in a scratch folder inside the study's, removed afterwards.
    fn student(
        &self,
        stage: &TeacherSplit,
        method: CatalogMethod,
        trial: &CatalogTrial,
        seed: u64,
        backend: &Backend,
    ) -> crate::Result<CatalogScorer> {
        let scratch = tempfile::Builder::new()
            .prefix(".student-")
            .tempdir_in(self.out)
            .with_context(|| format!("{}: cannot create a scratch folder", self.out.display()))?;
        let teacher = TeacherSignal {
            cache: &stage.cache,
            full: &stage.full,
        };
        let settings = MethodSettings {
            distill: &trial.distill,
            softmax_kd: &trial.softmax_kd,
            rrd: &trial.rrd,
            cd: &trial.cd,
            margin_mse: &trial.margin_mse,
        };
        let target = Target::for_method(method, teacher, settings, seed);
        let name = format!("{} seed {seed}", method.name());
        CatalogTraining {
            stage: &trial.stage,
            split: stage.split,
            target,
            seed,
            name: &name,
            dir: scratch.path(),
            validation: None,
        }
        .run(backend)
    }
}

/// A catalog study's students: tuned against the validated teacher's split, run and tested
/// against the final teacher's.
struct CatalogRunner<'a> {
    study: &'a CatalogStudy<'a>,
    tuning: TeacherSplit<'a>,
    last: TeacherSplit<'a>,
    backend: &'a Backend,
}

impl StudyRunner for CatalogRunner<'_> {
    fn trials(&self) -> Vec<(String, Vec<Knobs>)> {
        let config = self.study.config;
        (config.method.iter())
            .map(|m| (m.method.name().to_string(), config.trials(m)))
            .collect()
    }

    fn train(&self, spec: &RunSpec) -> crate::Result<StudyRun> {
        let stage = match spec.phase {
            Phase::Tune => &self.tuning,
            _ => &self.last,
        };
        self.study.measured(stage, spec, self.backend)
    }

    fn size_label(&self, size: &[usize]) -> String {
        format!("dim {}", size.first().copied().unwrap_or_default())
    }
}

/// The method a chosen row names.
fn method(name: &str) -> CatalogMethod {
    CatalogMethod::ALL
        .into_iter()
        .find(|m| m.name() == name)
        .expect("rows are named by their method's key")
}
