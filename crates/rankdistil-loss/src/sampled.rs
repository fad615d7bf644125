use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{SeedableRng, rngs::StdRng};

use crate::checks::{or_panic, positive};
#[cfg(feature = "kernels")]
use crate::kernel::ordered_top_k_nll;
use crate::label::sampled_softmax_ce::Popularity;
use crate::ordering::{ListOrders, gather_ordered};
#[cfg(feature = "kernels")]
use crate::plackett_luce::launches_kernels;
use crate::plackett_luce::top_k_nll;
use crate::reduce::mean_over;
use crate::uniform_draw::distinct_uniform;

/// Configuration of [`SampledRankDistil`].
#[derive(Config, Debug)]
pub struct SampledRankDistilConfig {
    /// The top-k whose order is matched; at most `p`.
    #[config(default = 10)]
    pub k: usize,
    /// The teacher's top-p items are always candidates.
    #[config(default = 100)]
    pub p: usize,
    /// Negatives drawn uniformly without replacement from the other L − p items.
    #[config(default = 100)]
    pub m: usize,
    /// Orders sampled from PL(teacher) within the top-p; 0 keeps the teacher's order.
    #[config(default = 0)]
    pub samples: usize,
    /// Student temperature τ.
    #[config(default = 1.0)]
    pub temperature: f64,
    /// Teacher temperature τ_t.
    #[config(default = 1.0)]
    pub teacher_temperature: f64,
    /// Add `log((L − p)/m)` to each negative's logit, so their exp-sum estimates the sum over
    /// all L − p non-top items without bias.
    #[config(default = true)]
    pub logq_correction: bool,
    /// The share of the m negatives drawn by training popularity (with replacement); the rest
    /// are uniform. 0 draws m distinct items uniformly. Below 1, so every item can be drawn.
    #[config(default = 0.0)]
    pub popular_negatives: f64,
    /// Seeds the loss's random streams.
    #[config(default = 0)]
    pub seed: u64,
}

impl SampledRankDistilConfig {
    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        if self.k == 0 || self.k > self.p {
            return Err(format!(
                "k = {}, p = {}: expected 1 <= k <= p",
                self.k, self.p
            ));
        }
        if !(0.0..1.0).contains(&self.popular_negatives) {
            return Err(format!(
                "popular_negatives = {}, expected 0 <= popular_negatives < 1 (a share of the m negatives)",
                self.popular_negatives
            ));
        }
        positive("temperature", self.temperature)?;
        positive("teacher_temperature", self.teacher_temperature)
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> SampledRankDistil {
        or_panic(self.check());
        SampledRankDistil {
            k: self.k,
            p: self.p,
            m: self.m,
            samples: self.samples,
            temperature: self.temperature,
            teacher_temperature: self.teacher_temperature,
            logq_correction: self.logq_correction,
            popular_negatives: self.popular_negatives,
            seed: self.seed,
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(self.seed))),
        }
    }
}

/// One query's candidates: the teacher's top-p item ids (teacher order) then m negatives.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidates {
    /// The teacher's top items, in teacher order, then the negatives.
    pub items: Vec<u32>,
    /// How many of `items` are the teacher's top items.
    pub top: usize,
    /// Each negative's logit shift, in `items[top..]` order: `log((L − p)/m)` for uniform
    /// draws, `log c_j − log(m·Q(j | not top))` for popularity-mixed ones, 0 without the
    /// correction.
    pub negative_shifts: Vec<f32>,
}

