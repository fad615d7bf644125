//! Sampled RankDistil (docs/LOSSES.md, "Sampled RankDistil").

mod common;

use std::collections::HashSet;

use common::*;
use rankdistil_loss::{CoupledRankDistilConfig, Popularity, SampledRankDistilConfig};

fn catalog(l: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Lcg(seed);
    let s = (0..l).map(|_| rng.range(-2.0, 2.0)).collect();
    let t = (0..l).map(|_| rng.range(-3.0, 3.0)).collect();
    (s, t)
}

fn top_p(t: &[f32], p: usize) -> Vec<u32> {
    let tt: Vec<f64> = t.iter().map(|&v| v as f64).collect();
    order_desc(&tt)
        .into_iter()
        .take(p)
        .map(|i| i as u32)
        .collect()
}

/// Σ exp(s_i) over the items outside the top: what the drawn negatives estimate.
fn non_top_exp_sum(s: &[f32], top: &[u32]) -> f64 {
    (0..s.len() as u32)
        .filter(|i| !top.contains(i))
        .map(|i| (s[i as usize] as f64).exp())
        .sum()
}

/// Σ exp(s_i + shift_i) over one draw's negatives.
fn shifted_negative_sum(s: &[f32], negatives: &[u32], shifts: &[f32]) -> f64 {
    negatives
        .iter()
        .zip(shifts)
        .map(|(&i, &d)| (s[i as usize] as f64 + d as f64).exp())
        .sum()
}

#[test]
fn with_every_other_item_as_a_negative_it_equals_the_coupled_loss() {
    let d = device();
    let (l, p, k) = (30, 5, 3);
    for seed in [1, 2, 3] {
        let (s, t) = catalog(l, seed);
        let sampled = SampledRankDistilConfig::new()
            .with_k(k)
            .with_p(p)
            .with_m(l - p)
            .with_seed(seed)
            .init();
        let cand = sampled.candidates(&top_p(&t, p), &[], l);
        assert_eq!(cand.items.len(), l);
        assert!(
            cand.negative_shifts.iter().all(|&d| d == 0.0),
            "log((L-p)/m) = 0 when m = L - p"
        );
        let sc: Vec<f32> = cand.items.iter().map(|&i| s[i as usize]).collect();
        let tc: Vec<f32> = cand.items.iter().map(|&i| t[i as usize]).collect();
        let got = scalar(sampled.forward(t2(&sc, 1, l, &d), &tc, &[cand]));
        let coupled = CoupledRankDistilConfig::new()
            .with_k(k)
            .with_samples(0)
            .init();
        let want = scalar(coupled.forward(
            t2(&s, 1, l, &d),
            t2(&t, 1, l, &d),
            m2(&vec![true; l], 1, l, &d),
        ));
        assert_rel(got, want, 1e-5, &format!("seed {seed}"));
    }
}

#[test]
fn the_corrected_negative_sum_estimates_the_full_denominator_without_bias() {
    let (l, p, m) = (100, 5, 7);
    let (s, t) = catalog(l, 9);
    let top = top_p(&t, p);
    let full = non_top_exp_sum(&s, &top);
    let sampled = SampledRankDistilConfig::new()
        .with_k(p)
        .with_p(p)
        .with_m(m)
        .with_seed(4)
        .init();
    let draws = 20_000;
    let values: Vec<f64> = (0..draws)
        .map(|_| {
            let cand = sampled.candidates(&top, &[], l);
            shifted_negative_sum(&s, &cand.items[p..], &cand.negative_shifts)
        })
        .collect();
    assert_unbiased(&values, full, "uniform negatives");
    // Without the correction the sum is biased low by the factor m / (L − p).
    let plain = SampledRankDistilConfig::new()
        .with_k(p)
        .with_p(p)
        .with_m(m)
        .with_logq_correction(false)
        .init();
    assert!(
        plain
            .candidates(&top, &[], l)
            .negative_shifts
            .iter()
            .all(|&d| d == 0.0)
    );
}

