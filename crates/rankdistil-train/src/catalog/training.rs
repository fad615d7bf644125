//! Training one catalog scorer through [`fit`]: the full-softmax or sampled-softmax label
//! loss; sampled RankDistil, RRD or CD from the teacher's top-p cache; or softmax KD and
//! Margin-MSE against the teacher's whole-catalog scores.

use std::path::Path;

use crate::error::Context;
use crate::loss_config::SampledObjectiveConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use rankdistil_data::ImplicitSplit;
use rankdistil_loss::{
    Candidates, CollaborativeDistillation, Draw, MarginMse, MarginMseConfig, Popularity,
    RelaxedRankingDistillation, SampledRankDistil, SampledSoftmaxCe, SampledSoftmaxCeConfig,
    SoftmaxCe, SoftmaxKd, SoftmaxKdConfig,
};
use rankdistil_metrics::MetricSummary;
use rankdistil_models::CatalogScorer;

use crate::backend::Backend;
use crate::catalog::config::{
    CatalogCd, CatalogMarginMse, CatalogMethod, CatalogRrd, CatalogSoftmaxKd, CatalogStage,
};
use crate::catalog::rows::{
    denoised, distinct, gathered_histories, label_rows, label_targets, local,
};
use crate::catalog::scoring::evaluate_catalog;
use crate::catalog::scoring::padded;
use crate::catalog::sparse::{SparseTables, TouchedRows};
use crate::catalog::top_p_cache::TopPCache;
use crate::fit::{FitRecord, FitSettings, Fitted, Task, fit};
use crate::optimizer::OptimizerSettings;
use crate::progress::notice;
use crate::store::checkpoint::Checkpoint;

/// What a catalog scorer learns from.
pub enum Target<'a> {
    /// The user's own items.
    Labels,
    /// Sampled RankDistil from the cache, mixed with weight `alpha` with the sampled label
    /// softmax: `(1 − α)·distill + α·label`.
    Sampled {
        cache: &'a TopPCache,
        loss: SampledRankDistil,
        alpha: f64,
    },
    /// Softmax KD against the teacher's scores over the whole catalog (`[users × L]`), mixed
    /// with weight `alpha` with the full label softmax: `(1 − α)·KD + α·label`.
    SoftmaxKd {
        scores: &'a [f32],
        loss: SoftmaxKd,
        alpha: f64,
    },
    /// RRD from the cache, mixed with weight `alpha` with the sampled label softmax.
    Rrd {
        cache: &'a TopPCache,
        loss: RelaxedRankingDistillation,
        alpha: f64,
    },
    /// CD from the cache, mixed with weight `alpha` with the sampled label softmax.
    Cd {
        cache: &'a TopPCache,
        loss: CollaborativeDistillation,
        alpha: f64,
    },
    /// Margin-MSE on the teacher's whole-catalog scores (`[users × L]`), mixed with weight
    /// `alpha` with the sampled label softmax.
    MarginMse {
        cache: &'a TopPCache,
        full: &'a [f32],
        loss: CatalogMarginLoss,
        alpha: f64,
    },
}

/// Margin-MSE as a catalog student draws it: one positive and `pairs` negatives a user.
pub struct CatalogMarginLoss {
    loss: MarginMse,
    pairs: usize,
}

impl Target<'_> {
    /// The cache and loss of a target that reads the teacher's top-p cache.
    fn cache_loss(&self) -> Option<SampledDistill<'_>> {
        let (cache, loss, alpha, full): (_, &dyn CandidateLoss, _, &[f32]) = match self {
            Target::Sampled { cache, loss, alpha } => (cache, loss, alpha, &[]),
            Target::Rrd { cache, loss, alpha } => (cache, loss, alpha, &[]),
            Target::Cd { cache, loss, alpha } => (cache, loss, alpha, &[]),
            Target::MarginMse {
                cache,
                full,
                loss,
                alpha,
            } => (cache, loss, alpha, full),
            Target::Labels | Target::SoftmaxKd { .. } => return None,
        };
        Some(SampledDistill {
            cache,
            full,
            loss,
            alpha: *alpha,
        })
    }
}

