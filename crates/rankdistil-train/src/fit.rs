//! The training loop every run shares, list or catalog: epochs of steps, a guard against a
//! non-finite loss, validation and the best epoch, the metrics log, checkpoints and resume.
//!
//! A [`Task`] says what one step computes; [`fit`] does the rest. The step loop is Burn's
//! custom training loop: forward, loss, backward, `GradientsParams`, `optim.step`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::bail;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rankdistil_metrics::MetricSummary;
use serde_json::json;

use crate::backend::Backend;
use crate::optimizer::OptimizerSettings;
use crate::progress::{self, Event, Progress, Valid};
use crate::store::checkpoint::{BestEpoch, CHECKPOINT_DIR, Checkpoint, TrainState};
use crate::store::metrics_log::MetricsLog;
use crate::store::stray::remove_temporaries;
use crate::store::weights::{load_into, save_model, to_bytes};

/// The best epoch's weights, in a run directory.
pub const MODEL_FILE: &str = "model.bpk";
/// The checkpoint part holding the best epoch's weights.
const BEST_PART: &str = "best.bpk";
/// The metric that picks the best epoch.
pub const SELECT_BY: &str = "ndcg@10";

/// What one run trains: the model, its batches and its step.
pub trait Task {
    type Model: Module;
    type Batch;

    /// A fresh model on the training device (already seeded), with any state the task keeps
    /// beside it.
    fn init_model(&mut self, device: &Device) -> Self::Model;
    /// The seed of the device's random stream (dropout) for `epoch`, or `None` to keep one
    /// stream for the whole run.
    fn epoch_device_seed(&self, epoch: usize) -> Option<u64>;
    /// The batches of `epoch` (1-based), in order.
    fn batches(&mut self, epoch: usize) -> Vec<Self::Batch>;
    /// Forward, loss and backward of one batch at global step `step`: the detached loss and
    /// the gradients for the optimizer.
    fn step(
        &mut self,
        model: &Self::Model,
        batch: Self::Batch,
        step: u64,
    ) -> crate::Result<(Tensor<1>, GradientsParams)>;
    /// Whether the run validates after each epoch and keeps its best epoch; without, its model
    /// is the last epoch's.
    fn validates(&self) -> bool {
        false
    }
    /// Validation metrics of the inference copy after an epoch, when [`Self::validates`].
    fn validate(&self, _inference: &Self::Model) -> MetricSummary {
        MetricSummary::default()
    }
    /// The whole model, with any state the step keeps outside it folded back in.
    fn complete(&self, model: Self::Model) -> Self::Model {
        model
    }
    /// Checkpoint parts beyond the model and the optimizer.
    fn extra_parts(&self) -> crate::Result<Vec<(&'static str, burn::tensor::Bytes)>> {
        Ok(Vec::new())
    }
    /// Restores what [`Self::extra_parts`] saved, for the restored `model`; `part` gives the
    /// file of a part by name.
    fn restore_extra(
        &mut self,
        _model: &Self::Model,
        _part: &dyn Fn(&str) -> PathBuf,
    ) -> crate::Result<()> {
        Ok(())
    }
}

/// How a run optimises and how long.
#[derive(Debug, Clone)]
pub struct FitSettings {
    pub epochs: usize,
    pub optimizer: OptimizerSettings,
    pub seed: u64,
    /// Stop after this many epochs without a better validation metric.
    pub patience: Option<usize>,
    /// The least time between checkpoints; zero writes one every epoch.
    pub checkpoint_every: Duration,
}

/// Where a run is recorded and how it reports.
pub struct FitRecord<'a> {
    /// The label of its log lines ("teacher", "catalog: sampled seed 1").
    pub label: &'a str,
    /// The run directory for `model.bpk`, `metrics.jsonl` and `checkpoint/`; `None` keeps the
    /// run in memory.
    pub dir: Option<&'a Path>,
    /// Continue from the directory's last complete checkpoint, if it has one.
    pub resume: bool,
    /// Log each epoch and show a progress bar.
    pub progress: bool,
}

