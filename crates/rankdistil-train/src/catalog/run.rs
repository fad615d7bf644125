//! A whole catalog run: the teacher (trained, or reused), its top-p cache, every student of
//! every method and seed (each saved in its own folder), and the table of full-catalog
//! NDCG@10 and Recall@20 beside a popularity baseline. `resume` continues an interrupted run
//! with what it has: finished models are reused, an interrupted one continues from its
//! checkpoint.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Context, bail};
use rankdistil_models::CatalogScorer;

use crate::backend::Backend;
use crate::catalog::config::{CatalogMethod, CatalogModel, CatalogRunConfig, CatalogStage};
use crate::catalog::data::{CatalogSplit, load_split};
use crate::catalog::footprint;
use crate::catalog::model_dir::{self, CatalogModelMeta, load_matching, save_model_dir};
use crate::catalog::scoring::{
    CatalogEvaluation, CatalogMetrics, evaluate_catalog, evaluate_popularity, full_teacher_scores,
};
use crate::catalog::table::table;
use crate::catalog::top_p_cache::{TopPCache, build_cache};
use crate::catalog::training::{CatalogTraining, MethodSettings, Target, TeacherSignal};
use crate::progress::{self, Event, Reached, notice};
use crate::role::Role;
use crate::store::atomic::write_atomic;

/// The resolved config a catalog run keeps, so `resume` can check it continues the same run.
pub const RUN_CONFIG: &str = "config.toml";
/// The results table of a run.
pub const TABLE_FILE: &str = "catalog.md";

/// Where a catalog run goes and what it reuses.
pub struct CatalogPlan<'a> {
    pub config: &'a CatalogRunConfig,
    /// The config file, for errors.
    pub config_path: &'a Path,
    pub out: &'a Path,
    /// A catalog teacher folder to reuse instead of training one.
    pub teacher: Option<&'a Path>,
    /// A top-p cache to reuse instead of building one.
    pub cache: Option<&'a Path>,
    pub resume: bool,
}

/// What a catalog run measured.
pub struct CatalogReport {
    /// The Markdown table, also written to [`TABLE_FILE`].
    pub table: String,
    pub num_items: usize,
    /// Seconds of one full-catalog evaluation of the teacher.
    pub teacher_eval_seconds: f64,
}