/// The `[distill]`, `[softmax_kd]`, `[rrd]`, `[cd]` and `[margin_mse]` settings of a student.
#[derive(Clone, Copy)]
pub struct MethodSettings<'a> {
    pub distill: &'a SampledObjectiveConfig,
    pub softmax_kd: &'a CatalogSoftmaxKd,
    pub rrd: &'a CatalogRrd,
    pub cd: &'a CatalogCd,
    pub margin_mse: &'a CatalogMarginMse,
}

/// What the teacher gives a student of `method`: its top-p `cache` for sampled RankDistil, its
/// whole-catalog scores `full` for softmax KD.
pub struct TeacherSignal<'a> {
    pub cache: &'a TopPCache,
    pub full: &'a [f32],
}

impl<'a> Target<'a> {
    /// A student's target for `method`, with the `[distill]`, `[softmax_kd]` and `[rrd]`
    /// settings and the student's `seed` (which seeds the sampled losses' draws).
    pub fn for_method(
        method: CatalogMethod,
        teacher: TeacherSignal<'a>,
        settings: MethodSettings,
        seed: u64,
    ) -> Self {
        let MethodSettings {
            distill,
            softmax_kd,
            rrd,
            cd,
            margin_mse,
        } = settings;
        match method {
            CatalogMethod::LabelOnly => Target::Labels,
            CatalogMethod::Sampled => Target::Sampled {
                cache: teacher.cache,
                loss: distill.sampled.clone().with_seed(seed).init(),
                alpha: distill.alpha,
            },
            CatalogMethod::SoftmaxKd => Target::SoftmaxKd {
                scores: teacher.full,
                loss: SoftmaxKdConfig::new()
                    .with_teacher_temperature(softmax_kd.teacher_temperature)
                    .init(),
                alpha: softmax_kd.alpha,
            },
            CatalogMethod::Rrd => Target::Rrd {
                cache: teacher.cache,
                loss: rrd.loss(seed).init(),
                alpha: rrd.alpha,
            },
            CatalogMethod::Cd => Target::Cd {
                cache: teacher.cache,
                loss: cd.loss(seed).init(),
                alpha: cd.alpha,
            },
            CatalogMethod::MarginMse => Target::MarginMse {
                cache: teacher.cache,
                full: teacher.full,
                loss: CatalogMarginLoss {
                    loss: MarginMseConfig::new().with_seed(seed).init(),
                    pairs: margin_mse.pairs,
                },
                alpha: margin_mse.alpha,
            },
        }
    }
}

/// One catalog model to train.
pub struct CatalogTraining<'a> {
    pub stage: &'a CatalogStage,
    pub split: &'a ImplicitSplit,
    pub target: Target<'a>,
    pub seed: u64,
    /// Its log lines' label (`teacher`, `sampled seed 1`).
    pub name: &'a str,
    /// The model folder that keeps its checkpoints and metrics while it trains.
    pub dir: &'a Path,
    /// Validate after each epoch, keep the best and stop early; `None` trains every epoch.
    pub validation: Option<CatalogValidation<'a>>,
}

/// Early stopping on held-out positives: full-catalog NDCG@10 of `split.test`, with the
/// training items of `split.train` (the model's own) excluded.
pub struct CatalogValidation<'a> {
    pub split: &'a ImplicitSplit,
    /// Epochs without a better NDCG@10 before training stops.
    pub patience: usize,
    pub backend: &'a Backend,
}

impl<'a> CatalogTraining<'a> {
    /// Trains the model, continuing from its folder's checkpoint when there is one.
    pub fn run(self, backend: &Backend) -> crate::Result<CatalogScorer> {
        Ok(self.fit(backend)?.model)
    }

