//! The kernels. The forward runs one workgroup of [`WORKGROUP`] threads per order: each thread
//! takes a contiguous chunk of at most ⌈N / WORKGROUP⌉ of the order's positions, and the chunks
//! meet through shared-memory scans of log₂(WORKGROUP) steps. No thread loops over more than
//! ⌈N / WORKGROUP⌉ items in a pass (five: its chunk's sum, the head's lse back through it, two for
//! `P`, and zeros past k') or more than log₂(WORKGROUP) steps in a scan (three scans). The backward
//! runs one thread per (order, slot) and loops over nothing. A row of the backward is a
//! permutation, so no two threads write one element and no zero fill is needed.

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

/// Threads per order in the forward: a power of two.
const WORKGROUP: usize = 128;

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

/// A log-sum-exp in progress, `m + ln s`, with a running max `m` so that extreme logits stay
/// finite; `(NEG, 0)` is the empty sum.
#[derive(CubeType)]
struct Lse<F: Float> {
    m: F,
    s: F,
}

/// The sums `(am, as_)` and `(bm, bs)` together.
#[cube]
fn lse_merge<F: Float>(am: F, as_: F, bm: F, bs: F) -> Lse<F> {
    let m = if am > bm { am } else { bm };
    Lse::<F> {
        m,
        s: as_ * (am - m).exp() + bs * (bm - m).exp(),
    }
}

/// The sum of the log-sum-exps `(m, s)` of the threads after this one, by an inclusive scan
/// towards lower threads in `shared` (`m` then `s`, `workgroup` each).
#[cube]
fn later_threads<F: Float>(
    m: F,
    s: F,
    shared: &mut Shared<[F]>,
    t: usize,
    #[comptime] workgroup: usize,
) -> Lse<F> {
    let mut acc_m = m;
    let mut acc_s = s;
    shared[t] = acc_m;
    shared[workgroup + t] = acc_s;
    sync_cube();
    for step in 0..comptime!(workgroup.trailing_zeros()) {
        let d = 1usize << step as usize;
        let mut om = F::new(NEG);
        let mut os = F::new(0.0);
        if t + d < workgroup {
            om = shared[t + d];
            os = shared[workgroup + t + d];
        }
        // Every thread has read before any overwrites.
        sync_cube();
        let v = lse_merge::<F>(acc_m, acc_s, om, os);
        acc_m = v.m;
        acc_s = v.s;
        shared[t] = acc_m;
        shared[workgroup + t] = acc_s;
        sync_cube();
    }
    let mut later = Lse::<F> {
        m: F::new(NEG),
        s: F::new(0.0),
    };
    if t + 1 < workgroup {
        later.m = shared[t + 1];
        later.s = shared[workgroup + t + 1];
    }
    // The shared memory is reused after this.
    sync_cube();
    later
}

/// What the affine maps `P ↦ a·P + b` of the threads before this one, applied in order, make
/// of 0, by an inclusive scan towards higher threads in `shared` (`a` then `b`).
#[cube]
fn earlier_threads<F: Float>(
    a: F,
    b: F,
    shared: &mut Shared<[F]>,
    t: usize,
    #[comptime] workgroup: usize,
) -> F {
    let mut acc_a = a;
    let mut acc_b = b;
    shared[t] = acc_a;
    shared[workgroup + t] = acc_b;
    sync_cube();
    for step in 0..comptime!(workgroup.trailing_zeros()) {
        let d = 1usize << step as usize;
        // The identity map, for a thread with none that far before it.
        let mut oa = F::new(1.0);
        let mut ob = F::new(0.0);
        if t >= d {
            oa = shared[t - d];
            ob = shared[workgroup + t - d];
        }
        sync_cube();
        // The earlier maps first, then this thread's.
        acc_b = acc_a * ob + acc_b;
        acc_a *= oa;
        shared[t] = acc_a;
        shared[workgroup + t] = acc_b;
        sync_cube();
    }
    let mut before = F::new(0.0);
    if t >= 1 {
        before = shared[workgroup + t - 1];
    }
    sync_cube();
    before
}

