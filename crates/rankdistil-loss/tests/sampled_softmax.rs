//! Sampled softmax cross-entropy, the label loss for catalogs too large to score whole.

mod common;

use std::collections::HashSet;

use common::*;
use rand::{SeedableRng, rngs::StdRng};
use rankdistil_loss::{Popularity, SampledSoftmaxCeConfig, SoftmaxCe};

#[test]
fn drawing_every_item_gives_the_full_softmax_ce() {
    let d = device();
    let (b, l) = (3, 40);
    let mut rng = Lcg(5);
    let scores: Vec<f32> = (0..b * l).map(|_| rng.range(-3.0, 3.0)).collect();
    // Graded positives, a different number per list.
    let positives: [&[(usize, f32)]; 3] = [
        &[(0, 1.0), (7, 2.0)],
        &[(39, 1.0)],
        &[(3, 1.0), (4, 1.0), (20, 3.0)],
    ];
    let mut full_labels = vec![0f32; b * l];
    for (i, pos) in positives.iter().enumerate() {
        for &(item, y) in pos.iter() {
            full_labels[i * l + item] = y;
        }
    }
    let want = scalar(SoftmaxCe::new().forward(
        t2(&scores, b, l, &d),
        t2(&full_labels, b, l, &d),
        m2(&vec![true; b * l], b, l, &d),
    ));

    // Candidates: each list's positives, padded to 3, then every catalog item in draw order;
    // a drawn positive is masked out, as the trainer does.
    let loss = SampledSoftmaxCeConfig::new(l + 10).init();
    let draw = loss.draw(l, None, &mut StdRng::seed_from_u64(1));
    let drawn = draw.items;
    assert_eq!(drawn.len(), l);
    let shift = draw.shifts[0];
    assert!(
        draw.shifts.iter().all(|&d| d == 0.0),
        "log(L/m) = 0 when every item is drawn"
    );
    let c = 3 + l;
    let (mut s, mut y, mut mask) = (vec![0f32; b * c], vec![0f32; b * c], vec![false; b * c]);
    for (i, pos) in positives.iter().enumerate() {
        for (j, &(item, label)) in pos.iter().enumerate() {
            s[i * c + j] = scores[i * l + item];
            y[i * c + j] = label;
            mask[i * c + j] = true;
        }
        for (j, &item) in drawn.iter().enumerate() {
            s[i * c + 3 + j] = scores[i * l + item as usize];
            mask[i * c + 3 + j] = !pos.iter().any(|&(p, _)| p == item as usize);
        }
    }
    let got = scalar(loss.forward_uniform(
        t2(&s, b, c, &d),
        t2(&y, b, c, &d),
        m2(&mask, b, c, &d),
        shift,
    ));
    assert_rel(got, want, 1e-5, "sampled softmax CE with m >= L");
}

#[test]
fn the_shifted_sample_sum_estimates_the_non_positive_sum_without_bias() {
    let (l, m) = (200, 9);
    let mut rng = Lcg(3);
    let s: Vec<f64> = (0..l).map(|_| rng.range(-2.0, 2.0) as f64).collect();
    let positives: HashSet<u32> = [4, 50, 199].into_iter().collect();
    let full: f64 = (0..l as u32)
        .filter(|i| !positives.contains(i))
        .map(|i| s[i as usize].exp())
        .sum();
    // Training interactions for the popular draws: a skewed head, as real catalogs have.
    let interactions: Vec<u32> = (0..400u32)
        .map(|k| (k * k) % 37)
        .chain([4, 50, 199])
        .collect();
    let popularity = Popularity::new(interactions.iter().copied(), l);
    for popular in [0.0, 0.5, 0.9] {
        let loss = SampledSoftmaxCeConfig::new(m).with_popular(popular).init();
        let mut draws = StdRng::seed_from_u64(8);
        let n = 20_000;
        let values: Vec<f64> = (0..n)
            .map(|_| {
                let draw = loss.draw(l, Some(&popularity), &mut draws);
                if popular == 0.0 {
                    assert_eq!(draw.items.len(), m, "distinct uniform draws");
                    let want = (l as f64 / m as f64).ln();
                    assert!(draw.shifts.iter().all(|&d| (d as f64 - want).abs() < 1e-6));
                }
                draw.items
                    .iter()
                    .zip(&draw.shifts)
                    .filter(|(i, _)| !positives.contains(i))
                    .map(|(&i, &d)| (s[i as usize] + d as f64).exp())
                    .sum()
            })
            .collect();
        assert_unbiased(&values, full, &format!("popular share {popular}"));
    }
    let plain = SampledSoftmaxCeConfig::new(m)
        .with_logq_correction(false)
        .with_popular(0.5)
        .init();
    let draw = plain.draw(l, Some(&popularity), &mut StdRng::seed_from_u64(1));
    assert!(draw.shifts.iter().all(|&d| d == 0.0));
}

#[test]
fn draws_are_distinct_in_range_and_repeatable_whatever_the_catalog_size() {
    for (l, m) in [(1_000_000usize, 1000usize), (120, 100), (50, 50), (7, 30)] {
        let loss = SampledSoftmaxCeConfig::new(m).init();
        let drawn = loss
            .draw(l, None, &mut StdRng::seed_from_u64(l as u64))
            .items;
        let distinct: HashSet<u32> = drawn.iter().copied().collect();
        assert_eq!(drawn.len(), m.min(l), "L = {l}, m = {m}");
        assert_eq!(distinct.len(), drawn.len(), "distinct draws at L = {l}");
        assert!(drawn.iter().all(|&i| (i as usize) < l));
        assert_eq!(
            drawn,
            loss.draw(l, None, &mut StdRng::seed_from_u64(l as u64))
                .items
        );
    }
}

#[test]
fn a_list_without_positives_is_left_out_of_the_mean() {
    let d = device();
    let loss = SampledSoftmaxCeConfig::new(2).init();
    let s = [1.0, 0.5, -1.0, 2.0, 0.0, 0.3];
    let y = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let mask = [true; 6];
    let both =
        scalar(loss.forward_uniform(t2(&s, 2, 3, &d), t2(&y, 2, 3, &d), m2(&mask, 2, 3, &d), 0.5));
    let alone = scalar(loss.forward_uniform(
        t2(&s[..3], 1, 3, &d),
        t2(&y[..3], 1, 3, &d),
        m2(&mask[..3], 1, 3, &d),
        0.5,
    ));
    let want = ((1.0f64).exp() + (0.5f64 + 0.5).exp() + (-1.0f64 + 0.5).exp()).ln() - 1.0;
    assert_rel(alone, want, 1e-6, "one list by hand");
    assert_rel(
        both,
        alone,
        1e-6,
        "the list with no positive does not count",
    );
}
