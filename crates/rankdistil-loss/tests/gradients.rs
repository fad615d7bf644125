//! Central finite differences against Burn's autodiff gradient, for every loss (docs/LOSSES.md, "The tests that pin them").

mod common;

use burn::prelude::*;
use common::*;
use rankdistil_loss::*;

const B: usize = 2;
const N: usize = 6;

struct Case {
    teacher: Vec<f32>,
    labels: Vec<f32>,
    mask: Vec<bool>,
    student: Vec<f32>,
}

fn case() -> Case {
    let mut rng = Lcg(11);
    let mask = vec![
        true, true, true, true, true, false, //
        true, true, true, true, false, false,
    ];
    Case {
        teacher: (0..B * N).map(|_| rng.range(-2.0, 2.0)).collect(),
        // Distinct labels so ListMLE's order has no random tie-breaks.
        labels: vec![3.0, 0.0, 1.0, 2.0, 4.0, 0.0, 1.0, 0.0, 2.0, 3.0, 0.0, 0.0],
        mask,
        student: (0..B * N).map(|_| rng.range(-1.5, 1.5)).collect(),
    }
}

type LossFn = Box<dyn Fn(Tensor<2>, &Case, &Device) -> Tensor<1>>;

/// RankDistil: coupled (host and device orders), decoupled and pairwise.
fn rankdistil_losses() -> Vec<(&'static str, LossFn)> {
    let coupled = |samples: usize, k: usize, tau: f64| -> LossFn {
        Box::new(move |s, c: &Case, d| {
            let loss = CoupledRankDistilConfig::new()
                .with_k(k)
                .with_samples(samples)
                .with_temperature(tau)
                .with_seed(5)
                .init();
            loss.forward(s, t2(&c.teacher, B, N, d), m2(&c.mask, B, N, d))
        })
    };
    let device_order = |k: usize| -> LossFn {
        Box::new(move |s, c: &Case, d| {
            CoupledRankDistilConfig::new()
                .with_k(k)
                .with_samples(0)
                .with_temperature(0.8)
                .init()
                .forward_device_order(s, t2(&c.teacher, B, N, d), m2(&c.mask, B, N, d))
        })
    };
    vec![
        ("coupled S=0", coupled(0, 3, 1.0)),
        ("coupled, device top-k order", device_order(3)),
        ("coupled, device full order", device_order(N)),
        ("coupled S=4 tau=0.5", coupled(4, 3, 0.5)),
        (
            "decoupled",
            Box::new(|s, c, d| {
                DecoupledRankDistilConfig::new().with_p(2).init().forward(
                    s,
                    t2(&c.teacher, B, N, d),
                    m2(&c.mask, B, N, d),
                )
            }),
        ),
        (
            "pairwise",
            Box::new(|s, c, d| {
                PairwiseRankDistilConfig::new()
                    .with_p(2)
                    .with_temperature(0.7)
                    .init()
                    .forward(s, t2(&c.teacher, B, N, d), m2(&c.mask, B, N, d))
            }),
        ),
    ]
}

/// The baselines RankDistil is compared with.
fn baseline_losses() -> Vec<(&'static str, LossFn)> {
    vec![
        (
            "softmax_kd",
            Box::new(|s, c, d| {
                SoftmaxKdConfig::new().with_temperature(0.8).init().forward(
                    s,
                    t2(&c.teacher, B, N, d),
                    m2(&c.mask, B, N, d),
                )
            }),
        ),
        (
            "mse",
            Box::new(|s, c, d| {
                MseKd::new().forward(s, t2(&c.teacher, B, N, d), m2(&c.mask, B, N, d))
            }),
        ),
        (
            "ranknet_kd",
            Box::new(|s, c, d| {
                RankNetKd::new().forward(s, t2(&c.teacher, B, N, d), m2(&c.mask, B, N, d))
            }),
        ),
        (
            "listmle_kd",
            Box::new(|s, c, d| {
                ListMleKdConfig::new().init().forward(
                    s,
                    t2(&c.teacher, B, N, d),
                    m2(&c.mask, B, N, d),
                )
            }),
        ),
        (
            "rd",
            Box::new(|s, c, d| {
                RankingDistillationConfig::new().with_k(3).init().forward(
                    s,
                    t2(&c.teacher, B, N, d),
                    t2(&c.labels, B, N, d),
                    m2(&c.mask, B, N, d),
                )
            }),
        ),
    ]
}

