//! Losses that read the teacher only through its order.
//!
//! The teacher's scores are copied to the host and ordered there (only the head the loss
//! reads is sorted), then the loss runs on the student's scores gathered into that order.
//! Every such loss is a [`DistillTerm`] through this one path.

use burn::prelude::*;

use crate::ordering::{ListOrders, to_host};
use crate::targets::{DeviceTargets, DistillTerm, HostTargets};

/// A loss over the teacher's order of each list.
pub trait OrderedLoss: std::fmt::Debug {
    /// How many leading positions of the teacher's order the loss reads; the other valid items
    /// follow as an unordered set.
    fn teacher_head(&self) -> usize;

    /// The loss for precomputed orders, averaged over the lists with a valid item.
    ///
    /// - student: `[B, N]`; output: `[1]`
    fn forward_ordered(&self, student: Tensor<2>, orders: &ListOrders) -> Tensor<1>;

    /// The target orders of teacher scores `[B * N]` on the host.
    fn orders(&self, teacher: &[f32], mask: &[bool], batch: usize, len: usize) -> ListOrders {
        ListOrders::teacher_top(teacher, mask, batch, len, self.teacher_head())
    }

    /// Restarts the stream the orders are drawn from, if they are drawn.
    fn reseed_orders(&self, _stream: u64) {}

    /// The loss with its orders drawn on the device from targets already there, where the loss
    /// and the device have such a path; `None` orders on the host.
    ///
    /// - student: `[B, N]`; output: `[1]`
    fn forward_on_device(
        &self,
        _student: Tensor<2>,
        _targets: &DeviceTargets,
    ) -> Option<Tensor<1>> {
        None
    }

    /// The loss, averaged over the lists with at least one valid item.
    ///
    /// - student: `[B, N]`
    /// - teacher: `[B, N]` (read to the host to order)
    /// - mask: `[B, N]`, true for a real item
    /// - output: `[1]`
    fn forward(&self, student: Tensor<2>, teacher: Tensor<2>, mask: Tensor<2, Bool>) -> Tensor<1> {
        let (t, m, b, n) = to_host(teacher, mask);
        self.forward_ordered(student, &self.orders(&t, &m, b, n))
    }
}

/// The loss's `forward` as an inherent method, so that a caller needs no trait in scope.
macro_rules! inherent_forward {
    ($loss:ty) => {
        impl $loss {
            /// The loss, averaged over the lists with at least one valid item; the teacher's
            /// scores are read to the host and ordered there.
            ///
            /// # Shapes
            ///
            /// - student: `[B, N]`
            /// - teacher: `[B, N]`
            /// - mask: `[B, N]`, true for a real item
            /// - output: `[1]`
            pub fn forward(
                &self,
                student: Tensor<2>,
                teacher: Tensor<2>,
                mask: Tensor<2, Bool>,
            ) -> Tensor<1> {
                <Self as $crate::teacher_order::OrderedLoss>::forward(self, student, teacher, mask)
            }
        }
    };
}

pub(crate) use inherent_forward;

impl<L: OrderedLoss> DistillTerm for L {
    fn loss(&self, student: Tensor<2>, targets: &HostTargets) -> Tensor<1> {
        if let Some(loss) =
            (targets.device).and_then(|d| self.forward_on_device(student.clone(), d))
        {
            return loss;
        }
        let orders = self.orders(targets.teacher(), targets.mask, targets.batch, targets.len);
        self.forward_ordered(student, &orders)
    }

    fn reseed(&self, stream: u64) {
        self.reseed_orders(stream);
    }
}
