//! The split shared by the decoupled and pairwise reconstructions: the teacher's top-p items
//! `P` (in teacher order) and the rest `M`.

use burn::prelude::*;

use crate::ordering::{ListOrders, gather_ordered};
use crate::plackett_luce::top_k_nll;

pub(crate) struct TopPSplit {
    /// ListMLE over P in teacher order, denominators over P only: `[B]`.
    pub listmle_p: Tensor<1>,
    /// Student logits of P: `[B, p']`.
    pub x_p: Tensor<2>,
    pub valid_p: Tensor<2, Bool>,
    /// Student logits of M: `[B, N − p']`, or `None` when no list has items past p.
    pub x_m: Option<Tensor<2>>,
    pub valid_m: Option<Tensor<2, Bool>>,
}

/// Splits student logits `s/τ` by the teacher's order (`orders` with one sample per list).
pub(crate) fn split_top_p(
    student: Tensor<2>,
    orders: &ListOrders,
    p: usize,
    temperature: f64,
) -> TopPSplit {
    let device = student.device();
    let (b, n) = (orders.batch, orders.len);
    let x = gather_ordered(student / temperature, orders.index_tensor(&device)).reshape([b, n]);
    let valid = orders.valid_tensor(&device).reshape([b, n]);
    let pp = p.min(n);
    let x_p = x.clone().slice([0..b, 0..pp]);
    let valid_p = valid.clone().slice([0..b, 0..pp]);
    let listmle_p = top_k_nll(x_p.clone(), valid_p.clone(), pp);
    let (x_m, valid_m) = if pp < n {
        (
            Some(x.slice([0..b, pp..n])),
            Some(valid.slice([0..b, pp..n])),
        )
    } else {
        (None, None)
    };
    TopPSplit {
        listmle_p,
        x_p,
        valid_p,
        x_m,
        valid_m,
    }
}
