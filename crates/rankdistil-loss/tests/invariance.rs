//! Padding and slot order never change a loss.

mod common;

use burn::prelude::*;
use common::*;
use rankdistil_loss::*;

fn eval(name: &str, s: &[f32], t: &[f32], y: &[f32], m: &[bool], n: usize, d: &Device) -> f64 {
    let b = s.len() / n;
    let (s, t, y, m) = (
        t2(s, b, n, d),
        t2(t, b, n, d),
        t2(y, b, n, d),
        m2(m, b, n, d),
    );
    scalar(match name {
        "coupled" => CoupledRankDistilConfig::new()
            .with_k(4)
            .with_samples(0)
            .init()
            .forward(s, t, m),
        "decoupled" => DecoupledRankDistilConfig::new()
            .with_p(3)
            .init()
            .forward(s, t, m),
        "pairwise" => PairwiseRankDistilConfig::new()
            .with_p(3)
            .init()
            .forward(s, t, m),
        "softmax_kd" => SoftmaxKdConfig::new().init().forward(s, t, m),
        "mse" => MseKd::new().forward(s, t, m),
        "ranknet_kd" => RankNetKd::new().forward(s, t, m),
        "listmle_kd" => ListMleKdConfig::new().init().forward(s, t, m),
        "rd" => RankingDistillationConfig::new()
            .with_k(4)
            .init()
            .forward(s, t, y, m),
        "softmax_ce" => SoftmaxCe::new().forward(s, y, m),
        "ranknet" => RankNet::new().forward(s, y, m),
        "listmle" => ListMleConfig::new().init().forward(s, y, m),
        other => panic!("unknown loss {other}"),
    })
}

const NAMES: [&str; 11] = [
    "coupled",
    "decoupled",
    "pairwise",
    "softmax_kd",
    "mse",
    "ranknet_kd",
    "listmle_kd",
    "rd",
    "softmax_ce",
    "ranknet",
    "listmle",
];

fn data(seed: u64, b: usize, n: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Lcg(seed);
    let s = (0..b * n).map(|_| rng.range(-3.0, 3.0)).collect();
    let t = (0..b * n).map(|_| rng.range(-3.0, 3.0)).collect();
    // Distinct labels per list keep ListMLE deterministic.
    let y = (0..b * n).map(|i| ((i * 3) % n) as f32).collect();
    (s, t, y)
}

#[test]
fn padded_slots_change_nothing() {
    let d = device();
    let (b, n, extra) = (3, 7, 5);
    let (s, t, y) = data(3, b, n);
    let mask = vec![true; b * n];
    // The same lists with 5 padded slots of wild values appended to each.
    let mut rng = Lcg(99);
    let (mut sp, mut tp, mut yp, mut mp) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..b {
        sp.extend_from_slice(&s[i * n..(i + 1) * n]);
        tp.extend_from_slice(&t[i * n..(i + 1) * n]);
        yp.extend_from_slice(&y[i * n..(i + 1) * n]);
        mp.extend(std::iter::repeat_n(true, n));
        for _ in 0..extra {
            sp.push(rng.range(-50.0, 50.0));
            tp.push(rng.range(-50.0, 50.0));
            yp.push(4.0);
            mp.push(false);
        }
    }
    for name in NAMES {
        let plain = eval(name, &s, &t, &y, &mask, n, &d);
        let padded = eval(name, &sp, &tp, &yp, &mp, n + extra, &d);
        assert_rel(padded, plain, 1e-5, &format!("{name} with padding"));
    }
}

#[test]
fn an_all_padding_list_is_left_out_of_the_mean() {
    let d = device();
    let n = 5;
    let (s, t, y) = data(5, 2, n);
    let one_list = eval("coupled", &s[..n], &t[..n], &y[..n], &[true; 5], n, &d);
    let mut mask = vec![true; 2 * n];
    mask[n..].iter_mut().for_each(|m| *m = false);
    let with_empty = eval("coupled", &s, &t, &y, &mask, n, &d);
    assert_rel(with_empty, one_list, 1e-6, "an empty list does not count");
}

#[test]
fn permuting_slots_changes_nothing() {
    let d = device();
    let (b, n) = (2, 8);
    let (s, t, y) = data(7, b, n);
    let mut mask = vec![true; b * n];
    mask[n - 1] = false;
    mask[2 * n - 3] = false;
    let perm = [5usize, 2, 7, 0, 3, 6, 1, 4];
    let permute = |v: &[f32]| -> Vec<f32> {
        (0..b)
            .flat_map(|i| perm.iter().map(move |&j| v[i * n + j]))
            .collect()
    };
    let pm: Vec<bool> = (0..b)
        .flat_map(|i| perm.iter().map(|&j| mask[i * n + j]).collect::<Vec<_>>())
        .collect();
    for name in NAMES {
        let a = eval(name, &s, &t, &y, &mask, n, &d);
        let p = eval(name, &permute(&s), &permute(&t), &permute(&y), &pm, n, &d);
        assert_rel(p, a, 1e-5, &format!("{name} under a slot permutation"));
    }
}

#[test]
fn sorting_only_the_head_gives_the_full_sort_loss() {
    use rankdistil_loss::ListOrders;
    let d = device();
    let (b, n, k) = (3, 40, 5);
    let (s, t, _) = data(21, b, n);
    let mut mask = vec![true; b * n];
    mask[n - 3..n].iter_mut().for_each(|m| *m = false);
    let loss = CoupledRankDistilConfig::new()
        .with_k(k)
        .with_samples(0)
        .init();
    let full = ListOrders::teacher(&t, &mask, b, n);
    let head = ListOrders::teacher_top(&t, &mask, b, n, k);
    assert_ne!(full.slots(), head.slots(), "the tail is left unsorted");
    let a = vec2(loss.per_sample(t2(&s, b, n, &d), &full));
    let h = vec2(loss.per_sample(t2(&s, b, n, &d), &head));
    for (x, y) in a.iter().zip(&h) {
        assert_rel(*y, *x, 1e-5, "head-only order");
    }
    for i in 0..b {
        assert_eq!(
            full.slots()[i * n..i * n + k],
            head.slots()[i * n..i * n + k],
            "same top-k, same order"
        );
    }
}
