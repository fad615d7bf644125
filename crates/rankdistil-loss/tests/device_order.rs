//! The on-device teacher order (arg-top-k plus a masked tail) against the host sort.

mod common;

use common::*;
use rankdistil_loss::CoupledRankDistilConfig;

/// Lists of 40 slots with 40, 23, 7 (fewer than k), 1 and 0 valid items. Teacher scores are
/// distinct: under ties the device order depends on the backend's sort (CPU backends sort
/// unstably), while the host sort gives ties to the lower slot.
fn batch() -> (Vec<f32>, Vec<f32>, Vec<bool>, usize, usize) {
    let (b, n) = (5, 40);
    let counts = [40, 23, 7, 1, 0];
    let mut rng = Lcg(3);
    let teacher: Vec<f32> = (0..b * n)
        .map(|e| rng.range(-3.0, 3.0).round() + e as f32 * 1e-3)
        .collect();
    let student: Vec<f32> = (0..b * n).map(|_| rng.range(-4.0, 4.0)).collect();
    let mask: Vec<bool> = (0..b * n).map(|e| e % n < counts[e / n]).collect();
    (teacher, student, mask, b, n)
}

#[test]
fn device_order_matches_the_host_sort_in_value_and_gradient() {
    let (teacher, student, mask, b, n) = batch();
    let device = device().autodiff();
    for k in [1, 5, 10, 39, 40, 64] {
        let loss = CoupledRankDistilConfig::new()
            .with_k(k)
            .with_samples(0)
            .with_temperature(0.7)
            .init();
        let run = |on_device: bool| {
            let s = t2(&student, b, n, &device).require_grad();
            let t = t2(&teacher, b, n, &device);
            let m = m2(&mask, b, n, &device);
            let value = if on_device {
                loss.forward_device_order(s.clone(), t, m)
            } else {
                loss.forward(s.clone(), t, m)
            };
            let grads = value.backward();
            (
                scalar(value),
                vec2(s.grad(&grads).expect("student gradient")),
            )
        };
        let (host_value, host_grad) = run(false);
        let (device_value, device_grad) = run(true);
        assert!(host_value > 0.0, "k={k}: the loss should be positive");
        assert_rel(device_value, host_value, 1e-5, &format!("k={k}: loss"));
        for (i, (d, h)) in device_grad.iter().zip(&host_grad).enumerate() {
            assert!(
                (d - h).abs() <= 1e-5 * (1.0 + h.abs()),
                "k={k}: gradient of slot {i}: device order {d}, host order {h}"
            );
        }
        // Padded slots get no gradient.
        for (i, g) in device_grad.iter().enumerate() {
            if !mask[i] {
                assert_eq!(*g, 0.0, "k={k}: padded slot {i} has gradient {g}");
            }
        }
    }
}
