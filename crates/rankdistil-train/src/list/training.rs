//! Training a list scorer: the step (micro-batched forward, loss and backward), and
//! [`ListRun`], the pipeline `train`, `distill`, `compare` and `quickstart` all run: set up,
//! [`fit`], evaluate on the test split, record `run.json`.

use std::borrow::Cow;
use std::path::Path;

use crate::loss_config::ObjectiveConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use rankdistil_cpu::Workspace;
use rankdistil_data::{BatchPlan, ListBatch, RankingDataset};
use rankdistil_loss::{HostTargets, Objective};
use rankdistil_metrics::MetricSummary;
use rankdistil_models::{MlpScorer, MlpScorerConfig};

use crate::backend::Backend;
use crate::fit::{FitRecord, Task, fit};
use crate::list::config::{DataConfig, ModelConfig, TrainConfig};
use crate::list::data::Splits;
use crate::list::footprint;
use crate::list::resident::ResidentSet;
use crate::list::run_dir::{RunMeta, check_unfinished, create_run_dir, save_meta, save_normalizer};
use crate::list::run_inputs::RunInputs;
use crate::list::scoring::{evaluate, score_dataset};
use crate::memory::{Sizing, lists_per_chunk, step_plan};
use crate::role::Role;
use crate::step_gradients::{Features, StepGradients};

/// A teacher's scores on every split, one per row.
pub struct SplitScores<'a> {
    pub train: &'a [f32],
    /// Validation and test scores feed the agreement metrics only, and may be missing.
    pub valid: Option<&'a [f32]>,
    pub test: Option<&'a [f32]>,
}

/// How a run is written to its directory.
pub struct RunRecord<'a> {
    pub dir: &'a Path,
    /// Continue the run in `dir` from its last checkpoint; otherwise `dir` must hold no run.
    pub resume: bool,
    /// The config a new run records as `config.toml`.
    pub config_text: &'a str,
    pub role: Role,
    /// The training method `run.json` names.
    pub method: &'a str,
    /// The data `run.json` records, which a student of this run reuses.
    pub data: &'a DataConfig,
    /// Where a student's teacher scores came from (a run, or an outside teacher's file).
    pub teacher: Option<&'a str>,
}

/// One list-ranking run.
pub struct ListRun<'a> {
    /// The label of its log lines.
    pub label: &'a str,
    pub splits: &'a Splits,
    /// The teacher's scores, for a student.
    pub teacher: Option<SplitScores<'a>>,
    pub model: &'a ModelConfig,
    pub train: &'a TrainConfig,
    pub objective: &'a ObjectiveConfig,
    /// Where the run is recorded; `None` keeps it in memory.
    pub record: Option<RunRecord<'a>>,
    pub progress: bool,
}

/// A finished run: its best model and metrics.
pub struct ListOutcome {
    pub model: MlpScorer,
    pub best_epoch: usize,
    pub valid: MetricSummary,
    pub test: Option<MetricSummary>,
    pub seconds: f64,
    /// The seconds of each epoch's steps, validation left out.
    pub epoch_seconds: Vec<f64>,
}

impl<'a> ListRun<'a> {
    /// The run's step as [`fit`] takes it, checked against the memory budget: what `run`
    /// trains, and what the benchmarks count.
    pub fn task(&'a self, backend: &'a Backend) -> crate::Result<ListTask<'a>> {
        let objective = self.objective.init();
        if objective.needs_teacher() && self.teacher.is_none() {
            crate::error::bail!("method {} needs teacher scores", self.objective.name());
        }
        let d_input = self.splits.train.num_features;
        let longest = self.splits.train.max_list_len();
        footprint::check(self.model, self.train, self.objective, d_input, longest)?;
        ListTask::new(self, self.model.scorer(d_input), objective, backend)
    }
}

