//! A study over list data: the teacher, every method's tuning trials (validation only), the
//! chosen settings on the final seeds (test), the paired tests and the size sweep.

use crate::error::Context;
use rankdistil_data::RankingDataset;
use rankdistil_metrics::{IdcgZero, ndcg_at};

use crate::backend::Backend;
use crate::list::compare::COMPARE_COLUMNS;
use crate::list::config::{ModelConfig, TeacherRunConfig, TrainConfig};
use crate::list::label_run::train_from_labels;
use crate::list::run_dir::{META_FILE, load_meta};
use crate::list::scoring::{evaluate, score_dataset};
use crate::list::teacher::TeacherScores;
use crate::list::training::ListRun;
use crate::settings;
use crate::study::book::{Book, Phase, StudyRun};
use crate::study::config::{ListStudyConfig, MethodSearch};
use crate::study::drive::{Measured, Plan, RunSpec, Study, StudyRunner, Sweep, drive};
use crate::study::report::{Findings, Protocol, TeacherSummary};
use crate::study::search::{Knobs, draw, knob_number};

/// Where the teacher's run goes inside the study's directory.
const TEACHER_DIR: &str = "teacher";

/// A list study and where it writes.
pub type ListStudy<'a> = Study<'a, ListStudyConfig>;

/// What the students train and are tested on.
struct Setting<'a> {
    teacher: &'a TeacherScores,
    test: &'a RankingDataset,
    backend: &'a Backend,
}

