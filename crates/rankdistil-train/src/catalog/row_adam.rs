//! Row-sparse ("lazy") Adam for per-item tables.
//!
//! A sampled-RankDistil step reads a few hundred rows of a catalog's item table, but dense Adam
//! would rewrite all L rows and their moments every step, so a 10⁶-item catalog would cost
//! 10⁶ rows per step whatever the loss reads. Here a step updates only the rows the batch
//! touched:
//!
//! ```text
//! for each touched row r:  m_r ← β₁ m_r + (1 − β₁) g_r
//!                          v_r ← β₂ v_r + (1 − β₂) g_r²
//!                          θ_r ← θ_r − lr · m_r / (1 − β₁ᵗ) / (√(v_r / (1 − β₂ᵗ)) + ε)
//! ```
//!
//! with `t` the global step count. Untouched rows keep their weights and moments, as in
//! TensorFlow's LazyAdam and PyTorch's SparseAdam. When every row is touched at every step it
//! is exactly Burn's Adam with the same β₁, β₂, ε.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

/// Burn's `AdamConfig` defaults, which the rest of the model trains with.
const BETA_1: f64 = 0.9;
const BETA_2: f64 = 0.999;
const EPSILON: f64 = 1e-5;

/// Adam moments of one `[L, D]` table, updated a row subset at a time.
pub struct RowAdam {
    time: i32,
    /// (m, v). Taken out during a step so each is the only handle to its buffer, which lets a
    /// CPU backend write the touched rows in place instead of copying the whole table.
    moments: Option<(Tensor<2>, Tensor<2>)>,
}

/// A [`RowAdam`] as a checkpoint stores it.
#[derive(Module, Debug)]
pub struct RowAdamState {
    moment_1: Param<Tensor<2>>,
    moment_2: Param<Tensor<2>>,
    /// The step count, as a one-element tensor.
    time: Param<Tensor<1>>,
}

impl RowAdam {
    /// The moments and step count, for a checkpoint.
    pub fn state(&self) -> RowAdamState {
        let (m, v) = self
            .moments
            .clone()
            .expect("moments are put back every step");
        let device = m.device();
        RowAdamState {
            moment_1: Param::from_tensor(m),
            moment_2: Param::from_tensor(v),
            time: Param::from_tensor(Tensor::from_data([self.time as f32], &device)),
        }
    }

    /// The optimizer a checkpoint's [`RowAdamState`] describes.
    pub fn from_state(state: RowAdamState) -> Self {
        let time = state.time.val().into_scalar::<f32>() as i32;
        Self {
            time,
            moments: Some((state.moment_1.val(), state.moment_2.val())),
        }
    }

    /// Zero moments for a table of `shape` on `device` (where the table lives, without
    /// autodiff).
    pub fn new(shape: [usize; 2], device: &Device) -> Self {
        Self {
            time: 0,
            moments: Some((Tensor::zeros(shape, device), Tensor::zeros(shape, device))),
        }
    }

