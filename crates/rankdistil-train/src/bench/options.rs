//! What every benchmark shares: the suites, the reference configurations and the options.

use rankdistil_models::ItemLayout;

/// A benchmark suite: what each one times or counts is `rankdistil bench --suite`'s help
/// (`commands/choices.rs` in the CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    Reference,
    Losses,
    Sampled,
    Parse,
    Profile,
    Launches,
    Epoch,
}

/// The reference configurations (B lists, N items, H hidden).
pub const REFERENCE: [(usize, usize, usize); 4] = [
    (32, 128, 256),
    (256, 128, 512),
    (64, 2000, 256),
    (1024, 200, 1024),
];

/// Features per item in every benchmark, MSLR's 136.
pub const FEATURES: usize = 136;

/// How the timed suites run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Timed steps per configuration.
    pub steps: usize,
    /// Untimed steps first, at least; on a GPU the warm-up goes on until the step time
    /// settles, or for at most `max_warmup_s`.
    pub warmup: usize,
    pub max_warmup_s: f64,
    /// The reference and profile configurations.
    pub configs: Vec<(usize, usize, usize)>,
    /// How the reference and profile steps run the MLP.
    pub layout: ItemLayout,
}

/// Parses `B,N,H` configurations separated by `;`.
pub fn parse_configs(text: &str) -> crate::Result<Vec<(usize, usize, usize)>> {
    text.split(';')
        .map(|c| {
            let v: Vec<usize> = c
                .split(',')
                .map(|x| x.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|_| crate::error::invalid!("--configs: \"{c}\" is not B,N,H"))?;
            crate::error::ensure!(
                v.len() == 3 && v.iter().all(|&x| x > 0),
                "--configs: \"{c}\" is not B,N,H"
            );
            Ok((v[0], v[1], v[2]))
        })
        .collect()
}
