use std::sync::{Arc, Mutex};

use burn::prelude::*;
use burn::tensor::TensorData;
use std::collections::HashSet;

use rand::{SeedableRng, rngs::StdRng};

use crate::checks::{at_least_one, or_panic, positive};
use crate::ordering::{ListOrders, gumbel};
use crate::plackett_luce::{NEG, head_nll, logsumexp};
use crate::reduce::mean_over;
use crate::sampled::Candidates;
use crate::targets::{DistillTerm, HostTargets};
use crate::uniform_draw::distinct_uniform;

/// Configuration of [`RelaxedRankingDistillation`].
#[derive(Config, Debug)]
pub struct RelaxedRankingDistillationConfig {
    /// K: the interesting items drawn from the teacher's top `top_n` each step.
    #[config(default = 10)]
    pub k: usize,
    /// N: how deep in the teacher's order the interesting items are drawn from.
    #[config(default = 50)]
    pub top_n: usize,
    /// L: the uninteresting items, drawn uniformly from those the teacher ranks below `top_n`.
    #[config(default = 40)]
    pub negatives: usize,
    /// T of the rank-discounted draw, `P(rank r) ∝ exp(−r / T)`.
    #[config(default = 10.0)]
    pub temperature: f64,
    /// Seeds the draws.
    #[config(default = 0)]
    pub seed: u64,
}

impl RelaxedRankingDistillationConfig {
    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        at_least_one("k", self.k)?;
        at_least_one("top_n", self.top_n)?;
        if self.k > self.top_n {
            return Err(format!(
                "k = {} is more than top_n = {}, expected k <= top_n",
                self.k, self.top_n
            ));
        }
        positive("temperature", self.temperature)
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> RelaxedRankingDistillation {
        or_panic(self.check());
        RelaxedRankingDistillation {
            k: self.k,
            top_n: self.top_n,
            negatives: self.negatives,
            temperature: self.temperature,
            seed: self.seed,
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(self.seed))),
        }
    }
}

/// Relaxed Ranking Distillation (RRD; Kang et al., DE-RRD, CIKM 2020): a Plackett–Luce
/// likelihood of K interesting items in the teacher's order, with L uninteresting items in every
/// denominator.
///
/// ```text
/// L = mean over lists of  −Σ_{k=1..K} [ s_{π_k} − log( Σ_{j=k..K} exp(s_{π_j}) + Σ_{l=1..L} exp(s_{u_l}) ) ]
/// ```
///
/// Each step draws, per list, K of the teacher's top N ranks without replacement with
/// `P(r) ∝ exp(−r/T)`, kept in rank order as `π`, and L items `u` uniformly from the valid items
/// ranked below N. The authors sum over users; this is the mean over lists, so the scale does
/// not grow with the batch. A list with fewer valid items than K takes them all.
///
/// # Shapes
///
/// - student, teacher, mask: `[B, N]`
/// - output: `[1]`
#[derive(Module, Debug)]
pub struct RelaxedRankingDistillation {
    /// As [`RelaxedRankingDistillationConfig::k`].
    pub k: usize,
    /// As [`RelaxedRankingDistillationConfig::top_n`].
    pub top_n: usize,
    /// As [`RelaxedRankingDistillationConfig::negatives`].
    pub negatives: usize,
    /// As [`RelaxedRankingDistillationConfig::temperature`].
    pub temperature: f64,
    /// As [`RelaxedRankingDistillationConfig::seed`].
    pub seed: u64,
    #[module(skip)]
    rng: Arc<Mutex<StdRng>>,
}

/// One step's draw: per list, K interesting slots in teacher order and L uninteresting slots,
/// each `-1` where the list has too few items.
#[derive(Debug, Clone, PartialEq)]
pub struct RrdDraw {
    /// B, the lists.
    pub batch: usize,
    /// `[B * K]`: the interesting slots, in the teacher's order.
    pub interesting: Vec<i64>,
    /// `[B * L]`: the uninteresting slots.
    pub uninteresting: Vec<i64>,
}

impl RelaxedRankingDistillation {
    /// Restarts the draws at `(seed, stream)`, so a step can be replayed exactly.
    pub fn reseed(&self, stream: u64) {
        *self.rng.lock().expect("rng lock") = crate::uniform_draw::stream_rng(self.seed, stream);
    }

