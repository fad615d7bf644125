//! Random draws the sampling losses share: distinct items drawn uniformly from a catalog (the
//! negatives), and the seeded stream of each step.

use std::collections::HashSet;

use rand::{Rng, RngExt};

/// `m` distinct items drawn uniformly from `0..catalog` minus `excluded` (a subset of it), in
/// draw order; all of them when fewer are allowed. A partial Fisher–Yates over the allowed
/// items when m is more than half of them, else rejection sampling, which keeps the draw
/// `O(m)` for `m ≪ L`.
pub(crate) fn distinct_uniform(
    catalog: usize,
    m: usize,
    excluded: &HashSet<u32>,
    rng: &mut impl Rng,
) -> Vec<u32> {
    let allowed = catalog.saturating_sub(excluded.len());
    let m = m.min(allowed);
    if m * 2 > allowed {
        let mut pool: Vec<u32> = (0..catalog as u32)
            .filter(|i| !excluded.contains(i))
            .collect();
        for i in 0..m {
            let j = rng.random_range(i..pool.len());
            pool.swap(i, j);
        }
        pool.truncate(m);
        return pool;
    }
    let mut chosen = HashSet::with_capacity(m);
    let mut items = Vec::with_capacity(m);
    while items.len() < m {
        let j = rng.random_range(0..catalog as u32);
        if !excluded.contains(&j) && chosen.insert(j) {
            items.push(j);
        }
    }
    items
}

/// The random stream `stream` (a global step) of a loss seeded with `seed`: a run that reseeds
/// each step with its step number replays every draw exactly, resumed or not.
pub(crate) fn stream_rng(seed: u64, stream: u64) -> rand::rngs::StdRng {
    use rand::SeedableRng;
    rand::rngs::StdRng::seed_from_u64(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03))
}
