//! The kernel's forward and backward alone, on the reference MLP 136 → H → H → 1:
//! `cargo run --release -p rankdistil-cpu --example step_time -- ROWS H` prints the fastest
//! and the median of 20 steps.

use std::time::Instant;

use rankdistil_cpu::{Activation, Dense, DenseMlp, Workspace};

const FEATURES: usize = 136;

/// Deterministic values in [−0.5, 0.5), so runs compare without a random crate.
fn values(len: usize, stride: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * stride) % 997) as f32 / 997.0 - 0.5)
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = (std::env::args().skip(1))
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let [rows, h] = args[..] else {
        return Err("usage: step_time ROWS H".into());
    };
    let layer = |d_in: usize, d_out: usize| Dense {
        d_in,
        d_out,
        weight: values(d_in * d_out, 7919).iter().map(|w| w * 0.1).collect(),
        bias: vec![0.01; d_out],
    };
    let mlp = DenseMlp::new(
        vec![layer(FEATURES, h), layer(h, h)],
        layer(h, 1),
        Activation::Relu,
    )?;
    let x = values(rows * FEATURES, 31);
    let d_scores = vec![1e-3; rows];
    let (mut workspace, mut scores, mut grads) =
        (Workspace::new(), vec![0.0; rows], mlp.zeros_like());
    let mut ms = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        workspace.forward(&mlp, &x, &mut scores)?;
        workspace.backward(&mlp, &x, &d_scores, &mut grads)?;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{rows} rows, H = {h}: fastest {:.1} ms, median {:.1} ms",
        ms[0], ms[10]
    );
    Ok(())
}