#[test]
fn negatives_are_distinct_and_never_top_items_whatever_the_catalog_size() {
    for (l, m) in [(1_000_000usize, 100usize), (120, 100), (50, 45)] {
        let sampled = SampledRankDistilConfig::new()
            .with_k(5)
            .with_p(5)
            .with_m(m)
            .with_seed(l as u64)
            .init();
        let top: Vec<u32> = vec![3, 17, 0, 42, 9];
        let cand = sampled.candidates(&top, &[], l);
        assert_eq!(&cand.items[..5], &top[..]);
        let neg: HashSet<u32> = cand.items[5..].iter().copied().collect();
        assert_eq!(neg.len(), m.min(l - 5), "distinct negatives");
        assert!(neg.iter().all(|i| (*i as usize) < l && !top.contains(i)));
        let want = ((l - 5) as f64 / m.min(l - 5) as f64).ln() as f32;
        assert!(cand.negative_shifts.iter().all(|d| (d - want).abs() < 1e-6));
    }
}

#[test]
fn popularity_mixed_negatives_estimate_the_non_top_sum_without_bias() {
    let (l, p, m) = (150, 5, 8);
    let (s, t) = catalog(l, 12);
    let top = top_p(&t, p);
    let full = non_top_exp_sum(&s, &top);
    // A skewed head that includes some top items, so draws landing there are redrawn.
    let interactions: Vec<u32> = (0..300u32)
        .map(|k| (k * k) % 23)
        .chain(top.iter().copied())
        .collect();
    let popularity = Popularity::new(interactions, l);
    for popular in [0.5, 0.9] {
        let sampled = SampledRankDistilConfig::new()
            .with_k(p)
            .with_p(p)
            .with_m(m)
            .with_popular_negatives(popular)
            .with_seed(6)
            .init();
        let draws = 20_000;
        let values: Vec<f64> = (0..draws)
            .map(|_| {
                let cand = sampled.candidates_by_popularity(&top, &[], l, &popularity);
                assert_eq!(&cand.items[..p], &top[..]);
                assert!(cand.items[p..].iter().all(|i| !top.contains(i)));
                assert_eq!(cand.negative_shifts.len(), cand.items.len() - p);
                shifted_negative_sum(&s, &cand.items[p..], &cand.negative_shifts)
            })
            .collect();
        assert_unbiased(&values, full, &format!("popular share {popular}"));
    }
}

/// A user's own positives are neither top items (the cache holds unseen ones) nor negatives:
/// the draws estimate the sum over the items outside both, uniform or popularity-mixed.
#[test]
fn known_positives_are_never_drawn_and_the_sum_over_the_rest_stays_unbiased() {
    let (l, p, m) = (150, 5, 8);
    let (s, t) = catalog(l, 21);
    let top = top_p(&t, p);
    // The user's own items: 12 items outside the top, some of them popular.
    let known: Vec<u32> = (0..l as u32)
        .filter(|i| !top.contains(i))
        .step_by(11)
        .take(12)
        .collect();
    let excluded: Vec<u32> = top.iter().chain(&known).copied().collect();
    let full = non_top_exp_sum(&s, &excluded);
    let popularity = Popularity::new((0..300u32).map(|k| (k * k) % 23), l);
    for popular in [0.0, 0.5] {
        let sampled = SampledRankDistilConfig::new()
            .with_k(p)
            .with_p(p)
            .with_m(m)
            .with_popular_negatives(popular)
            .with_seed(8)
            .init();
        let values: Vec<f64> = (0..20_000)
            .map(|_| {
                let cand = sampled.candidates_by_popularity(&top, &known, l, &popularity);
                assert_eq!(&cand.items[..p], &top[..]);
                assert!(cand.items[p..].iter().all(|i| !excluded.contains(i)));
                shifted_negative_sum(&s, &cand.items[p..], &cand.negative_shifts)
            })
            .collect();
        assert_unbiased(&values, full, &format!("popular share {popular}"));
    }
    let uniform = SampledRankDistilConfig::new()
        .with_k(p)
        .with_p(p)
        .with_m(m)
        .init();
    let want = ((l - p - known.len()) as f64 / m as f64).ln() as f32;
    let cand = uniform.candidates(&top, &known, l);
    assert!(cand.negative_shifts.iter().all(|d| (d - want).abs() < 1e-6));
}
