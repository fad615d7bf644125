#![allow(dead_code)]

use burn::prelude::*;
use burn::tensor::TensorData;

pub fn device() -> Device {
    #[allow(deprecated)] // ndarray, these tests' reference CPU backend
    Device::ndarray()
}

pub fn t2(values: &[f32], b: usize, n: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [b, n]), device)
}

pub fn m2(values: &[bool], b: usize, n: usize, device: &Device) -> Tensor<2, Bool> {
    Tensor::from_data(TensorData::new(values.to_vec(), [b, n]), device)
}

pub fn scalar(t: Tensor<1>) -> f64 {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()[0]
}

pub fn vec1(t: Tensor<1>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()
}

pub fn vec2(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()
}

pub fn assert_rel(actual: f64, expected: f64, tol: f64, what: &str) {
    let err = (actual - expected).abs() / expected.abs().max(1e-8);
    assert!(
        err <= tol || (actual - expected).abs() < 1e-7,
        "{what}: got {actual}, expected {expected} (relative error {err:.2e} > {tol:.0e})"
    );
}

/// A small deterministic generator for test data (no extra dependency on a seed API).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f32 {
        (lo + (hi - lo) * self.uniform()) as f32
    }
}

/// float64 reference: Σ_{i<k'} [log Σ_{j≥i} exp(x_j) − x_i] for `x` in target order.
pub fn reference_top_k_nll(x: &[f64], k: usize) -> f64 {
    let n = x.len();
    (0..k.min(n))
        .map(|i| {
            let m = x[i..].iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            m + x[i..].iter().map(|v| (v - m).exp()).sum::<f64>().ln() - x[i]
        })
        .sum()
}

/// Stable descending order, ties to the lower index.
pub fn order_desc(values: &[f64]) -> Vec<usize> {
    let mut o: Vec<usize> = (0..values.len()).collect();
    o.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    o
}

/// Asserts that the mean of `values`, independent draws of an estimator, is within 3 standard
/// errors of `exact`.
pub fn assert_unbiased(values: &[f64], exact: f64, what: &str) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let se = (var / n).sqrt();
    assert!(
        (mean - exact).abs() < 3.0 * se,
        "{what}: estimate {mean} ± {se} vs exact {exact}"
    );
}
