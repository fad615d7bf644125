//! One tile of rows through every layer, forward or backward. Everything a tile touches (its
//! rows of each layer, the scratch, the weights) fits in one core's L2 cache.

use crate::dense::DenseMlp;
use crate::dropout::{self, MaskKey};
use crate::matmul::{View, matmul};
use crate::simd::simd;

/// Rows per tile: a `[TILE, 256]` activation is 256 KiB.
pub(crate) const TILE: usize = 256;

/// Scores `t` rows, saving each hidden layer's activations (after dropout, where the network
/// has it, with masks from `key`) for the backward pass.
///
/// - `x`: `[t, F]`
/// - `saved[l]`: `[t, h_l]`, written
/// - `scores`: `[t]`, written
pub(crate) fn forward(
    mlp: &DenseMlp,
    x: &[f32],
    saved: &mut [&mut [f32]],
    scores: &mut [f32],
    key: MaskKey,
) {
    let t = scores.len();
    for (l, layer) in mlp.hidden().iter().enumerate() {
        let (done, rest) = saved.split_at_mut(l);
        let input = done.last().map_or(x, |prev| &prev[..]);
        let out = &mut rest[0][..t * layer.d_out]; // [t, h_l]
        let weight = View::row_major(&layer.weight, layer.d_in, layer.d_out);
        matmul(out, View::row_major(input, t, layer.d_in), weight, false);
        mlp.activation().apply_with_bias(out, &layer.bias);
        if mlp.dropout() > 0.0 {
            dropout::apply(out, layer.d_out, mlp.dropout(), l, key);
        }
    }
    let output = mlp.output();
    let last = saved.last().map_or(x, |s| &s[..]); // [t, h_L]
    simd(|| {
        for (s, row) in scores.iter_mut().zip(last.chunks_exact(output.d_in)) {
            *s = dot(row, &output.weight) + output.bias[0];
        }
    });
}

/// Adds to `grads` the parameter gradients of `Σ_i d_scores[i] · s_i` over `t` rows.
///
/// - `x`: `[t, F]`
/// - `saved[l]`: `[t, h_l]`, as [`forward`] wrote them
/// - `d_scores`: `[t]`
/// - `scratch`: two buffers of at least `t · widest` values
pub(crate) fn backward(
    mlp: &DenseMlp,
    x: &[f32],
    saved: &[&[f32]],
    d_scores: &[f32],
    grads: &mut DenseMlp,
    scratch: [&mut [f32]; 2],
) {
    let t = d_scores.len();
    let output = mlp.output();
    let last = saved.last().map_or(x, |s| *s); // [t, h_L]
    let g_output = grads.output_mut();
    simd(|| {
        for (row, &d) in last.chunks_exact(output.d_in).zip(d_scores) {
            axpy(d, row, &mut g_output.weight);
        }
    });
    g_output.bias[0] += d_scores.iter().sum::<f32>();
    let Some(top) = saved.last() else {
        return;
    };
    let [mut g, mut spare] = scratch;
    // ∂/∂(last hidden pre-activation): d_i · w_out, through the activation. [t, h_L]
    let width = output.d_in;
    simd(|| {
        for (row, &d) in g[..t * width].chunks_exact_mut(width).zip(d_scores) {
            row.iter_mut()
                .zip(&output.weight)
                .for_each(|(r, &w)| *r = d * w);
        }
    });
    mlp.activation()
        .backprop(&mut g[..t * width], &top[..t * width], mlp.dropout_scale());
    for (l, layer) in mlp.hidden().iter().enumerate().rev() {
        let input = if l == 0 { x } else { saved[l - 1] }; // [t, d_in]
        let g_now = &g[..t * layer.d_out]; // [t, d_out]
        let g_layer = &mut grads.hidden_mut()[l];
        let input_t = View::row_major(input, t, layer.d_in).t();
        matmul(
            &mut g_layer.weight,
            input_t,
            View::row_major(g_now, t, layer.d_out),
            true,
        );
        simd(|| {
            for row in g_now.chunks_exact(layer.d_out) {
                axpy(1.0, row, &mut g_layer.bias);
            }
        });
        if l > 0 {
            let g_below = &mut spare[..t * layer.d_in]; // [t, d_in]
            let weight_t = View::row_major(&layer.weight, layer.d_in, layer.d_out).t();
            matmul(
                g_below,
                View::row_major(g_now, t, layer.d_out),
                weight_t,
                false,
            );
            mlp.activation().backprop(
                g_below,
                &saved[l - 1][..t * layer.d_in],
                mlp.dropout_scale(),
            );
            std::mem::swap(&mut g, &mut spare);
        }
    }
}

/// `a · b`, in 16 independent sums so the compiler can keep them in one vector register.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let (a, b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = (a.remainder().iter().zip(b.remainder()))
        .map(|(x, y)| x * y)
        .sum();
    let mut sums = [0.0f32; LANES];
    for (x, y) in a.zip(b) {
        for i in 0..LANES {
            sums[i] += x[i] * y[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// `y ← y + a·x`.
#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x);
}
