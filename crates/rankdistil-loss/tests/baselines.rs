//! The baseline losses against their authors' code: vectors from sentence-transformers'
//! `MarginMSELoss`, Lightning IR's `ApproxRankMSE` and DE-RRD's `relaxed_ranking_loss`
//! (`scripts/baseline_references.py`; docs/LOSSES.md, "Reference implementations"), and CD
//! from woriazzc/KDs.

mod common;

use burn::prelude::*;
use common::*;
use rankdistil_loss::{
    AdrMseConfig, CollaborativeDistillationConfig, MarginMseConfig,
    RelaxedRankingDistillationConfig, RrdDraw,
};
use serde_json::Value;

const TOLERANCE: f64 = 1e-5;

fn cases(loss: &str) -> Vec<Value> {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR");
    let path = format!("{dir}/tests/vectors/baselines.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    all[loss].as_array().unwrap().clone()
}

/// `[B, N]` rows as one flat vector, with B and N.
fn matrix(v: &Value) -> (Vec<f32>, usize, usize) {
    let rows: Vec<Vec<f32>> = (v.as_array().unwrap().iter())
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    let (b, n) = (rows.len(), rows[0].len());
    (rows.concat(), b, n)
}

fn slots(v: &Value) -> Vec<i64> {
    (v.as_array().unwrap().iter())
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()))
        .collect()
}

/// The loss and its gradient at the case's student scores, each `scale`d, against the case's
/// expected values.
fn check(
    what: &str,
    case: &Value,
    (loss_key, grad_key, scale): (&str, &str, f64),
    loss: impl Fn(Tensor<2>) -> Tensor<1>,
) {
    let ad = device().autodiff();
    let (s, b, n) = matrix(&case["student"]);
    let student = t2(&s, b, n, &ad).require_grad();
    let value = loss(student.clone());
    let grads = value.clone().backward();
    assert_rel(
        scalar(value) * scale,
        case[loss_key].as_f64().unwrap(),
        TOLERANCE,
        &format!("{what}: loss"),
    );
    let (expected, _, _) = matrix(&case[grad_key]);
    let got = vec2(student.grad(&grads).expect("a student gradient"));
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        let err = (g * scale - *e as f64).abs() / (1.0 + (*e as f64).abs());
        assert!(
            err < TOLERANCE,
            "{what}: slot {i}: gradient {} vs {e}",
            g * scale
        );
    }
}

#[test]
fn margin_mse_over_all_pairs_matches_sentence_transformers() {
    for (c, case) in cases("margin_mse").iter().enumerate() {
        let (t, b, n) = matrix(&case["teacher"]);
        let loss = MarginMseConfig::new().init();
        check(&format!("case {c}"), case, ("loss", "grad", 1.0), |s| {
            let d = s.device();
            loss.forward(s, t2(&t, b, n, &d), m2(&vec![true; b * n], b, n, &d))
        });
    }
}

#[test]
fn margin_mse_of_a_positive_against_negatives_matches_sentence_transformers() {
    for (c, case) in cases("margin_mse_negatives").iter().enumerate() {
        let (t, b, n) = matrix(&case["teacher"]);
        let loss = MarginMseConfig::new().init();
        check(&format!("case {c}"), case, ("loss", "grad", 1.0), |s| {
            let d = s.device();
            loss.forward_positive(s, t2(&t, b, n, &d), m2(&vec![true; b * n], b, n, &d))
        });
    }
}

#[test]
fn adr_mse_matches_lightning_ir() {
    for (c, case) in cases("adr_mse").iter().enumerate() {
        let (t, b, n) = matrix(&case["teacher"]);
        let loss = AdrMseConfig::new()
            .with_temperature(case["temperature"].as_f64().unwrap())
            .init();
        check(&format!("case {c}"), case, ("loss", "grad", 1.0), |s| {
            let d = s.device();
            loss.forward(s, t2(&t, b, n, &d), m2(&vec![true; b * n], b, n, &d))
        });
    }
}