/// The workgroup's sum of `own`, for thread 0.
#[cube]
fn workgroup_sum<F: Float>(
    own: F,
    shared: &mut Shared<[F]>,
    t: usize,
    #[comptime] workgroup: usize,
) -> F {
    shared[t] = own;
    sync_cube();
    for step in 0..comptime!(workgroup.trailing_zeros()) {
        let d = (workgroup / 2) >> step as usize;
        if t < d {
            shared[t] = shared[t] + shared[t + d];
        }
        sync_cube();
    }
    shared[0]
}

#[cube(launch)]
fn forward_kernel<F: Float, I: Numeric>(
    scores: &Tensor<F>,    // [B, N]
    index: &Tensor<I>,     // [B, S·N]
    counts: &Tensor<I>,    // [B]
    nll: &mut Tensor<F>,   // [B·S]
    stats: &mut Tensor<F>, // [B·S, 2·head]: lse, then P
    rows: u32,
    samples: u32,
    head: u32,
    inv_tau: InputScalar,
    #[comptime] workgroup: usize,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    // One order per workgroup: a whole workgroup leaves here together.
    let r = CUBE_POS;
    if r >= rows as usize {
        terminate!();
    }
    let t = UNIT_POS as usize;
    let head = head as usize;
    let row = order_row::<I>(counts, r, scores.stride(0), samples, head);
    let (list, order, count, k) = (row.list, row.order, row.count, row.k);
    let tau = inv_tau.get::<F>();
    let chunk = count.div_ceil(workgroup);
    let start = if t * chunk < count { t * chunk } else { count };
    let end = if start + chunk < count {
        start + chunk
    } else {
        count
    };
    let mut shared = Shared::<[F]>::new_slice(comptime!(2 * workgroup));
    let base = r * 2 * head;

    // The chunk's sum, then the sum of every later chunk.
    let mut m = F::new(NEG);
    let mut sum = F::new(0.0);
    for p in start..end {
        let x = scores[list + u32::cast_from(index[order + p]) as usize] * tau;
        let v = lse_merge::<F>(m, sum, x, F::new(1.0));
        m = v.m;
        sum = v.s;
    }
    let later = later_threads::<F>(m, sum, &mut shared, t, workgroup);

    // Back through the chunk from that sum: lse_p for each head position.
    let mut m = later.m;
    let mut sum = later.s;
    let mut partial = F::new(0.0);
    let head_end = if end < k { end } else { k };
    if start < k {
        for q in 0..end - start {
            let p = end - 1 - q;
            let x = scores[list + u32::cast_from(index[order + p]) as usize] * tau;
            let v = lse_merge::<F>(m, sum, x, F::new(1.0));
            m = v.m;
            sum = v.s;
            if p < k {
                let l = m + sum.ln();
                stats[base + p] = l;
                partial += l - x;
            }
        }
    }
    let total = workgroup_sum::<F>(partial, &mut shared, t, workgroup);
    if t == 0 {
        nll[r] = total;
    }
    sync_cube();

    // lse_{start−1} is the thread before's: its writes must be visible here.
    sync_storage();
    // P_j = Σ_{i≤j} exp(lse_j − lse_i) = 1 + P_{j−1}·exp(lse_j − lse_{j−1}): an affine
    // recurrence, scanned chunk by chunk like the sums above. Its factors are at most 1 and
    // read differences of neighbouring lse, so nothing grows or cancels.
    let mut a_chunk = F::new(1.0);
    let mut b_chunk = F::new(0.0);
    for p in start..head_end {
        let mut a = F::new(0.0);
        if p > 0 {
            a = (stats[base + p] - stats[base + p - 1]).exp();
        }
        a_chunk *= a;
        b_chunk = a * b_chunk + F::new(1.0);
    }
    let mut pj = earlier_threads::<F>(a_chunk, b_chunk, &mut shared, t, workgroup);
    for p in start..head_end {
        let mut a = F::new(0.0);
        if p > 0 {
            a = (stats[base + p] - stats[base + p - 1]).exp();
        }
        pj = a * pj + F::new(1.0);
        stats[base + head + p] = pj;
    }
    for round in 0..head.div_ceil(workgroup) {
        let p = k + t + round * workgroup;
        if p < head {
            stats[base + p] = F::new(0.0);
            stats[base + head + p] = F::new(0.0);
        }
    }
}

