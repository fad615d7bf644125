use std::path::PathBuf;

use clap::Args;
use rankdistil_train::list::config::DistillRunConfig;
use rankdistil_train::list::teacher::TeacherScores;
use rankdistil_train::list::training::{ListRun, RunRecord};
use rankdistil_train::report::table;
use rankdistil_train::settings;

use crate::commands::args::RunArgs;

/// Distil a student from a trained teacher run.
#[derive(Debug, Args)]
pub struct DistillArgs {
    /// The teacher's run directory.
    #[arg(long)]
    pub teacher: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: DistillArgs) -> anyhow::Result<()> {
    let target = args.run.target()?;
    let cfg: DistillRunConfig = settings::load(&target.config)?;
    let backend = args.run.backend.open()?;
    let (seed, batch) = (cfg.train.seed, cfg.train.eval_batch_size);
    let teacher = TeacherScores::load(&args.teacher, cfg.data.as_ref(), &backend, seed, batch)?;
    let method = cfg.loss.name();
    let student_params = cfg.model.scorer(teacher.meta.d_input).num_params();
    eprintln!(
        "distill: {method} student ({student_params} parameters) from {} ({} parameters, {:.0}x), backend {} ({})",
        args.teacher.display(),
        teacher.meta.num_params,
        teacher.meta.num_params as f64 / student_params as f64,
        backend.name,
        backend.adapter
    );
    let data = cfg
        .data
        .clone()
        .unwrap_or_else(|| teacher.meta.data.clone());
    let outcome = ListRun {
        label: "distill",
        splits: &teacher.splits,
        teacher: Some(teacher.scores()),
        model: &cfg.model,
        train: &cfg.train,
        objective: &cfg.loss,
        record: Some(RunRecord {
            dir: &target.dir,
            resume: target.resume,
            config_text: &toml::to_string(&cfg)?,
            role: "student",
            method,
            data: &data,
        }),
        progress: true,
    }
    .run(&backend)?;
    let mut rows = Vec::new();
    rows.extend(
        teacher
            .test_metrics
            .map(|t| ("teacher (test)".to_string(), t)),
    );
    rows.push((format!("{method} student (valid)"), outcome.valid));
    rows.extend(
        outcome
            .test
            .map(|t| (format!("{method} student (test)"), t)),
    );
    println!(
        "best epoch {} ({:.1}s); run saved in {}\n\n{}",
        outcome.best_epoch,
        outcome.seconds,
        target.dir.display(),
        table(&rows)
    );
    Ok(())
}