#[test]
fn rrd_with_a_fixed_draw_matches_the_de_rrd_authors_loss() {
    for (c, case) in cases("rrd").iter().enumerate() {
        let draw = RrdDraw {
            batch: case["student"].as_array().unwrap().len(),
            interesting: slots(&case["interesting"]),
            uninteresting: slots(&case["uninteresting"]),
        };
        let k = draw.interesting.len() / draw.batch;
        let loss = RelaxedRankingDistillationConfig::new()
            .with_k(k)
            .with_top_n(k)
            .init();
        // The authors sum over users; the loss is their mean.
        let scale = draw.batch as f64;
        check(
            &format!("case {c}"),
            case,
            ("loss_sum", "grad_sum", scale),
            |s| loss.forward_drawn(s, &draw),
        );
    }
}

#[test]
fn sampled_margin_pairs_average_to_the_all_pairs_loss() {
    let d = device();
    let (b, n) = (2, 5);
    let mut rng = Lcg(3);
    let s: Vec<f32> = (0..b * n).map(|_| rng.range(-2.0, 2.0)).collect();
    let t: Vec<f32> = (0..b * n).map(|_| rng.range(-2.0, 2.0)).collect();
    let mask = [true, true, true, true, true, true, true, true, false, false];
    let run = |loss: &rankdistil_loss::MarginMse| {
        scalar(loss.forward(t2(&s, b, n, &d), t2(&t, b, n, &d), m2(&mask, b, n, &d)))
    };
    let all = run(&MarginMseConfig::new().init());
    let sampled = MarginMseConfig::new().with_pairs(4).init();
    let steps = 4000;
    let mean = (0..steps)
        .map(|step| {
            sampled.reseed(step);
            run(&sampled)
        })
        .sum::<f64>()
        / steps as f64;
    assert_rel(mean, all, 0.02, "mean of the sampled-pair losses");
}

#[test]
fn rrd_draws_ranks_by_their_discount_and_negatives_from_below_the_top() {
    let (n, top_n, temperature) = (12, 5, 2.0);
    let teacher: Vec<f32> = (0..n).map(|i| i as f32).collect(); // slot 11 ranks first
    let loss = RelaxedRankingDistillationConfig::new()
        .with_k(1)
        .with_top_n(top_n)
        .with_negatives(3)
        .with_temperature(temperature)
        .init();
    let orders = rankdistil_loss::ListOrders::teacher(&teacher, &[true; 12], 1, n);
    let draws = 20_000;
    let mut first = [0usize; 5];
    for step in 0..draws {
        loss.reseed(step);
        let draw = loss.draw(&orders);
        let rank = n - 1 - draw.interesting[0] as usize; // rank 0 is slot 11
        first[rank] += 1;
        let mut below = draw.uninteresting.clone();
        below.sort_unstable();
        below.dedup();
        assert_eq!(below.len(), 3, "three distinct negatives: {draw:?}");
        assert!(
            below.iter().all(|&slot| (0..7).contains(&slot)),
            "negatives rank below the top {top_n}: {draw:?}"
        );
    }
    let z: f64 = (1..=top_n).map(|r| (-(r as f64) / temperature).exp()).sum();
    for (r, &count) in first.iter().enumerate() {
        let expected = (-((r + 1) as f64) / temperature).exp() / z;
        let got = count as f64 / draws as f64;
        assert!(
            (got - expected).abs() < 0.015,
            "rank {}: drawn {got:.3} of the time, expected {expected:.3}",
            r + 1
        );
    }
}

#[test]
fn adr_mse_reads_only_the_teachers_order() {
    let d = device();
    let (b, n) = (2, 6);
    let mut rng = Lcg(9);
    let s: Vec<f32> = (0..b * n).map(|_| rng.range(-2.0, 2.0)).collect();
    let t: Vec<f32> = (0..b * n).map(|_| rng.range(-2.0, 2.0)).collect();
    // A ranker's output: 1 for its first item, as a score that sorts the same way (−rank).
    let ranks: Vec<f32> = (0..b)
        .flat_map(|list| {
            let row = &t[list * n..(list + 1) * n];
            let order = order_desc(&row.iter().map(|&x| x as f64).collect::<Vec<_>>());
            let mut rank = vec![0.0; n];
            for (position, &slot) in order.iter().enumerate() {
                rank[slot] = -((position + 1) as f32);
            }
            rank
        })
        .collect();
    let mask = vec![true; b * n];
    let loss = AdrMseConfig::new().init();
    let by = |teacher: &[f32]| {
        scalar(loss.forward(t2(&s, b, n, &d), t2(teacher, b, n, &d), m2(&mask, b, n, &d)))
    };
    assert_eq!(by(&t), by(&ranks));
}

