use clap::Args;
use rankdistil_train::list::config::TeacherRunConfig;
use rankdistil_train::list::label_run::train_from_labels;
use rankdistil_train::report::table;

use crate::commands::args::RunArgs;

/// Train a scorer (a teacher, or a label-only student) from graded labels.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let target = args.run.target()?;
    if let Some(notice) = target.complete() {
        eprintln!("{notice}");
        return Ok(());
    }
    let cfg: TeacherRunConfig = target.load_config()?;
    let backend = args.run.backend.open()?;
    eprintln!("train: {}", target.config.display());
    let (_, outcome) = train_from_labels(&cfg, &target.dir, target.resume, true, &backend)?;
    let mut rows = vec![("valid".to_string(), outcome.valid)];
    rows.extend(outcome.test.map(|t| ("test".to_string(), t)));
    println!(
        "best epoch {} of {} ({:.1}s); run saved in {}\n\n{}",
        outcome.best_epoch,
        cfg.train.epochs,
        outcome.seconds,
        target.dir.display(),
        table(&rows)
    );
    Ok(())
}
