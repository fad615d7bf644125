use std::sync::{Arc, Mutex};

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;
use rand::{SeedableRng, rngs::StdRng};

use crate::checks::{at_least_one, or_panic, positive};
#[cfg(feature = "kernels")]
use crate::device_order::{OrderKeys, device_orders, mean_weights};
#[cfg(feature = "kernels")]
use crate::kernel::ordered_top_k_nll;
use crate::ordering::{ListOrders, gather_ordered};
use crate::plackett_luce::{NEG, head_nll, launches_kernels, logsumexp, top_k_nll};
use crate::reduce::{mean_over, nonempty};
#[cfg(feature = "kernels")]
use crate::targets::DeviceTargets;
use crate::teacher_order::OrderedLoss;

/// Configuration of [`CoupledRankDistil`].
#[derive(Config, Debug)]
pub struct CoupledRankDistilConfig {
    /// The top-k whose order is matched.
    #[config(default = 10)]
    pub k: usize,
    /// Orders sampled from PL(teacher) per list; 0 uses the teacher's own order.
    #[config(default = 8)]
    pub samples: usize,
    /// Student temperature τ.
    #[config(default = 1.0)]
    pub temperature: f64,
    /// Teacher temperature τ_t of the sampling distribution.
    #[config(default = 1.0)]
    pub teacher_temperature: f64,
    /// Seeds the loss's random streams.
    #[config(default = 0)]
    pub seed: u64,
}

impl CoupledRankDistilConfig {
    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        at_least_one("k", self.k)?;
        positive("temperature", self.temperature)?;
        positive("teacher_temperature", self.teacher_temperature)
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> CoupledRankDistil {
        or_panic(self.check());
        CoupledRankDistil {
            k: self.k,
            samples: self.samples,
            temperature: self.temperature,
            teacher_temperature: self.teacher_temperature,
            seed: self.seed,
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(self.seed))),
        }
    }
}

/// Coupled RankDistil (Reddi et al., AISTATS 2021; TF-Ranking `CoupledRankDistilLoss`):
/// the top-k Plackett–Luce likelihood of the teacher's ranking under the student.
///
/// ```text
/// π_s = argsort_desc(t/τ_t + g_s) over the valid items,   g_s ~ Gumbel(0, 1)   (s = 1..S)
/// L   = (1/S) Σ_s Σ_{i=1..k'} [ log Σ_{j=i..n} exp(s_{π_s(j)}/τ) − s_{π_s(i)}/τ ]
/// ```
///
/// The denominators run over every remaining item, so the items the teacher ranks low are
/// pushed down. With `S = 0` the teacher's own order is used. Memory is `O(B·S·N)`.
#[derive(Module, Debug)]
pub struct CoupledRankDistil {
    /// As [`CoupledRankDistilConfig::k`].
    pub k: usize,
    /// As [`CoupledRankDistilConfig::samples`].
    pub samples: usize,
    /// As [`CoupledRankDistilConfig::temperature`].
    pub temperature: f64,
    /// As [`CoupledRankDistilConfig::teacher_temperature`].
    pub teacher_temperature: f64,
    /// As [`CoupledRankDistilConfig::seed`].
    pub seed: u64,
    #[module(skip)]
    rng: Arc<Mutex<StdRng>>,
}

impl CoupledRankDistil {
    /// Restarts the Gumbel stream at `(seed, stream)`, so a step can be replayed exactly.
    pub fn reseed(&self, stream: u64) {
        *self.rng.lock().expect("rng lock") = crate::uniform_draw::stream_rng(self.seed, stream);
    }

    /// Per-list, per-sample NLL: `[B, N]` student scores -> `[B, S]`.
    pub fn per_sample(&self, student: Tensor<2>, orders: &ListOrders) -> Tensor<2> {
        let device = student.device();
        let (b, s, n) = (orders.batch, orders.samples, orders.len);
        let x = gather_ordered(student / self.temperature, orders.index_tensor(&device)); // [B, S, N]
        let valid = orders.valid_tensor(&device); // [B, S, N]
        top_k_nll(x.reshape([b * s, n]), valid.reshape([b * s, n]), self.k).reshape([b, s])
    }

