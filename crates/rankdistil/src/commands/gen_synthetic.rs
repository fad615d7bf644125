use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use rankdistil_data::atomic::AtomicFile;
use rankdistil_data::{SyntheticConfig, generate, write_letor};

/// Write the seeded synthetic LTR data set as LETOR text.
#[derive(Debug, Args)]
pub struct GenSyntheticArgs {
    /// Output LETOR file.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = SyntheticConfig::default().queries)]
    pub queries: usize,
    #[arg(long, default_value_t = SyntheticConfig::default().features)]
    pub features: usize,
    #[arg(long, default_value_t = SyntheticConfig::default().min_items)]
    pub min_items: usize,
    #[arg(long, default_value_t = SyntheticConfig::default().max_items)]
    pub max_items: usize,
    #[arg(long, default_value_t = SyntheticConfig::default().seed)]
    pub seed: u64,
    /// Hidden units of the planted utility function.
    #[arg(long, default_value_t = SyntheticConfig::default().hidden)]
    pub hidden: usize,
    /// Label noise, as a share of the utility's standard deviation (the quickstart uses 0.3).
    #[arg(long, default_value_t = SyntheticConfig::default().noise)]
    pub noise: f32,
}

pub fn run(args: GenSyntheticArgs) -> anyhow::Result<()> {
    let cfg = SyntheticConfig {
        queries: args.queries,
        features: args.features,
        min_items: args.min_items,
        max_items: args.max_items,
        seed: args.seed,
        hidden: args.hidden,
        noise: args.noise,
    };
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("gen-synthetic: {e}"))?;
    let data = generate(&cfg);
    let mut file = AtomicFile::create(&args.out)?;
    write_letor(&data, &mut file)
        .with_context(|| format!("{}: cannot write", args.out.display()))?;
    file.commit()?;
    eprintln!(
        "wrote {} queries, {} rows, {} features to {}",
        data.num_queries(),
        data.num_rows(),
        data.num_features,
        args.out.display()
    );
    Ok(())
}