    /// [`Self::run`], with the epoch it kept and its validation metrics.
    pub fn fit(self, backend: &Backend) -> crate::Result<Fitted<CatalogScorer>> {
        // A folder from an earlier attempt with no complete checkpoint: it was killed before
        // its first, and starts over, as `train --resume` says too.
        let earlier = std::fs::read_dir(self.dir).is_ok_and(|mut e| e.next().is_some());
        if earlier && Checkpoint::of(self.dir).state()?.is_none() {
            notice!(
                "catalog: {}: no complete checkpoint yet in {}; restarting from epoch 1 (the partial epoch is discarded)",
                self.name,
                self.dir.display()
            );
        }
        std::fs::create_dir_all(self.dir)
            .with_context(|| format!("{}: cannot create", self.dir.display()))?;
        let label = format!("catalog: {}", self.name);
        let settings = self.settings();
        let record = FitRecord {
            label: &label,
            dir: Some(self.dir),
            resume: true,
            progress: true,
        };
        let mut task = CatalogTask::new(self, backend);
        fit(&mut task, &settings, &record, backend)
    }

    /// How [`fit`] optimises this model.
    pub fn settings(&self) -> FitSettings {
        FitSettings {
            epochs: self.stage.train.epochs,
            optimizer: OptimizerSettings::adam(self.stage.train.learning_rate, 0.0),
            seed: self.seed,
            patience: self.validation.as_ref().map(|v| v.patience),
            checkpoint_every: self.stage.train.checkpoint_every(),
        }
    }

    /// The step as [`fit`] takes it, for benchmarks that count or time that step.
    pub fn task(self, backend: &Backend) -> CatalogTask<'a> {
        CatalogTask::new(self, backend)
    }
}

/// What a step reads and never changes.
struct StepContext<'a> {
    stage: &'a CatalogStage,
    split: &'a ImplicitSplit,
    target: Target<'a>,
    /// The sampled label softmax, when label training draws negatives.
    sampled_ce: Option<SampledSoftmaxCe>,
    popularity: Option<Popularity>,
    softmax_ce: SoftmaxCe,
    device: Device,
}

/// The catalog step as [`fit`] runs it.
pub struct CatalogTask<'a> {
    context: StepContext<'a>,
    seed: u64,
    /// Users with at least one training item.
    users: Vec<usize>,
    /// The per-item tables of a row-sparse run, set when the model is made.
    sparse: Option<SparseTables>,
    /// The epoch's stream: its shuffle, input dropout and draws.
    rng: StdRng,
    validation: Option<CatalogValidation<'a>>,
}

impl<'a> CatalogTask<'a> {
    fn new(training: CatalogTraining<'a>, backend: &Backend) -> Self {
        let CatalogTraining {
            stage,
            split,
            target,
            seed,
            name,
            validation,
            ..
        } = training;
        let l = split.num_items;
        let label_term = match &target {
            Target::Labels => true,
            Target::SoftmaxKd { .. } => false,
            cached => cached.cache_loss().is_some_and(|d| d.alpha > 0.0),
        };
        let sampled_ce = (label_term && stage.train.negatives > 0).then(|| {
            SampledSoftmaxCeConfig::new(stage.train.negatives)
                .with_popular(stage.train.popular_negatives)
                .init()
        });
        let distill_popular =
            matches!(&target, Target::Sampled { loss, .. } if loss.popular_negatives > 0.0);
        let popularity = (stage.train.popular_negatives > 0.0 || distill_popular)
            .then(|| Popularity::new(split.train.iter().flatten().copied(), l));
        if let Some(loss) = &sampled_ce {
            announce_sampled_softmax(name, loss, &target, l);
        }
        let users = (0..split.train.len())
            .filter(|&u| !split.train[u].is_empty())
            .collect();
        let context = StepContext {
            stage,
            split,
            target,
            sampled_ce,
            popularity,
            softmax_ce: SoftmaxCe::new(),
            device: backend.training_device(),
        };
        Self {
            context,
            seed,
            users,
            sparse: None,
            rng: StdRng::seed_from_u64(seed),
            validation,
        }
    }