impl ListRun<'_> {
    pub fn run(&self, backend: &Backend) -> crate::Result<ListOutcome> {
        let inputs = self.record.as_ref().map(|r| self.inputs(r));
        if let (Some(r), Some(inputs)) = (&self.record, &inputs)
            && r.resume
        {
            check_unfinished(r.dir)?;
            inputs.check_resume(r.dir)?;
        }
        let mut task = self.task(backend)?;
        let scorer = task.scorer.clone();
        // Everything is checked: only now is anything written.
        if let (Some(r), Some(inputs)) = (&self.record, &inputs) {
            match r.resume {
                true => {
                    save_normalizer(r.dir, &self.splits.normalizer)?;
                    // A run killed before it recorded its inputs records them now.
                    inputs.save_if_missing(r.dir)?;
                }
                false => {
                    create_run_dir(r.dir, r.config_text, &self.splits.normalizer)?;
                    inputs.save(r.dir)?;
                }
            }
        }
        let settings = self.train.fit_settings();
        let record = FitRecord {
            label: self.label,
            dir: self.record.as_ref().map(|r| r.dir),
            resume: self.record.as_ref().is_some_and(|r| r.resume),
            progress: self.progress,
        };
        let fitted = fit(&mut task, &settings, &record, backend)?;
        let valid = fitted.valid.expect("list runs validate every epoch");
        let test = self.splits.test.as_ref().map(|t| {
            let scores = score_dataset(&fitted.model, t, backend, self.train.eval_batch_size);
            evaluate(t, &scores, self.teacher.as_ref().and_then(|s| s.test))
        });
        if let Some(r) = &self.record {
            save_meta(
                r.dir,
                &self.meta(r, &scorer, backend, fitted.epoch, &valid, &test),
            )?;
        }
        Ok(ListOutcome {
            model: fitted.model,
            best_epoch: fitted.epoch,
            valid,
            test,
            seconds: fitted.seconds,
            epoch_seconds: fitted.epoch_seconds,
        })
    }

    /// What the run starts with, as `--resume` checks it.
    fn inputs(&self, record: &RunRecord) -> RunInputs {
        let teacher = (record.teacher)
            .zip(self.teacher.as_ref())
            .map(|(name, scores)| (name, scores.train));
        RunInputs::new(record.config_text, &self.splits.train, teacher)
    }

    fn meta(
        &self,
        record: &RunRecord,
        scorer: &MlpScorerConfig,
        backend: &Backend,
        best_epoch: usize,
        valid: &MetricSummary,
        test: &Option<MetricSummary>,
    ) -> RunMeta {
        RunMeta {
            role: record.role,
            method: record.method.into(),
            d_input: scorer.d_input,
            model: self.model.clone(),
            num_params: scorer.num_params(),
            normalizer: self.splits.normalizer.clone(),
            backend: backend.name.into(),
            adapter: backend.adapter.clone(),
            kernel_cache: backend.kernel_cache.clone(),
            best_epoch,
            valid: valid.clone(),
            test: test.clone(),
            data_source: self.splits.source.clone(),
            data: record.data.clone(),
            teacher: record.teacher.map(str::to_string),
        }
    }
}

/// The list step as [`fit`] runs it.
pub struct ListTask<'a> {
    train: &'a RankingDataset,
    valid: &'a RankingDataset,
    teacher: Option<&'a SplitScores<'a>>,
    scorer: MlpScorerConfig,
    settings: &'a TrainConfig,
    objective: Objective,
    backend: &'a Backend,
    device: Device,
    /// The widest activation, for micro-batching under the buffer budget.
    widest: usize,
    /// The CPU kernel's buffers, where the backend runs it.
    kernel: Option<Workspace>,
    /// The training set on the device, on a GPU where it fits.
    resident: Option<ResidentSet>,
}

impl<'a> ListTask<'a> {
    fn new(
        run: &'a ListRun<'a>,
        scorer: MlpScorerConfig,
        objective: Objective,
        backend: &'a Backend,
    ) -> crate::Result<Self> {
        let train = &run.splits.train;
        let widest = scorer.hidden.iter().copied().chain([scorer.d_input]).max();
        let widest = widest.unwrap_or(1);
        // Refuse up front a list too wide for one buffer.
        let longest = run.train.max_list_len.unwrap_or(usize::MAX);
        lists_per_chunk(
            1,
            longest.min(train.max_list_len()),
            widest,
            backend.buffer_budget,
        )?;
        let teacher = run.teacher.as_ref();
        let teacher_rows = teacher
            .filter(|_| objective.needs_teacher())
            .map(|t| t.train);
        Ok(Self {
            resident: ResidentSet::upload(train, teacher_rows, backend),
            train,
            valid: &run.splits.valid,
            teacher,
            scorer,
            settings: run.train,
            objective,
            backend,
            device: backend.training_device(),
            widest,
            kernel: backend.cpu_kernel.then(Workspace::new),
        })
    }
}

