//! The trials of a method: settings drawn without repeats from its grid of knob values, seeded,
//! so every method gets the same number of trials whatever the size of its grid.

use std::collections::BTreeMap;

use rand::seq::index::sample;
use rand::{SeedableRng, rngs::StdRng};

use crate::progress::notice;

/// One trial's knob values.
pub type Knobs = BTreeMap<String, toml::Value>;

/// A knob's value as a number; a TOML integer counts (`dropout = [0, 0.1]`).
pub fn knob_number(value: &toml::Value) -> Option<f64> {
    value
        .as_float()
        .or_else(|| value.as_integer().map(|v| v as f64))
}

/// `count` settings from the grid of `search` (all of it when smaller), in grid order, drawn
/// with `seed`.
pub fn draw(search: &BTreeMap<String, Vec<toml::Value>>, count: usize, seed: u64) -> Vec<Knobs> {
    let size = grid_size(search);
    let picked: Vec<usize> = if size <= count {
        (0..size).collect()
    } else {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut picked = sample(&mut rng, size, count).into_vec();
        picked.sort_unstable();
        picked
    };
    picked.into_iter().map(|i| point(search, i)).collect()
}

/// The number of points in the grid (saturating).
pub fn grid_size(search: &BTreeMap<String, Vec<toml::Value>>) -> usize {
    search.values().map(Vec::len).fold(1, usize::saturating_mul)
}

/// The grid's point `index`, read as a mixed-radix number over the knobs in key order.
fn point(search: &BTreeMap<String, Vec<toml::Value>>, mut index: usize) -> Knobs {
    let mut knobs = Knobs::new();
    for (key, values) in search.iter().rev() {
        knobs.insert(key.clone(), values[index % values.len()].clone());
        index /= values.len();
    }
    knobs
}

/// Scores every trial with `score` (its validation NDCG@10) and returns the best one's knobs,
/// the first on a tie, saying which `method` chose what.
pub fn choose(
    method: &str,
    trials: Vec<Knobs>,
    mut score: impl FnMut(&Knobs) -> crate::Result<f64>,
) -> crate::Result<Knobs> {
    let mut best: Option<(f64, Knobs)> = None;
    for knobs in trials {
        let value = score(&knobs)?;
        if best.as_ref().is_none_or(|(top, _)| value > *top) {
            best = Some((value, knobs));
        }
    }
    let (value, knobs) = best.expect("a search has at least one trial");
    notice!(
        "study: {method} chose {} (valid ndcg@10 {value:.4})",
        describe(&knobs)
    );
    Ok(knobs)
}

/// `k=10 alpha=0.1`: a trial's knobs in one line.
pub fn describe(knobs: &Knobs) -> String {
    let parts: Vec<String> = knobs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> BTreeMap<String, Vec<toml::Value>> {
        let values = |v: &[i64]| v.iter().map(|&x| toml::Value::Integer(x)).collect();
        BTreeMap::from([
            ("a".into(), values(&[1, 2, 3])),
            ("b".into(), values(&[10, 20])),
        ])
    }

    #[test]
    fn a_small_grid_is_run_whole_in_order() {
        let trials = draw(&grid(), 10, 7);
        let described: Vec<String> = trials.iter().map(describe).collect();
        assert_eq!(
            described,
            [
                "a=1 b=10", "a=1 b=20", "a=2 b=10", "a=2 b=20", "a=3 b=10", "a=3 b=20"
            ]
        );
    }

    #[test]
    fn a_large_grid_gives_distinct_seeded_draws() {
        let (a, b) = (draw(&grid(), 4, 7), draw(&grid(), 4, 7));
        assert_eq!(a, b, "the same seed draws the same trials");
        assert_eq!(a.len(), 4);
        let distinct: std::collections::BTreeSet<String> = a.iter().map(describe).collect();
        assert_eq!(distinct.len(), 4);
        assert_ne!(draw(&grid(), 4, 8), a, "another seed draws others");
    }
}
