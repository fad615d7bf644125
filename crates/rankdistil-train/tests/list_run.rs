//! The list pipeline as a library: a teacher from labels and a student from its scores, in
//! memory and into a run directory, without the CLI.

use rankdistil_data::SyntheticConfig;
use rankdistil_loss::LabelLossKind;
use rankdistil_train::backend::Backend;
use rankdistil_train::list::config::{DataConfig, DistillRunConfig, ModelConfig, TrainConfig};
use rankdistil_train::list::data::load_splits;
use rankdistil_train::list::run_dir::load_meta;
use rankdistil_train::list::scoring::score_dataset;
use rankdistil_train::list::training::{ListRun, RunRecord, SplitScores};
use rankdistil_train::loss_config::ObjectiveConfig;
use rankdistil_train::settings;

fn data() -> DataConfig {
    DataConfig {
        synthetic: Some(SyntheticConfig {
            queries: 60,
            min_items: 10,
            max_items: 30,
            features: 6,
            ..SyntheticConfig::default()
        }),
        ..DataConfig::default()
    }
}

#[test]
fn a_teacher_and_a_distilled_student_train_through_the_library() {
    let backend = Backend::cpu();
    let data = data();
    let splits = load_splits(&data, 1, None).unwrap();
    let train = TrainConfig {
        epochs: 3,
        batch_size: 8,
        learning_rate: 0.01,
        seed: 2,
        ..TrainConfig::default()
    };
    let teacher_model = ModelConfig {
        hidden: vec![16],
        activation: Default::default(),
        dropout: 0.0,
        layer_norm: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let label = ObjectiveConfig::label_only(LabelLossKind::SoftmaxCe);
    let teacher = ListRun {
        label: "teacher",
        splits: &splits,
        teacher: None,
        model: &teacher_model,
        train: &train,
        objective: &label,
        record: Some(RunRecord {
            dir: dir.path(),
            resume: false,
            config_text: "# a test run\n",
            role: rankdistil_train::role::Role::Teacher,
            method: "softmax_ce",
            data: &data,
            teacher: None,
        }),
        progress: false,
    }
    .run(&backend)
    .unwrap();
    let meta = load_meta(dir.path()).unwrap();
    assert_eq!(meta.best_epoch, teacher.best_epoch);
    assert_eq!(meta.test, teacher.test);
    assert!((1..=3).contains(&teacher.best_epoch));

    // The student reads the teacher's scores on each split, as `distill` does.
    let score = |d| score_dataset(&teacher.model, d, &backend, 16);
    let (t_train, t_valid) = (score(&splits.train), score(&splits.valid));
    let t_test = score(splits.test.as_ref().unwrap());
    let student: DistillRunConfig = settings::parse(
        "[model]\nhidden = [4]\n[train]\nepochs = 2\nbatch_size = 8\n[loss]\nmethod = \"coupled\"\nk = 5\nsamples = 2\n",
    )
    .unwrap();
    let outcome = ListRun {
        label: "student",
        splits: &splits,
        teacher: Some(SplitScores {
            train: &t_train,
            valid: Some(&t_valid),
            test: Some(&t_test),
        }),
        model: &student.model,
        train: &student.train,
        objective: &student.loss,
        record: None,
        progress: false,
    }
    .run(&backend)
    .unwrap();
    let test = outcome.test.expect("synthetic data has a test split");
    let overlap = test.get("overlap@10").expect("agreement with the teacher");
    assert!((0.0..=1.0).contains(&overlap), "{overlap}");
    assert!(test.get("ndcg@10").unwrap() > 0.0);
}

#[test]
fn a_student_without_teacher_scores_is_refused() {
    let backend = Backend::cpu();
    let splits = load_splits(&data(), 1, None).unwrap();
    let student: DistillRunConfig =
        settings::parse("[model]\nhidden = [4]\n[loss]\nmethod = \"mse\"\n").unwrap();
    let err = ListRun {
        label: "student",
        splits: &splits,
        teacher: None,
        model: &student.model,
        train: &student.train,
        objective: &student.loss,
        record: None,
        progress: false,
    }
    .run(&backend)
    .err()
    .expect("a distillation method needs a teacher");
    assert_eq!(err.to_string(), "method mse needs teacher scores");
}

/// A teacher trained with `[train]` settings given as TOML: its scores of the validation set.
fn trained_with(train_toml: &str) -> Vec<f32> {
    let backend = Backend::cpu();
    let splits = load_splits(&data(), 1, None).unwrap();
    let config: DistillRunConfig = settings::parse(&format!(
        "[model]\nhidden = [16]\n[train]\nepochs = 3\nbatch_size = 8\nlearning_rate = 0.01\nseed = 2\n{train_toml}[loss]\nmethod = \"label_only\"\n"
    ))
    .unwrap();
    let outcome = ListRun {
        label: "teacher",
        splits: &splits,
        teacher: None,
        model: &config.model,
        train: &config.train,
        objective: &config.loss,
        record: None,
        progress: false,
    }
    .run(&backend)
    .unwrap();
    score_dataset(&outcome.model, &splits.valid, &backend, 16)
}

#[test]
fn the_optimizer_schedule_and_clipping_are_config_and_default_to_adam() {
    let adam = trained_with("");
    // Naming the defaults changes nothing, to the last bit.
    assert_eq!(
        adam,
        trained_with("optimizer = \"adam\"\nschedule = \"constant\"\nwarmup_steps = 0\n")
    );
    // Each other setting reaches the steps: another model, another metric.
    for other in [
        "optimizer = \"adamw\"\nweight_decay = 0.5\n",
        "optimizer = \"sgd\"\n",
        "schedule = \"cosine\"\n",
        "warmup_steps = 10\n",
        "clip_grad_norm = 0.001\n",
    ] {
        let scores = trained_with(other);
        assert!(scores.iter().all(|s| s.is_finite()), "{other}");
        assert_ne!(scores, adam, "{other} trained as Adam did");
    }
    let refused = settings::parse::<DistillRunConfig>(
        "[model]\nhidden = [4]\n[train]\nclip_grad_norm = 0\n[loss]\nmethod = \"mse\"\n",
    )
    .unwrap_err();
    assert!(
        refused.contains("[train] clip_grad_norm = 0, expected a finite number > 0"),
        "{refused}"
    );
    let unknown = settings::parse::<DistillRunConfig>(
        "[model]\nhidden = [4]\n[train]\noptimizer = \"lbfgs\"\n[loss]\nmethod = \"mse\"\n",
    )
    .unwrap_err();
    assert!(unknown.contains("lbfgs"), "{unknown}");
}
