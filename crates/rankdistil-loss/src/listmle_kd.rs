use burn::prelude::*;

use crate::ordering::{ListOrders, gather_ordered, to_host};
use crate::plackett_luce::top_k_nll;
use crate::reduce::mean_over;

/// Configuration of [`ListMleKd`].
#[derive(Config, Debug)]
pub struct ListMleKdConfig {
    /// Student temperature τ.
    #[config(default = 1.0)]
    pub temperature: f64,
}

impl ListMleKdConfig {
    pub fn init(&self) -> ListMleKd {
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
    pub temperature: f64,
}

impl ListMleKd {
    /// - student, teacher, mask: `[B, N]`; output: `[1]`
    pub fn forward(
        &self,
        student: Tensor<2>,
        teacher: Tensor<2>,
        mask: Tensor<2, Bool>,
    ) -> Tensor<1> {
        let (t, m, b, n) = to_host(teacher, mask);
        self.forward_ordered(student, &ListOrders::teacher(&t, &m, b, n))
    }

    /// The loss for precomputed teacher orders.
    pub fn forward_ordered(&self, student: Tensor<2>, orders: &ListOrders) -> Tensor<1> {
        let device = student.device();
        let (b, n) = (orders.batch, orders.len);
        let x = gather_ordered(student / self.temperature, orders.index_tensor(&device))
            .reshape([b, n]);
        let valid = orders.valid_tensor(&device).reshape([b, n]);
        mean_over(top_k_nll(x, valid, n), orders.nonempty_tensor(&device))
    }
}
