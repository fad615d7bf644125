use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use burn::prelude::*;
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::checks::{at_least_one, or_panic, positive};
use crate::plackett_luce::softplus;
use crate::reduce::mean_over;

/// Configuration of [`CollaborativeDistillation`].
#[derive(Config, Debug)]
pub struct CollaborativeDistillationConfig {
    /// Items drawn per user each step (the authors' `n_distill`).
    #[config(default = 10)]
    pub samples: usize,
    /// How deep in the teacher's ranking they are drawn from (`sample_num`).
    #[config(default = 100)]
    pub top_n: usize,
    /// T of the rank weights `exp(−r / (top_n · T))` (`cd_T`).
    #[config(default = 20.0)]
    pub temperature: f64,
    /// t₁ of the soft target `σ((t + t₂) / t₁)`.
    #[config(default = 2.0)]
    pub t1: f64,
    /// t₂ of the soft target.
    #[config(default = 0.0)]
    pub t2: f64,
    /// Seeds the draws.
    #[config(default = 0)]
    pub seed: u64,
}

impl CollaborativeDistillationConfig {
    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        at_least_one("samples", self.samples)?;
        at_least_one("top_n", self.top_n)?;
        positive("temperature", self.temperature)?;
        positive("t1", self.t1)?;
        if !self.t2.is_finite() {
            return Err(format!("t2 = {}, expected a finite number", self.t2));
        }
        Ok(())
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> CollaborativeDistillation {
        or_panic(self.check());
        CollaborativeDistillation {
            samples: self.samples,
            top_n: self.top_n,
            temperature: self.temperature,
            t1: self.t1,
            t2: self.t2,
            seed: self.seed,
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(self.seed))),
        }
    }
}

/// Collaborative Distillation (CD; Lee et al. 2019), as the authors' code in woriazzc/KDs
/// computes it: a pointwise cross-entropy of the student's σ(s) against the teacher's soft
/// target, on items drawn from the teacher's ranking by rank.
///
/// ```text
/// w_j = σ((t_j + t₂) / t₁)
/// L   = mean over lists of  Σ_j −[w_j · log σ(s_j) + (1 − w_j) · log(1 − σ(s_j))]
/// ```
///
/// Each draw takes two ranks `r` of the teacher's top N with replacement, `P(r) ∝
/// exp(−r / (N·T))`, and keeps the better one, until `samples` distinct items are drawn. The
/// authors sum over users; this is the mean over lists.
///
/// # Shapes
///
/// - student, teacher, mask: `[B, C]`, each user's drawn items
/// - output: `[1]`
#[derive(Module, Debug)]
pub struct CollaborativeDistillation {
    /// As [`CollaborativeDistillationConfig::samples`].
    pub samples: usize,
    /// As [`CollaborativeDistillationConfig::top_n`].
    pub top_n: usize,
    /// As [`CollaborativeDistillationConfig::temperature`].
    pub temperature: f64,
    /// As [`CollaborativeDistillationConfig::t1`].
    pub t1: f64,
    /// As [`CollaborativeDistillationConfig::t2`].
    pub t2: f64,
    /// As [`CollaborativeDistillationConfig::seed`].
    pub seed: u64,
    #[module(skip)]
    rng: Arc<Mutex<StdRng>>,
}

impl CollaborativeDistillation {
    /// Restarts the draws at `(seed, stream)`, so a step can be replayed exactly.
    pub fn reseed(&self, stream: u64) {
        *self.rng.lock().expect("rng lock") = crate::uniform_draw::stream_rng(self.seed, stream);
    }

    /// Positions in the teacher's ranking (0 = first) of one user's drawn items, among the
    /// first `min(top, top_n)`, in draw order.
    pub fn draw(&self, top: usize) -> Vec<usize> {
        let depth = top.min(self.top_n);
        let want = self.samples.min(depth);
        let scale = depth as f64 * self.temperature;
        let weights: Vec<f64> = (1..=depth).map(|r| (-(r as f64) / scale).exp()).collect();
        let total: f64 = weights.iter().sum();
        let mut rng = self.rng.lock().expect("rng lock");
        let mut pick = || {
            let mut u = rng.random::<f64>() * total;
            for (r, w) in weights.iter().enumerate() {
                u -= w;
                if u < 0.0 {
                    return r;
                }
            }
            depth - 1
        };
        let (mut seen, mut drawn) = (HashSet::new(), Vec::with_capacity(want));
        while drawn.len() < want {
            let better = pick().min(pick());
            if seen.insert(better) {
                drawn.push(better);
            }
        }
        drawn
    }

    /// The loss of the drawn items' student scores against their teacher scores.
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let target = burn::tensor::activation::sigmoid((teacher.detach() + self.t2) / self.t1);
        // −[w log σ(s) + (1 − w) log(1 − σ(s))] = softplus(s) − w·s
        let per_item =
            (softplus(student.clone()) - student * target).mask_fill(mask.clone().bool_not(), 0.0);
        let per_list = per_item.sum_dim(1).squeeze_dim::<1>(1);
        mean_over(per_list, mask.any_dim(1).squeeze_dim::<1>(1))
    }
}
