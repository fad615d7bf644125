//! The training loop shared by `train` (labels) and `distill` (a teacher's scores).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsAccumulator, GradientsParams, decay::WeightDecayConfig};
use burn::prelude::*;
use indicatif::ProgressBar;
use rankdistil_data::{BatchPlan, ListBatch, RankingDataset};
use rankdistil_loss::{HostTargets, Objective, ObjectiveConfig};
use rankdistil_metrics::MetricSummary;
use rankdistil_models::{MlpScorer, MlpScorerConfig};
use serde_json::json;

use crate::backend::Backend;
use crate::checkpoint::{self, TrainState};
use crate::config::TrainConfig;
use crate::memory::{chunks, lists_per_chunk};
use crate::run_dir::{MODEL_FILE, append_metrics, load_weights, save_model, truncate_metrics};
use crate::scoring::{evaluate, score_dataset};

/// Everything one training run needs.
pub struct TrainJob<'a> {
    pub name: &'a str,
    pub train: &'a RankingDataset,
    pub valid: &'a RankingDataset,
    /// Teacher scores per row of `train` / `valid` (distillation only).
    pub teacher_train: Option<&'a [f32]>,
    pub teacher_valid: Option<&'a [f32]>,
    pub model: MlpScorerConfig,
    pub settings: &'a TrainConfig,
    pub objective: ObjectiveConfig,
    pub backend: &'a Backend,
    /// Where to write `model.bpk` and `metrics.jsonl`; `None` keeps the run in memory.
    pub out: Option<&'a Path>,
    pub progress: bool,
    /// Continue from the last complete checkpoint in `out`.
    pub resume: bool,
}

/// The best epoch's model (on the inference device) and its validation metrics.
pub struct TrainOutcome {
    pub model: MlpScorer,
    pub best_epoch: usize,
    pub valid: MetricSummary,
    pub seconds: f64,
}

const SELECT_BY: &str = "ndcg@10";