    /// Sampled training reads a few hundred rows of each per-item table per step; those tables
    /// train with row-sparse Adam, so a step's cost does not grow with the catalog.
    fn is_row_sparse(&self) -> bool {
        matches!(
            self.context.target,
            Target::Sampled { .. }
                | Target::Rrd { .. }
                | Target::Cd { .. }
                | Target::MarginMse { .. }
        ) || self.context.sampled_ce.is_some()
    }
}

fn announce_sampled_softmax(name: &str, loss: &SampledSoftmaxCe, target: &Target, l: usize) {
    let how = if loss.popular > 0.0 {
        format!(
            "{} draws per batch, {:.0}% by training popularity",
            loss.negatives,
            loss.popular * 100.0
        )
    } else {
        format!("{} of the {l} items drawn per batch", loss.negatives.min(l))
    };
    let term = (target.cache_loss())
        .map(|d| format!("label term (alpha = {}): ", d.alpha))
        .unwrap_or_default();
    notice!("catalog: {name}: {term}sampled softmax over each user's items plus {how}");
}

impl Task for CatalogTask<'_> {
    type Model = CatalogScorer;
    type Batch = Vec<usize>;

    fn init_model(&mut self, device: &Device) -> CatalogScorer {
        let model = self
            .context
            .stage
            .model
            .scorer(self.context.split.num_items);
        let model = model.init(device);
        self.sparse = self.is_row_sparse().then(|| SparseTables::new(&model));
        model
    }

    fn epoch_device_seed(&self, _epoch: usize) -> Option<u64> {
        // One device stream for the whole run: dropout continues across epochs.
        None
    }

    fn batches(&mut self, epoch: usize) -> Vec<Vec<usize>> {
        self.rng =
            StdRng::seed_from_u64(self.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut order = self.users.clone();
        order.shuffle(&mut self.rng);
        let size = self.context.stage.train.batch_size.max(1);
        order.chunks(size).map(<[usize]>::to_vec).collect()
    }

    fn step(
        &mut self,
        model: &CatalogScorer,
        batch: Vec<usize>,
        step: u64,
    ) -> crate::Result<(Tensor<1>, GradientsParams)> {
        let (context, rng, tables) = (&self.context, &mut self.rng, self.sparse.as_ref());
        let (loss, touched) = match &context.target {
            Target::Labels if context.sampled_ce.is_some() => {
                let tables = tables.expect("sampled label training keeps row-sparse tables");
                sampled_label_loss(context, model, tables, &batch, rng)
            }
            Target::Labels => (full_label_loss(context, model, &batch, rng), None),
            Target::Sampled { .. }
            | Target::Rrd { .. }
            | Target::Cd { .. }
            | Target::MarginMse { .. } => {
                let distill = context.target.cache_loss().expect("a cache-reading target");
                let tables = tables.expect("sampled training keeps row-sparse tables");
                sampled_distill_loss(context, &distill, model, tables, (&batch, step), rng)
            }
            Target::SoftmaxKd {
                scores,
                loss,
                alpha,
            } => {
                let kd = SoftmaxKdTerm {
                    scores,
                    loss,
                    alpha: *alpha,
                };
                (softmax_kd_loss(context, &kd, model, &batch), None)
            }
        };
        let detached = loss.clone().detach();
        let grads = loss.backward();
        if let (Some(tables), Some(rows)) = (self.sparse.as_mut(), touched) {
            tables.step(context.stage.train.learning_rate, &grads, rows);
        }
        Ok((detached, GradientsParams::from_grads(grads, model)))
    }

    fn validates(&self) -> bool {
        self.validation.is_some()
    }

    fn validate(&self, inference: &CatalogScorer) -> MetricSummary {
        let Some(v) = &self.validation else {
            return MetricSummary::default();
        };
        let m = evaluate_catalog(inference, v.split, v.backend).metrics;
        let users = v.split.evaluable().len();
        MetricSummary {
            values: [
                ("ndcg@10".into(), m.ndcg_at_10),
                ("recall@20".into(), m.recall_at_20),
            ]
            .into(),
            counts: [("ndcg@10".into(), users), ("recall@20".into(), users)].into(),
        }
    }

    fn complete(&self, model: CatalogScorer) -> CatalogScorer {
        match &self.sparse {
            Some(tables) => model.with_tables(tables.tables().map(Tensor::from_inner)),
            None => model,
        }
    }

    fn extra_parts(&self) -> crate::Result<Vec<(&'static str, burn::tensor::Bytes)>> {
        Ok(match &self.sparse {
            Some(tables) => vec![(SPARSE_ADAM_PART, tables.moments_bytes()?)],
            None => Vec::new(),
        })
    }

    fn restore_extra(
        &mut self,
        model: &CatalogScorer,
        part: &dyn Fn(&str) -> std::path::PathBuf,
    ) -> crate::Result<()> {
        if self.is_row_sparse() {
            let mut tables = SparseTables::new(model);
            tables.restore_moments(&part(SPARSE_ADAM_PART))?;
            self.sparse = Some(tables);
        }
        Ok(())
    }
}