impl Task for ListTask<'_> {
    type Model = MlpScorer;
    type Batch = Vec<(usize, Vec<usize>)>;

    fn init_model(&mut self, device: &Device) -> MlpScorer {
        self.scorer
            .init(device)
            .with_layout(self.settings.item_layout)
    }

    fn epoch_device_seed(&self, epoch: usize) -> Option<u64> {
        // Per-epoch seeding keeps dropout identical across a kill and resume.
        Some(self.settings.seed.wrapping_add(epoch as u64))
    }

    fn batches(&mut self, epoch: usize) -> Vec<Self::Batch> {
        BatchPlan::training(self.settings.batch_size, self.settings.max_list_len).epoch(
            self.train,
            self.settings.seed,
            epoch as u64,
        )
    }

    fn step(
        &mut self,
        model: &MlpScorer,
        lists: Self::Batch,
        step: u64,
    ) -> crate::Result<(Tensor<1>, GradientsParams)> {
        let padding = self.backend.padding(self.settings.batch_size);
        let batch = match self.resident {
            Some(_) => ListBatch::rows_only(self.train, &lists, padding),
            None => ListBatch::from_rows_padded(self.train, &lists, padding),
        };
        self.objective.reseed(step);
        if let Some(kernel) = &mut self.kernel {
            // Dropout masks from (seed, step), so a resumed run draws the same ones.
            kernel.reseed(self.settings.seed.rotate_left(32) ^ step);
        }
        let data = StepData {
            batch: &batch,
            teacher: (self.teacher)
                .filter(|_| self.objective.needs_teacher())
                .map(|t| t.train),
            resident: self.resident.as_ref(),
        };
        accumulate_gradients(
            model,
            &self.objective,
            data,
            Sizing {
                widest: self.widest,
                budget: self.backend.buffer_budget,
            },
            &self.device,
            self.kernel.as_mut(),
        )
    }

    fn validates(&self) -> bool {
        true
    }

    fn validate(&self, inference: &MlpScorer) -> MetricSummary {
        let batch_size = self.settings.eval_batch_size;
        let scores = score_dataset(inference, self.valid, self.backend, batch_size);
        evaluate(self.valid, &scores, self.teacher.and_then(|t| t.valid))
    }
}

/// What one step trains on: a padded batch, the teacher's scores by data set row, and the
/// training set on the device when it is there.
#[derive(Clone, Copy)]
pub struct StepData<'a> {
    /// The batch; without host features (`ListBatch::rows_only`) when `resident` is given.
    pub batch: &'a ListBatch,
    pub teacher: Option<&'a [f32]>,
    /// The training set on the device: the batch's features and targets are gathered there.
    pub resident: Option<&'a ResidentSet>,
}

