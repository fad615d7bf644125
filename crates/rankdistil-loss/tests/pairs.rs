//! The pairwise logistic losses on lists long enough to take several row blocks, against a
//! float64 reference written out pair by pair: the value and every gradient entry.

mod common;

use common::*;
use rankdistil_loss::RankNetKd;

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn ranknet_kd_on_long_lists_matches_a_pair_by_pair_reference() {
    let (b, n) = (3usize, 300usize);
    let mut rng = Lcg(23);
    let student: Vec<f32> = (0..b * n).map(|_| rng.range(-3.0, 3.0)).collect();
    // Coarse teacher values, so many pairs tie and are left out.
    let teacher: Vec<f32> = (0..b * n)
        .map(|_| (rng.range(0.0, 6.0) as f64).floor() as f32)
        .collect();
    // List 0 full, list 1 with 171 valid items (a partial last block), list 2 with one.
    let valid = [n, 171, 1];
    let mask: Vec<bool> = (0..b * n).map(|e| e % n < valid[e / n]).collect();

    let device = device().autodiff();
    let s = t2(&student, b, n, &device).require_grad();
    let loss = RankNetKd::new().forward(
        s.clone(),
        t2(&teacher, b, n, &device),
        m2(&mask, b, n, &device),
    );
    let value = scalar(loss.clone());
    let grad = vec2(s.grad(&loss.backward()).expect("the scores take part"));

    let mut expected_grad = vec![0f64; b * n];
    let (mut total, mut lists) = (0f64, 0usize);
    for (l, &len) in valid.iter().enumerate() {
        let at = |i: usize| l * n + i;
        let (mut sum, mut count) = (0f64, 0f64);
        let mut g = vec![0f64; n];
        for i in 0..len {
            for j in 0..len {
                if teacher[at(i)] > teacher[at(j)] {
                    let d = student[at(j)] as f64 - student[at(i)] as f64;
                    sum += softplus(d);
                    count += 1.0;
                    g[i] -= sigmoid(d);
                    g[j] += sigmoid(d);
                }
            }
        }
        if count > 0.0 {
            total += sum / count;
            lists += 1;
            for k in 0..n {
                expected_grad[at(k)] = g[k] / count;
            }
        }
    }
    assert_eq!(lists, 2, "the one-item list has no pair");
    let expected = total / lists as f64;
    assert_rel(value, expected, 1e-5, "loss");
    for l in 0..lists {
        expected_grad[l * n..(l + 1) * n]
            .iter_mut()
            .for_each(|g| *g /= lists as f64);
    }
    for (k, (&got, &want)) in grad.iter().zip(&expected_grad).enumerate() {
        assert!(
            (got - want).abs() <= 1e-6 + 1e-4 * want.abs(),
            "gradient {k}: {got} against {want}"
        );
    }
    assert!(
        grad[n + 171..2 * n].iter().all(|&g| g == 0.0),
        "padding gets no gradient"
    );
}
