//! The kernels, one thread per order: the forward's reverse log-sum-exp pass and the
//! backward's slot-space gradient row. A row of the backward is a permutation, so no two
//! threads write one element and no zero fill is needed.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::Shape;
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::calculate_cube_count_elemwise;
use cubecl::ir::ElemType;
use cubecl::prelude::*;

use super::PlackettLuceKernels;

/// Logit of an empty running sum: `exp(NEG − x)` is 0 for any real `x`.
const NEG: f32 = -1.0e30;

/// Where order `r` reads: the offsets of its list's scores and of its own slot row, its list's
/// valid items and `k' = min(head, count)`.
#[derive(CubeType)]
struct OrderRow {
    list: usize,
    order: usize,
    count: usize,
    k: usize,
}

#[cube]
fn order_row<I: Numeric>(
    counts: &Tensor<I>,
    r: usize,
    n_slots: usize,
    samples: u32,
    head: usize,
) -> OrderRow {
    let b = r / samples as usize;
    let count = u32::cast_from(counts[b]) as usize;
    OrderRow {
        list: b * n_slots,
        order: r * n_slots,
        count,
        k: if count < head { count } else { head },
    }
}

#[cube(launch)]
fn forward_kernel<F: Float, I: Numeric>(
    scores: &Tensor<F>,  // [B, N]
    index: &Tensor<I>,   // [B, S·N]
    counts: &Tensor<I>,  // [B]
    nll: &mut Tensor<F>, // [B·S]
    lse: &mut Tensor<F>, // [B·S, head]
    rows: u32,
    samples: u32,
    head: u32,
    inv_tau: InputScalar,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let r = ABSOLUTE_POS;
    if r >= rows as usize {
        terminate!();
    }
    let head = head as usize;
    let row = order_row::<I>(counts, r, scores.stride(0), samples, head);
    let (list, order, count, k) = (row.list, row.order, row.count, row.k);
    let tau = inv_tau.get::<F>();
    let mut m = F::new(NEG);
    let mut sum = F::new(0.0);
    let mut total = F::new(0.0);
    for t in 0..count {
        let p = count - 1 - t;
        let x = scores[list + u32::cast_from(index[order + p]) as usize] * tau;
        if x > m {
            sum = sum * (m - x).exp() + F::new(1.0);
            m = x;
        } else {
            sum += (x - m).exp();
        }
        if p < k {
            let l = m + sum.ln();
            lse[r * head + p] = l;
            total += l - x;
        }
    }
    for p in k..head {
        lse[r * head + p] = F::new(0.0);
    }
    nll[r] = total;
}

#[cube(launch)]
fn backward_kernel<F: Float, I: Numeric>(
    scores: &Tensor<F>,  // [B, N]
    index: &Tensor<I>,   // [B, S·N]
    counts: &Tensor<I>,  // [B]
    lse: &Tensor<F>,     // [B·S, head]
    grad: &Tensor<F>,    // [B·S]
    out: &mut Tensor<F>, // [B·S, N]
    rows: u32,
    samples: u32,
    head: u32,
    inv_tau: InputScalar,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let r = ABSOLUTE_POS;
    if r >= rows as usize {
        terminate!();
    }
    let n_slots = scores.stride(0);
    let head = head as usize;
    let row = order_row::<I>(counts, r, n_slots, samples, head);
    let (list, order, count, k) = (row.list, row.order, row.count, row.k);
    let tau = inv_tau.get::<F>();
    let g = grad[r] * tau;
    for p in 0..n_slots {
        let slot = u32::cast_from(index[order + p]) as usize;
        let mut d = F::new(0.0);
        if p < count {
            let x = scores[list + slot] * tau;
            let upto = if p < k { p + 1 } else { k };
            for i in 0..upto {
                d += (x - lse[r * head + i]).exp();
            }
            if p < k {
                d -= F::new(1.0);
            }
        }
        out[order + slot] = d * g;
    }
}

/// What both launches share: one thread per order over `rows` orders, the element types and
/// the scalars.
struct OrderLaunch {
    count: CubeCount,
    dim: CubeDim,
    rows: u32,
    samples: u32,
    head: u32,
    inv_tau: InputScalar,
    types: [ElemType; 2],
}

impl OrderLaunch {
    fn new(
        scores: &CubeTensor,
        index: &CubeTensor,
        samples: usize,
        head: usize,
        inv_tau: f32,
    ) -> Self {
        let rows = scores.shape()[0] * samples;
        let dim = CubeDim::new(&scores.client, rows);
        let float = dtype_to_storage_type(scores.dtype);
        Self {
            count: calculate_cube_count_elemwise(&scores.client, rows, dim),
            dim,
            rows: rows as u32,
            samples: samples as u32,
            head: head as u32,
            inv_tau: InputScalar::new(inv_tau, float),
            types: [float, dtype_to_storage_type(index.dtype)],
        }
    }
}

/// An uninitialised tensor of `shape` on `like`'s device, with its element type.
fn empty_like(like: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_dtype(like.client.clone(), like.device.clone(), shape, like.dtype)
}

impl PlackettLuceKernels for CubeBackend {
    fn ordered_top_k_nll(
        scores: FloatTensor<Self>,
        index: IntTensor<Self>,
        counts: IntTensor<Self>,
        samples: usize,
        head: usize,
        inv_tau: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (scores, index, counts) = (
            into_contiguous(scores),
            into_contiguous(index),
            into_contiguous(counts),
        );
        let launch = OrderLaunch::new(&scores, &index, samples, head, inv_tau);
        let rows = launch.rows as usize;
        let nll = empty_like(&scores, Shape::new([rows]));
        let lse = empty_like(&scores, Shape::new([rows, head]));
        forward_kernel::launch(
            &scores.client.clone(),
            launch.count,
            launch.dim,
            scores.into_tensor_arg(),
            index.into_tensor_arg(),
            counts.into_tensor_arg(),
            nll.clone().into_tensor_arg(),
            lse.clone().into_tensor_arg(),
            launch.rows,
            launch.samples,
            launch.head,
            launch.inv_tau,
            launch.types,
        );
        (nll, lse)
    }

    fn ordered_top_k_nll_backward(
        scores: FloatTensor<Self>,
        index: IntTensor<Self>,
        counts: IntTensor<Self>,
        lse: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        samples: usize,
        head: usize,
        inv_tau: f32,
    ) -> FloatTensor<Self> {
        let (scores, index, counts, lse, grad) = (
            into_contiguous(scores),
            into_contiguous(index),
            into_contiguous(counts),
            into_contiguous(lse),
            into_contiguous(grad),
        );
        let launch = OrderLaunch::new(&scores, &index, samples, head, inv_tau);
        let n = scores.shape()[1];
        let out = empty_like(&scores, Shape::new([launch.rows as usize, n]));
        backward_kernel::launch(
            &scores.client.clone(),
            launch.count,
            launch.dim,
            scores.into_tensor_arg(),
            index.into_tensor_arg(),
            counts.into_tensor_arg(),
            lse.into_tensor_arg(),
            grad.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            launch.rows,
            launch.samples,
            launch.head,
            launch.inv_tau,
            launch.types,
        );
        out
    }
}
