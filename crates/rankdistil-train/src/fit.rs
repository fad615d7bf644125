//! The training loop every run shares, list or catalog: epochs of steps, a guard against a
//! non-finite loss, validation and the best epoch, the metrics log, checkpoints and resume.
//!
//! A [`Task`] says what one step computes; [`fit`] does the rest. The step loop is Burn's
//! custom training loop: forward, loss, backward, `GradientsParams`, `optim.step`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::bail;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, decay::WeightDecayConfig};
use burn::prelude::*;
use rankdistil_metrics::MetricSummary;
use serde_json::json;

use crate::backend::Backend;
use crate::store::checkpoint::{BestEpoch, Checkpoint, TrainState};
use crate::store::metrics_log::MetricsLog;
use crate::store::weights::{load_into, save_model, to_bytes};

/// The best epoch's weights, in a run directory.
pub const MODEL_FILE: &str = "model.bpk";
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
    ) -> anyhow::Result<(Tensor<1>, GradientsParams)>;
    /// Whether the run validates after each epoch and keeps its best epoch; without, its model
    /// is the last epoch's.
    fn validates(&self) -> bool;
    /// Validation metrics of the inference copy after an epoch.
    fn validate(&self, inference: &Self::Model) -> MetricSummary;
    /// The whole model, with any state the step keeps outside it folded back in.
    fn complete(&self, model: Self::Model) -> Self::Model {
        model
    }
    /// Checkpoint parts beyond the model and the optimizer.
    fn extra_parts(&self) -> anyhow::Result<Vec<(&'static str, burn::tensor::Bytes)>> {
        Ok(Vec::new())
    }
    /// Restores what [`Self::extra_parts`] saved, for the restored `model`; `part` gives the
    /// file of a part by name.
    fn restore_extra(
        &mut self,
        _model: &Self::Model,
        _part: &dyn Fn(&str) -> PathBuf,
    ) -> anyhow::Result<()> {
        Ok(())
    }
}

/// How a run optimises and how long.
#[derive(Debug, Clone)]
pub struct FitSettings {
    pub epochs: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Stop after this many epochs without a better validation metric.
    pub patience: Option<usize>,
    /// The least time between checkpoints; zero writes one every epoch.
    pub checkpoint_every: Duration,
}

/// Where a run is recorded and how it reports.
pub struct FitRecord<'a> {
    /// The label of its log lines ("teacher", "catalog: Sampled seed 1").
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
}

/// The optimizer, step count and best epoch as the loop carries them.
struct Progress<M> {
    optim: ModuleOptimizer,
    step: u64,
    first_epoch: usize,
    best: Option<(BestEpoch, M)>,
    last_checkpoint: Instant,
}

