//! The optimizer a list run steps with, its gradient clipping and its learning-rate schedule
//! (`[train] optimizer`, `clip_grad_norm`, `schedule`, `warmup_steps`). The defaults (Adam,
//! no clipping, a constant rate) are the optimisation every run had before these keys.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

/// `[train] optimizer`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam, with decoupled weight decay when `weight_decay` > 0.
    #[default]
    Adam,
    /// AdamW (Burn's), with `weight_decay` as its decay.
    Adamw,
    /// Plain stochastic gradient descent, with `weight_decay` as an L2 term.
    Sgd,
}

/// `[train] schedule`: how the learning rate moves over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// `learning_rate` throughout.
    #[default]
    Constant,
    /// `learning_rate · ½(1 + cos(π·(e − 1)/E))` in epoch `e` of `E`.
    Cosine,
}

/// Everything that decides an optimisation step but the gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimizerSettings {
    pub kind: OptimizerKind,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Each parameter's gradient is scaled down to at most this L2 norm.
    pub clip_grad_norm: Option<f64>,
    pub schedule: Schedule,
    /// Steps over which the rate rises linearly from `learning_rate / warmup_steps`.
    pub warmup_steps: u64,
}

impl OptimizerSettings {
    /// Adam at `learning_rate`, constant, unclipped: the defaults.
    pub fn adam(learning_rate: f64, weight_decay: f64) -> Self {
        Self {
            kind: OptimizerKind::Adam,
            learning_rate,
            weight_decay,
            clip_grad_norm: None,
            schedule: Schedule::Constant,
            warmup_steps: 0,
        }
    }

    /// A fresh optimizer.
    pub fn init(&self) -> ModuleOptimizer {
        let clip = self
            .clip_grad_norm
            .map(|norm| GradientClippingConfig::Norm(norm as f32));
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.kind {
            OptimizerKind::Adam => AdamConfig::new()
                .with_weight_decay(decay)
                .with_grad_clipping(clip)
                .init(),
            OptimizerKind::Adamw => AdamWConfig::new()
                .with_weight_decay(self.weight_decay as f32)
                .with_grad_clipping(clip)
                .init(),
            OptimizerKind::Sgd => SgdConfig::new()
                .with_weight_decay(decay)
                .with_gradient_clipping(clip)
                .init(),
        }
    }

    /// The rate of global step `step` (from 0), in epoch `epoch` (from 1) of `epochs`.
    pub fn rate(&self, step: u64, epoch: usize, epochs: usize) -> f64 {
        let mut rate = self.learning_rate;
        if self.schedule == Schedule::Cosine {
            let done = (epoch.saturating_sub(1)) as f64 / epochs.max(1) as f64;
            rate *= 0.5 * (1.0 + (std::f64::consts::PI * done).cos());
        }
        if step < self.warmup_steps {
            rate *= (step + 1) as f64 / self.warmup_steps as f64;
        }
        rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_keep_the_rate_and_a_schedule_moves_it() {
        let constant = OptimizerSettings::adam(0.01, 0.0);
        for (step, epoch) in [(0, 1), (7, 3), (1000, 10)] {
            assert_eq!(constant.rate(step, epoch, 10), 0.01);
        }
        let cosine = OptimizerSettings {
            schedule: Schedule::Cosine,
            warmup_steps: 4,
            ..constant
        };
        // Warm-up: 1/4, 2/4, 3/4, then the cosine factor (1 in epoch 1).
        assert_eq!(cosine.rate(0, 1, 4), 0.0025);
        assert_eq!(cosine.rate(2, 1, 4), 0.0075);
        assert_eq!(cosine.rate(4, 1, 4), 0.01);
        // Epoch 3 of 4: ½(1 + cos(π/2)) = ½.
        assert!((cosine.rate(100, 3, 4) - 0.005).abs() < 1e-15);
        // Epoch 4 of 4: ½(1 + cos(3π/4)).
        let last = 0.01 * 0.5 * (1.0 + (0.75 * std::f64::consts::PI).cos());
        assert!((cosine.rate(100, 4, 4) - last).abs() < 1e-15);
    }
}