impl ListStudy<'_> {
    /// Runs what the study's record lacks and returns its findings.
    pub fn run(&self, backend: &Backend) -> crate::Result<Findings> {
        let config_text = toml::to_string(self.config)?;
        let mut book = Book::open(self.out, &config_text, self.resume)?;
        let (mut teacher, teacher_summary) = self.teacher(backend)?;
        // Only the study reads the test split: tuning and training never see it.
        let test = teacher.splits.test.take().with_context(|| {
            format!(
                "{}: the study needs a test split ([data] test, or synthetic data)",
                self.config.teacher.display()
            )
        })?;
        let runner = ListRunner {
            study: self,
            setting: Setting {
                teacher: &teacher,
                test: &test,
                backend,
            },
        };
        let plan = Plan {
            protocol: self.protocol(),
            sweep: self.config.sweep.as_ref().map(|sweep| Sweep {
                sizes: sweep.hidden.clone(),
                seeds: sweep.seeds.as_deref().unwrap_or(&self.config.seeds),
            }),
        };
        drive(&runner, &mut book, &plan, teacher_summary)
    }

    fn protocol(&self) -> Protocol<'_> {
        Protocol {
            seeds: &self.config.seeds,
            subject: &self.config.subject,
            bootstrap: self.config.bootstrap,
            seed: self.config.tuning.seed,
            columns: &COMPARE_COLUMNS,
            units: "queries",
        }
    }

    /// The teacher's run in the study's directory: trained (or continued) unless finished.
    fn teacher(&self, backend: &Backend) -> crate::Result<(TeacherScores, TeacherSummary)> {
        let cfg: TeacherRunConfig = settings::load(&self.config.teacher)?;
        let dir = self.out.join(TEACHER_DIR);
        let mut seconds = None;
        if !dir.join(META_FILE).exists() {
            let started = std::time::Instant::now();
            let resume = dir.join(crate::store::checkpoint::CHECKPOINT_DIR).exists();
            train_from_labels(&cfg, &dir, resume, true, backend)?;
            seconds = Some(started.elapsed().as_secs_f64());
        }
        let meta = load_meta(&dir)?;
        let batch = self.config.train.eval_batch_size;
        let scores = TeacherScores::load(&dir, None, backend, cfg.train.seed, batch)?;
        let summary = TeacherSummary {
            params: meta.num_params,
            best_epoch: meta.best_epoch,
            epochs: cfg.train.epochs,
            patience: cfg.train.patience,
            valid_ndcg10: meta.valid.get("ndcg@10").unwrap_or(f64::NAN),
            test: scores.test_metrics.clone().map(|m| m.values),
            seconds,
        };
        Ok((scores, summary))
    }

    /// Trains one student and measures it: validation always, test unless tuning.
    fn student(
        &self,
        setting: &Setting,
        method: &MethodSearch,
        spec: &RunSpec,
    ) -> crate::Result<StudyRun> {
        let (knobs, phase, seed, size) = (spec.knobs, spec.phase, spec.seed, spec.size);
        let mut objective = method.objective(knobs).map_err(crate::Error::msg)?;
        objective.seed = seed;
        let (model, train) = self.stage(knobs, seed, size);
        let teacher = setting.teacher;
        let outcome = ListRun {
            label: method.name(),
            splits: &teacher.splits,
            teacher: Some(teacher.scores()),
            model: &model,
            train: &train,
            objective: &objective,
            record: None,
            progress: false,
        }
        .run(setting.backend)?;
        let (test, test_per_unit) = match phase {
            Phase::Tune => (None, None),
            _ => {
                let scores = score_dataset(
                    &outcome.model,
                    setting.test,
                    setting.backend,
                    train.eval_batch_size,
                );
                let summary = evaluate(setting.test, &scores, teacher.test.as_deref());
                let per_query =
                    (phase == Phase::Final).then(|| per_query_ndcg10(setting.test, &scores));
                (Some(summary.values), per_query)
            }
        };
        Ok(spec.record(Measured {
            params: model.scorer(teacher.splits.train.num_features).num_params(),
            valid_ndcg10: outcome.valid.get("ndcg@10").unwrap_or(f64::NAN),
            test,
            test_per_unit,
            seconds: outcome.seconds,
        }))
    }

    /// The student's architecture and training settings for a trial's knobs.
    fn stage(
        &self,
        knobs: &Knobs,
        seed: u64,
        size: Option<&[usize]>,
    ) -> (ModelConfig, TrainConfig) {
        let number = |key| knobs.get(key).and_then(knob_number);
        let mut model = self.config.model.clone();
        if let Some(hidden) = size {
            model.hidden = hidden.to_vec();
        }
        if let Some(dropout) = number("dropout") {
            model.dropout = dropout;
        }
        let mut train = self.config.train.clone();
        train.seed = seed;
        if let Some(rate) = number("learning_rate") {
            train.learning_rate = rate;
        }
        (model, train)
    }
}

/// A list study's students, trained on its teacher's scores.
struct ListRunner<'a> {
    study: &'a ListStudy<'a>,
    setting: Setting<'a>,
}

impl StudyRunner for ListRunner<'_> {
    fn trials(&self) -> Vec<(String, Vec<Knobs>)> {
        let tuning = &self.study.config.tuning;
        (self.study.config.method.iter())
            .map(|m| {
                let trials = draw(&m.search, tuning.trials, tuning.seed);
                (m.name().to_string(), trials)
            })
            .collect()
    }

    fn train(&self, spec: &RunSpec) -> crate::Result<StudyRun> {
        let method = (self.study.config.method.iter())
            .find(|m| m.name() == spec.method)
            .expect("the driver runs configured methods");
        self.study.student(&self.setting, method, spec)
    }

    fn size_label(&self, size: &[usize]) -> String {
        format!("hidden {size:?}")
    }
}

/// NDCG@10 of each query (0 for a query without a relevant item, as the tables count it).
fn per_query_ndcg10(data: &RankingDataset, scores: &[f32]) -> Vec<f64> {
    (0..data.num_queries())
        .map(|q| {
            let (a, b) = (data.offsets[q], data.offsets[q + 1]);
            ndcg_at(&scores[a..b], &data.labels[a..b], 10, IdcgZero::Zero).unwrap_or(0.0)
        })
        .collect()
}
