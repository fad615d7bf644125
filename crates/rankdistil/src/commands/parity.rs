use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::TensorData;
use clap::Args;
use rankdistil_loss::CoupledRankDistilConfig;
use rankdistil_models::{MlpScorer, MlpScorerConfig};

use crate::backend::{self, Backend, BackendChoice};
use crate::scoring::random_scores;

/// Check that two backends agree: the same batch and initial weights must give the same loss
/// (to 1e-4 relative) and the same parameter gradients (to 1e-3).
#[derive(Debug, Args)]
pub struct ParityArgs {
    /// The backend under test.
    #[arg(long, value_enum, default_value_t = BackendChoice::Wgpu)]
    pub backend: BackendChoice,
    /// The reference backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Ndarray)]
    pub against: BackendChoice,
}

/// Collects a module's parameter gradients, flattened, in traversal order.
pub(crate) struct GradValues<'a> {
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
    /// Arg-top-k on the device (the benchmark's path, `forward_device_order`).
    Device,
}

/// Loss and flattened parameter gradients of one coupled-RankDistil step on `backend`.
fn loss_and_grads(
    backend: &Backend,
    weights: &[u8],
    features: &[f32],
    teacher: &[f32],
    shape: [usize; 3],
    order: Order,
) -> anyhow::Result<(f32, Vec<f32>)> {
    let [b, n, f] = shape;
    let device = backend.training_device();
    let record = ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(weights.to_vec()))
        .map_err(|e| anyhow::anyhow!("cannot decode the weights: {e:?}"))?;
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
        Order::Device => loss_fn.forward_device_order(
            model.forward(x),
            Tensor::from_data(TensorData::new(teacher.to_vec(), [b, n]), &device),
            Tensor::from_data(TensorData::new(mask, [b, n]), &device),
        ),
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

pub fn run(args: ParityArgs) -> anyhow::Result<()> {
    let test = backend::open(args.backend)?;
    let reference = backend::open(args.against)?;
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
        .map_err(|e| anyhow::anyhow!("cannot encode the weights: {e:?}"))?;
    let (l_ref, g_ref) = loss_and_grads(
        &reference,
        &weights,
        &features,
        &teacher,
        shape,
        Order::Host,
    )?;
    let mut all_ok = true;
    // The trainer's path (host order), then the benchmark's (arg-top-k on the device under
    // test) against the same host-order reference.
    for (order, what) in [
        (Order::Host, "parity"),
        (Order::Device, "parity, device top-k order"),
    ] {
        let (l_test, g_test) = loss_and_grads(&test, &weights, &features, &teacher, shape, order)?;
        anyhow::ensure!(
            g_ref.len() == g_test.len() && !g_ref.is_empty(),
            "gradient sets differ in size"
        );
        let loss_rel = ((l_test - l_ref) / l_ref.abs().max(1e-12)).abs() as f64;
        let scale = g_ref.iter().fold(0f32, |m, g| m.max(g.abs())).max(1e-12);
        let grad_err = g_ref
            .iter()
            .zip(&g_test)
            .map(|(a, b)| ((a - b).abs() / (a.abs() + scale * 1e-2)) as f64)
            .fold(0f64, f64::max);
        let ok = loss_rel <= 1e-4 && grad_err <= 1e-3;
        all_ok &= ok;
        println!(
            "{what}: {} ({}) vs {} ({}): loss {l_test:.6} vs {l_ref:.6} (relative {loss_rel:.2e}, limit 1e-4); \
             {} gradients, worst relative difference {grad_err:.2e} (limit 1e-3): {}",
            test.name,
            test.adapter,
            reference.name,
            reference.adapter,
            g_ref.len(),
            if ok { "PASS" } else { "FAIL" }
        );
    }
    anyhow::ensure!(all_ok, "backends disagree beyond tolerance");
    Ok(())
}
