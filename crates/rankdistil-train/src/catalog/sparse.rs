//! Row-sparse training of a catalog scorer's per-item tables: a step gathers the rows it
//! reads as fresh autodiff leaves, and [`RowAdam`] updates only those rows.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::TensorData;
use rankdistil_models::CatalogScorer;

use crate::catalog::row_adam::{RowAdam, RowAdamState};
use crate::catalog::rows::{bucket, buckets_sizes};
use crate::store::weights::{load_into, to_bytes};

/// Both tables' Adam moments, as a checkpoint saves them.
#[derive(Module, Debug)]
struct SparseAdamState {
    tables: Vec<RowAdamState>,
}

/// The per-item tables of a row-sparse run, outside autodiff, with their Adam moments: the
/// history embeddings `[L, E]`, and the item embeddings and biases side by side `[L, D + 1]`,
/// since a step touches the same rows of both. Adam is per coordinate, so sharing a table
/// changes nothing but the number of kernels. The model's own copies are stale until training
/// ends.
pub struct SparseTables {
    /// Each table has no other handle between steps, so its rows are written in place.
    tables: Vec<Tensor<2>>,
    adam: [RowAdam; 2],
    /// D, the item embedding width.
    dim: usize,
}

/// One step's rows of each table: their ids, and the autodiff leaves the loss reads them from.
/// Where sizes are bucketed, the ids are padded to their bucket with copies of the first row,
/// which the loss never reads; `live` (`[R, 1]`, 1 for a real row and 0 for a pad) then keeps
/// Adam off the pads. Every bucketed step carries the mask, all ones when a draw fills its bucket
/// exactly, so that the step is one graph whatever the draw.
pub struct TouchedRows {
    rows: [Tensor<1, Int>; 2],
    leaves: [Tensor<2>; 2],
    live: [Option<Tensor<2>>; 2],
    dim: usize,
}

impl TouchedRows {
    /// The leaves as the scorer reads them: history rows `[R_h, E]`, item rows `[R_c, D]` and
    /// their biases `[R_c, 1]`.
    pub fn split(&self) -> [Tensor<2>; 3] {
        let [history, candidates] = self.leaves.clone();
        let [r, width] = candidates.dims();
        [
            history,
            candidates.clone().slice([0..r, 0..self.dim]),
            candidates.slice([0..r, self.dim..width]),
        ]
    }
}

impl SparseTables {
    pub fn new(model: &CatalogScorer) -> Self {
        let [history, items, bias] = model.tables().map(|t| t.inner());
        let dim = items.dims()[1];
        let tables = vec![history, Tensor::cat(vec![items, bias], 1)];
        let adam = [0, 1].map(|t| RowAdam::new(tables[t].dims(), &tables[t].device()));
        Self { tables, adam, dim }
    }

    /// History, items and biases, as [`CatalogScorer::tables`] gives them.
    pub fn tables(&self) -> [Tensor<2>; 3] {
        let [history, candidates] = [&self.tables[0], &self.tables[1]].map(Clone::clone);
        let [l, width] = candidates.dims();
        [
            history,
            candidates.clone().slice([0..l, 0..self.dim]),
            candidates.slice([0..l, self.dim..width]),
        ]
    }

    /// The Adam moments of both tables, as a checkpoint part.
    pub fn moments_bytes(&self) -> crate::Result<burn::tensor::Bytes> {
        let state = SparseAdamState {
            tables: self.adam.iter().map(RowAdam::state).collect(),
        };
        to_bytes(&state)
    }

    /// Restores the moments [`Self::moments_bytes`] saved to `path`.
    pub fn restore_moments(&mut self, path: &Path) -> crate::Result<()> {
        let device = self.tables[0].device();
        let empty = SparseAdamState {
            tables: self
                .tables
                .iter()
                .map(|t| RowAdam::new(t.dims(), &device).state())
                .collect(),
        };
        let state = load_into(path, empty, || {
            "the row-sparse Adam moments of this model".into()
        })?;
        for (adam, saved) in self.adam.iter_mut().zip(state.tables) {
            *adam = RowAdam::from_state(saved);
        }
        Ok(())
    }

    /// The history rows `history` and the item rows `candidates` (each sorted and distinct), as
    /// fresh leaves that take gradients.
    pub fn gather(&self, history: Vec<u32>, candidates: Vec<u32>) -> TouchedRows {
        let device = self.tables[0].device();
        let bucketed = buckets_sizes(&device);
        let ids = [history, candidates].map(|r| {
            let real = r.len();
            let mut r: Vec<i64> = r.into_iter().map(i64::from).collect();
            if bucketed && let Some(&first) = r.first() {
                r.resize(bucket(real), first);
            }
            (r, real)
        });
        let live = ids.each_ref().map(|(r, real)| {
            let mask: Vec<f32> = (0..r.len())
                .map(|i| f32::from(u8::from(i < *real)))
                .collect();
            let n = mask.len();
            (bucketed && n > 0).then(|| Tensor::from_data(TensorData::new(mask, [n, 1]), &device))
        });
        let rows = ids.map(|(r, _)| {
            let n = r.len();
            Tensor::<1, Int>::from_data(TensorData::new(r, [n]), &device)
        });
        let leaves = std::array::from_fn(|t| {
            Tensor::from_inner(self.tables[t].clone().select(0, rows[t].clone())).require_grad()
        });
        TouchedRows {
            rows,
            leaves,
            live,
            dim: self.dim,
        }
    }

    pub fn step(
        &mut self,
        learning_rate: f64,
        grads: &burn::tensor::Gradients,
        touched: TouchedRows,
    ) {
        let TouchedRows {
            rows, leaves, live, ..
        } = touched;
        let tables = std::mem::take(&mut self.tables);
        self.tables = tables
            .into_iter()
            .zip(rows.into_iter().zip(leaves).zip(live))
            .zip(&mut self.adam)
            .map(
                |((table, ((rows, leaf), live)), adam)| match leaf.grad(grads) {
                    Some(grad) => adam.step(learning_rate, table, rows, grad, live),
                    // A leaf the loss did not reach has no gradient: nothing to update.
                    None => table,
                },
            )
            .collect();
    }
}
