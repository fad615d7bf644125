//! `rankdistil`: knowledge distillation for top-k ranking, on Burn.

mod backend;
mod catalog_dir;
mod catalog_export;
mod checkpoint;
mod commands;
mod config;
mod data_source;
mod distillation;
mod export;
mod malloc_tuning;
mod memory;
mod output;
mod progress;
mod report;
mod row_adam;
mod run_dir;
mod scoring;
mod train;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "rankdistil",
    version,
    about = "Knowledge distillation for top-k ranking (RankDistil) on Burn"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Quickstart(commands::quickstart::QuickstartArgs),
    Train(commands::train::TrainArgs),
    Distill(commands::distill::DistillArgs),
    Compare(commands::compare::CompareArgs),
    Eval(commands::eval::EvalArgs),
    GenSynthetic(commands::gen_synthetic::GenSyntheticArgs),
    Bench(commands::bench::BenchArgs),
    Parity(commands::parity::ParityArgs),
    Plot(commands::plot::PlotArgs),
    Export(commands::export::ExportArgs),
    Score(commands::score::ScoreArgs),
    Recommend(commands::recommend::RecommendArgs),
    Catalog(commands::catalog::CatalogArgs),
    TeacherCache(commands::catalog::TeacherCacheArgs),
}

fn main() {
    malloc_tuning::keep_freed_buffers();
    let cli = Cli::parse();
    // ndarray runs the lists of a batched product in parallel on rayon, and matrixmultiply
    // would start threads of its own inside each one: on 2 cores that oversubscription cost
    // 15-20% of the reference step. (flex multiplies with gemm, which does not read this.)
    if std::env::var_os("MATMUL_NUM_THREADS").is_none() {
        // SAFETY: no other thread exists yet to read the environment concurrently.
        unsafe { std::env::set_var("MATMUL_NUM_THREADS", "1") };
    }
    let result = match cli.command {
        Command::Quickstart(a) => commands::quickstart::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Distill(a) => commands::distill::run(a),
        Command::Compare(a) => commands::compare::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::GenSynthetic(a) => commands::gen_synthetic::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Parity(a) => commands::parity::run(a),
        Command::Plot(a) => commands::plot::run(a),
        Command::Export(a) => commands::export::run(a),
        Command::Score(a) => commands::score::run(a),
        Command::Recommend(a) => commands::recommend::run(a),
        Command::Catalog(a) => commands::catalog::run(a),
        Command::TeacherCache(a) => commands::catalog::run_teacher_cache(a),
    };
    if let Err(e) = result {
        // A closed pipe (`rankdistil score ... | head`) is the reader's choice, not a failure.
        if e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        }) {
            std::process::exit(0);
        }
        // A backend that cannot run here is a usage problem (status 2), like a bad flag.
        let code = if e.downcast_ref::<backend::BackendError>().is_some() {
            2
        } else {
            1
        };
        eprintln!("error: {}", message(&e));
        std::process::exit(code);
    }
}

/// The error and its causes joined by ": ", leaving out a cause that its wrapper already
/// ends with (a data error that names the file and the I/O error both).
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain().map(ToString::to_string) {
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}
