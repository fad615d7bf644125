//! `rankdistil`: knowledge distillation for top-k ranking, on Burn. A thin front end over
//! `rankdistil-train`: each command parses its flags, calls the library and prints the result.

mod commands;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rankdistil",
    version,
    about = "Knowledge distillation for top-k ranking (RankDistil) on Burn"
)]
struct Cli {
    /// Also append the run's milestones (epochs, reuses, resumes, study runs) to FILE, one JSON
    /// object a line, for scripts to read instead of the progress text
    #[arg(long, global = true, value_name = "FILE")]
    events: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Quickstart(commands::quickstart::QuickstartArgs),
    Train(commands::train::TrainArgs),
    Distill(commands::distill::DistillArgs),
    Compare(commands::compare::CompareArgs),
    Study(commands::study::StudyArgs),
    Eval(commands::eval::EvalArgs),
    GenSynthetic(commands::gen_synthetic::GenSyntheticArgs),
    Bench(commands::bench::BenchArgs),
    Parity(commands::parity::ParityArgs),
    Plot(commands::plot::PlotArgs),
    Export(commands::export::ExportArgs),
    Score(commands::score::ScoreArgs),
    Recommend(commands::recommend::RecommendArgs),
    Catalog(commands::catalog::CatalogArgs),
    TeacherCache(commands::teacher_cache::TeacherCacheArgs),
}

fn main() {
    // SAFETY: the first thing the process does; no other thread exists yet.
    unsafe { rankdistil_train::process::prepare() };
    let cli = Cli::parse();
    if let Some(path) = &cli.events
        && let Err(e) = rankdistil_train::progress::record_events_to(path)
    {
        std::process::exit(report(&e.into()));
    }
    let result = match cli.command {
        Command::Quickstart(a) => commands::quickstart::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Distill(a) => commands::distill::run(a),
        Command::Compare(a) => commands::compare::run(a),
        Command::Study(a) => commands::study::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::GenSynthetic(a) => commands::gen_synthetic::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Parity(a) => commands::parity::run(a),
        Command::Plot(a) => commands::plot::run(a),
        Command::Export(a) => commands::export::run(a),
        Command::Score(a) => commands::score::run(a),
        Command::Recommend(a) => commands::recommend::run(a),
        Command::Catalog(a) => commands::catalog::run(a),
        Command::TeacherCache(a) => commands::teacher_cache::run(a),
    };
    if let Err(e) = result {
        std::process::exit(report(&e));
    }
}

/// Prints the error in one line and returns the exit status: 0 for a pipe the reader closed
/// (`rankdistil score ... | head`), 2 for a backend that cannot run here (a usage problem,
/// like a bad flag), 1 otherwise.
fn report(e: &anyhow::Error) -> i32 {
    let library = e
        .chain()
        .find_map(|c| c.downcast_ref::<rankdistil_train::Error>());
    let closed_pipe = library.is_some_and(rankdistil_train::Error::is_broken_pipe)
        || e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        });
    if closed_pipe {
        return 0;
    }
    eprintln!("error: {}", rankdistil_train::error::one_line(e.as_ref()));
    if library.is_some_and(rankdistil_train::Error::is_backend) {
        2
    } else {
        1
    }
}
