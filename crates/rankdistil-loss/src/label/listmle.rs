use std::sync::{Arc, Mutex};

use burn::prelude::*;
use rand::{SeedableRng, rngs::StdRng};

use crate::ordering::{ListOrders, gather_ordered, to_host};
use crate::plackett_luce::top_k_nll;
use crate::reduce::mean_over;

/// Configuration of [`ListMle`].
#[derive(Config, Debug)]
pub struct ListMleConfig {
    /// Seed of the tie-breaking draws.
    #[config(default = 0)]
    pub seed: u64,
}

impl ListMleConfig {
    /// The loss with these settings.
    pub fn init(&self) -> ListMle {
        ListMle {
            seed: self.seed,
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(self.seed))),
        }
    }
}

/// ListMLE (Xia et al. 2008): the Plackett–Luce NLL of the order by labels, with ties among
/// equal labels broken uniformly at random (seeded).
///
/// ```text
/// L = Σ_{i=1..n} [ log Σ_{j=i..n} exp(s_{π(j)}) − s_{π(i)} ],   π = argsort_desc(y)
/// ```
#[derive(Module, Debug)]
pub struct ListMle {
    /// As [`ListMleConfig::seed`].
    pub seed: u64,
    #[module(skip)]
    rng: Arc<Mutex<StdRng>>,
}

impl ListMle {
    /// Restarts the tie-breaking stream at `(seed, stream)`.
    pub fn reseed(&self, stream: u64) {
        *self.rng.lock().expect("rng lock") = crate::uniform_draw::stream_rng(self.seed, stream);
    }

    /// The label orders for `[B * N]` labels on the host.
    pub fn orders(&self, labels: &[f32], mask: &[bool], batch: usize, len: usize) -> ListOrders {
        let mut rng = self.rng.lock().expect("rng lock");
        ListOrders::labels_random_ties(labels, mask, batch, len, &mut rng)
    }

    /// Per-list NLL for precomputed orders: `[B]`.
    pub fn per_list(&self, scores: Tensor<2>, orders: &ListOrders) -> Tensor<1> {
        let device = scores.device();
        let (b, n) = (orders.batch, orders.len);
        let x = gather_ordered(scores, orders.index_tensor(&device)).reshape([b, n]);
        top_k_nll(x, orders.valid_tensor(&device).reshape([b, n]), n)
    }

    /// - scores, labels, mask: `[B, N]`; output: `[1]`
    pub fn forward(
        &self,
        scores: Tensor<2>,
        labels: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let (y, m, b, n) = to_host(labels, mask);
        let orders = self.orders(&y, &m, b, n);
        let device = scores.device();
        mean_over(
            self.per_list(scores, &orders),
            orders.nonempty_tensor(&device),
        )
    }
}
