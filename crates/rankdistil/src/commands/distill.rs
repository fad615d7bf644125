use clap::Args;
use rankdistil_train::list::config::DistillRunConfig;
use rankdistil_train::list::training::{ListRun, RunRecord};
use rankdistil_train::report::table;
use rankdistil_train::role::Role;

use crate::commands::args::{RunArgs, TeacherArgs};

/// Distil a student from a teacher: a teacher run, or an outside teacher's scores.
#[derive(Debug, Args)]
pub struct DistillArgs {
    #[command(flatten)]
    pub teacher: TeacherArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: DistillArgs) -> anyhow::Result<()> {
    args.teacher.require()?;
    let target = args.run.target()?;
    if let Some(notice) = target.complete() {
        eprintln!("{notice}");
        return Ok(());
    }
    let cfg: DistillRunConfig = target.load_config()?;
    let backend = args.run.backend.open()?;
    let (seed, batch) = (cfg.train.seed, cfg.train.eval_batch_size);
    let teacher = args
        .teacher
        .load(cfg.data.as_ref(), &backend, seed, batch)?;
    let method = cfg.loss.name();
    let student_params = cfg
        .model
        .scorer(teacher.splits.train.num_features)
        .num_params();
    let size = match teacher.num_params {
        Some(n) => format!("{n} parameters, {:.0}x", n as f64 / student_params as f64),
        None => "an outside teacher".into(),
    };
    eprintln!(
        "distill: {method} student ({student_params} parameters) from {} ({size}), backend {} ({})",
        teacher.source, backend.name, backend.adapter
    );
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
            role: Role::Student,
            method,
            data: &teacher.data,
            teacher: Some(&teacher.source),
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