/// The checkpoint part holding the row-sparse tables' Adam moments.
const SPARSE_ADAM_PART: &str = "sparse-adam.bpk";

/// The multinomial likelihood of each whole history: softmax CE over the whole catalog, with
/// uniform weight on the user's training items.
fn full_label_loss(
    context: &StepContext,
    model: &CatalogScorer,
    batch: &[usize],
    rng: &mut StdRng,
) -> Tensor<1> {
    let (split, device) = (context.split, &context.device);
    let (b, l) = (batch.len(), split.num_items);
    let inputs = denoised(batch, split, context.stage.train.input_dropout, rng);
    let (ids, mask) = padded(
        &inputs.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        device,
    );
    let scores = model.score_range(model.query(ids, mask), 0..l); // [B, L]
    let labels = history_labels(batch, split, device);
    let all = Tensor::<2, Bool>::full([b, l], true, device);
    context.softmax_ce.forward(scores, labels, all)
}

/// `[B, L]`: 1 at each user's training items.
fn history_labels(batch: &[usize], split: &ImplicitSplit, device: &Device) -> Tensor<2> {
    let (b, l) = (batch.len(), split.num_items);
    let mut labels = vec![0f32; b * l];
    for (i, &u) in batch.iter().enumerate() {
        split.train[u]
            .iter()
            .for_each(|&it| labels[i * l + it as usize] = 1.0);
    }
    Tensor::<2>::from_data(TensorData::new(labels, [b, l]), device)
}

/// The sampled label softmax: one candidate set for the whole batch, every user's items and
/// the draw. Each user's softmax runs over their own items and the drawn ones; other users'
/// items are masked out of it.
fn sampled_label_loss(
    context: &StepContext,
    model: &CatalogScorer,
    tables: &SparseTables,
    batch: &[usize],
    rng: &mut StdRng,
) -> (Tensor<1>, Option<TouchedRows>) {
    let (split, device) = (context.split, &context.device);
    let loss = context.sampled_ce.as_ref().expect("checked by the caller");
    let inputs = denoised(batch, split, context.stage.train.input_dropout, rng);
    let (history_rows, ids, mask) = gathered_histories(inputs.iter().map(Vec::as_slice), device);
    let Draw {
        items: drawn,
        shifts,
    } = loss.draw(split.num_items, context.popularity.as_ref(), rng);
    let candidate_rows = label_rows(batch, split, &drawn);
    let (labels, valid, column_shift) =
        label_targets(batch, split, &candidate_rows, &drawn, &shifts, device);
    let step_rows = tables.gather(history_rows, candidate_rows);
    let [history, items, bias] = step_rows.split();
    let q = model.query_from(history, ids, mask);
    let scores = model.score_rows_from(items, bias, q); // [B, R]
    (
        loss.forward(scores, labels, valid, column_shift),
        Some(step_rows),
    )
}