    /// The loss with the teacher's order (`S = 0`) found on the device, with no host sync.
    ///
    /// Only the top-k is ordered (an on-device arg-top-k; GPU backends give ties to the lower
    /// slot as the host sort does, CPU backends break them arbitrarily);
    /// the other items enter as one log-sum-exp, found by masking the top-k out. A full argsort
    /// is avoided because Burn's GPU backends have none: they read the tensor back to sort it.
    ///
    /// - student, teacher: `[B, N]`; mask: `[B, N]`; output: `[1]`
    pub fn forward_device_order(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let n = student.dims()[1];
        let padding = mask.clone().bool_not();
        let x = (student / self.temperature).mask_fill(padding.clone(), NEG); // [B, N]
        let teacher = teacher.mask_fill(padding, NEG); // padding sorts last
        let per_list = if self.k < n {
            let top = teacher.argtopk(self.k, 1); // [B, k], teacher-descending
            let head = x.clone().gather(1, top.clone()); // [B, k]
            let slots = mask.clone().int(); // [B, N]
            let head_valid = slots.clone().gather(1, top.clone()).equal_elem(1); // [B, k]
            let in_head = slots
                .clone()
                .zeros_like()
                .scatter(1, top.clone(), top.ones_like(), IndexingUpdateOp::Add)
                .equal_elem(1); // [B, N]
            let tail = logsumexp(x.mask_fill(in_head, NEG), 1); // [B, 1]
            head_nll(head, head_valid, tail)
        } else {
            // Every item is in the head: the order is a full sort, which a GPU backend has
            // only as a read-back and a host sort; its arg-top-k of all N runs on the device.
            let order = match launches_kernels(&teacher.device()) {
                true => teacher.argtopk(n, 1),
                false => teacher.argsort_descending(1),
            }; // [B, N]
            let valid = mask.clone().int().gather(1, order.clone()).equal_elem(1); // [B, N]
            top_k_nll(x.gather(1, order), valid, self.k)
        };
        mean_over(per_list, nonempty(mask))
    }
}

crate::teacher_order::inherent_forward!(CoupledRankDistil);

impl OrderedLoss for CoupledRankDistil {
    fn teacher_head(&self) -> usize {
        self.k
    }

    /// The teacher's own order (`S = 0`), or `S` orders sampled from PL(teacher / τ_t).
    fn orders(&self, teacher: &[f32], mask: &[bool], batch: usize, len: usize) -> ListOrders {
        if self.samples == 0 {
            return ListOrders::teacher_top(teacher, mask, batch, len, self.k);
        }
        let mut rng = self.rng.lock().expect("rng lock");
        ListOrders::plackett_luce(
            teacher,
            mask,
            batch,
            len,
            self.samples,
            self.k,
            self.teacher_temperature,
            &mut rng,
        )
    }

    fn forward_ordered(&self, student: Tensor<2>, orders: &ListOrders) -> Tensor<1> {
        let device = student.device();
        #[cfg(feature = "kernels")]
        if launches_kernels(&device) {
            // The same loss in two kernels, forward and backward, and the mean as one sum
            // weighted on the host.
            let nll = ordered_top_k_nll(
                student,
                orders.flat_index_tensor(&device),
                orders.counts_tensor(&device),
                orders.samples,
                self.k,
                self.temperature,
            ); // [B·S]
            return (nll * orders.mean_weights_tensor(&device)).sum();
        }
        let per_list = self
            .per_sample(student, orders)
            .mean_dim(1)
            .squeeze_dim::<1>(1); // [B]
        mean_over(per_list, orders.nonempty_tensor(&device))
    }

    fn reseed_orders(&self, stream: u64) {
        self.reseed(stream);
    }

    /// On a GPU backend, the orders are drawn on the device (an arg-top-k per order, the
    /// Gumbel noise from the device's seeded stream) and fed to the kernels: nothing is read
    /// back or uploaded.
    #[cfg(feature = "kernels")]
    fn forward_on_device(&self, student: Tensor<2>, targets: &DeviceTargets) -> Option<Tensor<1>> {
        let device = student.device();
        let teacher = targets.teacher.clone()?;
        if !launches_kernels(&device) {
            return None;
        }
        let keys = match self.samples {
            0 => OrderKeys::Teacher,
            samples => OrderKeys::Sampled {
                samples,
                temperature: self.teacher_temperature,
            },
        };
        let samples = self.samples.max(1);
        let index = device_orders(teacher, &targets.list_counts, &keys, self.k);
        let nll = ordered_top_k_nll(
            student,
            index,
            targets.counts.clone(),
            samples,
            self.k,
            self.temperature,
        ); // [B·S]
        Some((nll * mean_weights(&targets.list_counts, samples, &device)).sum())
    }
}
