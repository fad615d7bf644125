//! The MLP scorer: its two item layouts agree in scores and gradients, the parameter count
//! matches the config, and the embedding is the last hidden layer before its activation.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use rankdistil_models::{Activation, ItemLayout, MlpScorer, MlpScorerConfig};

fn device() -> Device {
    #[allow(deprecated)] // ndarray, these tests' reference CPU backend
    Device::ndarray()
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec().unwrap()
}

fn config() -> MlpScorerConfig {
    MlpScorerConfig::new(6, vec![8, 5])
        .with_activation(Activation::Gelu)
        .with_layer_norm(true)
}

/// Every parameter gradient of `sum(scores · weights)`, in module order.
fn gradients(model: &MlpScorer, x: Tensor<3>, weights: Tensor<2>) -> Vec<Vec<f32>> {
    let loss = (model.forward(x) * weights).sum();
    let grads = GradientsParams::from_grads(loss.backward(), model);
    let mut out = Vec::new();
    model.visit(&mut Collect {
        grads: &grads,
        out: &mut out,
    });
    out
}

struct Collect<'a> {
    grads: &'a GradientsParams,
    out: &'a mut Vec<Vec<f32>>,
}

impl burn::module::ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let g = self
            .grads
            .get::<D>(param.id)
            .expect("every parameter takes part in the scores");
        self.out.push(floats(g));
    }
}

/// Every parameter's values, in module order.
struct Values<'a>(&'a mut Vec<Vec<f32>>);

impl burn::module::ModuleVisitor for Values<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        self.0.push(floats(param.val()));
    }
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} against {y}"
        );
    }
}

#[test]
fn rows_layout_scores_and_gradients_equal_the_lists_layout() {
    let device = device().autodiff();
    device.seed(11);
    let lists = config().init(&device);
    assert_eq!(lists.layout(), ItemLayout::Lists);
    let rows = lists.clone().with_layout(ItemLayout::Rows);
    let x = Tensor::<3>::random([3, 7, 6], Distribution::Normal(0.0, 1.0), &device);
    let w = Tensor::<2>::random([3, 7], Distribution::Normal(0.0, 1.0), &device);

    let (a, b) = (lists.forward(x.clone()), rows.forward(x.clone()));
    assert_eq!(a.dims(), [3, 7]);
    assert_eq!(b.dims(), [3, 7]);
    let (a, b) = (floats(a), floats(b));
    assert!(a.iter().any(|v| v.abs() > 1e-3), "scores are not all zero");
    assert_close(&b, &a, 1e-6, "scores");

    let ga = gradients(&lists, x.clone(), w.clone());
    let gb = gradients(&rows, x, w);
    // hidden.{0,1} weight and bias, output weight and bias, norms.{0,1} gamma and beta.
    assert_eq!(ga.len(), 10);
    for (i, (b, a)) in gb.iter().zip(&ga).enumerate() {
        assert!(
            a.iter().any(|v| v.abs() > 1e-6),
            "gradient {i} is not all zero"
        );
        assert_close(b, a, 1e-5, &format!("gradient {i}"));
    }
}

#[test]
fn the_layout_survives_valid_and_a_record_load() {
    let device = device().autodiff();
    let model = config().init(&device).with_layout(ItemLayout::Rows);
    assert_eq!(model.valid().layout(), ItemLayout::Rows);
    let fresh = config().init(&device).with_layout(ItemLayout::Rows);
    assert_eq!(
        fresh.load_record(model.into_record()).layout(),
        ItemLayout::Rows
    );
}

#[test]
fn parameter_count_matches_the_config() {
    let device = device();
    for cfg in [
        MlpScorerConfig::new(136, vec![256, 256]),
        MlpScorerConfig::new(40, vec![]),
        config(),
    ] {
        assert_eq!(cfg.init(&device).num_params(), cfg.num_params(), "{cfg:?}");
    }
    // 136·256 + 256 + 256·256 + 256 + 256 + 1
    assert_eq!(
        MlpScorerConfig::new(136, vec![256, 256]).num_params(),
        101_121
    );
}

#[test]
fn embedding_is_the_last_hidden_layer_before_its_activation() {
    let device = device();
    device.seed(5);
    let model = MlpScorerConfig::new(4, vec![3, 2]).init(&device);
    let x = Tensor::<3>::from_data(
        TensorData::new(
            vec![0.5f32, -1.0, 2.0, 0.0, 1.5, 0.25, -0.75, 1.0],
            [1, 2, 4],
        ),
        &device,
    );
    let e = model.forward_embedding(x.clone());
    assert_eq!(e.dims(), [1, 2, 2]);
    // A linear first layer, ReLU, then the second layer's affine map, by hand.
    let mut params = Vec::new();
    model.visit(&mut Values(&mut params));
    let [w0, b0, w1, b1] = [&params[0], &params[1], &params[2], &params[3]];
    let xs = floats(x);
    let mut expected = Vec::new();
    for item in xs.chunks(4) {
        let h: Vec<f32> = (0..3)
            .map(|j| (b0[j] + (0..4).map(|i| item[i] * w0[i * 3 + j]).sum::<f32>()).max(0.0))
            .collect();
        expected.extend((0..2).map(|j| b1[j] + (0..3).map(|i| h[i] * w1[i * 2 + j]).sum::<f32>()));
    }
    assert_close(&floats(e), &expected, 1e-6, "embedding");
}