/// A distillation loss over each user's drawn candidates: sampled RankDistil, RRD and CD (from
/// the teacher's top-p cache) and Margin-MSE (a positive against uniform negatives).
trait CandidateLoss {
    /// Restarts the draws at the global `step`.
    fn reseed(&self, step: u64);
    /// One user's candidates from their cached top items `top`, never one of `known`.
    fn candidates(
        &self,
        top: &[u32],
        known: &[u32],
        catalog: usize,
        popularity: Option<&Popularity>,
    ) -> Candidates;
    /// The teacher's scores of a user's first candidates: by default its `top` candidates,
    /// which are the cache's first.
    fn teacher_scores(&self, cand: &Candidates, teacher: TeacherRow) -> Vec<f32> {
        teacher.top_scores[..cand.top].to_vec()
    }
    /// The loss of the candidates' scores `[B, C]`; `teacher` (`[B * C]`) holds
    /// [`Self::teacher_scores`] of each user's candidates, 0 past them.
    fn loss(&self, scores: Tensor<2>, teacher: &[f32], candidates: &[Candidates]) -> Tensor<1>;
}

impl CandidateLoss for SampledRankDistil {
    fn reseed(&self, step: u64) {
        SampledRankDistil::reseed(self, step);
    }

    fn candidates(
        &self,
        top: &[u32],
        known: &[u32],
        catalog: usize,
        popularity: Option<&Popularity>,
    ) -> Candidates {
        match popularity.filter(|_| self.popular_negatives > 0.0) {
            Some(pop) => self.candidates_by_popularity(top, known, catalog, pop),
            None => SampledRankDistil::candidates(self, top, known, catalog),
        }
    }

    fn loss(&self, scores: Tensor<2>, teacher: &[f32], candidates: &[Candidates]) -> Tensor<1> {
        self.forward(scores, teacher, candidates)
    }
}

impl CandidateLoss for RelaxedRankingDistillation {
    fn reseed(&self, step: u64) {
        RelaxedRankingDistillation::reseed(self, step);
    }

    fn candidates(
        &self,
        top: &[u32],
        known: &[u32],
        catalog: usize,
        _popularity: Option<&Popularity>,
    ) -> Candidates {
        RelaxedRankingDistillation::candidates(self, top, known, catalog)
    }

    // RRD's candidates are already in the teacher's order: it reads no teacher score.
    fn loss(&self, scores: Tensor<2>, _teacher: &[f32], candidates: &[Candidates]) -> Tensor<1> {
        self.forward_candidates(scores, candidates)
    }
}

impl CandidateLoss for CollaborativeDistillation {
    fn reseed(&self, step: u64) {
        CollaborativeDistillation::reseed(self, step);
    }

    // CD's items are drawn from the cache by rank; it has no negatives.
    fn candidates(
        &self,
        top: &[u32],
        _known: &[u32],
        _catalog: usize,
        _popularity: Option<&Popularity>,
    ) -> Candidates {
        let items: Vec<u32> = self.draw(top.len()).into_iter().map(|r| top[r]).collect();
        Candidates {
            top: items.len(),
            items,
            negative_shifts: Vec::new(),
        }
    }

    fn teacher_scores(&self, cand: &Candidates, teacher: TeacherRow) -> Vec<f32> {
        let depth = teacher.top.len().min(self.top_n);
        (cand.items.iter())
            .map(|item| {
                let r = teacher.top[..depth].iter().position(|t| t == item);
                teacher.top_scores[r.expect("CD draws from the cache's head")]
            })
            .collect()
    }

    fn loss(&self, scores: Tensor<2>, teacher: &[f32], candidates: &[Candidates]) -> Tensor<1> {
        let (teacher, mask) = padded_candidates(&scores, teacher, candidates);
        self.forward(scores, teacher, mask)
    }
}

impl CandidateLoss for CatalogMarginLoss {
    fn reseed(&self, step: u64) {
        self.loss.reseed(step);
    }

    fn candidates(
        &self,
        _top: &[u32],
        known: &[u32],
        catalog: usize,
        _popularity: Option<&Popularity>,
    ) -> Candidates {
        self.loss.candidates(known, self.pairs, catalog)
    }

    fn teacher_scores(&self, cand: &Candidates, teacher: TeacherRow) -> Vec<f32> {
        let full = teacher.full;
        (cand.items.iter()).map(|&i| full[i as usize]).collect()
    }