impl TrainJob<'_> {
    pub fn run(&self) -> anyhow::Result<TrainOutcome> {
        let s = self.settings;
        if s.epochs == 0 || s.batch_size == 0 || s.eval_batch_size == 0 {
            bail!("[train] epochs, batch_size and eval_batch_size must be at least 1");
        }
        if !(s.learning_rate > 0.0 && s.learning_rate.is_finite()) {
            bail!(
                "[train] learning_rate = {}, expected a finite number > 0",
                s.learning_rate
            );
        }
        if !(s.weight_decay >= 0.0 && s.weight_decay.is_finite()) {
            bail!(
                "[train] weight_decay = {}, expected a finite number >= 0",
                s.weight_decay
            );
        }
        if s.patience == Some(0) {
            bail!(
                "[train] patience = 0, expected at least 1 (or leave it out to never stop early)"
            );
        }
        if s.max_list_len == Some(0) {
            bail!("[train] max_list_len = 0, expected at least 1");
        }
        if self.model.hidden.contains(&0) || !(0.0..1.0).contains(&self.model.dropout) {
            bail!("[model] hidden widths must be >= 1 and dropout in [0, 1)");
        }
        self.objective
            .validate()
            .map_err(|e| anyhow::anyhow!("[loss] {e}"))?;
        let objective = self.objective.init();
        if objective.needs_teacher() && self.teacher_train.is_none() {
            bail!(
                "method {} needs teacher scores",
                self.objective.method.name()
            );
        }
        let device = self.backend.training_device();
        device.seed(s.seed);
        let mut model = self.model.init(&device).with_layout(s.item_layout);
        let mut adam = AdamConfig::new();
        if s.weight_decay > 0.0 {
            adam = adam.with_weight_decay(Some(WeightDecayConfig::new(s.weight_decay as f32)));
        }
        let mut optim = adam.init();
        let plan = BatchPlan::training(s.batch_size, s.max_list_len);
        let widest = self
            .model
            .hidden
            .iter()
            .copied()
            .chain([self.model.d_input])
            .max()
            .unwrap_or(1);
        let budget = self.backend.buffer_budget;
        // Refuse up front a list too wide for one buffer.
        lists_per_chunk(
            1,
            s.max_list_len
                .unwrap_or(self.train.max_list_len())
                .min(self.train.max_list_len()),
            widest,
            budget,
        )?;
        let started = Instant::now();
        let mut best: Option<(usize, f64, MetricSummary, MlpScorer)> = None;
        let mut step: u64 = 0;
        let mut first_epoch = 1;
        if self.resume {
            let out = self.out.context("--resume needs a run directory")?;
            let state = checkpoint::load_state(out)?.with_context(|| {
                format!("{}: no complete checkpoint to resume from", out.display())
            })?;
            (model, optim) = checkpoint::restore(out, &state, &self.model, optim, &device)?;
            model = model.with_layout(s.item_layout);
            let best_model =
                load_weights(&out.join(MODEL_FILE), &self.model, &self.backend.device)?;
            truncate_metrics(out, state.epoch)?;
            eprintln!(
                "{}: resuming after epoch {} (step {}, best epoch {})",
                self.name, state.epoch, state.step, state.best_epoch
            );
            first_epoch = state.epoch + 1;
            step = state.step;
            best = Some((
                state.best_epoch,
                state.best_metric,
                state.best_valid,
                best_model,
            ));
        }
        for epoch in first_epoch..=s.epochs {
            let epoch_start = Instant::now();
            // Per-epoch seeding keeps dropout identical across a kill and resume.
            device.seed(s.seed.wrapping_add(epoch as u64));
            let batches = plan.epoch(self.train, s.seed, epoch as u64);
            let bar = self.progress_bar(batches.len() as u64, epoch);
            let mut loss_sum = Tensor::<1>::zeros([1], &device);
            for (step_in_epoch, lists) in batches.iter().enumerate() {
                let batch =
                    ListBatch::from_rows_padded(self.train, lists, self.backend.list_multiple());
                objective.reseed(step);
                let (loss, grads) = accumulate_gradients(
                    &model,
                    &objective,
                    &batch,
                    self.teacher_train,
                    widest,
                    budget,
                    &device,
                )?;
                if !self.backend.is_gpu {
                    // On the CPU a scalar read is free, so every step is checked; on a GPU it
                    // would stall the queue, so the epoch total is checked instead.
                    let v = loss.clone().into_scalar::<f32>();
                    if !v.is_finite() {
                        bail!(
                            "{}: the loss became {v} at epoch {epoch}, step {} (global step {step}); stopped with the last good checkpoint in place. Lower the learning rate or check the data",
                            self.name,
                            step_in_epoch + 1
                        );
                    }
                }
                loss_sum = loss_sum + loss;
                model = optim.step(s.learning_rate, model, grads);
                step += 1;
                bar.inc(1);
            }
            bar.finish_and_clear();
            let train_loss = loss_sum.into_scalar::<f32>() as f64 / batches.len().max(1) as f64;
            if !train_loss.is_finite() {
                bail!(
                    "{}: the training loss became {train_loss} during epoch {epoch}; stopped with the last good checkpoint in place. Lower the learning rate or check the data for extreme values",
                    self.name
                );
            }
            let inference = model.valid();
            let scores = score_dataset(&inference, self.valid, self.backend, s.eval_batch_size);
            let valid = evaluate(self.valid, &scores, self.teacher_valid);
            let target = valid.get(SELECT_BY).unwrap_or(0.0);
            let improved = best.as_ref().is_none_or(|(_, b, _, _)| target > *b);
            if self.progress {
                eprintln!(
                    "{} epoch {epoch}/{}: loss {train_loss:.4}, valid ndcg@10 {target:.4}{} ({:.1}s)",
                    self.name,
                    s.epochs,
                    if improved { " *" } else { "" },
                    epoch_start.elapsed().as_secs_f64()
                );
            }
            if let Some(out) = self.out {
                append_metrics(
                    out,
                    &json!({
                        "epoch": epoch,
                        "train_loss": train_loss,
                        "valid": valid.values,
                        "seconds": epoch_start.elapsed().as_secs_f64(),
                        "backend": self.backend.name,
                        "adapter": self.backend.adapter,
                    }),
                )?;
                if improved {
                    save_model(&inference, &out.join(MODEL_FILE))?;
                }
            }
            if improved {
                best = Some((epoch, target, valid, inference));
            }
            let (best_epoch, best_metric, best_valid, _) = best.as_ref().expect("set above");
            if let Some(out) = self.out {
                let state = TrainState {
                    epoch,
                    step,
                    seed: s.seed,
                    best_epoch: *best_epoch,
                    best_metric: *best_metric,
                    best_valid: best_valid.clone(),
                };
                checkpoint::save(out, &model, &optim, &state)?;
            }
            if let Some(p) = s.patience
                && epoch - best_epoch >= p
            {
                break;
            }
        }
        let (best_epoch, _, valid, model) =
            best.context("no epoch ran: the run had already finished")?;
        Ok(TrainOutcome {
            model,
            best_epoch,
            valid,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    fn progress_bar(&self, len: u64, epoch: usize) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        crate::progress::bar(len, format!("{} epoch {epoch}", self.name), "batches")
    }
}

/// Forward and backward over `batch`, split into micro-batches whose widest activation fits
/// `budget` bytes, with the gradients accumulated. Each micro-batch's mean loss is weighted by
/// its share of the lists, so the result equals the whole batch's (exactly when every list
/// counts toward the loss). Returns the detached loss and the gradients.
pub fn accumulate_gradients(
    model: &MlpScorer,
    objective: &Objective,
    batch: &ListBatch,
    teacher: Option<&[f32]>,
    widest: usize,
    budget: u64,
    device: &Device,
) -> anyhow::Result<(Tensor<1>, GradientsParams)> {
    let per = lists_per_chunk(batch.batch_size, batch.list_len, widest, budget)?;
    let parts = chunks(batch.batch_size, per);
    let one_piece = parts.len() == 1;
    let mut accumulator = GradientsAccumulator::new();
    let mut total: Option<Tensor<1>> = None;
    for range in parts {
        let weight = range.len() as f64 / batch.batch_size as f64;
        let part = if one_piece {
            batch.clone()
        } else {
            batch.slice_lists(range)
        };
        let slot_teacher = teacher.map(|t| part.gather_rows(t));
        let targets = HostTargets {
            batch: part.batch_size,
            len: part.list_len,
            mask: &part.mask,
            labels: &part.labels,
            teacher: slot_teacher.as_deref(),
        };
        let scores = model.forward(part.features_tensor(device)); // [b, N]
        let mut loss = objective.forward(scores, &targets);
        if !one_piece {
            loss = loss * weight;
        }
        let detached = loss.clone().detach();
        total = Some(match total {
            Some(sum) => sum + detached,
            None => detached,
        });
        accumulator.accumulate(model, GradientsParams::from_grads(loss.backward(), model));
    }
    let total = total.ok_or_else(|| anyhow::anyhow!("a training batch with no lists"))?;
    Ok((total, accumulator.grads()))
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use rankdistil_data::{BatchPlan, ListBatch, SyntheticConfig, generate};
    use rankdistil_loss::{DistillMethod, ObjectiveConfig};
    use rankdistil_models::MlpScorerConfig;

    use super::accumulate_gradients;
    use crate::backend::Backend;
    use crate::commands::parity::GradValues;

    #[test]
    fn micro_batches_give_the_whole_batch_loss_and_gradients() {
        let data = generate(&SyntheticConfig {
            queries: 10,
            min_items: 30,
            max_items: 30,
            features: 8,
            ..SyntheticConfig::default()
        });
        let lists = BatchPlan::evaluation(10).epoch(&data, 0, 0);
        let batch = ListBatch::from_rows(&data, &lists[0]);
        let device = Backend::cpu().training_device();
        device.seed(1);
        let model = MlpScorerConfig::new(8, vec![16]).init(&device);
        let teacher: Vec<f32> = data.features.iter().step_by(8).copied().collect();
        let mut cfg = ObjectiveConfig::new(DistillMethod::Coupled);
        cfg.samples = 0;
        let objective = cfg.init();
        let run = |budget: u64| {
            let (loss, grads) = accumulate_gradients(
                &model,
                &objective,
                &batch,
                Some(&teacher),
                16,
                budget,
                &device,
            )
            .unwrap();
            let mut v = GradValues {
                grads: &grads,
                values: Vec::new(),
            };
            model.visit(&mut v);
            (loss.into_scalar::<f32>(), v.values)
        };
        let (whole_loss, whole) = run(u64::MAX);
        // 4 lists × 30 items × 16 units × 4 bytes: three micro-batches of 4, 4 and 2 lists.
        let (split_loss, split) = run(4 * 30 * 16 * 4);
        assert!(
            (whole_loss - split_loss).abs() <= 1e-5 * whole_loss.abs(),
            "{whole_loss} vs {split_loss}"
        );
        assert_eq!(whole.len(), split.len());
        for (a, b) in whole.iter().zip(&split) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
        }
    }
}