    /// The loss of `student` against the order of `teacher`, with this step's draw.
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let (t, m, b, n) = crate::ordering::to_host(teacher, mask);
        let draw = self.draw(&ListOrders::teacher_top(&t, &m, b, n, self.top_n));
        self.forward_drawn(student, &draw)
    }

    /// Draws this step's interesting and uninteresting slots from the teacher's `orders` (whose
    /// first `top_n` positions are in order).
    pub fn draw(&self, orders: &ListOrders) -> RrdDraw {
        let [b, _, n] = orders.dims();
        let (k, l) = (self.k, self.negatives);
        let mut rng = self.rng.lock().expect("rng lock");
        let (mut interesting, mut uninteresting) = (vec![-1; b * k], vec![-1; b * l]);
        for list in 0..b {
            let order = &orders.slots()[list * n..list * n + orders.counts[list]];
            let top = order.len().min(self.top_n);
            let ranks = draw_ranks(top, k, self.temperature, &mut rng);
            for (i, r) in ranks.into_iter().enumerate() {
                interesting[list * k + i] = order[r];
            }
            let below = &order[top..];
            for (i, j) in distinct_uniform(below.len(), l, &HashSet::new(), &mut *rng)
                .into_iter()
                .enumerate()
            {
                uninteresting[list * l + i] = below[j as usize];
            }
        }
        RrdDraw {
            batch: b,
            interesting,
            uninteresting,
        }
    }

    /// One user's candidates in a catalog of `catalog` items, from the teacher's top items
    /// `top` (in teacher order, at least `top_n` of them when the catalog allows): K drawn from
    /// the first `top_n` by rank, in rank order, then L negatives drawn uniformly from the
    /// items outside those `top_n` and `known` (the user's own positives). No logit shift: RRD
    /// sums the drawn negatives as they are.
    pub fn candidates(&self, top: &[u32], known: &[u32], catalog: usize) -> Candidates {
        let head = &top[..top.len().min(self.top_n)];
        let mut rng = self.rng.lock().expect("rng lock");
        let mut items: Vec<u32> = draw_ranks(head.len(), self.k, self.temperature, &mut rng)
            .into_iter()
            .map(|r| head[r])
            .collect();
        let drawn = items.len();
        let excluded: HashSet<u32> = head.iter().chain(known).copied().collect();
        let negatives = distinct_uniform(catalog, self.negatives, &excluded, &mut *rng);
        let m = negatives.len();
        items.extend(negatives);
        Candidates {
            items,
            top: drawn,
            negative_shifts: vec![0.0; m],
        }
    }

    /// The loss for each user's candidates ([`Self::candidates`]): `student` is `[B, C]`, the
    /// scores of each user's candidates in their order, padded past `items.len()`.
    pub fn forward_candidates(&self, student: Tensor<2>, candidates: &[Candidates]) -> Tensor<1> {
        let [b, c] = student.dims();
        let (mut interesting, mut uninteresting) = (vec![-1; b * c], vec![-1; b * c]);
        for (i, cand) in candidates.iter().enumerate() {
            let n = cand.items.len().min(c);
            for j in 0..cand.top.min(n) {
                interesting[i * c + j] = j as i64;
            }
            for j in cand.top..n {
                uninteresting[i * c + j - cand.top] = j as i64;
            }
        }
        let draw = RrdDraw {
            batch: b,
            interesting,
            uninteresting,
        };
        self.forward_drawn(student, &draw)
    }

    /// The loss of `student` for a fixed draw.
    pub fn forward_drawn(&self, student: Tensor<2>, draw: &RrdDraw) -> Tensor<1> {
        let device = student.device();
        let b = draw.batch;
        let (head, head_valid) = gathered(student.clone(), &draw.interesting, b, &device);
        let tail = if draw.uninteresting.is_empty() {
            Tensor::full([b, 1], NEG, &device)
        } else {
            let (tail, tail_valid) = gathered(student, &draw.uninteresting, b, &device);
            logsumexp(tail.mask_fill(tail_valid.bool_not(), NEG), 1)
        };
        let per_list = head_nll(
            head.mask_fill(head_valid.clone().bool_not(), NEG),
            head_valid.clone(),
            tail,
        );
        mean_over(per_list, head_valid.any_dim(1).squeeze_dim::<1>(1))
    }
}

/// `k` of the ranks `0..top` without replacement, each draw ∝ exp(−(r + 1)/T), in rank order:
/// the Gumbel top-k of `log w_r`, which is the same distribution as drawing one at a time.
fn draw_ranks(top: usize, k: usize, temperature: f64, rng: &mut StdRng) -> Vec<usize> {
    let mut keys: Vec<(f64, usize)> = (0..top)
        .map(|r| (-((r + 1) as f64) / temperature + gumbel(rng), r))
        .collect();
    keys.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut ranks: Vec<usize> = keys.iter().take(k).map(|&(_, r)| r).collect();
    ranks.sort_unstable();
    ranks
}

/// `student`'s scores at `slots` (`[B * W]`, `-1` for none): the scores and which are real.
fn gathered(
    student: Tensor<2>,
    slots: &[i64],
    b: usize,
    device: &Device,
) -> (Tensor<2>, Tensor<2, Bool>) {
    let w = slots.len() / b.max(1);
    let valid: Vec<bool> = slots.iter().map(|&s| s >= 0).collect();
    let index: Vec<i64> = slots.iter().map(|&s| s.max(0)).collect();
    let index = Tensor::<2, Int>::from_data(TensorData::new(index, [b, w]), device);
    let valid = Tensor::<2, Bool>::from_data(TensorData::new(valid, [b, w]), device);
    (student.gather(1, index), valid)
}

impl DistillTerm for RelaxedRankingDistillation {
    fn loss(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        let orders = ListOrders::teacher_top(
            targets.teacher(),
            targets.mask,
            targets.batch,
            targets.len,
            self.top_n,
        );
        self.forward_drawn(student, &self.draw(&orders))
    }

    fn reseed(&self, stream: u64) {
        RelaxedRankingDistillation::reseed(self, stream);
    }
}