    fn loss(&self, scores: Tensor<2>, teacher: &[f32], candidates: &[Candidates]) -> Tensor<1> {
        let (teacher, mask) = padded_candidates(&scores, teacher, candidates);
        self.loss.forward_positive(scores, teacher, mask)
    }
}

/// The teacher scores `[B * C]` as a tensor, and the mask of each user's real candidates.
fn padded_candidates(
    scores: &Tensor<2>,
    teacher: &[f32],
    candidates: &[Candidates],
) -> (Tensor<2>, Tensor<2, Bool>) {
    let device = scores.device();
    let [b, c] = scores.dims();
    let mask: Vec<bool> = (candidates.iter())
        .flat_map(|cand| (0..c).map(move |j| j < cand.items.len()))
        .collect();
    let teacher = Tensor::<2>::from_data(TensorData::new(teacher.to_vec(), [b, c]), &device);
    let mask = Tensor::<2, Bool>::from_data(TensorData::new(mask, [b, c]), &device);
    (teacher, mask)
}

/// A candidate loss's inputs beside the step's: the cache, and the teacher's whole-catalog
/// scores when the loss reads them (empty otherwise).
struct SampledDistill<'a> {
    cache: &'a TopPCache,
    full: &'a [f32],
    loss: &'a dyn CandidateLoss,
    alpha: f64,
}

/// What the teacher says of one user: the cached top items and their scores, and its scores of
/// every item when kept (empty otherwise).
struct TeacherRow<'a> {
    top: &'a [u32],
    top_scores: &'a [f32],
    full: &'a [f32],
}

/// A cache-reading loss over each user's candidates (for sampled RankDistil the teacher top-p
/// and m negatives), mixed with the sampled label softmax when `alpha > 0`. Only the rows the
/// batch reads enter the graph.
fn sampled_distill_loss(
    context: &StepContext,
    distill: &SampledDistill,
    model: &CatalogScorer,
    tables: &SparseTables,
    (batch, step): (&[usize], u64),
    rng: &mut StdRng,
) -> (Tensor<1>, Option<TouchedRows>) {
    let (split, device, l) = (context.split, &context.device, context.split.num_items);
    distill.loss.reseed(step);
    let histories = batch.iter().map(|&u| split.train[u].as_slice());
    let (history_rows, ids, mask) = gathered_histories(histories, device);
    let popularity = context.popularity.as_ref();
    let cands: Vec<_> = batch
        .iter()
        .map(|&u| {
            let (top, known) = (&distill.cache.users[u].items, &split.train[u]);
            distill.loss.candidates(top, known, l, popularity)
        })
        .collect();
    // The label term's draw, when mixed in: its rows (the users' items and the draw) join the
    // gathered ones, and its softmax reads only those.
    let label_draw = context
        .sampled_ce
        .as_ref()
        .map(|ce| ce.draw(l, context.popularity.as_ref(), rng));
    let label_rows = label_draw
        .as_ref()
        .map(|d| label_rows(batch, split, &d.items));
    let candidate_rows = distinct(
        cands
            .iter()
            .flat_map(|c| c.items.iter().copied())
            .chain(label_rows.iter().flatten().copied()),
    );
    let (cand_ids, teacher) = candidate_slots(
        (&cands, distill.loss),
        batch,
        (distill.cache, distill.full),
        &candidate_rows,
        device,
    );
    let label = label_draw.zip(label_rows).map(|(draw, rows)| {
        let at: Vec<i64> = rows
            .iter()
            .map(|&i| local(&candidate_rows, i) as i64)
            .collect();
        let n = at.len();
        let at = Tensor::<1, Int>::from_data(TensorData::new(at, [n]), device);
        let targets = label_targets(batch, split, &rows, &draw.items, &draw.shifts, device);
        (at, targets)
    });
    let step_rows = tables.gather(history_rows, candidate_rows);
    let [history, items, bias] = step_rows.split();
    let q = model.query_from(history, ids, mask);
    // Every user against every gathered row in one product, then each user's own candidates:
    // on the CPU this beats gathering [B, C, D] item rows, whose backward scatters B·C rows
    // one at a time.
    let scores = model
        .score_rows_from(items.clone(), bias.clone(), q.clone())
        .gather(1, cand_ids); // [B, R] -> [B, C]
    let loss = distill.loss.loss(scores, &teacher, &cands);
    let loss = match (label, context.sampled_ce.as_ref()) {
        (Some((at, (labels, valid, shifts))), Some(ce)) => {
            let scores = model.score_rows_from(items.select(0, at.clone()), bias.select(0, at), q); // [B, R_label]
            let label = ce.forward(scores, labels, valid, shifts);
            with_labels(loss, label, distill.alpha)
        }
        _ => loss,
    };
    (loss, Some(step_rows))
}

