use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::checks::or_panic;
use crate::reduce::mean_over;
use crate::sampled::Candidates;
use crate::targets::{DistillTerm, HostTargets};
use crate::uniform_draw::distinct_uniform;

/// Configuration of [`MarginMse`].
#[derive(Config, Debug)]
pub struct MarginMseConfig {
    /// Ordered pairs drawn per list each step; 0 takes every ordered pair of valid items.
    #[config(default = 0)]
    pub pairs: usize,
    /// Seeds the pair draws.
    #[config(default = 0)]
    pub seed: u64,
}

impl MarginMseConfig {
    /// The first setting the loss rejects, by key (every setting is allowed).
    pub fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> MarginMse {
        or_panic(self.check());
        MarginMse {
            pairs: self.pairs,
            seed: self.seed,
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(self.seed))),
        }
    }
}

/// Margin-MSE (Hofstätter et al. 2020; sentence-transformers' `MarginMSELoss`): the squared
/// error between the student's and the teacher's score margins over pairs of one list.
///
/// ```text
/// L = mean over lists of  mean_{(i, j) ∈ P} ((s_i − s_j) − (t_i − t_j))²
/// ```
///
/// `P` is every ordered pair `i ≠ j` of valid items (`pairs = 0`), or `pairs` ordered pairs
/// drawn uniformly each step. With `e = s − t` the margin error of a pair is `e_i − e_j`, so over
/// all pairs the mean is `(2n·Σe² − 2(Σe)²) / (n(n − 1))`, in `O(N)`: no pair matrix is built.
/// Lists with fewer than two valid items have no pair and are left out of the mean.
///
/// # Shapes
///
/// - student, teacher, mask: `[B, N]`
/// - output: `[1]`
#[derive(Module, Debug)]
pub struct MarginMse {
    /// As [`MarginMseConfig::pairs`].
    pub pairs: usize,
    /// As [`MarginMseConfig::seed`].
    pub seed: u64,
    #[module(skip)]
    rng: Arc<Mutex<StdRng>>,
}

impl MarginMse {
    /// Restarts the pair draws at `(seed, stream)`, so a step can be replayed exactly.
    pub fn reseed(&self, stream: u64) {
        *self.rng.lock().expect("rng lock") = crate::uniform_draw::stream_rng(self.seed, stream);
    }

