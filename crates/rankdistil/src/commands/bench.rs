use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rankdistil_models::ItemLayout;
use rankdistil_train::backend::BackendError;
use rankdistil_train::bench::launches::{self, LaunchOptions};
use rankdistil_train::bench::options::{BenchOptions, REFERENCE, Suite, parse_configs};
use rankdistil_train::bench::{epoch, parse, profile, reference, suites};

use crate::commands::args::BackendArg;
use crate::commands::choices::SuiteFlag;

/// Time training steps and print steps/s with the backend.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, value_enum, default_value_t = SuiteFlag::Reference)]
    pub suite: SuiteFlag,
    #[command(flatten)]
    pub backend: BackendArg,
    /// Timed steps per configuration.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Untimed steps first, at least. On a GPU the warm-up goes on, in blocks of 5 steps, until
    /// the step time settles (kernel compilation and autotuning run on first use of each shape
    /// and can take tens of seconds), or for at most --max-warmup-s seconds.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    #[arg(long, default_value_t = 90.0)]
    pub max_warmup_s: f64,
    /// The LETOR file of the parse suite.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Reference configs as `B,N,H` separated by `;` (default: the four reference ones).
    #[arg(long)]
    pub configs: Option<String>,
    /// How the reference and profile steps run the MLP: `lists` keeps `[B, N, F]` (what the
    /// trainer does), `rows` flattens to `[B·N, F]` as PyTorch's `Linear` does.
    #[arg(long, value_enum, default_value_t = Layout::Lists)]
    pub layout: Layout,
    /// Run the reference step's MLP through Burn's autodiff on flex too, instead of the
    /// hand-written CPU kernel its training steps use (for a side-by-side). The profile suite
    /// always times autodiff's phases.
    #[arg(long)]
    pub autodiff: bool,
    /// Lists in the epoch suite's training set (MSLR-WEB30K has 31,531).
    #[arg(long, default_value_t = epoch::MSLR_QUERIES)]
    pub queries: usize,
}

/// `--layout`, the command-line face of [`ItemLayout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    Lists,
    Rows,
}

impl From<Layout> for ItemLayout {
    fn from(l: Layout) -> Self {
        match l {
            Layout::Lists => ItemLayout::Lists,
            Layout::Rows => ItemLayout::Rows,
        }
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let suite: Suite = args.suite.into();
    if suite == Suite::Parse {
        let path = args.data.as_deref();
        return Ok(parse::parse(
            path.context("--suite parse needs --data <LETOR file>")?,
        )?);
    }
    let options = BenchOptions {
        steps: args.steps,
        warmup: args.warmup,
        max_warmup_s: args.max_warmup_s,
        configs: match &args.configs {
            Some(text) => parse_configs(text)?,
            None => REFERENCE.to_vec(),
        },
        layout: args.layout.into(),
    };
    let mut backend = args.backend.open()?;
    backend.cpu_kernel &= !args.autodiff && suite == Suite::Reference;
    println!("backend: {} ({})", backend.name, backend.adapter);
    if matches!(suite, Suite::Reference | Suite::Profile) {
        let pass = match backend.cpu_kernel {
            true => "rankdistil-cpu's kernel",
            false => "Burn autodiff",
        };
        println!("MLP layout: {:?}, through {pass}", options.layout);
    }
    let done = match suite {
        Suite::Reference => reference::table(&backend, &options),
        Suite::Profile => profile::run(
            &backend,
            &options.configs,
            options.layout,
            options.max_warmup_s,
            options.steps,
        ),
        Suite::Losses => suites::losses(&backend, options.warmup, options.steps),
        Suite::Launches if !backend.is_gpu => {
            Err(rankdistil_train::Error::Backend(BackendError(format!(
                "--suite launches counts a GPU's kernel launches, read-backs and uploads; {} runs on the CPU, so it has none to count: give --backend wgpu",
                backend.name
            ))))
        }
        Suite::Launches => {
            let counted = LaunchOptions {
                warmup: options.warmup,
                steps: options.steps,
            };
            print!("{}", launches::table(&launches::run(&backend, counted)?));
            Ok(())
        }
        Suite::Sampled => suites::sampled(&backend, options.warmup, options.steps),
        Suite::Epoch => {
            epoch::run(&backend, args.queries).map(|rows| print!("{}", epoch::table(&rows)))
        }
        Suite::Parse => unreachable!("handled above"),
    };
    Ok(done?)
}