/// The trained model (inference copy) and how it was chosen.
pub struct Fitted<M> {
    pub model: M,
    /// The best epoch with validation, the last one without.
    pub epoch: usize,
    pub valid: Option<MetricSummary>,
    pub seconds: f64,
    /// Each epoch this call trained: the seconds of its steps, validation left out.
    pub epoch_seconds: Vec<f64>,
}

/// A run in progress: what it trains, how, and where it stands.
struct Fitting<'a, T: Task> {
    task: &'a mut T,
    settings: &'a FitSettings,
    record: &'a FitRecord<'a>,
    backend: &'a Backend,
    stepper: Stepper,
    /// The best epoch so far, and its inference model.
    best: Option<(BestEpoch, T::Model)>,
    last_checkpoint: Instant,
}

/// Trains `task` for `settings.epochs`, recording into `record.dir`.
pub fn fit<T: Task>(
    task: &mut T,
    settings: &FitSettings,
    record: &FitRecord,
    backend: &Backend,
) -> crate::Result<Fitted<T::Model>> {
    let started = Instant::now();
    let device = backend.training_device();
    let (stepper, mut model) = Stepper::start(task, settings, backend);
    let mut run = Fitting {
        task,
        settings,
        record,
        backend,
        stepper,
        best: None,
        last_checkpoint: Instant::now(),
    };
    let mut last = 0;
    let mut epoch_seconds = Vec::new();
    if let Some(dir) = record.dir.filter(|_| record.resume) {
        (model, last) = run.resume(model, dir)?;
    }
    for epoch in last + 1..=settings.epochs {
        let epoch_start = Instant::now();
        if let Some(seed) = run.task.epoch_device_seed(epoch) {
            device.seed(seed);
        }
        let train_loss;
        (model, train_loss) = run.train_epoch(model, epoch)?;
        epoch_seconds.push(epoch_start.elapsed().as_secs_f64());
        run.close_epoch(&model, epoch, train_loss, epoch_start)?;
        last = epoch;
        if let (Some(p), Some((best, _))) = (settings.patience, &run.best)
            && epoch - best.epoch >= p
        {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if record.progress {
        progress::emit(Event::Trained {
            run: record.label.into(),
            seconds,
        });
    }
    Ok(match run.best {
        Some((best, model)) => Fitted {
            model,
            epoch: best.epoch,
            valid: Some(best.valid),
            seconds,
            epoch_seconds,
        },
        None => Fitted {
            model: run.task.complete(model).valid(),
            epoch: last,
            valid: None,
            seconds,
            epoch_seconds,
        },
    })
}

/// One optimisation step as [`fit`] takes it: the task's forward, loss and backward, then the
/// optimizer at the schedule's rate. `fit`'s loop and the benchmarks share it, so a benchmark
/// measures the step `train` takes.
pub struct Stepper {
    optim: ModuleOptimizer,
    settings: OptimizerSettings,
    epochs: usize,
    /// The epoch being trained, from 1: the schedule reads it.
    epoch: usize,
    /// Optimisation steps taken so far.
    step: u64,
}

impl Stepper {
    /// A fresh optimizer and the task's first model, on the training device seeded with
    /// `settings.seed`.
    pub fn start<T: Task>(
        task: &mut T,
        settings: &FitSettings,
        backend: &Backend,
    ) -> (Self, T::Model) {
        let device = backend.training_device();
        device.seed(settings.seed);
        let model = task.init_model(&device);
        let stepper = Self {
            optim: settings.optimizer.init(),
            settings: settings.optimizer,
            epochs: settings.epochs,
            epoch: 1,
            step: 0,
        };
        (stepper, model)
    }

    /// Steps `model` on `batch`; returns the updated model and the step's detached loss.
    pub fn step<T: Task>(
        &mut self,
        task: &mut T,
        model: T::Model,
        batch: T::Batch,
    ) -> crate::Result<(T::Model, Tensor<1>)> {
        let (loss, grads) = task.step(&model, batch, self.step)?;
        let rate = self.settings.rate(self.step, self.epoch, self.epochs);
        let model = self.optim.step(rate, model, grads);
        self.step += 1;
        Ok((model, loss))
    }
}

impl<T: Task> Fitting<'_, T> {
    /// One epoch of steps; returns the model and the epoch's mean loss.
    fn train_epoch(&mut self, mut model: T::Model, epoch: usize) -> crate::Result<(T::Model, f64)> {
        let (record, backend) = (self.record, self.backend);
        let batches = self.task.batches(epoch);
        let count = batches.len();
        self.stepper.epoch = epoch;
        let bar = if record.progress {
            let label = format!("{} epoch {epoch}", record.label);
            Progress::new(count as u64, label, "batches")
        } else {
            Progress::hidden()
        };
        // Summed on the device and read once per epoch: a read per step would stall a GPU.
        let mut loss_sum = Tensor::<1>::zeros([1], &backend.training_device());
        for (in_epoch, batch) in batches.into_iter().enumerate() {
            let global = self.stepper.step;
            let loss;
            (model, loss) = self.stepper.step(self.task, model, batch)?;
            if !backend.is_gpu {
                // On the CPU a scalar read is free, so every step is checked.
                let v = loss.clone().into_scalar::<f32>();
                if !v.is_finite() {
                    bail!(
                        "{}: the loss became {v} at epoch {epoch}, step {} (global step {}); stopped with the last good checkpoint in place. Lower the learning rate or check the data",
                        record.label,
                        in_epoch + 1,
                        global
                    );
                }
            }
            loss_sum = loss_sum + loss;
            bar.inc(1);
        }
        bar.finish();
        let mean = loss_sum.into_scalar::<f32>() as f64 / count.max(1) as f64;
        if !mean.is_finite() {
            bail!(
                "{}: the training loss became {mean} during epoch {epoch}; stopped with the last good checkpoint in place. Lower the learning rate or check the data for extreme values",
                record.label
            );
        }
        Ok((model, mean))
    }

    /// After an epoch: validation and the best epoch, the log line, the metrics log, the best
    /// model and the checkpoint.
    fn close_epoch(
        &mut self,
        model: &T::Model,
        epoch: usize,
        train_loss: f64,
        started: Instant,
    ) -> crate::Result<()> {
        let (valid, improved) = if self.task.validates() {
            // With the state the step keeps outside the model (row-sparse tables) folded in.
            let inference = self.task.complete(model.clone()).valid();
            let valid = self.task.validate(&inference);
            let improved = self.note(epoch, &valid, inference);
            (Some(valid), improved)
        } else {
            (None, false)
        };
        self.log(epoch, train_loss, valid.as_ref(), improved, started);
        let Some(dir) = self.record.dir else {
            return Ok(());
        };
        MetricsLog::of(dir).append(&json!({
            "epoch": epoch,
            "train_loss": train_loss,
            "valid": valid.map(|v| v.values).unwrap_or_default(),
            "seconds": started.elapsed().as_secs_f64(),
            "backend": self.backend.name,
            "adapter": self.backend.adapter,
        }))?;
        if improved && let Some((_, best)) = &self.best {
            save_model(best, &dir.join(MODEL_FILE))?;
        }
        if self.last_checkpoint.elapsed() >= self.settings.checkpoint_every {
            self.save_checkpoint(model, dir, epoch)?;
            self.last_checkpoint = Instant::now();
        }
        Ok(())
    }

    /// Takes the epoch's model as the best when its validation metric improved; returns
    /// whether it did.
    fn note(&mut self, epoch: usize, valid: &MetricSummary, inference: T::Model) -> bool {
        let metric = valid.get(SELECT_BY).unwrap_or(0.0);
        let improved = self.best.as_ref().is_none_or(|(b, _)| metric > b.metric);
        if improved {
            let best = BestEpoch {
                epoch,
                metric,
                valid: valid.clone(),
            };
            self.best = Some((best, inference));
        }
        improved
    }

    fn log(
        &self,
        epoch: usize,
        train_loss: f64,
        valid: Option<&MetricSummary>,
        improved: bool,
        started: Instant,
    ) {
        if !self.record.progress {
            return;
        }
        progress::emit(Event::Epoch {
            run: self.record.label.into(),
            epoch,
            epochs: self.settings.epochs,
            loss: train_loss,
            valid: valid.map(|v| Valid {
                metric: SELECT_BY.into(),
                value: v.get(SELECT_BY).unwrap_or(0.0),
                improved,
            }),
            seconds: started.elapsed().as_secs_f64(),
        });
    }

    fn save_checkpoint(&self, model: &T::Model, dir: &Path, epoch: usize) -> crate::Result<()> {
        let state = TrainState {
            epoch,
            step: self.stepper.step,
            seed: self.settings.seed,
            best: self.best.as_ref().map(|(b, _)| b.clone()),
        };
        let model_bytes = to_bytes(&self.task.complete(model.clone()))?;
        let optim_bytes = self
            .stepper
            .optim
            .into_bytes()
            .map_err(|e| crate::error::invalid!("cannot encode the optimizer state: {e:?}"))?;
        let extra = self.task.extra_parts()?;
        // The best epoch's weights travel with the checkpoint: `model.bpk` beside it may be a
        // later epoch's, written before a kill.
        let best_bytes = match &self.best {
            Some((_, best)) => Some(to_bytes(best)?),
            None => None,
        };
        let mut parts: Vec<(&str, &[u8])> =
            vec![("model.bpk", &model_bytes), ("optim.bpk", &optim_bytes)];
        parts.extend(best_bytes.as_deref().map(|b| (BEST_PART, b)));
        parts.extend(extra.iter().map(|(name, bytes)| (*name, &bytes[..])));
        Checkpoint::of(dir).save(&state, &parts)
    }

    /// Restores the model, optimizer, step and best epoch of `dir`'s last complete
    /// checkpoint; returns the model and the epoch it completed (0 without a checkpoint).
    fn resume(&mut self, fresh: T::Model, dir: &Path) -> crate::Result<(T::Model, usize)> {
        let checkpoint = Checkpoint::of(dir);
        remove_temporaries(dir, &[CHECKPOINT_DIR]);
        let Some(state) = checkpoint.state()? else {
            // Killed before its first checkpoint: whatever epoch 1 logged is discarded.
            MetricsLog::of(dir).truncate(0)?;
            return Ok((fresh, 0));
        };
        let label = self.record.label;
        let describe = || format!("the model {label} trains");
        let template = fresh.valid();
        let model = load_into(&checkpoint.part(state.epoch, "model.bpk"), fresh, describe)?;
        let optim_bytes = checkpoint.read_part(&state, "optim.bpk")?;
        let optim = std::mem::replace(&mut self.stepper.optim, AdamConfig::new().init());
        self.stepper.optim = optim
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(optim_bytes))
            .map_err(|e| {
                crate::error::invalid!("{}: unreadable optimizer state: {e:?}", dir.display())
            })?;
        self.task
            .restore_extra(&model, &|name| checkpoint.part(state.epoch, name))?;
        if let Some(best) = &state.best {
            let part = checkpoint.part(state.epoch, BEST_PART);
            // Checkpoints written before the part existed keep the best in `model.bpk` only.
            let part = if part.exists() {
                part
            } else {
                dir.join(MODEL_FILE)
            };
            let weights = load_into(&part, template, describe)?;
            save_model(&weights, &dir.join(MODEL_FILE))?;
            self.best = Some((best.clone(), weights));
        }
        MetricsLog::of(dir).truncate(state.epoch)?;
        progress::emit(Event::Resumed {
            run: label.into(),
            epoch: state.epoch,
            step: state.step,
            best_epoch: state.best.as_ref().map(|b| b.epoch),
        });
        self.stepper.step = state.step;
        Ok((model, state.epoch))
    }
}
