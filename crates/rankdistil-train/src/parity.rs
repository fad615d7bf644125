//! Cross-backend parity: the same batch and initial weights must give the same loss (to 1e-4
//! relative) and the same parameter gradients (to 1e-3) on two backends.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::TensorData;
use rankdistil_loss::{
    CoupledRankDistilConfig, DeviceTargets, DistillTerm, HostTargets, OrderedLoss,
};
use rankdistil_models::{MlpScorer, MlpScorerConfig};

use crate::backend::Backend;
use crate::list::scoring::random_scores;

/// Collects a module's parameter gradients, flattened, in traversal order.
pub struct GradValues<'a> {
    pub grads: &'a GradientsParams,
    pub values: Vec<f32>,
}

impl ModuleVisitor for GradValues<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.values.extend(
                g.into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .expect("floats"),
            );
        }
    }
}

/// Which way the loss finds the teacher's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Sorted on the host (the trainer's path).
    Host,
    /// Drawn on the device from targets already there (the trainer's path on a GPU, with
    /// its training set resident).
    Device,
}

/// Loss and flattened parameter gradients of one coupled-RankDistil step on `backend`.
/// The weights, features, teacher scores and `[B, N, F]` shape of the parity batch.
type Case<'a> = (&'a [u8], &'a [f32], &'a [f32], [usize; 3]);

fn loss_and_grads(
    backend: &Backend,
    (weights, features, teacher, shape): Case,
    order: Order,
) -> crate::Result<(f32, Vec<f32>)> {
    let [b, n, f] = shape;
    let device = backend.training_device();
    let record = ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(weights.to_vec()))
        .map_err(|e| crate::error::invalid!("cannot decode the weights: {e:?}"))?;
    let model: MlpScorer = MlpScorerConfig::new(f, vec![64, 64])
        .init(&device)
        .load_record(record);
    let x = Tensor::<3>::from_data(TensorData::new(features.to_vec(), shape), &device);
    let mask = vec![true; b * n];
    let loss_fn = CoupledRankDistilConfig::new()
        .with_k(10)
        .with_samples(0)
        .init();
    let loss = match order {
        Order::Host => {
            let orders = loss_fn.orders(teacher, &mask, b, n);
            loss_fn.forward_ordered(model.forward(x), &orders)
        }
        Order::Device => {
            let on_device = DeviceTargets {
                mask: Tensor::from_data(TensorData::new(mask.clone(), [b, n]), &device),
                labels: Tensor::zeros([b, n], &device),
                teacher: Some(Tensor::from_data(
                    TensorData::new(teacher.to_vec(), [b, n]),
                    &device,
                )),
                counts: Tensor::from_data(TensorData::new(vec![n as i32; b], [b]), &device),
                list_counts: vec![n; b],
            };
            let labels = vec![0.0; b * n];
            let targets = HostTargets {
                batch: b,
                len: n,
                mask: &mask,
                labels: &labels,
                teacher: Some(teacher),
                device: Some(&on_device),
            };
            DistillTerm::loss(&loss_fn, model.forward(x), &targets)
        }
    };
    let value = loss.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut visitor = GradValues {
        grads: &grads,
        values: Vec::new(),
    };
    model.visit(&mut visitor);
    Ok((value, visitor.values))
}

/// One comparison of the backend under test with the reference.
pub struct ParityCheck {
    /// `parity`, or `parity, device orders`.
    pub what: &'static str,
    pub loss: f32,
    pub reference_loss: f32,
    pub loss_relative: f64,
    pub gradients: usize,
    pub worst_gradient: f64,
    pub passed: bool,
}

/// Compares `test` with `reference` on the host-order path (the CPU backends' trainer) and on
/// the device-order path (a GPU trainer's, with its training set resident).
pub fn check(test: &Backend, reference: &Backend) -> crate::Result<Vec<ParityCheck>> {
    let shape = [8usize, 128, 136];
    let [b, n, f] = shape;
    let features: Vec<f32> = random_scores(b * n * f, 1)
        .iter()
        .map(|u| (u - 0.5) * 4.0)
        .collect();
    let teacher = random_scores(b * n, 2);
    let init_device = reference.device.clone();
    init_device.seed(11);
    let weights = MlpScorerConfig::new(f, vec![64, 64])
        .init(&init_device)
        .into_record()
        .into_bytes()
        .map_err(|e| crate::error::invalid!("cannot encode the weights: {e:?}"))?;
    let case = (&weights[..], &features[..], &teacher[..], shape);
    let (l_ref, g_ref) = loss_and_grads(reference, case, Order::Host)?;
    [
        (Order::Host, "parity"),
        (Order::Device, "parity, device orders"),
    ]
    .into_iter()
    .map(|(order, what)| {
        let (loss, g_test) = loss_and_grads(test, case, order)?;
        crate::error::ensure!(
            g_ref.len() == g_test.len() && !g_ref.is_empty(),
            "gradient sets differ in size"
        );
        let loss_relative = ((loss - l_ref) / l_ref.abs().max(1e-12)).abs() as f64;
        let scale = g_ref.iter().fold(0f32, |m, g| m.max(g.abs())).max(1e-12);
        let worst_gradient = g_ref
            .iter()
            .zip(&g_test)
            .map(|(a, b)| ((a - b).abs() / (a.abs() + scale * 1e-2)) as f64)
            .fold(0f64, f64::max);
        Ok(ParityCheck {
            what,
            loss,
            reference_loss: l_ref,
            loss_relative,
            gradients: g_ref.len(),
            worst_gradient,
            passed: loss_relative <= 1e-4 && worst_gradient <= 1e-3,
        })
    })
    .collect()
}
