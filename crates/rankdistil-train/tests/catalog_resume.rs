//! A catalog model stopped after some epochs continues from its checkpoint, row-sparse tables
//! and their Adam moments included, and ends where an uninterrupted run ends.

use rankdistil_data::{ImplicitSplit, synthetic_catalog};
use rankdistil_models::CatalogScorer;
use rankdistil_train::backend::Backend;
use rankdistil_train::catalog::config::{CatalogModel, CatalogStage, CatalogTrain};
use rankdistil_train::catalog::training::{CatalogTraining, Target};
use rankdistil_train::store::checkpoint::Checkpoint;
use rankdistil_train::store::metrics_log::MetricsLog;

fn stage(epochs: usize) -> CatalogStage {
    CatalogStage {
        model: CatalogModel {
            dim: 4,
            hidden: vec![6],
            dropout: 0.0,
        },
        train: CatalogTrain {
            epochs,
            batch_size: 8,
            learning_rate: 0.01,
            input_dropout: 0.2,
            // The sampled softmax trains the item tables row-sparsely.
            negatives: 30,
            popular_negatives: 0.5,
            checkpoint_seconds: 0.0,
        },
    }
}

fn train(stage: &CatalogStage, split: &ImplicitSplit, dir: &std::path::Path) -> CatalogScorer {
    CatalogTraining {
        stage,
        split,
        target: Target::Labels,
        seed: 4,
        name: "resume test",
        dir,
        validation: None,
    }
    .run(&Backend::cpu())
    .expect("training runs")
}

fn floats(model: &CatalogScorer) -> Vec<f32> {
    model
        .tables()
        .into_iter()
        .flat_map(|t| {
            t.into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap()
        })
        .collect()
}

#[test]
fn a_catalog_model_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_one() {
    let data = synthetic_catalog(40, 120, 10, 4, 2);
    let split = ImplicitSplit::from_ratings(&data, 4.0, 0.2, 1);
    let dir = tempfile::tempdir().unwrap();
    let (whole, parts) = (dir.path().join("whole"), dir.path().join("parts"));

    let uninterrupted = train(&stage(4), &split, &whole);
    // Two epochs, then the same model asked for four: it continues at epoch 3.
    train(&stage(2), &split, &parts);
    let state = Checkpoint::of(&parts)
        .state()
        .unwrap()
        .expect("a checkpoint");
    assert_eq!(state.epoch, 2);
    assert!(state.best.is_none(), "catalog models keep their last epoch");
    let resumed = train(&stage(4), &split, &parts);

    let (a, b) = (floats(&uninterrupted), floats(&resumed));
    assert_eq!(a.len(), b.len());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 1e-6, "the resumed model differs by {worst}");
    let epochs: Vec<usize> = MetricsLog::of(&parts)
        .read(&parts)
        .unwrap()
        .iter()
        .map(|e| e.epoch)
        .collect();
    assert_eq!(epochs, [1, 2, 3, 4]);
}