/// Sampled RankDistil for large catalogs (docs/LOSSES.md, "Sampled RankDistil"): the coupled loss over the teacher's
/// top-p items plus m uniform negatives, with the log-q correction.
///
/// ```text
/// candidates = [P in teacher order (or PL-sampled within P), then M],   M ~ U(other L − p), |M| = m
/// L = Σ_{i=1..k'} [ log( Σ_{j∈P, j≥i} exp(s_j/τ) + Σ_{j∈M} exp(s_j/τ + log((L−p)/m)) ) − s_{π(i)}/τ ]
/// ```
///
/// Its cost is `O(B·(p + m))` whatever the catalog size L; drawing the negatives is `O(m)`.
/// With `m = L − p` it equals the coupled loss on the whole catalog.
#[derive(Module, Debug)]
pub struct SampledRankDistil {
    /// As [`SampledRankDistilConfig::k`].
    pub k: usize,
    /// As [`SampledRankDistilConfig::p`].
    pub p: usize,
    /// As [`SampledRankDistilConfig::m`].
    pub m: usize,
    /// As [`SampledRankDistilConfig::samples`].
    pub samples: usize,
    /// As [`SampledRankDistilConfig::temperature`].
    pub temperature: f64,
    /// As [`SampledRankDistilConfig::teacher_temperature`].
    pub teacher_temperature: f64,
    /// As [`SampledRankDistilConfig::logq_correction`].
    pub logq_correction: bool,
    /// As [`SampledRankDistilConfig::popular_negatives`].
    pub popular_negatives: f64,
    /// As [`SampledRankDistilConfig::seed`].
    pub seed: u64,
    #[module(skip)]
    rng: Arc<Mutex<StdRng>>,
}

impl SampledRankDistil {
    /// Restarts the sampling stream at `(seed, stream)`.
    pub fn reseed(&self, stream: u64) {
        *self.rng.lock().expect("rng lock") = crate::uniform_draw::stream_rng(self.seed, stream);
    }

    /// Draws one query's candidates from its teacher top-p ids (in teacher order) in a catalog
    /// of `catalog` items; negatives are never one of the top items nor one of `known`, the
    /// user's own positives, which the teacher ranks high but a top-p of unseen items leaves
    /// out. Rejection sampling keeps the draw `O(m)` for `m ≪ L`.
    pub fn candidates(&self, top: &[u32], known: &[u32], catalog: usize) -> Candidates {
        let p = top.len().min(self.p);
        let excluded: HashSet<u32> = top[..p].iter().chain(known).copied().collect();
        let others = catalog.saturating_sub(excluded.len());
        let m = self.m.min(others);
        let mut rng = self.rng.lock().expect("rng lock");
        let mut items = top[..p].to_vec();
        items.extend(distinct_uniform(catalog, m, &excluded, &mut *rng));
        let negative_shift = if self.logq_correction && m > 0 {
            (others as f64 / m as f64).ln() as f32
        } else {
            0.0
        };
        Candidates {
            items,
            top: p,
            negative_shifts: vec![negative_shift; m],
        }
    }

    /// [`Self::candidates`], with a share [`popular_negatives`](SampledRankDistilConfig::popular_negatives) of
    /// the m negatives drawn by training popularity, with replacement, and never from the top
    /// items or `known` (a draw that lands there is drawn again). The proposal outside them is
    /// `Q(j)/(1 − Q(excluded))`, `Q(j) = (1 − α)/L + α·n_j/N`; an item drawn c_j times is one
    /// negative shifted by `log c_j − log(m·Q(j)/(1 − Q(excluded)))`.
    pub fn candidates_by_popularity(
        &self,
        top: &[u32],
        known: &[u32],
        catalog: usize,
        popularity: &Popularity,
    ) -> Candidates {
        let p = top.len().min(self.p);
        let excluded: HashSet<u32> = top[..p].iter().chain(known).copied().collect();
        if self.popular_negatives == 0.0 || popularity.total() == 0 || catalog <= excluded.len() {
            return self.candidates(top, known, catalog);
        }
        let mut rng = self.rng.lock().expect("rng lock");
        let q = |j: u32| popularity.proposal(j, self.popular_negatives, catalog);
        let q_excluded: f64 = excluded.iter().map(|&j| q(j)).sum();
        let mut counts: std::collections::HashMap<u32, u32> = Default::default();
        let mut items = top[..p].to_vec();
        for _ in 0..self.m {
            let j = loop {
                let j = popularity.draw(self.popular_negatives, catalog, &mut *rng);
                if !excluded.contains(&j) {
                    break j;
                }
            };
            let c = counts.entry(j).or_insert(0);
            if *c == 0 {
                items.push(j);
            }
            *c += 1;
        }
        let m = self.m as f64;
        let negative_shifts = items[p..]
            .iter()
            .map(|j| {
                if self.logq_correction {
                    ((counts[j] as f64).ln() - (m * q(*j) / (1.0 - q_excluded)).ln()) as f32
                } else {
                    0.0
                }
            })
            .collect();
        Candidates {
            items,
            top: p,
            negative_shifts,
        }
    }

