use std::path::PathBuf;

use clap::Args;
use rankdistil_loss::{DistillMethod, ObjectiveConfig};

use crate::backend::{self, BackendChoice};
use crate::config::{self, TeacherRunConfig};
use crate::data_source::load_splits;
use crate::report::table;
use crate::run_dir::{self, CONFIG_FILE, RunMeta, scorer_config, write_atomic};
use crate::scoring::{evaluate, score_dataset};
use crate::train::TrainJob;

/// Train a scorer (a teacher, or a label-only student) from graded labels.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A run config, e.g. configs/teacher.toml (with --resume, the run's own config.toml).
    #[arg(long, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// The run directory (default: `runs/<config name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its last complete checkpoint.
    #[arg(long, requires = "out")]
    pub resume: bool,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let (out, config_path) =
        run_dir::resolve_run(args.out.as_deref(), args.config.as_deref(), args.resume)?;
    let cfg: TeacherRunConfig = config::load(&config_path)?;
    let backend = backend::open(args.backend)?;
    // A resumed run keeps the statistics it started with.
    let stored = if args.resume {
        let path = out.join(run_dir::NORMALIZER_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Some(serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)
    } else {
        None
    };
    let splits = load_splits(&cfg.data, cfg.train.seed, stored.as_ref())?;
    if !args.resume {
        run_dir::create_run_dir(&out)?;
        write_atomic(&out.join(CONFIG_FILE), toml::to_string(&cfg)?.as_bytes())?;
    }
    run_dir::save_normalizer(&out, &splits.normalizer)?;
    let d_input = splits.train.num_features;
    let model_cfg = scorer_config(d_input, &cfg.model);
    eprintln!(
        "train: {} on {} ({} train / {} valid queries, {} features), {} parameters, backend {} ({})",
        config_path.display(),
        splits.source,
        splits.train.num_queries(),
        splits.valid.num_queries(),
        d_input,
        model_cfg.num_params(),
        backend.name,
        backend.adapter
    );
    let mut objective = ObjectiveConfig::new(DistillMethod::LabelOnly);
    objective.label_loss = cfg.loss;
    objective.seed = cfg.train.seed;
    let outcome = TrainJob {
        name: "train",
        train: &splits.train,
        valid: &splits.valid,
        teacher_train: None,
        teacher_valid: None,
        model: model_cfg.clone(),
        settings: &cfg.train,
        objective,
        backend: &backend,
        out: Some(&out),
        progress: true,
        resume: args.resume,
    }
    .run()?;
    let test = splits.test.as_ref().map(|t| {
        let scores = score_dataset(&outcome.model, t, &backend, cfg.train.eval_batch_size);
        evaluate(t, &scores, None)
    });
    let meta = RunMeta {
        role: "teacher".into(),
        method: serde_json::to_value(cfg.loss)?
            .as_str()
            .unwrap_or("label")
            .to_string(),
        d_input,
        model: cfg.model.clone(),
        num_params: model_cfg.num_params(),
        normalizer: splits.normalizer.clone(),
        backend: backend.name.into(),
        adapter: backend.adapter.clone(),
        best_epoch: outcome.best_epoch,
        valid: outcome.valid.clone(),
        test: test.clone(),
        data_source: splits.source.clone(),
        data: cfg.data.clone(),
    };
    run_dir::save_meta(&out, &meta)?;
    let mut rows = vec![("valid".to_string(), outcome.valid)];
    if let Some(t) = test {
        rows.push(("test".to_string(), t));
    }
    println!(
        "best epoch {} of {} ({:.1}s); run saved in {}\n\n{}",
        outcome.best_epoch,
        cfg.train.epochs,
        outcome.seconds,
        out.display(),
        table(&rows)
    );
    Ok(())
}
