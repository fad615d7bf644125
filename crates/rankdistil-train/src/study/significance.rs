//! Is a difference between two methods real? A paired bootstrap over evaluation units
//! (queries or users): each unit's metric is first averaged over the seeds, then the units
//! are resampled with replacement and the mean difference recomputed; the 2.5th and 97.5th
//! percentiles bound it.

use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

/// The mean of `a − b` over the units, with its 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    /// Units the difference is over.
    pub units: usize,
}

impl Difference {
    /// `a` or `b` when the interval excludes 0, else `tie`.
    pub fn winner<'a>(&self, a: &'a str, b: &'a str) -> &'a str {
        if self.low > 0.0 {
            a
        } else if self.high < 0.0 {
            b
        } else {
            "tie"
        }
    }
}

/// Each unit's metric averaged over runs: `runs[r][u]` → `[u]`.
pub fn unit_means(runs: &[Vec<f64>]) -> Vec<f64> {
    let units = runs.first().map_or(0, Vec::len);
    (0..units)
        .map(|u| runs.iter().map(|r| r[u]).sum::<f64>() / runs.len() as f64)
        .collect()
}

/// The paired bootstrap of `a − b` over units with `resamples` draws, seeded.
///
/// # Panics
/// If `a` and `b` differ in length or are empty: the caller pairs the same units.
pub fn paired_bootstrap(a: &[f64], b: &[f64], resamples: usize, seed: u64) -> Difference {
    assert!(
        a.len() == b.len() && !a.is_empty(),
        "paired units on both sides"
    );
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = diffs.len();
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| diffs[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * resamples as f64) as usize).min(resamples - 1)];
    Difference {
        mean,
        low: at(0.025),
        high: at(0.975),
        units: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_difference_has_a_point_interval() {
        let a = [0.5, 0.7, 0.9, 0.2];
        let b: Vec<f64> = a.iter().map(|x| x - 0.1).collect();
        let d = paired_bootstrap(&a, &b, 1000, 1);
        for v in [d.mean, d.low, d.high] {
            assert!((v - 0.1).abs() < 1e-12, "{d:?}");
        }
        assert_eq!(d.winner("a", "b"), "a");
    }

    #[test]
    fn the_interval_matches_the_normal_one_on_many_units() {
        // Differences with mean 0.01 and standard deviation about 0.1, deterministic.
        let b = vec![0.0; 2000];
        let a: Vec<f64> = (0..2000)
            .map(|i| 0.01 + 0.1 * ((i as f64 * 0.7).sin() * std::f64::consts::SQRT_2))
            .collect();
        let d = paired_bootstrap(&a, &b, 4000, 3);
        let n = a.len() as f64;
        let sd = (a.iter().map(|x| (x - d.mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let half = 1.96 * sd / n.sqrt();
        assert!(
            (d.low - (d.mean - half)).abs() < 0.1 * half,
            "{d:?} vs ±{half}"
        );
        assert!(
            (d.high - (d.mean + half)).abs() < 0.1 * half,
            "{d:?} vs ±{half}"
        );
    }

    #[test]
    fn an_interval_across_zero_is_a_tie_and_seeds_are_averaged_per_unit() {
        let d = paired_bootstrap(&[0.1, -0.1, 0.2, -0.2], &[0.0; 4], 1000, 1);
        assert_eq!(d.winner("a", "b"), "tie");
        assert_eq!(unit_means(&[vec![1.0, 0.0], vec![0.0, 0.5]]), [0.5, 0.25]);
    }
}