/// Forward and backward over `data`'s batch, split into micro-batches whose widest buffer fits
/// `budget` bytes, with the gradients accumulated. Each micro-batch's mean loss is weighted by
/// its share of the lists with a real item, so the result equals the whole batch's (exactly
/// when every such list counts toward the loss). With a kernel `workspace`, the MLP runs on
/// the hand-written CPU kernel where it covers the scorer. Returns the detached loss and the
/// gradients.
pub fn accumulate_gradients(
    model: &MlpScorer,
    objective: &Objective,
    data: StepData,
    sizing: Sizing,
    device: &Device,
    workspace: Option<&mut Workspace>,
) -> crate::Result<(Tensor<1>, GradientsParams)> {
    let batch = data.batch;
    let Sizing { widest, budget } = sizing;
    let (layout, parts) = step_plan(
        model.layout(),
        batch.batch_size,
        batch.list_len,
        widest,
        budget,
    )?;
    // The same weights in another layout: the gradients land on the same parameters.
    let relaid;
    let model = if layout == model.layout() {
        model
    } else {
        relaid = model.clone().with_layout(layout);
        &relaid
    };
    let one_piece = parts.len() == 1;
    let counted = batch.nonempty_lists(0..batch.batch_size).max(1) as f64;
    let mut gradients = StepGradients::new(model, workspace);
    let mut total: Option<Tensor<1>> = None;
    for range in parts {
        let weight = batch.nonempty_lists(range.clone()) as f64 / counted;
        // A batch in one piece is read where it is: the step copies no features.
        let part = if one_piece {
            Cow::Borrowed(batch)
        } else {
            Cow::Owned(batch.slice_lists(range))
        };
        let on_device = data.resident.map(|r| r.gather(&part, device));
        let slot_teacher = data.teacher.map(|t| part.gather_rows(t));
        let targets = HostTargets {
            batch: part.batch_size,
            len: part.list_len,
            mask: &part.mask,
            labels: &part.labels,
            teacher: slot_teacher.as_deref(),
            device: on_device.as_ref().map(|d| &d.targets),
        };
        let features = Features {
            host: &part.features,
            dims: [part.batch_size, part.list_len, part.num_features],
            uploaded: on_device.as_ref().map(|d| d.features.clone()),
        };
        let loss = gradients.add(model, features, device, |scores| {
            let loss = objective.forward(scores, &targets);
            if one_piece { loss } else { loss * weight }
        })?;
        total = Some(match total {
            Some(sum) => sum + loss,
            None => loss,
        });
    }
    let total = total.ok_or_else(|| crate::error::invalid!("a training batch with no lists"))?;
    Ok((total, gradients.finish(model, device)))
}

#[cfg(test)]
mod tests {
    use crate::loss_config::{DistillConfig, ObjectiveConfig};
    use burn::module::Module;
    use burn::prelude::*;
    use rankdistil_cpu::Workspace;
    use rankdistil_data::{BatchPlan, ListBatch, RankingDataset, SyntheticConfig, generate};
    use rankdistil_loss::{CoupledRankDistilConfig, Objective};
    use rankdistil_models::{Activation, ItemLayout, MlpScorer, MlpScorerConfig};

    use super::{StepData, accumulate_gradients};
    use crate::memory::Sizing;
    use crate::parity::GradValues;
    use crate::step_gradients::StepGradients;

    /// Ten lists of 12 to 30 items (so padded slots) with 8 features, a teacher score per row
    /// and coupled RankDistil.
    fn setup() -> (ListBatch, Vec<f32>, Objective) {
        let data: RankingDataset = generate(&SyntheticConfig {
            queries: 10,
            min_items: 12,
            max_items: 30,
            features: 8,
            ..SyntheticConfig::default()
        });
        let lists = BatchPlan::evaluation(10).epoch(&data, 0, 0);
        let teacher: Vec<f32> = data.features.iter().step_by(8).copied().collect();
        let objective = ObjectiveConfig::new(DistillConfig::Coupled(
            CoupledRankDistilConfig::new().with_samples(0),
        ))
        .init();
        let batch = ListBatch::from_rows(&data, &lists[0]);
        assert_eq!((batch.batch_size, batch.list_len), (10, 30));
        assert!(batch.mask.iter().any(|&m| !m), "no padded slot");
        (batch, teacher, objective)
    }

    /// The step's loss and flattened gradients under a buffer `budget`, for a model whose
    /// widest layer has 16 units.
    fn step(
        model: &MlpScorer,
        workspace: Option<&mut Workspace>,
        budget: u64,
        device: &Device,
    ) -> (f32, Vec<f32>) {
        let sizing = Sizing { widest: 16, budget };
        step_sized(model, workspace, sizing, device)
    }

    fn step_sized(
        model: &MlpScorer,
        workspace: Option<&mut Workspace>,
        sizing: Sizing,
        device: &Device,
    ) -> (f32, Vec<f32>) {
        let (batch, teacher, objective) = setup();
        let data = StepData {
            batch: &batch,
            teacher: Some(&teacher),
            resident: None,
        };
        let (loss, grads) =
            accumulate_gradients(model, &objective, data, sizing, device, workspace).unwrap();
        let mut v = GradValues {
            grads: &grads,
            values: Vec::new(),
        };
        model.visit(&mut v);
        (loss.into_scalar::<f32>(), v.values)
    }

