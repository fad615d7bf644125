//! Safe matrix products over strided views of slices, through the `gemm` crate.

/// A read-only `rows × cols` matrix in `data`, element `(i, j)` at `i·row_stride + j·col_stride`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> View<'a> {
    /// The first `rows · cols` values of `data`, row-major.
    pub(crate) fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "a view past its slice");
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, without a copy.
    pub(crate) fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// `dst ← a·b`, or `dst ← dst + a·b` when `accumulate`; `dst` is row-major `[a.rows, b.cols]`.
pub(crate) fn matmul(dst: &mut [f32], a: View, b: View, accumulate: bool) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    assert!(dst.len() >= m * n, "a product past its destination");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    // SAFETY: every view's largest offset, (rows−1)·row_stride + (cols−1)·col_stride, is below
    // its slice's length (`row_major` checks it and `t` keeps it), `dst` holds m·n values, and
    // `dst` is a unique borrow, so it overlaps neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{View, matmul};

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        (0..cols * rows)
            .map(|e| x[(e % rows) * cols + e / rows])
            .collect()
    }

    #[test]
    fn products_of_transposed_views_match_the_naive_ones() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|v| (v as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|v| (v as f32 * 0.91).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let at = transpose(&a, m, k); // [k, m]
        let bt = transpose(&b, k, n); // [n, k]
        for (lhs, rhs) in [
            (View::row_major(&a, m, k), View::row_major(&b, k, n)),
            (View::row_major(&at, k, m).t(), View::row_major(&b, k, n)),
            (View::row_major(&a, m, k), View::row_major(&bt, n, k).t()),
        ] {
            let mut c = vec![1.0; m * n];
            matmul(&mut c, lhs, rhs, false);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
            matmul(&mut c, lhs, rhs, true);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - 2.0 * y).abs() < 1e-5, "{x} vs {}", 2.0 * y);
            }
        }
    }

    #[test]
    fn an_empty_inner_dimension_gives_zeros_or_leaves_the_sum() {
        let (a, b) = (View::row_major(&[], 2, 0), View::row_major(&[], 0, 2));
        let mut c = vec![3.0; 4];
        matmul(&mut c, a, b, true);
        assert_eq!(c, [3.0; 4]);
        matmul(&mut c, a, b, false);
        assert_eq!(c, [0.0; 4]);
    }
}