#[cube(launch)]
fn backward_kernel<F: Float, I: Numeric>(
    scores: &Tensor<F>,  // [B, N]
    index: &Tensor<I>,   // [B, S·N]
    counts: &Tensor<I>,  // [B]
    stats: &Tensor<F>,   // [B·S, 2·head]
    grad: &Tensor<F>,    // [B·S]
    out: &mut Tensor<F>, // [B·S, N]
    rows: u32,
    samples: u32,
    head: u32,
    inv_tau: InputScalar,
    #[define(F, I)] _dtypes: [ElemType; 2],
) {
    let n_slots = scores.stride(0);
    let at = ABSOLUTE_POS;
    if at >= rows as usize * n_slots {
        terminate!();
    }
    let (r, p) = (at / n_slots, at % n_slots);
    let head = head as usize;
    let row = order_row::<I>(counts, r, n_slots, samples, head);
    let (list, order, count, k) = (row.list, row.order, row.count, row.k);
    let tau = inv_tau.get::<F>();
    let slot = u32::cast_from(index[order + p]) as usize;
    let mut d = F::new(0.0);
    if p < count {
        // Σ_{i<u} exp(x − lse_i) = exp(x − lse_{u−1})·P_{u−1}, each factor at most 1 and u.
        let x = scores[list + slot] * tau;
        let u = if p < k { p + 1 } else { k };
        let base = r * 2 * head;
        d = (x - stats[base + u - 1]).exp() * stats[base + head + u - 1];
        if p < k {
            d -= F::new(1.0);
        }
    }
    out[order + slot] = d * grad[r] * tau;
}

/// What both launches share: the element types and the scalars.
struct OrderLaunch {
    rows: usize,
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
        let float = dtype_to_storage_type(scores.dtype);
        Self {
            rows: scores.shape()[0] * samples,
            samples: samples as u32,
            head: head as u32,
            inv_tau: InputScalar::new(inv_tau, float),
            types: [float, dtype_to_storage_type(index.dtype)],
        }
    }

    /// `units` threads in workgroups of `dim`.
    fn cubes(scores: &CubeTensor, units: usize, dim: CubeDim) -> CubeCount {
        calculate_cube_count_elemwise(&scores.client, units, dim)
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
        let rows = launch.rows;
        let nll = empty_like(&scores, Shape::new([rows]));
        let stats = empty_like(&scores, Shape::new([rows, 2 * head]));
        // One workgroup per order.
        let dim = CubeDim::new_1d(WORKGROUP as u32);
        forward_kernel::launch(
            &scores.client.clone(),
            OrderLaunch::cubes(&scores, rows * WORKGROUP, dim),
            dim,
            scores.into_tensor_arg(),
            index.into_tensor_arg(),
            counts.into_tensor_arg(),
            nll.clone().into_tensor_arg(),
            stats.clone().into_tensor_arg(),
            rows as u32,
            launch.samples,
            launch.head,
            launch.inv_tau,
            WORKGROUP,
            launch.types,
        );
        (nll, stats)
    }

    fn ordered_top_k_nll_backward(
        scores: FloatTensor<Self>,
        index: IntTensor<Self>,
        counts: IntTensor<Self>,
        stats: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        samples: usize,
        head: usize,
        inv_tau: f32,
    ) -> FloatTensor<Self> {
        let (scores, index, counts, stats, grad) = (
            into_contiguous(scores),
            into_contiguous(index),
            into_contiguous(counts),
            into_contiguous(stats),
            into_contiguous(grad),
        );
        let launch = OrderLaunch::new(&scores, &index, samples, head, inv_tau);
        let n = scores.shape()[1];
        let out = empty_like(&scores, Shape::new([launch.rows, n]));
        // One thread per (order, slot).
        let units = launch.rows * n;
        let dim = CubeDim::new(&scores.client, units);
        backward_kernel::launch(
            &scores.client.clone(),
            OrderLaunch::cubes(&scores, units, dim),
            dim,
            scores.into_tensor_arg(),
            index.into_tensor_arg(),
            counts.into_tensor_arg(),
            stats.into_tensor_arg(),
            grad.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            launch.rows as u32,
            launch.samples,
            launch.head,
            launch.inv_tau,
            launch.types,
        );
        out
    }
}