/// Each user's candidates as positions in the gathered `rows` `[B, C]`, and the teacher's
/// scores of the candidates the loss reads them for, in the same slots. Padding points at local row 0, a real
/// candidate; the loss masks it out.
fn candidate_slots(
    (cands, loss): (&[Candidates], &dyn CandidateLoss),
    batch: &[usize],
    (cache, full): (&TopPCache, &[f32]),
    rows: &[u32],
    device: &Device,
) -> (Tensor<2, Int>, Vec<f32>) {
    let (b, c) = (
        batch.len(),
        cands.iter().map(|x| x.items.len()).max().unwrap_or(1),
    );
    let mut flat = vec![0i64; b * c];
    let mut teacher = vec![0f32; b * c];
    for (i, (cand, &u)) in cands.iter().zip(batch).enumerate() {
        for (j, &it) in cand.items.iter().enumerate() {
            flat[i * c + j] = local(rows, it) as i64;
        }
        let l = full.len() / cache.users.len().max(1);
        let row = TeacherRow {
            top: &cache.users[u].items,
            top_scores: &cache.users[u].scores,
            full: full.get(u * l..(u + 1) * l).unwrap_or(&[]),
        };
        let known = loss.teacher_scores(cand, row);
        teacher[i * c..i * c + known.len()].copy_from_slice(&known);
    }
    let ids = Tensor::<2, Int>::from_data(TensorData::new(flat, [b, c]), device);
    (ids, teacher)
}

/// Softmax KD's inputs beside the step's.
struct SoftmaxKdTerm<'a> {
    scores: &'a [f32],
    loss: &'a SoftmaxKd,
    alpha: f64,
}

/// Softmax KD against the teacher's scores over the whole catalog, mixed with the full label
/// softmax on the same scores when `alpha > 0`.
fn softmax_kd_loss(
    context: &StepContext,
    kd: &SoftmaxKdTerm,
    model: &CatalogScorer,
    batch: &[usize],
) -> Tensor<1> {
    let (split, device) = (context.split, &context.device);
    let (b, l) = (batch.len(), split.num_items);
    let lists: Vec<&[u32]> = batch.iter().map(|&u| split.train[u].as_slice()).collect();
    let (ids, mask) = padded(&lists, device);
    let scores = model.score_range(model.query(ids, mask), 0..l); // [B, L]
    let t: Vec<f32> = batch
        .iter()
        .flat_map(|&u| kd.scores[u * l..(u + 1) * l].iter().copied())
        .collect();
    let t = Tensor::<2>::from_data(TensorData::new(t, [b, l]), device);
    let all = Tensor::<2, Bool>::full([b, l], true, device);
    let loss = kd.loss.forward(scores.clone(), t, all.clone());
    if kd.alpha == 0.0 {
        return loss;
    }
    let labels = history_labels(batch, split, device);
    let label = context.softmax_ce.forward(scores, labels, all);
    with_labels(loss, label, kd.alpha)
}

/// The distillation loss mixed with the label loss: `(1 − α)·distill + α·label`, as the list
/// student objective mixes them.
fn with_labels(distill: Tensor<1>, label: Tensor<1>, alpha: f64) -> Tensor<1> {
    distill * (1.0 - alpha) + label * alpha
}