#[test]
fn rrd_catalog_candidates_come_from_the_cache_head_and_score_as_a_fixed_draw() {
    let d = device();
    let loss = RelaxedRankingDistillationConfig::new()
        .with_k(3)
        .with_top_n(5)
        .with_negatives(4)
        .init();
    // The teacher's top items in its order; the user's own items are 0 and 1.
    let top = [40u32, 7, 22, 13, 9, 30, 31];
    let cand = loss.candidates(&top, &[0, 1], 50);
    assert_eq!((cand.items.len(), cand.top), (7, 3));
    let position = |item: &u32| top.iter().position(|t| t == item).unwrap();
    let ranks: Vec<usize> = cand.items[..3].iter().map(position).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] < w[1]) && ranks[2] < 5,
        "{cand:?}"
    );
    for negative in &cand.items[3..] {
        assert!(!top[..5].contains(negative) && *negative > 1, "{cand:?}");
    }
    assert!(cand.negative_shifts.iter().all(|&s| s == 0.0));

    let mut rng = Lcg(5);
    let scores: Vec<f32> = (0..8).map(|_| rng.range(-2.0, 2.0)).collect(); // one pad slot
    let by_candidates = scalar(loss.forward_candidates(t2(&scores, 1, 8, &d), &[cand]));
    let draw = RrdDraw {
        batch: 1,
        interesting: vec![0, 1, 2],
        uninteresting: vec![3, 4, 5, 6],
    };
    let by_draw = scalar(loss.forward_drawn(t2(&scores, 1, 8, &d), &draw));
    assert_rel(by_candidates, by_draw, 1e-6, "the same draw");
}

#[test]
fn cd_on_fixed_items_matches_the_kds_implementation() {
    for (c, case) in cases("cd").iter().enumerate() {
        let (t, b, n) = matrix(&case["teacher"]);
        let loss = CollaborativeDistillationConfig::new()
            .with_t1(case["t1"].as_f64().unwrap())
            .with_t2(case["t2"].as_f64().unwrap())
            .init();
        // The authors sum over users; the loss is their mean.
        check(
            &format!("case {c}"),
            case,
            ("loss_sum", "grad_sum", b as f64),
            |s| {
                let d = s.device();
                loss.forward(s, t2(&t, b, n, &d), m2(&vec![true; b * n], b, n, &d))
            },
        );
    }
}

#[test]
fn cd_draws_distinct_items_favouring_the_teachers_top() {
    let loss = CollaborativeDistillationConfig::new()
        .with_samples(1)
        .with_top_n(4)
        .with_temperature(0.25)
        .init();
    let draws = 20_000;
    let mut first = [0usize; 4];
    for step in 0..draws {
        loss.reseed(step);
        first[loss.draw(10)[0]] += 1;
    }
    // The better of two ranks drawn from w_r = exp(−r / (N·T)) = exp(−r): P(r) = P(min = r).
    let w: Vec<f64> = (1..=4).map(|r| (-(r as f64)).exp()).collect();
    let z: f64 = w.iter().sum();
    let tail = |r: usize| w[r..].iter().sum::<f64>() / z; // P(rank >= r)
    for (r, &count) in first.iter().enumerate() {
        let expected = tail(r).powi(2) - tail(r + 1).powi(2);
        let got = count as f64 / draws as f64;
        assert!(
            (got - expected).abs() < 0.015,
            "rank {}: {got:.3} vs {expected:.3}",
            r + 1
        );
    }
    let many = CollaborativeDistillationConfig::new()
        .with_samples(6)
        .with_top_n(8)
        .init();
    let mut drawn = many.draw(50);
    drawn.sort_unstable();
    drawn.dedup();
    assert_eq!(drawn.len(), 6);
    assert!(drawn.iter().all(|&r| r < 8));
    assert_eq!(many.draw(3).len(), 3, "no more than the ranking holds");
}