    /// One step on the rows in `rows`.
    ///
    /// - table: `[L, D]`
    /// - rows: `[R]`, distinct row ids, or distinct ids then pads that repeat one of them
    /// - grad: `[R, D]`, the loss gradient of those rows
    /// - live: `[R, 1]`, 1 for a real row and 0 for a pad, on bucketed sizes: a pad's update
    ///   is zeroed, so adding it to the row it repeats changes nothing
    /// - output: the updated table `[L, D]` (pass the table by its only handle, and the rows
    ///   are written in place)
    pub fn step(
        &mut self,
        learning_rate: f64,
        table: Tensor<2>,
        rows: Tensor<1, Int>,
        grad: Tensor<2>,
        live: Option<Tensor<2>>,
    ) -> Tensor<2> {
        let live = |t: Tensor<2>| match &live {
            Some(mask) => t * mask.clone(),
            None => t,
        };
        self.time += 1;
        let (moment_1, moment_2) = self
            .moments
            .take()
            .expect("moments are put back every step");
        let m_old = moment_1.clone().select(0, rows.clone()); // [R, D]
        let v_old = moment_2.clone().select(0, rows.clone());
        let m = m_old.clone() * BETA_1 + grad.clone() * (1.0 - BETA_1);
        let v = v_old.clone() * BETA_2 + grad.square() * (1.0 - BETA_2);
        // Real rows are distinct (pads add 0), so adding the differences writes the new values.
        self.moments = Some((
            moment_1.select_assign(
                0,
                rows.clone(),
                live(m.clone() - m_old),
                IndexingUpdateOp::Add,
            ),
            moment_2.select_assign(
                0,
                rows.clone(),
                live(v.clone() - v_old),
                IndexingUpdateOp::Add,
            ),
        ));
        // Burn's Adam arithmetic: m·(√c₂ / c₁) / (√v + ε·√c₂), c = 1 − βᵗ.
        let c2_sqrt = (1.0 - BETA_2.powi(self.time)).sqrt();
        let factor = c2_sqrt / (1.0 - BETA_1.powi(self.time));
        let delta = m * factor / (v.sqrt() + EPSILON * c2_sqrt);
        table.select_assign(0, rows, live(delta * -learning_rate), IndexingUpdateOp::Add)
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::EmbeddingConfig;
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::{Distribution, TensorData};

    use super::*;

    fn device() -> Device {
        #[allow(deprecated)] // ndarray, these tests' reference CPU backend
        Device::ndarray()
    }

    fn floats(t: Tensor<2>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec().unwrap()
    }

    /// `Σ (t ⊙ w)²`: a loss whose gradient differs per row and changes as `t` moves.
    fn loss(t: Tensor<2>, w: &Tensor<2>) -> Tensor<1> {
        (t * w.clone()).square().sum()
    }

    #[test]
    fn touching_every_row_is_burns_adam() {
        let device = device().autodiff();
        device.seed(3);
        let mut dense = EmbeddingConfig::new(6, 3).init(&device);
        let w = Tensor::<2>::random([6, 3], Distribution::Normal(0.0, 1.0), &device);
        let mut table = dense.weight.val().inner();
        let inner = table.device();
        let w_inner = w.clone().inner();
        let all = Tensor::<1, Int>::from_data(TensorData::new((0..6i64).collect(), [6]), &inner);
        let mut adam = AdamConfig::new().init();
        let mut rows = RowAdam::new([6, 3], &inner);
        for _ in 0..4 {
            let grads =
                GradientsParams::from_grads(loss(dense.weight.val(), &w).backward(), &dense);
            dense = adam.step(0.05, dense, grads);

            let leaf = Tensor::from_inner(table.clone()).require_grad();
            let g = leaf
                .grad(&loss(leaf.clone(), &Tensor::from_inner(w_inner.clone())).backward())
                .expect("the leaf takes part");
            table = rows.step(0.05, table, all.clone(), g, None);
        }
        let (a, b) = (floats(dense.weight.val().inner()), floats(table));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
    }

    #[test]
    fn untouched_rows_keep_their_weights_and_moments() {
        let device = device();
        let table = Tensor::<2>::random([5, 2], Distribution::Normal(0.0, 1.0), &device);
        let before = floats(table.clone());
        let ids = |v: &[i64]| {
            Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device)
        };
        let mut adam = RowAdam::new([5, 2], &device);
        let g = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, -2.0, 0.5, 0.25], [2, 2]),
            &device,
        );
        let once = adam.step(0.1, table, ids(&[1, 3]), g.clone(), None);
        let after = floats(once.clone());
        for r in 0..5 {
            let moved = after[2 * r] != before[2 * r] || after[2 * r + 1] != before[2 * r + 1];
            assert_eq!(moved, r == 1 || r == 3, "row {r}");
        }
        // Adam's first step moves each coordinate by lr · sign(g) (up to ε).
        assert!(
            (before[2] - after[2] - 0.1).abs() < 1e-4,
            "{} {}",
            before[2],
            after[2]
        );
        assert!(
            (before[3] - after[3] + 0.1).abs() < 1e-4,
            "{} {}",
            before[3],
            after[3]
        );
        // Row 1 is not touched again, so its momentum does not move it.
        let twice = floats(adam.step(0.1, once, ids(&[3, 4]), g, None));
        assert_eq!(twice[2..4], after[2..4]);
        assert_ne!(twice[6..8], after[6..8]);
        assert_ne!(twice[8..10], after[8..10]);
    }

    #[test]
    fn pads_masked_out_leave_every_row_and_moment_as_the_exact_step_does() {
        let device = device();
        let table = Tensor::<2>::random([5, 2], Distribution::Normal(0.0, 1.0), &device);
        let ids = |v: &[i64]| {
            Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device)
        };
        let grad = |v: Vec<f32>| {
            let n = v.len() / 2;
            Tensor::<2>::from_data(TensorData::new(v, [n, 2]), &device)
        };
        let (mut exact, mut padded) =
            (RowAdam::new([5, 2], &device), RowAdam::new([5, 2], &device));
        let (mut a, mut b) = (table.clone(), table);
        // The pads repeat row 1 and carry gradients, which the mask must discard.
        let live = Tensor::<2>::from_data(TensorData::new(vec![1f32, 1., 0., 0.], [4, 1]), &device);
        for _ in 0..3 {
            a = exact.step(0.1, a, ids(&[1, 3]), grad(vec![1.0, -2.0, 0.5, 0.25]), None);
            let g = grad(vec![1.0, -2.0, 0.5, 0.25, 7.0, 7.0, -3.0, 9.0]);
            b = padded.step(0.1, b, ids(&[1, 3, 1, 1]), g, Some(live.clone()));
        }
        assert_eq!(floats(a), floats(b));
        let (ea, pa) = (exact.state(), padded.state());
        assert_eq!(floats(ea.moment_1.val()), floats(pa.moment_1.val()));
        assert_eq!(floats(ea.moment_2.val()), floats(pa.moment_2.val()));
    }
}
