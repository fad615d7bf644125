//! The reference benchmark takes the trainer's step. Its own test binary: `ReferenceStep`
//! seeds the CPU device's generator, which would reach other tests' models in one process.

use burn::module::Module;
use rankdistil_data::FeatureNormalizer;
use rankdistil_models::ItemLayout;
use rankdistil_train::backend::Backend;
use rankdistil_train::bench::options::FEATURES;
use rankdistil_train::bench::reference::{
    ReferenceStep, reference_data, reference_lists, reference_objective,
};
use rankdistil_train::fit::Task;
use rankdistil_train::list::config::{ModelConfig, TrainConfig};
use rankdistil_train::list::data::Splits;
use rankdistil_train::list::training::{ListRun, SplitScores};
use rankdistil_train::parity::GradValues;

/// The reference benchmark and `train` take one step function: on the same model and batch,
/// `bench --suite reference`'s step and the trainer's `ListTask` give the same loss and
/// gradients, exactly.
#[test]
fn the_reference_bench_takes_the_trainers_step() {
    let backend = Backend::cpu();
    let (b, n, h) = (4, 12, 8);
    let data = reference_data(b, n);
    let splits = Splits {
        train: data.lists.clone(),
        valid: reference_data(1, n).lists,
        test: None,
        normalizer: FeatureNormalizer::identity(FEATURES),
        source: "reference lists".into(),
    };
    let model: ModelConfig = toml::from_str(&format!("hidden = [{h}, {h}]")).unwrap();
    let train: TrainConfig =
        toml::from_str(&format!("batch_size = {b}\nlearning_rate = 1e-3")).unwrap();
    let objective = reference_objective();
    let run = ListRun {
        label: "trainer",
        splits: &splits,
        teacher: Some(SplitScores {
            train: &data.teacher,
            valid: None,
            test: None,
        }),
        model: &model,
        train: &train,
        objective: &objective,
        record: None,
        progress: false,
    };
    let mut task = run.task(&backend).unwrap();
    let mut bench = ReferenceStep::new(&backend, (b, n, h), ItemLayout::Lists).unwrap();
    let scorer = bench.model().clone();
    let flat = |grads: &burn::optim::GradientsParams| {
        let mut v = GradValues {
            grads,
            values: Vec::new(),
        };
        scorer.visit(&mut v);
        v.values
    };
    let (loss_t, grads_t) = task.step(&scorer, reference_lists(&data), 0).unwrap();
    let (loss_b, grads_b) = bench.gradients(&scorer).unwrap();
    assert_eq!(loss_t.into_scalar::<f32>(), loss_b.into_scalar::<f32>());
    let (gt, gb) = (flat(&grads_t), flat(&grads_b));
    assert!(!gt.is_empty() && gt.iter().any(|g| *g != 0.0));
    assert_eq!(gt, gb);
}