    /// The loss for candidate scores.
    ///
    /// - student: `[B, C]` student scores of each query's candidates, top items first
    /// - teacher_top: `[B * C]` teacher scores of the candidates (only the top ones are read)
    /// - candidates: one per list (`items.len() <= C`; shorter lists are padded)
    /// - output: `[1]`
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher_top: &[f32],
        candidates: &[Candidates],
    ) -> Tensor<1> {
        let device = student.device();
        let [b, c] = student.dims();
        assert_eq!(candidates.len(), b, "one candidate set per list");
        // Orders of the top part (teacher order, or PL samples within it); negatives follow.
        let top_mask: Vec<bool> = candidates
            .iter()
            .flat_map(|cand| (0..c).map(move |j| j < cand.top))
            .collect();
        let s = self.samples.max(1);
        let top_orders = if self.samples == 0 {
            ListOrders::teacher(teacher_top, &top_mask, b, c)
        } else {
            let mut rng = self.rng.lock().expect("rng lock");
            ListOrders::plackett_luce(
                teacher_top,
                &top_mask,
                b,
                c,
                s,
                usize::MAX,
                self.teacher_temperature,
                &mut rng,
            )
        };
        let mut index = Vec::with_capacity(b * s * c);
        let mut counts = Vec::with_capacity(b);
        // Each negative's shift sits at its own slot (negatives keep their slots in every
        // order), so it is added before the gather.
        let mut shift = vec![0.0f32; b * c];
        for (i, cand) in candidates.iter().enumerate() {
            let n = cand.items.len().min(c);
            counts.push(n);
            for k in 0..s {
                let row = &top_orders.index[(i * s + k) * c..(i * s + k + 1) * c];
                index.extend_from_slice(&row[..cand.top]);
                index.extend((cand.top..c).map(|j| j as i64));
            }
            for j in cand.top..n {
                shift[i * c + j] = cand.negative_shifts[j - cand.top];
            }
        }
        let orders = ListOrders {
            batch: b,
            samples: s,
            len: c,
            index,
            counts,
        };
        let shift = Tensor::<2>::from_data(TensorData::new(shift, [b, c]), &device);
        let nonempty: Vec<bool> = candidates.iter().map(|cand| cand.top > 0).collect();
        #[cfg(feature = "kernels")]
        if launches_kernels(&device) {
            // x = student/τ + shift, as the kernel's scores/τ.
            let nll = ordered_top_k_nll(
                student + shift * self.temperature,
                orders.flat_index_tensor(&device),
                orders.counts_tensor(&device),
                s,
                self.k,
                self.temperature,
            ); // [B·S]
            return (nll * mean_weights(&nonempty, s, &device)).sum();
        }
        let x = gather_ordered(
            student / self.temperature + shift,
            orders.index_tensor(&device),
        );
        let valid = orders.valid_tensor(&device);
        let nll =
            top_k_nll(x.reshape([b * s, c]), valid.reshape([b * s, c]), self.k).reshape([b, s]);
        let nonempty = Tensor::<1, Bool>::from_data(TensorData::new(nonempty, [b]), &device);
        mean_over(nll.mean_dim(1).squeeze_dim::<1>(1), nonempty)
    }
}

/// `[B·S]`: each order's weight in the mean over nonempty lists of the mean over their orders.
#[cfg(feature = "kernels")]
fn mean_weights(nonempty: &[bool], samples: usize, device: &Device) -> Tensor<1> {
    let w = 1.0 / (samples * nonempty.iter().filter(|&&e| e).count().max(1)) as f32;
    let data: Vec<f32> = (nonempty.iter())
        .flat_map(|&e| std::iter::repeat_n(if e { w } else { 0.0 }, samples))
        .collect();
    Tensor::from_data(TensorData::new(data, [nonempty.len() * samples]), device)
}
