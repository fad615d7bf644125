use burn::prelude::*;

use crate::checks::{or_panic, positive};
use crate::ordering::{ListOrders, gather_ordered};
use crate::plackett_luce::top_k_nll;
use crate::reduce::mean_over;
use crate::teacher_order::OrderedLoss;

/// Configuration of [`ListMleKd`].
#[derive(Config, Debug)]
pub struct ListMleKdConfig {
    /// Student temperature τ.
    #[config(default = 1.0)]
    pub temperature: f64,
}

impl ListMleKdConfig {
    /// The first setting the loss rejects, by key.
    pub fn check(&self) -> Result<(), String> {
        positive("temperature", self.temperature)
    }

    /// Panics on a config that fails [`Self::check`].
    pub fn init(&self) -> ListMleKd {
        or_panic(self.check());
        ListMleKd {
            temperature: self.temperature,
        }
    }
}

/// ListMLE distillation: the full-list Plackett–Luce NLL of the teacher's order,
/// i.e. coupled RankDistil with `k = n` and `S = 0`.
///
/// ```text
/// L = Σ_{i=1..n} [ log Σ_{j=i..n} exp(s_{π(j)}/τ) − s_{π(i)}/τ ],   π = argsort_desc(t)
/// ```
#[derive(Module, Debug)]
pub struct ListMleKd {
    /// As [`ListMleKdConfig::temperature`].
    pub temperature: f64,
}

crate::teacher_order::inherent_forward!(ListMleKd);

impl OrderedLoss for ListMleKd {
    /// The whole order.
    fn teacher_head(&self) -> usize {
        usize::MAX
    }

    fn forward_ordered(&self, student: Tensor<2>, orders: &ListOrders) -> Tensor<1> {
        let device = student.device();
        let (b, n) = (orders.batch, orders.len);
        let x = gather_ordered(student / self.temperature, orders.index_tensor(&device))
            .reshape([b, n]);
        let valid = orders.valid_tensor(&device).reshape([b, n]);
        mean_over(top_k_nll(x, valid, n), orders.nonempty_tensor(&device))
    }
}
