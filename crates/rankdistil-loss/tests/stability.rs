//! The reverse cumulative log-sum-exp stays finite and exact where a global-max shift fails.

mod common;

use common::*;
use rankdistil_loss::{CoupledRankDistilConfig, ListMleKdConfig, OrderedLoss};

#[test]
fn extreme_scores_with_small_temperature_match_float64() {
    let d = device();
    let (b, n, tau) = (4, 300, 0.1);
    let mut rng = Lcg(2024);
    let s: Vec<f32> = (0..b * n).map(|_| rng.range(-200.0, 200.0)).collect();
    let t: Vec<f32> = (0..b * n).map(|_| rng.range(-200.0, 200.0)).collect();
    let mask = vec![true; b * n];
    for k in [10, 100, n] {
        let loss = CoupledRankDistilConfig::new()
            .with_k(k)
            .with_samples(0)
            .with_temperature(tau)
            .init();
        let orders = loss.orders(&t, &mask, b, n);
        let got = vec2(loss.per_sample(t2(&s, b, n, &d), &orders));
        for i in 0..b {
            let tt: Vec<f64> = t[i * n..(i + 1) * n].iter().map(|&v| v as f64).collect();
            let x: Vec<f64> = order_desc(&tt)
                .iter()
                .map(|&j| s[i * n + j] as f64 / tau)
                .collect();
            let expected = reference_top_k_nll(&x, k);
            assert!(got[i].is_finite(), "k={k} list {i}: not finite");
            assert_rel(got[i], expected, 1e-4, &format!("k={k} list {i}"));
        }
    }
    let listmle = ListMleKdConfig::new().with_temperature(tau).init();
    let v = scalar(listmle.forward(t2(&s, b, n, &d), t2(&t, b, n, &d), m2(&mask, b, n, &d)));
    assert!(v.is_finite(), "listmle_kd at tau=0.1 over [-200, 200]");
}
