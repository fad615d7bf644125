//! The Gumbel-sampled coupled loss is an unbiased estimate of E_{π∼PL(t/τ_t)}[−log P_k(π | s/τ)].

mod common;

use common::*;
use rankdistil_loss::{CoupledRankDistilConfig, OrderedLoss};

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..=p.len() {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            out.push(q);
        }
    }
    out
}

/// Exact expectation by enumerating all n! orders with their PL probabilities.
fn exact(s: &[f64], t: &[f64], k: usize, tau: f64, tau_t: f64) -> f64 {
    let n = s.len();
    permutations(n)
        .iter()
        .map(|pi| {
            let logits: Vec<f64> = pi.iter().map(|&j| t[j] / tau_t).collect();
            let logp: f64 = (0..n)
                .map(|i| {
                    let m = logits[i..]
                        .iter()
                        .cloned()
                        .fold(f64::NEG_INFINITY, f64::max);
                    logits[i] - (m + logits[i..].iter().map(|v| (v - m).exp()).sum::<f64>().ln())
                })
                .sum();
            let x: Vec<f64> = pi.iter().map(|&j| s[j] / tau).collect();
            logp.exp() * reference_top_k_nll(&x, k)
        })
        .sum()
}

fn check(n_valid: usize, n: usize, k: usize, tau: f64, tau_t: f64, seed: u64) {
    let d = device();
    let mut rng = Lcg(seed);
    let s: Vec<f32> = (0..n).map(|_| rng.range(-2.0, 2.0)).collect();
    let t: Vec<f32> = (0..n).map(|_| rng.range(-2.0, 2.0)).collect();
    let mask: Vec<bool> = (0..n).map(|j| j < n_valid).collect();
    let samples = 20_000;
    let loss = CoupledRankDistilConfig::new()
        .with_k(k)
        .with_samples(samples)
        .with_temperature(tau)
        .with_teacher_temperature(tau_t)
        .with_seed(seed)
        .init();
    let orders = loss.orders(&t, &mask, 1, n);
    let values = vec2(loss.per_sample(t2(&s, 1, n, &d), &orders));
    let mean = values.iter().sum::<f64>() / samples as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (samples - 1) as f64;
    let se = (var / samples as f64).sqrt();
    let sv: Vec<f64> = s[..n_valid].iter().map(|&v| v as f64).collect();
    let tv: Vec<f64> = t[..n_valid].iter().map(|&v| v as f64).collect();
    let want = exact(&sv, &tv, k, tau, tau_t);
    assert!(
        (mean - want).abs() < 3.0 * se,
        "n={n_valid} k={k}: estimate {mean} ± {se} vs exact {want}"
    );
    assert!(se > 0.0, "sampling must vary the orders");
}

#[test]
fn estimate_is_within_three_standard_errors_of_the_exact_expectation() {
    check(5, 5, 2, 1.0, 1.0, 1);
    check(4, 4, 4, 0.5, 2.0, 2);
    check(5, 7, 3, 1.0, 0.5, 3); // with two padded slots
}
