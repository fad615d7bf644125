use clap::Args;
use rankdistil_loss::ObjectiveConfig;
use rankdistil_train::list::config::TeacherRunConfig;
use rankdistil_train::list::data::load_splits;
use rankdistil_train::list::run_dir::load_normalizer;
use rankdistil_train::list::training::{ListRun, RunRecord};
use rankdistil_train::report::table;
use rankdistil_train::settings;

use crate::commands::args::RunArgs;

/// Train a scorer (a teacher, or a label-only student) from graded labels.
#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let target = args.run.target()?;
    let cfg: TeacherRunConfig = settings::load(&target.config)?;
    let backend = args.run.backend.open()?;
    // A resumed run keeps the statistics it started with.
    let stored = target
        .resume
        .then(|| load_normalizer(&target.dir))
        .transpose()?;
    let splits = load_splits(&cfg.data, cfg.train.seed, stored.as_ref())?;
    let scorer = cfg.model.scorer(splits.train.num_features);
    eprintln!(
        "train: {} on {} ({} train / {} valid queries, {} features), {} parameters, backend {} ({})",
        target.config.display(),
        splits.source,
        splits.train.num_queries(),
        splits.valid.num_queries(),
        scorer.d_input,
        scorer.num_params(),
        backend.name,
        backend.adapter
    );
    let mut objective = ObjectiveConfig::label_only(cfg.loss);
    objective.seed = cfg.train.seed;
    let outcome = ListRun {
        label: "train",
        splits: &splits,
        teacher: None,
        model: &cfg.model,
        train: &cfg.train,
        objective: &objective,
        record: Some(RunRecord {
            dir: &target.dir,
            resume: target.resume,
            config_text: &toml::to_string(&cfg)?,
            role: "teacher",
            method: cfg.loss.name(),
            data: &cfg.data,
            teacher: None,
        }),
        progress: true,
    }
    .run(&backend)?;
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