impl CatalogPlan<'_> {
    pub fn run(&self, backend: &Backend) -> crate::Result<CatalogReport> {
        // A directory it may not use is refused before anything is loaded.
        self.check_out()?;
        let data = self.load_data()?;
        let split = &data.split;
        let reused = self.reused_teacher();
        let reused = (reused.as_deref())
            .map(|dir| self.load_teacher(dir, &data, backend))
            .transpose()?;
        // Everything the run reads is checked: only now is anything written.
        self.prepare_out()?;
        let (teacher, evaluated) = match reused {
            Some(teacher) => {
                let evaluated = evaluate_catalog(&teacher, split, backend);
                (teacher, evaluated)
            }
            None => self.train_teacher(&data, backend)?,
        };
        let (t, eval_s) = (evaluated.metrics, evaluated.seconds);
        notice!(
            "catalog: teacher NDCG@10 {:.4}, Recall@20 {:.4} (full-catalog evaluation in {eval_s:.2}s)",
            t.ndcg_at_10,
            t.recall_at_20
        );
        let cache = self.top_p_cache(&teacher, &data, backend)?;
        let full_scores = self.config.methods.iter().any(|m| m.reads_full_scores());
        let full = full_teacher_scores(&teacher, split, full_scores, backend);
        let mut rows = Vec::new();
        for &method in &self.config.methods {
            let runs = self
                .config
                .seeds
                .iter()
                .map(|&seed| self.student(method, seed, &data, &cache, &full, backend))
                .collect::<crate::Result<Vec<_>>>()?;
            rows.push((method, runs));
        }
        let table = table(t, evaluate_popularity(split), &rows);
        write_atomic(&self.out.join(TABLE_FILE), table.as_bytes())?;
        Ok(CatalogReport {
            table,
            num_items: split.num_items,
            teacher_eval_seconds: eval_s,
        })
    }

    /// The data, in a reused teacher's item order, checked against the teacher, a given cache
    /// and the machine's memory.
    fn load_data(&self) -> crate::Result<CatalogSplit> {
        let catalog = match self.reused_teacher() {
            Some(dir) => {
                let num_items = model_dir::load_meta(&dir)?.num_items;
                Some(model_dir::load_item_ids(&dir, num_items)?)
            }
            None => None,
        };
        let data = load_split(&self.config.data, catalog.as_deref())?;
        let split = &data.split;
        notice!(
            "catalog: {} users, {} items, {} training and {} held-out positives; {} users evaluated",
            data.num_users,
            split.num_items,
            split.train.iter().map(Vec::len).sum::<usize>(),
            split.test.iter().map(Vec::len).sum::<usize>(),
            split.evaluable().len()
        );
        self.check_softmax_kd_fits(&data)?;
        footprint::check(self.config, split.train.len(), split.num_items)?;
        if let Some(path) = self.cache {
            self.read_cache(path, &data)?;
        }
        Ok(data)
    }

    /// Checks that `out` continues the same run, or holds none to start over.
    fn check_out(&self) -> crate::Result<()> {
        let config_text = toml::to_string(self.config)?;
        let stored = self.out.join(RUN_CONFIG);
        if self.resume {
            let text = std::fs::read_to_string(&stored).with_context(|| {
                format!(
                    "{}: cannot read; --resume continues a catalog run, and {} holds none",
                    stored.display(),
                    self.out.display()
                )
            })?;
            crate::error::ensure!(
                text == config_text,
                "{}: the run was started with another config than {}; resume it with the same settings, or start a new --out",
                stored.display(),
                self.config_path.display()
            );
            if self.teacher.is_none()
                && model_dir::meta_path(&self.out.join("teacher")).is_none()
                && self.out.join("students").exists()
            {
                bail!(
                    "{}: holds students but no teacher/, so they were distilled from a teacher given with --teacher; resume with the same --teacher and --cache",
                    self.out.display()
                );
            }
            return Ok(());
        }
        // A run that stopped before its teacher was saved (bad data, say) holds only its
        // config, a copy of the user's file: starting again over it loses nothing.
        crate::error::ensure!(
            !self.out.join("teacher").exists() && !self.out.join("students").exists(),
            "{} already holds a catalog run; pass --resume to continue it, or choose another --out (nothing was overwritten)",
            self.out.display()
        );
        Ok(())
    }

    /// A new run's directory, with its config; a resumed run's is already in place.
    fn prepare_out(&self) -> crate::Result<()> {
        if self.resume {
            return Ok(());
        }
        std::fs::create_dir_all(self.out)
            .with_context(|| format!("{}: cannot create", self.out.display()))?;
        let config_text = toml::to_string(self.config)?;
        Ok(write_atomic(
            &self.out.join(RUN_CONFIG),
            config_text.as_bytes(),
        )?)
    }

    /// A teacher folder given, or the run's own finished one when resuming: it fixes the
    /// catalog's item order.
    fn reused_teacher(&self) -> Option<PathBuf> {
        let saved = self.out.join("teacher");
        match self.teacher {
            Some(dir) => Some(dir.to_path_buf()),
            None if self.resume && model_dir::meta_path(&saved).is_some() => Some(saved),
            None => None,
        }
    }

    /// Softmax KD and Margin-MSE keep the teacher's scores over the whole catalog for every
    /// user in memory.
    fn check_softmax_kd_fits(&self, data: &CatalogSplit) -> crate::Result<()> {
        if !self.config.methods.iter().any(|m| m.reads_full_scores()) {
            return Ok(());
        }
        let (users, l) = (data.split.train.len(), data.split.num_items);
        footprint::check_full_scores(users, l).map_err(|e| {
            crate::error::invalid!(
                "{}: {e}; drop it from methods and use sampled, whose cost does not grow with the catalog",
                self.config_path.display()
            )
        })
    }

    /// A saved teacher: one given, or the run's own when resuming, which must still have the
    /// config's architecture.
    fn load_teacher(
        &self,
        dir: &Path,
        data: &CatalogSplit,
        backend: &Backend,
    ) -> crate::Result<CatalogScorer> {
        let own = self.teacher.is_none();
        let model = own.then_some(&self.config.teacher.model);
        let teacher = load_matching(dir, backend, data.split.num_items, model)?;
        if own {
            progress::emit(Event::Reused {
                run: "catalog: teacher".into(),
                from: dir.to_path_buf(),
                metrics: None,
            });
        }
        Ok(teacher)
    }

    /// A new teacher, saved, and its full-catalog evaluation.
    fn train_teacher(
        &self,
        data: &CatalogSplit,
        backend: &Backend,
    ) -> crate::Result<(CatalogScorer, CatalogEvaluation)> {
        let dir = self.out.join("teacher");
        let stage = &self.config.teacher;
        let teacher = train_model(stage, data, Target::Labels, 0, "teacher", &dir, backend)?;
        let evaluated = evaluate_catalog(&teacher, &data.split, backend);
        let meta = self.meta(
            &stage.model,
            data.split.num_items,
            evaluated.metrics,
            Role::Teacher,
            None,
        );
        save_model_dir(&dir, &teacher, &meta, &data.item_ids)?;
        Ok((teacher, evaluated))
    }

    fn meta(
        &self,
        model: &CatalogModel,
        num_items: usize,
        metrics: CatalogMetrics,
        role: Role,
        student: Option<(CatalogMethod, u64)>,
    ) -> CatalogModelMeta {
        CatalogModelMeta {
            data: self.config.data.clone(),
            model: model.clone(),
            num_items,
            ndcg_at_10: metrics.ndcg_at_10,
            recall_at_20: metrics.recall_at_20,
            role,
            method: student.map(|(m, _)| m.name().into()),
            seed: student.map(|(_, s)| s),
            epoch: None,
            seconds: None,
        }
    }

    /// The teacher's top-p unseen items per user: written once, read by every student.
    fn top_p_cache(
        &self,
        teacher: &CatalogScorer,
        data: &CatalogSplit,
        backend: &Backend,
    ) -> crate::Result<TopPCache> {
        let (p, l) = (self.config.distill.sampled.p, data.split.num_items);
        let path = match self.cache {
            Some(path) => path.to_path_buf(),
            None => {
                let path = self.out.join(format!("teacher-top{p}.bin"));
                if self.resume && path.exists() {
                    progress::emit(Event::TopPCache {
                        p,
                        path: path.clone(),
                        written_in: None,
                    });
                } else {
                    let started = Instant::now();
                    build_cache(teacher, &data.split, p, backend).write(&path, l)?;
                    progress::emit(Event::TopPCache {
                        p,
                        path: path.clone(),
                        written_in: Some(started.elapsed().as_secs_f64()),
                    });
                }
                path
            }
        };
        self.read_cache(&path, data)
    }

    /// Reads a top-p cache, which must serve this run's users and p.
    fn read_cache(&self, path: &Path, data: &CatalogSplit) -> crate::Result<TopPCache> {
        let (p, l) = (self.config.distill.sampled.p, data.split.num_items);
        let cache = TopPCache::read(path, l)?;
        let users = data.split.train.len();
        crate::error::ensure!(
            cache.users.len() == users && cache.p >= p,
            "{}: a top-{} cache for {} users does not serve p = {p} for {users} users",
            path.display(),
            cache.p,
            cache.users.len(),
        );
        Ok(cache)
    }

    /// One student's full-catalog (NDCG@10, Recall@20): trained and saved, or read back from
    /// its finished folder when resuming.
    fn student(
        &self,
        method: CatalogMethod,
        seed: u64,
        data: &CatalogSplit,
        cache: &TopPCache,
        full: &[f32],
        backend: &Backend,
    ) -> crate::Result<CatalogMetrics> {
        let name = format!("{} seed {seed}", method.name());
        let dir = self
            .out
            .join("students")
            .join(format!("{}-seed{seed}", method.name()));
        if self.resume && model_dir::meta_path(&dir).is_some() {
            return reuse_student(&dir, method, seed, &name);
        }
        let teacher = TeacherSignal { cache, full };
        let settings = MethodSettings {
            distill: &self.config.distill,
            softmax_kd: &self.config.softmax_kd,
            rrd: &self.config.rrd,
            cd: &self.config.cd,
            margin_mse: &self.config.margin_mse,
        };
        let target = Target::for_method(method, teacher, settings, seed);
        let stage = &self.config.student;
        let student = train_model(stage, data, target, seed, &name, &dir, backend)?;
        let evaluated = evaluate_catalog(&student, &data.split, backend);
        let l = data.split.num_items;
        let m = evaluated.metrics;
        let meta = self.meta(&stage.model, l, m, Role::Student, Some((method, seed)));
        save_model_dir(&dir, &student, &meta, &data.item_ids)?;
        notice!(
            "catalog: {name}: NDCG@10 {:.4}, Recall@20 {:.4}, saved to {}",
            m.ndcg_at_10,
            m.recall_at_20,
            dir.display()
        );
        Ok(m)
    }
}

fn train_model(
    stage: &CatalogStage,
    data: &CatalogSplit,
    target: Target,
    seed: u64,
    name: &str,
    dir: &Path,
    backend: &Backend,
) -> crate::Result<CatalogScorer> {
    CatalogTraining {
        stage,
        split: &data.split,
        target,
        seed,
        name,
        dir,
        validation: None,
    }
    .run(backend)
}

fn reuse_student(
    dir: &Path,
    method: CatalogMethod,
    seed: u64,
    name: &str,
) -> crate::Result<CatalogMetrics> {
    let meta = model_dir::load_meta(dir)?;
    crate::error::ensure!(
        meta.method.as_deref() == Some(method.name()) && meta.seed == Some(seed),
        "{}: holds {:?} seed {:?}, not {name}",
        dir.display(),
        meta.method,
        meta.seed
    );
    progress::emit(Event::Reused {
        run: format!("catalog: {name}"),
        from: dir.to_path_buf(),
        metrics: Some(Reached {
            ndcg_at_10: meta.ndcg_at_10,
            recall_at_20: meta.recall_at_20,
        }),
    });
    Ok(CatalogMetrics {
        ndcg_at_10: meta.ndcg_at_10,
        recall_at_20: meta.recall_at_20,
    })
}