    fn assert_close((loss_a, a): &(f32, Vec<f32>), (loss_b, b): &(f32, Vec<f32>)) {
        assert!(
            (loss_a - loss_b).abs() <= 1e-5 * loss_a.abs(),
            "{loss_a} vs {loss_b}"
        );
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(b) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
        }
    }

    // 4 lists × 30 items × 16 units × 4 bytes: micro-batches of 4, 4 and 2 lists.
    const THREE_PARTS: u64 = 4 * 30 * 16 * 4;

    #[test]
    fn micro_batches_give_the_whole_batch_loss_and_gradients() {
        #[allow(deprecated)] // the deprecated backend's path is kept as it was
        let device = Device::ndarray().autodiff();
        device.seed(1);
        let model = MlpScorerConfig::new(8, vec![16]).init(&device);
        let whole = step(&model, None, u64::MAX, &device);
        assert_close(&whole, &step(&model, None, THREE_PARTS, &device));
    }

    #[test]
    fn a_batch_the_lists_layout_would_split_runs_whole_in_rows() {
        let device = Device::flex().autodiff();
        device.seed(5);
        let model = MlpScorerConfig::new(8, vec![64]).init(&device);
        assert_eq!(model.layout(), ItemLayout::Lists);
        // 10 lists × 30 items × 64 units fit whole in `rows`; in `lists` each list's
        // [64, 64] weight gradient (16 KiB) makes 3 micro-batches.
        let budget = 10 * 30 * 64 * 4;
        let (layout, parts) =
            crate::memory::step_plan(ItemLayout::Lists, 10, 30, 64, budget).unwrap();
        assert_eq!((layout, parts.len()), (ItemLayout::Rows, 1));
        let sized = |budget| Sizing { widest: 64, budget };
        let whole = step_sized(&model, None, sized(u64::MAX), &device);
        assert_close(&whole, &step_sized(&model, None, sized(budget), &device));
    }

    #[test]
    fn the_cpu_kernel_gives_autodiff_s_loss_and_gradients() {
        let device = Device::flex().autodiff();
        for activation in [Activation::Relu, Activation::Tanh] {
            device.seed(2);
            let model = MlpScorerConfig::new(8, vec![16, 12])
                .with_activation(activation)
                .init(&device);
            let autodiff = step(&model, None, u64::MAX, &device);
            let mut workspace = Workspace::new();
            for budget in [u64::MAX, THREE_PARTS] {
                let kernel = step(&model, Some(&mut workspace), budget, &device);
                assert_close(&autodiff, &kernel);
            }
        }
    }

    #[test]
    fn scorers_the_kernel_does_not_cover_run_through_autodiff() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let config = || MlpScorerConfig::new(8, vec![16]);
        let tanh_dropout = config().with_activation(Activation::Tanh).with_dropout(0.1);
        assert!(tanh_dropout.init(&device).to_dense().is_none());
        let gelu = config().with_activation(Activation::Gelu);
        for model in [
            gelu.init(&device),
            config().with_layer_norm(true).init(&device),
        ] {
            let mut workspace = Workspace::new();
            assert!(!StepGradients::new(&model, Some(&mut workspace)).is_kernel());
            // The same autodiff graph, so the same values to the last bit.
            let kernel_offered = step(&model, Some(&mut workspace), u64::MAX, &device);
            assert_eq!(kernel_offered, step(&model, None, u64::MAX, &device));
        }
    }

    #[test]
    fn kernel_dropout_replays_from_its_seed() {
        let device = Device::flex().autodiff();
        device.seed(4);
        let model = MlpScorerConfig::new(8, vec![16, 16])
            .with_dropout(0.3)
            .init(&device);
        assert_eq!(model.to_dense().map(|m| m.dropout()), Some(0.3));
        let mut workspace = Workspace::new();
        let mut at = |seed: u64| {
            workspace.reseed(seed);
            step(&model, Some(&mut workspace), THREE_PARTS, &device)
        };
        let (first, again, other) = (at(1), at(1), at(2));
        assert_eq!(first, again);
        // Other masks, another loss: the masks reach the scores.
        assert_ne!(first.0, other.0);
    }
}
