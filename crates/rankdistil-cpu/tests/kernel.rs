//! The kernel against a plain f64 network: scores, gradients by central finite differences,
//! and the errors it returns.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rankdistil_cpu::{Activation, Dense, DenseMlp, KernelError, Workspace};

fn layer(rng: &mut StdRng, d_in: usize, d_out: usize) -> Dense {
    let scale = (1.0 / d_in as f32).sqrt();
    Dense {
        d_in,
        d_out,
        weight: (0..d_in * d_out)
            .map(|_| rng.random_range(-scale..scale))
            .collect(),
        bias: (0..d_out).map(|_| rng.random_range(-0.3..0.3)).collect(),
    }
}

fn network(seed: u64, widths: &[usize], activation: Activation) -> DenseMlp {
    let mut rng = StdRng::seed_from_u64(seed);
    let hidden = widths
        .windows(2)
        .map(|w| layer(&mut rng, w[0], w[1]))
        .collect();
    let output = layer(&mut rng, *widths.last().unwrap(), 1);
    DenseMlp::new(hidden, output, activation).unwrap()
}

fn values(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// Every layer's parameters, weights then bias, flattened.
fn params(mlp: &DenseMlp) -> Vec<f32> {
    (mlp.hidden().iter().chain([mlp.output()]))
        .flat_map(|l| l.weight.iter().chain(&l.bias).copied())
        .collect()
}

/// `Σ_i c_i s_i` in f64, with the parameters replaced by `theta`.
fn weighted_sum(mlp: &DenseMlp, theta: &[f64], x: &[f32], c: &[f32]) -> f64 {
    let act = |v: f64| match mlp.activation() {
        Activation::Relu => v.max(0.0),
        Activation::Tanh => v.tanh(),
    };
    let layers: Vec<&Dense> = mlp.hidden().iter().chain([mlp.output()]).collect();
    let f = mlp.d_input();
    let mut total = 0.0;
    for (row, &ci) in x.chunks_exact(f).zip(c) {
        let mut h: Vec<f64> = row.iter().map(|&v| v as f64).collect();
        let mut offset = 0;
        for (i, l) in layers.iter().enumerate() {
            let w = &theta[offset..offset + l.d_in * l.d_out];
            let b = &theta[offset + l.d_in * l.d_out..offset + (l.d_in + 1) * l.d_out];
            offset += (l.d_in + 1) * l.d_out;
            let mut out: Vec<f64> = b.to_vec();
            for (p, &hp) in h.iter().enumerate() {
                for (j, o) in out.iter_mut().enumerate() {
                    *o += hp * w[p * l.d_out + j];
                }
            }
            if i + 1 < layers.len() {
                out.iter_mut().for_each(|v| *v = act(*v));
            }
            h = out;
        }
        total += ci as f64 * h[0];
    }
    total
}

/// The largest `|got − fd| / (1 + |fd|)` over the parameters, with `fd` the central difference
/// of `value` at `theta` with step `eps`.
fn worst_fd_error(
    got: &[f32],
    theta: &[f64],
    eps: f64,
    mut value: impl FnMut(&[f64]) -> f64,
) -> f64 {
    let mut worst = 0.0f64;
    for k in 0..theta.len() {
        let mut up = theta.to_vec();
        up[k] += eps;
        let mut down = theta.to_vec();
        down[k] -= eps;
        let fd = (value(&up) - value(&down)) / (2.0 * eps);
        worst = worst.max((f64::from(got[k]) - fd).abs() / (1.0 + fd.abs()));
    }
    worst
}

#[test]
fn scores_match_a_plain_f64_network() {
    for (widths, rows, activation) in [
        (vec![7, 5, 6], 3, Activation::Relu),
        (vec![7, 5, 6], 700, Activation::Tanh),
        (vec![9], 300, Activation::Relu),
        (vec![4, 300], 513, Activation::Relu),
    ] {
        let mlp = network(1, &widths, activation);
        let x = values(2, rows * widths[0]);
        let mut scores = vec![0.0; rows];
        Workspace::new().forward(&mlp, &x, &mut scores).unwrap();
        let theta: Vec<f64> = params(&mlp).iter().map(|&v| v as f64).collect();
        for (i, &s) in scores.iter().enumerate() {
            let mut c = vec![0.0; rows];
            c[i] = 1.0;
            let want = weighted_sum(&mlp, &theta, &x, &c);
            assert!(
                (s as f64 - want).abs() < 1e-5,
                "{widths:?} row {i}: {s} vs {want}"
            );
        }
    }
}

#[test]
fn gradients_match_central_finite_differences() {
    for (widths, rows, activation) in [
        (vec![6, 5, 4], 600, Activation::Tanh),
        (vec![6, 5, 4], 37, Activation::Relu),
        (vec![3], 50, Activation::Tanh),
    ] {
        let mlp = network(3, &widths, activation);
        let x = values(4, rows * widths[0]);
        let c = values(5, rows);
        let mut workspace = Workspace::new();
        let mut scores = vec![0.0; rows];
        workspace.forward(&mlp, &x, &mut scores).unwrap();
        let mut grads = mlp.zeros_like();
        workspace.backward(&mlp, &x, &c, &mut grads).unwrap();
        let got = params(&grads);
        let theta: Vec<f64> = params(&mlp).iter().map(|&v| v as f64).collect();
        let worst = worst_fd_error(&got, &theta, 1e-6, |t| weighted_sum(&mlp, t, &x, &c));
        assert!(
            worst < 1e-4,
            "{widths:?}, {rows} rows: worst relative error {worst}"
        );
    }
}

#[test]
fn backward_adds_to_the_sums_it_is_given() {
    let mlp = network(6, &[5, 4], Activation::Relu);
    let x = values(7, 40 * 5);
    let c = values(8, 40);
    let mut workspace = Workspace::new();
    workspace.forward(&mlp, &x, &mut [0.0; 40]).unwrap();
    let mut once = mlp.zeros_like();
    workspace.backward(&mlp, &x, &c, &mut once).unwrap();
    let mut twice = once.clone();
    workspace.backward(&mlp, &x, &c, &mut twice).unwrap();
    for (a, b) in params(&once).iter().zip(params(&twice)) {
        assert!((2.0 * a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{a} {b}");
    }
}

#[test]
fn bad_calls_are_refused_with_the_reason() {
    let mlp = network(9, &[5, 4], Activation::Relu);
    let mut workspace = Workspace::new();
    let err = workspace
        .forward(&mlp, &[0.0; 9], &mut [0.0; 2])
        .unwrap_err();
    assert_eq!(err.to_string(), "features: expected 10 values, got 9");
    let mut grads = mlp.zeros_like();
    let err = (workspace.backward(&mlp, &[0.0; 10], &[0.0; 2], &mut grads)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "backward over 2 rows without a forward of the same rows and network"
    );
    let bad = DenseMlp::new(
        vec![Dense::zeros(5, 4)],
        Dense::zeros(3, 1),
        Activation::Relu,
    );
    assert_eq!(
        bad.unwrap_err().to_string(),
        "MLP layer 1: takes 3 inputs, after a layer of 4"
    );
    let wide = DenseMlp::new(Vec::new(), Dense::zeros(3, 2), Activation::Relu);
    assert_eq!(
        wide.unwrap_err(),
        KernelError::Shape {
            layer: 0,
            reason: "the output layer has width 2, not 1".into()
        }
    );
}

/// `mlp` with its parameters replaced by `theta` (laid out as [`params`]).
fn with_params(mlp: &DenseMlp, theta: &[f32]) -> DenseMlp {
    let mut offset = 0;
    let mut take = |l: &Dense| {
        let w = l.d_in * l.d_out;
        let layer = Dense {
            weight: theta[offset..offset + w].to_vec(),
            bias: theta[offset + w..offset + w + l.d_out].to_vec(),
            ..l.clone()
        };
        offset += w + l.d_out;
        layer
    };
    let hidden = mlp.hidden().iter().map(&mut take).collect();
    let output = take(mlp.output());
    (DenseMlp::new(hidden, output, mlp.activation()).unwrap())
        .with_dropout(mlp.dropout())
        .unwrap()
}

#[test]
fn dropout_gradients_match_finite_differences_under_the_same_masks() {
    let mlp = network(10, &[6, 9, 7], Activation::Relu)
        .with_dropout(0.3)
        .unwrap();
    let rows = 300;
    let x = values(11, rows * 6);
    let c = values(12, rows);
    let mut workspace = Workspace::new();
    let weighted = |workspace: &mut Workspace, mlp: &DenseMlp| {
        workspace.reseed(5);
        let mut scores = vec![0.0; rows];
        workspace.forward(mlp, &x, &mut scores).unwrap();
        (scores.iter().zip(&c))
            .map(|(s, c)| f64::from(s * c))
            .sum::<f64>()
    };
    weighted(&mut workspace, &mlp);
    let mut grads = mlp.zeros_like();
    workspace.backward(&mlp, &x, &c, &mut grads).unwrap();
    let got = params(&grads);
    let theta: Vec<f64> = params(&mlp).iter().map(|&v| f64::from(v)).collect();
    // Small enough that few ReLU kinks fall inside a step, large enough for f32 scores.
    let worst = worst_fd_error(&got, &theta, 1e-4, |t| {
        let t: Vec<f32> = t.iter().map(|&v| v as f32).collect();
        weighted(&mut workspace, &with_params(&mlp, &t))
    });
    // Without the mask or the 1/(1 − p) in the backward pass, errors are of order 1.
    assert!(worst < 2e-2, "worst relative error {worst}");
    // The masks drop units: the no-dropout network scores differently.
    let plain = with_params(&mlp, &params(&mlp)).with_dropout(0.0).unwrap();
    assert!((weighted(&mut workspace, &plain) - weighted(&mut workspace, &mlp)).abs() > 1e-3);
}

#[test]
fn dropout_is_refused_where_the_kernel_cannot_run_it() {
    let tanh = network(13, &[4, 3], Activation::Tanh);
    assert_eq!(
        tanh.with_dropout(0.1).unwrap_err().to_string(),
        "dropout: only after ReLU, not Tanh"
    );
    let relu = network(13, &[4, 3], Activation::Relu);
    assert_eq!(
        relu.with_dropout(1.0).unwrap_err().to_string(),
        "dropout: probability 1 is not in [0, 1)"
    );
}
