use std::path::PathBuf;

use clap::Args;

use crate::backend::{self, BackendChoice};
use crate::config::{self, DistillRunConfig};
use crate::distillation::TeacherScores;
use crate::report::table;
use crate::run_dir::{self, CONFIG_FILE, RunMeta, scorer_config, write_atomic};

/// Distil a student from a trained teacher run.
#[derive(Debug, Args)]
pub struct DistillArgs {
    /// The teacher's run directory.
    #[arg(long)]
    pub teacher: PathBuf,
    /// A distillation config, e.g. configs/distill-coupled.toml (with --resume, the run's own).
    #[arg(long, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// The student's run directory (default: `runs/<config name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its last complete checkpoint.
    #[arg(long, requires = "out")]
    pub resume: bool,
}

pub fn run(args: DistillArgs) -> anyhow::Result<()> {
    let (out, config_path) =
        run_dir::resolve_run(args.out.as_deref(), args.config.as_deref(), args.resume)?;
    let cfg: DistillRunConfig = config::load(&config_path)?;
    let backend = backend::open(args.backend)?;
    let teacher = TeacherScores::load(
        &args.teacher,
        cfg.data.as_ref(),
        &backend,
        cfg.train.seed,
        cfg.train.eval_batch_size,
    )?;
    if !args.resume {
        run_dir::create_run_dir(&out)?;
        write_atomic(&out.join(CONFIG_FILE), toml::to_string(&cfg)?.as_bytes())?;
    }
    run_dir::save_normalizer(&out, &teacher.meta.normalizer)?;
    let student_cfg = scorer_config(teacher.meta.d_input, &cfg.model);
    eprintln!(
        "distill: {} student ({} parameters) from {} ({} parameters, {:.0}x), backend {} ({})",
        cfg.loss.method.name(),
        student_cfg.num_params(),
        args.teacher.display(),
        teacher.meta.num_params,
        teacher.meta.num_params as f64 / student_cfg.num_params() as f64,
        backend.name,
        backend.adapter
    );
    let (outcome, test) = teacher.train_student(
        "distill",
        &cfg.model,
        &cfg.train,
        cfg.loss.clone(),
        &backend,
        Some(&out),
        true,
        args.resume,
    )?;
    let meta = RunMeta {
        role: "student".into(),
        method: cfg.loss.method.name().into(),
        d_input: teacher.meta.d_input,
        model: cfg.model.clone(),
        num_params: student_cfg.num_params(),
        normalizer: teacher.meta.normalizer.clone(),
        backend: backend.name.into(),
        adapter: backend.adapter.clone(),
        best_epoch: outcome.best_epoch,
        valid: outcome.valid.clone(),
        test: test.clone(),
        data_source: teacher.splits.source.clone(),
        data: cfg
            .data
            .clone()
            .unwrap_or_else(|| teacher.meta.data.clone()),
    };
    run_dir::save_meta(&out, &meta)?;
    let mut rows = Vec::new();
    if let Some(t) = &teacher.test_metrics {
        rows.push(("teacher (test)".to_string(), t.clone()));
    }
    rows.push((
        format!("{} student (valid)", cfg.loss.method.name()),
        outcome.valid,
    ));
    if let Some(t) = test {
        rows.push((format!("{} student (test)", cfg.loss.method.name()), t));
    }
    println!(
        "best epoch {} ({:.1}s); run saved in {}\n\n{}",
        outcome.best_epoch,
        outcome.seconds,
        out.display(),
        table(&rows)
    );
    Ok(())
}