/// Trains `task` for `settings.epochs`, recording into `record.dir`.
pub fn fit<T: Task>(
    task: &mut T,
    settings: &FitSettings,
    record: &FitRecord,
    backend: &Backend,
) -> anyhow::Result<Fitted<T::Model>> {
    let started = Instant::now();
    let device = backend.training_device();
    device.seed(settings.seed);
    let mut model = task.init_model(&device);
    let mut run = Progress {
        optim: optimizer(settings),
        step: 0,
        first_epoch: 1,
        best: None,
        last_checkpoint: Instant::now(),
    };
    if let Some(dir) = record.dir.filter(|_| record.resume) {
        model = resume(task, model, &mut run, dir, record.label)?;
    }
    let mut last = run.first_epoch.saturating_sub(1);
    for epoch in run.first_epoch..=settings.epochs {
        let epoch_start = Instant::now();
        if let Some(seed) = task.epoch_device_seed(epoch) {
            device.seed(seed);
        }
        let train_loss;
        (model, train_loss) = train_epoch(task, model, &mut run, settings, record, epoch, backend)?;
        let (valid, improved) = if task.validates() {
            let inference = model.valid();
            let valid = task.validate(&inference);
            let improved = note_epoch(&mut run, epoch, &valid, inference);
            (Some(valid), improved)
        } else {
            (None, false)
        };
        log_epoch(
            record,
            settings,
            epoch,
            train_loss,
            valid.as_ref(),
            improved,
            epoch_start,
        );
        if let Some(dir) = record.dir {
            MetricsLog::of(dir).append(&json!({
                "epoch": epoch,
                "train_loss": train_loss,
                "valid": valid.map(|v| v.values).unwrap_or_default(),
                "seconds": epoch_start.elapsed().as_secs_f64(),
                "backend": backend.name,
                "adapter": backend.adapter,
            }))?;
            if improved && let Some((_, best)) = &run.best {
                save_model(best, &dir.join(MODEL_FILE))?;
            }
            if run.last_checkpoint.elapsed() >= settings.checkpoint_every {
                save_checkpoint(task, &model, &run, dir, settings.seed, epoch)?;
                run.last_checkpoint = Instant::now();
            }
        }
        last = epoch;
        if let (Some(p), Some((best, _))) = (settings.patience, &run.best)
            && epoch - best.epoch >= p
        {
            break;
        }
    }
    if record.progress {
        eprintln!(
            "{} trained in {:.1}s",
            record.label,
            started.elapsed().as_secs_f64()
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(match run.best {
        Some((best, model)) => Fitted {
            model,
            epoch: best.epoch,
            valid: Some(best.valid),
            seconds,
        },
        None => Fitted {
            model: task.complete(model).valid(),
            epoch: last,
            valid: None,
            seconds,
        },
    })
}

fn optimizer(settings: &FitSettings) -> ModuleOptimizer {
    let mut adam = AdamConfig::new();
    if settings.weight_decay > 0.0 {
        adam = adam.with_weight_decay(Some(WeightDecayConfig::new(settings.weight_decay as f32)));
    }
    adam.init()
}

/// One epoch of steps; returns the model and the epoch's mean loss.
fn train_epoch<T: Task>(
    task: &mut T,
    mut model: T::Model,
    run: &mut Progress<T::Model>,
    settings: &FitSettings,
    record: &FitRecord,
    epoch: usize,
    backend: &Backend,
) -> anyhow::Result<(T::Model, f64)> {
    let batches = task.batches(epoch);
    let count = batches.len();
    let bar = if record.progress {
        crate::progress::bar(
            count as u64,
            format!("{} epoch {epoch}", record.label),
            "batches",
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Summed on the device and read once per epoch: a read per step would stall a GPU.
    let mut loss_sum = Tensor::<1>::zeros([1], &backend.training_device());
    for (in_epoch, batch) in batches.into_iter().enumerate() {
        let (loss, grads) = task.step(&model, batch, run.step)?;
        if !backend.is_gpu {
            // On the CPU a scalar read is free, so every step is checked.
            let v = loss.clone().into_scalar::<f32>();
            if !v.is_finite() {
                bail!(
                    "{}: the loss became {v} at epoch {epoch}, step {} (global step {}); stopped with the last good checkpoint in place. Lower the learning rate or check the data",
                    record.label,
                    in_epoch + 1,
                    run.step
                );
            }
        }
        loss_sum = loss_sum + loss;
        model = run.optim.step(settings.learning_rate, model, grads);
        run.step += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mean = loss_sum.into_scalar::<f32>() as f64 / count.max(1) as f64;
    if !mean.is_finite() {
        bail!(
            "{}: the training loss became {mean} during epoch {epoch}; stopped with the last good checkpoint in place. Lower the learning rate or check the data for extreme values",
            record.label
        );
    }
    Ok((model, mean))
}

/// Takes the epoch's model as the best when its validation metric improved; returns whether
/// it did.
fn note_epoch<M>(run: &mut Progress<M>, epoch: usize, valid: &MetricSummary, inference: M) -> bool {
    let metric = valid.get(SELECT_BY).unwrap_or(0.0);
    let improved = run.best.as_ref().is_none_or(|(b, _)| metric > b.metric);
    if improved {
        let best = BestEpoch {
            epoch,
            metric,
            valid: valid.clone(),
        };
        run.best = Some((best, inference));
    }
    improved
}

fn log_epoch(
    record: &FitRecord,
    settings: &FitSettings,
    epoch: usize,
    train_loss: f64,
    valid: Option<&MetricSummary>,
    improved: bool,
    started: Instant,
) {
    if !record.progress {
        return;
    }
    let valid = valid
        .map(|v| {
            let target = v.get(SELECT_BY).unwrap_or(0.0);
            let star = if improved { " *" } else { "" };
            format!(", valid {SELECT_BY} {target:.4}{star}")
        })
        .unwrap_or_default();
    eprintln!(
        "{} epoch {epoch}/{}: loss {train_loss:.4}{valid} ({:.1}s)",
        record.label,
        settings.epochs,
        started.elapsed().as_secs_f64()
    );
}

fn save_checkpoint<T: Task>(
    task: &T,
    model: &T::Model,
    run: &Progress<T::Model>,
    dir: &Path,
    seed: u64,
    epoch: usize,
) -> anyhow::Result<()> {
    let state = TrainState {
        epoch,
        step: run.step,
        seed,
        best: run.best.as_ref().map(|(b, _)| b.clone()),
    };
    let model_bytes = to_bytes(&task.complete(model.clone()))?;
    let optim_bytes = run
        .optim
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("cannot encode the optimizer state: {e:?}"))?;
    let extra = task.extra_parts()?;
    let mut parts: Vec<(&str, &[u8])> =
        vec![("model.bpk", &model_bytes), ("optim.bpk", &optim_bytes)];
    parts.extend(extra.iter().map(|(name, bytes)| (*name, &bytes[..])));
    Checkpoint::of(dir).save(&state, &parts)
}

/// Restores the model, optimizer, step and best epoch of `dir`'s last complete checkpoint.
fn resume<T: Task>(
    task: &mut T,
    fresh: T::Model,
    run: &mut Progress<T::Model>,
    dir: &Path,
    label: &str,
) -> anyhow::Result<T::Model> {
    let checkpoint = Checkpoint::of(dir);
    let Some(state) = checkpoint.state()? else {
        return Ok(fresh);
    };
    let describe = || format!("the model {label} trains");
    let template = fresh.valid();
    let model = load_into(&checkpoint.part(state.epoch, "model.bpk"), fresh, describe)?;
    let optim_bytes = checkpoint.read_part(&state, "optim.bpk")?;
    let optim = std::mem::replace(&mut run.optim, AdamConfig::new().init());
    run.optim = optim
        .from_bytes(burn::tensor::Bytes::from_bytes_vec(optim_bytes))
        .map_err(|e| anyhow::anyhow!("{}: unreadable optimizer state: {e:?}", dir.display()))?;
    task.restore_extra(&model, &|name| checkpoint.part(state.epoch, name))?;
    if let Some(best) = &state.best {
        let weights = load_into(&dir.join(MODEL_FILE), template, describe)?;
        run.best = Some((best.clone(), weights));
    }
    MetricsLog::of(dir).truncate(state.epoch)?;
    eprintln!(
        "{label}: resuming after epoch {} (step {}{})",
        state.epoch,
        state.step,
        state
            .best
            .as_ref()
            .map(|b| format!(", best epoch {}", b.epoch))
            .unwrap_or_default()
    );
    run.first_epoch = state.epoch + 1;
    run.step = state.step;
    Ok(model)
}