    /// The loss of `student` against `teacher` over the valid items of `mask`.
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        if self.pairs == 0 {
            return all_pairs(student, teacher, mask);
        }
        let host = (mask.clone().into_data())
            .try_into_vec::<bool>()
            .expect("bool data");
        let [b, n] = mask.dims();
        let pairs = self.draw(&host, b, n);
        pairs.loss(student - teacher.detach())
    }

    /// The margins of one positive against negatives, as sentence-transformers computes them:
    /// slot 0 of each row is the positive, the valid slots after it its negatives.
    ///
    /// ```text
    /// L = mean over rows of  mean_{j ≥ 1 valid} ((s_0 − s_j) − (t_0 − t_0j))²
    /// ```
    ///
    /// - student, teacher, mask: `[B, 1 + M]`; output: `[1]`
    pub fn forward_positive(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let [b, c] = student.dims();
        let e = student - teacher.detach(); // margin error of (0, j) is e_0 − e_j
        let positive = e.clone().slice([0..b, 0..1]);
        let negatives = mask.slice([0..b, 1..c]);
        let sq = (positive - e.slice([0..b, 1..c]))
            .square()
            .mask_fill(negatives.clone().bool_not(), 0.0);
        let count = negatives.clone().float().sum_dim(1).clamp_min(1.0);
        let per_row = (sq.sum_dim(1) / count).squeeze_dim::<1>(1);
        mean_over(per_row, negatives.any_dim(1).squeeze_dim::<1>(1))
    }

    /// One user's candidates in a catalog of `catalog` items for [`Self::forward_positive`]:
    /// one of `known` (the user's own items) drawn uniformly as the positive, then `negatives`
    /// distinct items drawn uniformly from the others. None for a user with no item.
    pub fn candidates(&self, known: &[u32], negatives: usize, catalog: usize) -> Candidates {
        let mut rng = self.rng.lock().expect("rng lock");
        if known.is_empty() {
            return Candidates {
                items: Vec::new(),
                top: 0,
                negative_shifts: Vec::new(),
            };
        }
        let mut items = vec![known[rng.random_range(0..known.len())]];
        let excluded: HashSet<u32> = known.iter().copied().collect();
        items.extend(distinct_uniform(catalog, negatives, &excluded, &mut *rng));
        let m = items.len() - 1;
        Candidates {
            items,
            top: 1,
            negative_shifts: vec![0.0; m],
        }
    }

    /// `pairs` ordered pairs of distinct valid slots per list (none for a list of fewer than 2).
    fn draw(&self, mask: &[bool], batch: usize, len: usize) -> DrawnPairs {
        let p = self.pairs;
        let mut rng = self.rng.lock().expect("rng lock");
        let (mut first, mut second) = (vec![0i64; batch * p], vec![0i64; batch * p]);
        let mut counts = vec![false; batch];
        for b in 0..batch {
            let valid: Vec<i64> = (0..len)
                .filter(|&j| mask[b * len + j])
                .map(|j| j as i64)
                .collect();
            if valid.len() < 2 {
                continue;
            }
            counts[b] = true;
            for k in b * p..(b + 1) * p {
                let i = rng.random_range(0..valid.len());
                let j = (i + rng.random_range(1..valid.len())) % valid.len();
                (first[k], second[k]) = (valid[i], valid[j]);
            }
        }
        DrawnPairs {
            shape: [batch, p],
            first,
            second,
            counts,
        }
    }
}

/// Every ordered pair: `(2n·Σe² − 2(Σe)²) / (n(n − 1))` per list.
fn all_pairs(student: Tensor<2>, teacher: Tensor<2>, mask: Tensor<2, Bool>) -> Tensor<1> {
    let pad = mask.clone().bool_not();
    let e = (student - teacher.detach()).mask_fill(pad, 0.0);
    let n = mask.clone().float().sum_dim(1); // [B, 1]
    let sum = e.clone().sum_dim(1);
    let sum_sq = e.square().sum_dim(1);
    let pairs = (n.clone() * (n.clone() - 1.0)).clamp_min(1.0);
    let per_list = ((n * sum_sq - sum.square()) * 2.0 / pairs).squeeze_dim::<1>(1);
    let counts = mask
        .float()
        .sum_dim(1)
        .greater_equal_elem(2.0)
        .squeeze_dim::<1>(1);
    mean_over(per_list, counts)
}

/// One step's drawn pairs, `[B, P]` slot indices of each side.
struct DrawnPairs {
    shape: [usize; 2],
    first: Vec<i64>,
    second: Vec<i64>,
    counts: Vec<bool>,
}

impl DrawnPairs {
    /// The mean squared margin error over the drawn pairs of the lists that have them.
    fn loss(self, error: Tensor<2>) -> Tensor<1> {
        let device = error.device();
        let index =
            |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, self.shape), &device);
        let margin =
            error.clone().gather(1, index(self.first)) - error.gather(1, index(self.second));
        let per_list = margin.square().mean_dim(1).squeeze_dim::<1>(1);
        let counts =
            Tensor::<1, Bool>::from_data(TensorData::new(self.counts, [self.shape[0]]), &device);
        mean_over(per_list, counts)
    }
}

impl DistillTerm for MarginMse {
    fn loss(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        let device = student.device();
        let teacher = targets.teacher_tensor(&device);
        if self.pairs == 0 {
            return all_pairs(student, teacher, targets.mask_tensor(&device));
        }
        let pairs = self.draw(targets.mask, targets.batch, targets.len);
        pairs.loss(student - teacher)
    }

    fn reseed(&self, stream: u64) {
        MarginMse::reseed(self, stream);
    }
}
