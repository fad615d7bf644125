use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use rankdistil_loss::{DistillMethod, LabelLossKind, ObjectiveConfig};
use serde::{Deserialize, Serialize};

use crate::backend::{self, BackendChoice};
use crate::commands::compare::{Comparison, run_comparison};
use crate::config::{self, CompareConfig, DataConfig, ModelConfig, TrainConfig};
use crate::data_source::load_splits;
use crate::distillation::TeacherScores;
use crate::report::table;
use crate::run_dir::{self, CONFIG_FILE, RunMeta, scorer_config, write_atomic};
use crate::scoring::{evaluate, random_scores, score_dataset};
use crate::train::TrainJob;

/// The built-in quickstart configuration (`configs/quickstart.toml`).
pub const QUICKSTART_TOML: &str = include_str!("../../../../configs/quickstart.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub model: ModelConfig,
    pub train: TrainConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickCompare {
    pub methods: Vec<DistillMethod>,
    pub seeds: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickstartConfig {
    pub data: DataConfig,
    pub teacher: Stage,
    pub student: Stage,
    pub distill: ObjectiveConfig,
    pub compare: QuickCompare,
}

/// Generate synthetic data, train a teacher, a label-only student and a RankDistil student,
/// run a small comparison, and print a table.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Where the runs go (default: runs/quickstart, or runs/quickstart-N if that exists).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A quickstart config to use instead of the built-in one.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

fn fresh_dir(base: &Path) -> PathBuf {
    if !base.exists() {
        return base.to_path_buf();
    }
    (2..)
        .map(|i| PathBuf::from(format!("{}-{i}", base.display())))
        .find(|p| !p.exists())
        .expect("some suffix is free")
}

pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let cfg: QuickstartConfig = match &args.config {
        Some(p) => config::load(p)?,
        None => config::parse(QUICKSTART_TOML)
            .map_err(|e| anyhow::anyhow!("built-in quickstart config: {e}"))?,
    };
    let out = args
        .out
        .unwrap_or_else(|| fresh_dir(Path::new("runs/quickstart")));
    let backend = backend::open(args.backend)?;
    eprintln!(
        "quickstart: backend {} ({}), runs in {}",
        backend.name,
        backend.adapter,
        out.display()
    );

    // 1. The teacher, from labels.
    let teacher_dir = out.join("teacher");
    let splits = load_splits(&cfg.data, cfg.teacher.train.seed, None)?;
    let d_input = splits.train.num_features;
    let teacher_cfg = scorer_config(d_input, &cfg.teacher.model);
    let student_cfg = scorer_config(d_input, &cfg.student.model);
    eprintln!(
        "quickstart: {} ({} / {} / {} train/valid/test queries); teacher {} parameters, student {} ({:.0}x smaller)",
        splits.source,
        splits.train.num_queries(),
        splits.valid.num_queries(),
        splits.test.as_ref().map_or(0, |t| t.num_queries()),
        teacher_cfg.num_params(),
        student_cfg.num_params(),
        teacher_cfg.num_params() as f64 / student_cfg.num_params() as f64
    );
    run_dir::create_run_dir(&teacher_dir)?;
    write_atomic(&teacher_dir.join(CONFIG_FILE), QUICKSTART_TOML.as_bytes())?;
    run_dir::save_normalizer(&teacher_dir, &splits.normalizer)?;
    let mut label_objective = ObjectiveConfig::new(DistillMethod::LabelOnly);
    label_objective.label_loss = LabelLossKind::SoftmaxCe;
    let teacher = TrainJob {
        name: "teacher",
        train: &splits.train,
        valid: &splits.valid,
        teacher_train: None,
        teacher_valid: None,
        model: teacher_cfg.clone(),
        settings: &cfg.teacher.train,
        objective: label_objective.clone(),
        backend: &backend,
        out: Some(&teacher_dir),
        progress: true,
        resume: false,
    }
    .run()?;
    let test = splits
        .test
        .as_ref()
        .expect("synthetic data has a test split");
    let teacher_test = evaluate(
        test,
        &score_dataset(
            &teacher.model,
            test,
            &backend,
            cfg.teacher.train.eval_batch_size,
        ),
        None,
    );
    run_dir::save_meta(
        &teacher_dir,
        &RunMeta {
            role: "teacher".into(),
            method: "softmax_ce".into(),
            d_input,
            model: cfg.teacher.model.clone(),
            num_params: teacher_cfg.num_params(),
            normalizer: splits.normalizer.clone(),
            backend: backend.name.into(),
            adapter: backend.adapter.clone(),
            best_epoch: teacher.best_epoch,
            valid: teacher.valid.clone(),
            test: Some(teacher_test.clone()),
            data_source: splits.source.clone(),
            data: cfg.data.clone(),
        },
    )?;

    // 2. Students from the teacher's cached scores.
    let scores = TeacherScores::load(
        &teacher_dir,
        None,
        &backend,
        cfg.teacher.train.seed,
        cfg.teacher.train.eval_batch_size,
    )?;
    let mut rows = vec![(
        "teacher".to_string(),
        scores.test_metrics.clone().unwrap_or(teacher_test),
    )];
    for (name, objective) in [
        ("label-only student", label_objective),
        ("RankDistil student", cfg.distill.clone()),
    ] {
        let (_, test) = scores.train_student(
            name,
            &cfg.student.model,
            &cfg.student.train,
            objective,
            &backend,
            None,
            true,
            false,
        )?;
        rows.push((
            name.to_string(),
            test.expect("synthetic data has a test split"),
        ));
    }
    let random = evaluate(
        test,
        &random_scores(test.num_rows(), 0),
        scores.test.as_deref(),
    );
    rows.push(("random scorer".into(), random));

    // 3. A small comparison against the baselines.
    let compare = CompareConfig {
        data: None,
        model: cfg.student.model.clone(),
        train: cfg.student.train.clone(),
        loss: cfg.distill.clone(),
        methods: cfg.compare.methods.clone(),
        seeds: cfg.compare.seeds.clone(),
        overrides: Default::default(),
    };
    let cmp: Comparison = run_comparison(&scores, &compare, &backend)?;

    println!(
        "\nheld-out synthetic test queries ({}):\n\n{}\nbaselines, student architecture, seeds {:?}:\n\n{}\ndone in {:.0}s; the teacher run is in {}",
        test.num_queries(),
        table(&rows),
        cfg.compare.seeds,
        cmp.markdown(),
        started.elapsed().as_secs_f64(),
        teacher_dir.display()
    );
    Ok(())
}