/// The baselines held to their authors' code (`tests/baselines.rs`).
fn reference_baselines() -> Vec<(&'static str, LossFn)> {
    vec![
        (
            "margin_mse",
            Box::new(|s, c, d| {
                MarginMseConfig::new().init().forward(
                    s,
                    t2(&c.teacher, B, N, d),
                    m2(&c.mask, B, N, d),
                )
            }),
        ),
        (
            "margin_mse, sampled pairs",
            // A fresh loss each call draws the same pairs.
            Box::new(|s, c, d| {
                MarginMseConfig::new().with_pairs(5).init().forward(
                    s,
                    t2(&c.teacher, B, N, d),
                    m2(&c.mask, B, N, d),
                )
            }),
        ),
        (
            "cd",
            Box::new(|s, c, d| {
                CollaborativeDistillationConfig::new().init().forward(
                    s,
                    t2(&c.teacher, B, N, d),
                    m2(&c.mask, B, N, d),
                )
            }),
        ),
        (
            "adr_mse",
            Box::new(|s, c, d| {
                AdrMseConfig::new().with_temperature(0.7).init().forward(
                    s,
                    t2(&c.teacher, B, N, d),
                    m2(&c.mask, B, N, d),
                )
            }),
        ),
        (
            "rrd",
            Box::new(|s, c, d| {
                RelaxedRankingDistillationConfig::new()
                    .with_k(2)
                    .with_top_n(3)
                    .with_negatives(1)
                    .init()
                    .forward(s, t2(&c.teacher, B, N, d), m2(&c.mask, B, N, d))
            }),
        ),
    ]
}

/// The label losses and the mixed objective.
fn label_losses() -> Vec<(&'static str, LossFn)> {
    vec![
        (
            "softmax_ce",
            Box::new(|s, c, d| {
                SoftmaxCe::new().forward(s, t2(&c.labels, B, N, d), m2(&c.mask, B, N, d))
            }),
        ),
        (
            "sampled softmax_ce (label-0 slots drawn, per-column shifts)",
            Box::new(|s, c, d| {
                SampledSoftmaxCeConfig::new(4).init().forward(
                    s,
                    t2(&c.labels, B, N, d),
                    m2(&c.mask, B, N, d),
                    t2(&[0.7, -0.3, 1.1, 0.0, 2.0, 0.5], 1, N, d),
                )
            }),
        ),
        (
            "listmle",
            Box::new(|s, c, d| {
                ListMleConfig::new()
                    .init()
                    .forward(s, t2(&c.labels, B, N, d), m2(&c.mask, B, N, d))
            }),
        ),
        (
            "ranknet",
            Box::new(|s, c, d| {
                RankNet::new().forward(s, t2(&c.labels, B, N, d), m2(&c.mask, B, N, d))
            }),
        ),
        (
            "sampled (2 top + negatives, log-q shift)",
            Box::new(|s, c, _d| {
                let loss = SampledRankDistilConfig::new()
                    .with_k(2)
                    .with_p(2)
                    .with_m(3)
                    .init();
                let candidates: Vec<Candidates> = (0..B)
                    .map(|b| Candidates {
                        items: (0..c.mask[b * N..(b + 1) * N].iter().filter(|&&m| m).count()
                            as u32)
                            .collect(),
                        top: 2,
                        negative_shifts: vec![0.7, -0.2, 1.3, 0.4],
                    })
                    .collect();
                loss.forward(s, &c.teacher, &candidates)
            }),
        ),
        (
            "mixed coupled + softmax_ce",
            Box::new(|s, c, _d| {
                let coupled = CoupledRankDistilConfig::new().with_k(3).with_seed(0).init();
                let objective = Objective {
                    distill: Some(Box::new(coupled)),
                    label: LabelLoss::new(LabelLossKind::SoftmaxCe, 0),
                    alpha: 0.3,
                };
                let targets = HostTargets {
                    batch: B,
                    len: N,
                    mask: &c.mask,
                    labels: &c.labels,
                    teacher: Some(&c.teacher),
                    device: None,
                };
                objective.reseed(0);
                objective.forward(s, &targets)
            }),
        ),
    ]
}

#[test]
fn autodiff_matches_central_differences() {
    let c = case();
    let plain = device();
    let ad = plain.clone().autodiff();
    let eps = 1e-2f32;
    let all = rankdistil_losses()
        .into_iter()
        .chain(baseline_losses())
        .chain(reference_baselines())
        .chain(label_losses());
    for (name, loss) in all {
        let s = t2(&c.student, B, N, &ad).require_grad();
        let value = loss(s.clone(), &c, &ad);
        let grads = value.backward();
        let analytic = vec2(s.grad(&grads).expect("student gradient"));
        let f = |x: &[f32]| scalar(loss(t2(x, B, N, &plain), &c, &plain));
        let mut worst = 0.0f64;
        for i in 0..B * N {
            let mut up = c.student.clone();
            let mut down = c.student.clone();
            up[i] += eps;
            down[i] -= eps;
            let numeric = (f(&up) - f(&down)) / (2.0 * eps as f64);
            let err = (numeric - analytic[i]).abs() / (1.0 + numeric.abs());
            worst = worst.max(err);
            assert!(
                err < 5e-3,
                "{name}: slot {i}: autodiff {} vs finite difference {numeric}",
                analytic[i]
            );
            if !c.mask[i] {
                assert_eq!(
                    analytic[i], 0.0,
                    "{name}: padded slot {i} must get no gradient"
                );
            }
        }
        assert!(
            analytic.iter().any(|g| g.abs() > 1e-4),
            "{name}: gradient is all zero"
        );
        eprintln!("{name}: worst relative error {worst:.2e}");
    }
}
