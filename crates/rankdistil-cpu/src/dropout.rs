//! Inverted dropout after a hidden activation, `y ← y · m / (1 − p)` with `m ~ Bernoulli(1 − p)`.
//!
//! Each mask bit is a hash of (stream, layer, row, column), so the masks need no generator
//! state: every tile on every thread draws its own, and a step replays exactly from its stream.
//! The backward pass needs no stored mask either: after a ReLU the output is 0 wherever the
//! mask dropped, and positive wherever it kept a positive activation.

use crate::simd::simd;

/// Where a tile's masks come from: the forward pass's stream and the tile's first row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MaskKey {
    pub stream: u64,
    pub first_row: u64,
}

/// Drops each value of `y` (`[rows, width]`) with probability `prob`, scaling the kept ones by
/// `1 / (1 − prob)`. `layer` tells the hidden layers' masks apart.
pub(crate) fn apply(y: &mut [f32], width: usize, prob: f32, layer: usize, key: MaskKey) {
    // Keep where the 32-bit hash is at or above prob · 2³².
    let threshold = (f64::from(prob) * 4_294_967_296.0).min(u32::MAX as f64) as u32;
    let scale = 1.0 / (1.0 - prob);
    let salt = fold(mix64(key.stream ^ mix64(layer as u64 + 1)));
    let columns: Vec<u32> = (0..width as u32)
        .map(|j| j.wrapping_mul(0x85EB_CA77) ^ salt)
        .collect();
    simd(|| {
        for (i, row) in y.chunks_exact_mut(width).enumerate() {
            let row_key = fold(mix64(key.first_row + i as u64));
            for (v, &c) in row.iter_mut().zip(&columns) {
                let keep = fmix32(row_key ^ c) >= threshold;
                *v = if keep { *v * scale } else { 0.0 };
            }
        }
    });
}

/// A stream for the `n`-th forward pass after seeding with `seed`.
pub(crate) fn stream(seed: u64, n: u64) -> u64 {
    mix64(seed ^ mix64(n.wrapping_add(0x9E37_79B9_7F4A_7C15)))
}

/// SplitMix64's finaliser.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fold(z: u64) -> u32 {
    (z ^ (z >> 32)) as u32
}

/// MurmurHash3's 32-bit finaliser: 32-bit multiplies, so the column loop vectorizes.
#[inline(always)]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::{MaskKey, apply};

    #[test]
    fn a_fifth_is_dropped_and_the_rest_scaled() {
        let (rows, width) = (400, 250);
        let mut y = vec![1.0f32; rows * width];
        let key = MaskKey {
            stream: 7,
            first_row: 0,
        };
        apply(&mut y, width, 0.2, 0, key);
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        assert!((dropped - 0.2).abs() < 0.005, "{dropped}");
        assert!(y.iter().all(|&v| v == 0.0 || v == 1.25));
        // The mean is kept: Σ y / n ≈ 1.
        let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64;
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
    }

    #[test]
    fn masks_depend_on_the_row_not_on_the_tiling() {
        let width = 8;
        let key = |first_row| MaskKey {
            stream: 3,
            first_row,
        };
        let mut whole = vec![1.0f32; 10 * width];
        apply(&mut whole, width, 0.5, 1, key(100));
        let mut tail = vec![1.0f32; 4 * width];
        apply(&mut tail, width, 0.5, 1, key(106));
        assert_eq!(&whole[6 * width..], &tail[..]);
        let mut other_layer = vec![1.0f32; 10 * width];
        apply(&mut other_layer, width, 0.5, 2, key(100));
        assert_ne!(whole, other_layer);
    }
}
