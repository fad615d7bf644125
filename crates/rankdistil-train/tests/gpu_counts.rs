//! The GPU step's host costs, counted on the software adapter (Mesa's llvmpipe through wgpu's
//! GL backend): a steady training step reads nothing back, compiles nothing, and launches no
//! more kernels than its budget. Counts do not depend on the card, so they hold on a GPU.
//!
//! It also holds the top-k Plackett–Luce kernels to the tensor version (the CPU backends' path)
//! in value and gradient.
//!
//! Runs where `RANKDISTIL_SOFTWARE_GPU=1` and the adapter opens; otherwise it says it skipped,
//! and fails instead when `RANKDISTIL_REQUIRE_SOFTWARE_GPU` is set (CI sets both).

use std::sync::Mutex;

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{SeedableRng, rngs::StdRng};
use rankdistil_loss::{
    Candidates, CoupledRankDistilConfig, ListOrders, OrderedLoss, SampledRankDistilConfig,
};
use rankdistil_train::backend::{self, Backend, BackendChoice, software_gpu_allowed};
use rankdistil_train::bench::launches::{self, LaunchOptions, StepCounts};
use rankdistil_train::device_counts::{Counter, Counts};

/// Kernel launches per steady step, at most: today's counts (docs/BENCHMARKS.md), so that no
/// change adds a launch unnoticed. Both are under PyTorch eager's count for the reference step
/// by the rule there (58), and under the target of 50. The list steps gather their batch and
/// draw their orders on the device (about 15 launches that replace uploads of the batch and
/// of the orders).
const REFERENCE_BUDGET: usize = 40;
const TRAINER_BUDGET: usize = 49;
/// The catalog's sampled-RankDistil step.
const CATALOG_BUDGET: usize = 56;
/// The inference forward of one evaluation batch.
const EVAL_BUDGET: usize = 5;
/// Bytes a steady list step at 8×64 may upload: its row index and a few scalars. The whole
/// batch's features (8·64·136 f32s) are 278,528.
const LIST_STEP_UPLOAD: usize = 64 << 10;

/// The adapter, opened once (wgpu registers a device once per process). The counts are
/// process-wide, so no two tests here use it at once.
static GPU: Mutex<Option<Option<Backend>>> = Mutex::new(None);

/// Runs `test` on the software GPU, or says it skipped.
fn on_software_gpu(test: impl FnOnce(&Backend)) {
    let mut gpu = GPU.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(backend) = gpu.get_or_insert_with(software_gpu) {
        test(backend);
    }
}

fn software_gpu() -> Option<Backend> {
    let required = std::env::var_os("RANKDISTIL_REQUIRE_SOFTWARE_GPU").is_some();
    let opened = software_gpu_allowed()
        .then(|| backend::open(BackendChoice::Wgpu))
        .transpose();
    match opened {
        Ok(Some(b)) => Some(b),
        Ok(None) => {
            assert!(
                !required,
                "RANKDISTIL_REQUIRE_SOFTWARE_GPU is set, but RANKDISTIL_SOFTWARE_GPU is not 1"
            );
            eprintln!("skipping: RANKDISTIL_SOFTWARE_GPU is not 1 (the software GPU is off)");
            None
        }
        Err(e) => {
            assert!(!required, "the software GPU does not open: {e}");
            eprintln!("skipping: the software GPU does not open: {e}");
            None
        }
    }
}

fn assert_steady(counts: &StepCounts, budget: usize, read_backs: usize) {
    assert!(counts.steady.len() >= 2, "{counts:?}");
    for c in &counts.steady {
        assert_eq!(
            c.read_backs, read_backs,
            "{}: read-backs in {c:?}",
            counts.step
        );
        assert_eq!(
            c.compiles, 0,
            "{}: compiles after warm-up in {c:?}",
            counts.step
        );
        assert!(
            c.launches <= budget,
            "{}: {} launches, budget {budget}: {c:?}",
            counts.step,
            c.launches
        );
    }
    // Steady means the same work every step. (Submits are left out: how many tasks go in one
    // depends on when the poll thread flushes.)
    let work = |c: &Counts| (c.launches, c.read_backs, c.compiles, c.fusion_blocks);
    assert!(
        counts.steady.windows(2).all(|w| work(&w[0]) == work(&w[1])),
        "{}: {:?}",
        counts.step,
        counts.steady
    );
}

#[test]
fn steady_gpu_steps_read_nothing_back_compile_nothing_and_stay_in_budget() {
    on_software_gpu(steady_steps);
}

fn steady_steps(backend: &Backend) {
    // One test: the hooks are process-wide, so the steps are counted one after another.
    let counter = Counter::new().expect("no other logger in this test binary");
    let options = LaunchOptions {
        warmup: 2,
        steps: 3,
    };
    let reference = launches::reference(backend, &counter, options).unwrap();
    assert!(
        reference.first.compiles > 0,
        "a cold step compiles: {reference:?}"
    );
    assert_steady(&reference, REFERENCE_BUDGET, 0);
    let trainer = launches::trainer(backend, &counter, options).unwrap();
    assert_steady(&trainer, TRAINER_BUDGET, 0);
    for step in [&reference, &trainer] {
        let up = step.per_step().uploaded;
        assert!(
            up <= LIST_STEP_UPLOAD,
            "{}: {up} bytes uploaded a step, at most {LIST_STEP_UPLOAD}",
            step.step
        );
    }
    // How many distinct rows the catalog step gathers changes with its draw; the sizes are
    // bucketed on a GPU, so its steady steps are as steady as the list steps'.
    let catalog = launches::catalog(backend, &counter, options).unwrap();
    assert_steady(&catalog, CATALOG_BUDGET, 0);
    let filled = draw_that_fills_its_buckets(backend, &counter);
    assert_eq!(
        (filled.compiles, filled.read_backs),
        (0, 0),
        "a catalog step whose rows fill their buckets exactly: {filled:?}"
    );
    // Evaluation reads its scores back, once per batch.
    let eval = launches::eval(backend, &counter, options).unwrap();
    assert_steady(&eval, EVAL_BUDGET, 1);
    eprintln!("{}", launches::table(&[reference, trainer, catalog, eval]));
}

/// The counts of a sparse-table step whose rows fill their buckets exactly (4 history rows and
/// 8 item rows), after steps whose draws were padded to those buckets: the same graph, so it
/// compiles nothing new.
fn draw_that_fills_its_buckets(backend: &Backend, counter: &Counter) -> Counts {
    use rankdistil_models::CatalogScorerConfig;
    use rankdistil_train::catalog::sparse::SparseTables;
    let device = &backend.device;
    let mut tables = SparseTables::new(&CatalogScorerConfig::new(16, 4).init(device));
    let mut step = |history: &[u32], candidates: &[u32]| {
        let touched = tables.gather(history.to_vec(), candidates.to_vec());
        let [h, c, b] = touched.split();
        let grads = (h.powi_scalar(2).sum() + c.powi_scalar(2).sum() + b.sum()).backward();
        tables.step(0.01, &grads, touched);
        device.sync().unwrap();
    };
    // Warmed under the counter, which counts a kernel as compiled the first time it sees it.
    for _ in 0..2 {
        counter.count(|| step(&[1, 4, 9], &[0, 2, 3, 5, 7]));
    }
    counter
        .count(|| step(&[1, 4, 9, 11], &[0, 2, 3, 5, 7, 8, 12, 15]))
        .1
}

/// The coupled loss and its student gradient on `device`, for orders sampled from `teacher`.
fn loss_and_grad(
    device: &Device,
    scores: &[f32],
    orders: &ListOrders,
    k: usize,
) -> (f32, Vec<f32>) {
    let [b, _, n] = orders.dims();
    let loss_fn = CoupledRankDistilConfig::new()
        .with_k(k)
        .with_temperature(0.5)
        .init();
    let student =
        Tensor::<2>::from_data(TensorData::new(scores.to_vec(), [b, n]), device).require_grad();
    let loss = loss_fn.forward_ordered(student.clone(), orders);
    let grad = student
        .grad(&loss.backward())
        .expect("the scores take a gradient");
    let value = loss
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()[0];
    (
        value,
        grad.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap(),
    )
}

#[test]
fn the_plackett_luce_kernels_equal_the_tensor_version_in_value_and_gradient() {
    on_software_gpu(kernels_against_tensors);
}

fn kernels_against_tensors(backend: &Backend) {
    // Ragged lists (one empty, one of a single item), and logits from ±0.3 to ±2000; the
    // second shape is longer than a workgroup, so each thread of the forward takes a chunk of
    // several items, and a list (257) splits unevenly.
    kernels_against_tensors_at(backend, 13, &[13, 10, 3, 1, 0], &[1, 4, 13, 20]);
    kernels_against_tensors_at(backend, 300, &[300, 257, 129, 0], &[1, 10, 300]);
}

fn kernels_against_tensors_at(backend: &Backend, n: usize, counts: &[usize], ks: &[usize]) {
    let b = counts.len();
    let mask: Vec<bool> = (0..b * n).map(|e| e % n < counts[e / n]).collect();
    let scores: Vec<f32> = (0..b * n)
        .map(|e| ((e * 37 % 101) as f32 - 50.0) * if e % 7 == 0 { 40.0 } else { 0.3 })
        .collect();
    let teacher: Vec<f32> = (0..b * n).map(|e| ((e * 53 % 97) as f32) / 9.0).collect();
    let gpu = backend.training_device();
    let cpu = Device::flex().autodiff();
    for samples in [1, 4] {
        for &k in ks {
            let mut rng = StdRng::seed_from_u64(7);
            let orders =
                ListOrders::plackett_luce(&teacher, &mask, b, n, samples, k, 1.0, &mut rng);
            let (kernel, kernel_grad) = loss_and_grad(&gpu, &scores, &orders, k);
            let (tensor, tensor_grad) = loss_and_grad(&cpu, &scores, &orders, k);
            let case = format!("N = {n}, S = {samples}, k = {k}");
            assert!(
                (kernel - tensor).abs() <= 1e-5 * (1.0 + tensor.abs()),
                "{case}: loss {kernel} vs {tensor}"
            );
            // Relative: at k = N a gradient sums up to N terms.
            for (e, (a, t)) in kernel_grad.iter().zip(&tensor_grad).enumerate() {
                assert!(
                    (a - t).abs() <= 1e-5 * (1.0 + t.abs()),
                    "{case}, element {e}: {a} vs {t}"
                );
                if !mask[e] {
                    assert_eq!(*a, 0.0, "{case}: a padded slot, element {e}");
                }
            }
        }
    }
}

/// Sampled RankDistil's loss and student gradient on `device`: top items, shifted negatives.
fn sampled_loss_and_grad(
    device: &Device,
    scores: &[f32],
    teacher: &[f32],
    candidates: &[Candidates],
    samples: usize,
) -> (f32, Vec<f32>) {
    let c = scores.len() / candidates.len();
    let loss_fn = SampledRankDistilConfig::new()
        .with_k(3)
        .with_samples(samples)
        .with_temperature(0.5)
        .init();
    let shape = [candidates.len(), c];
    let student = Tensor::<2>::from_data(TensorData::new(scores.to_vec(), shape), device);
    let student = student.require_grad();
    let loss = loss_fn.forward(student.clone(), teacher, candidates);
    let grad = student
        .grad(&loss.backward())
        .expect("the scores take a gradient");
    let values = |t: TensorData| t.convert::<f32>().try_to_vec::<f32>().unwrap();
    (values(loss.into_data())[0], values(grad.into_data()))
}

#[test]
fn the_sampled_loss_on_the_kernels_equals_the_tensor_version() {
    on_software_gpu(sampled_against_tensors);
}

fn sampled_against_tensors(backend: &Backend) {
    // Lists of 6 candidate slots: top items, then negatives with their log-q shifts; one list
    // with no top item, one short list with padding.
    let candidates: Vec<Candidates> = [(4, 6), (2, 6), (0, 3), (3, 4)]
        .iter()
        .map(|&(top, n)| Candidates {
            items: (0..n as u32).collect(),
            top,
            negative_shifts: (top..n).map(|j| 0.3 * j as f32 - 0.5).collect(),
        })
        .collect();
    let c = 6;
    let scores: Vec<f32> = (0..4 * c)
        .map(|e| ((e * 29 % 31) as f32 - 15.0) / 4.0)
        .collect();
    let teacher: Vec<f32> = (0..4 * c).map(|e| ((e * 17 % 23) as f32) / 5.0).collect();
    let gpu = backend.training_device();
    let cpu = Device::flex().autodiff();
    for samples in [0, 3] {
        let (kernel, kernel_grad) =
            sampled_loss_and_grad(&gpu, &scores, &teacher, &candidates, samples);
        let (tensor, tensor_grad) =
            sampled_loss_and_grad(&cpu, &scores, &teacher, &candidates, samples);
        assert!(
            (kernel - tensor).abs() <= 1e-5 * (1.0 + tensor.abs()),
            "S = {samples}: loss {kernel} vs {tensor}"
        );
        for (e, (a, t)) in kernel_grad.iter().zip(&tensor_grad).enumerate() {
            assert!(
                (a - t).abs() <= 1e-5,
                "S = {samples}, element {e}: {a} vs {t}"
            );
        }
    }
}

/// Three row-sparse Adam steps on `device`: on the exact rows, or on the rows padded to a
/// bucket as a GPU catalog step pads them (pads repeat a real row, carry gradients, and are
/// masked out).
fn row_adam_steps(device: &Device, padded: bool) -> Vec<f32> {
    use rankdistil_train::catalog::row_adam::RowAdam;
    let tensor =
        |v: Vec<f32>, shape: [usize; 2]| Tensor::<2>::from_data(TensorData::new(v, shape), device);
    let start: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
    let mut table = tensor(start, [6, 2]);
    let mut adam = RowAdam::new([6, 2], device);
    let (rows, grad, live): (Vec<i64>, Vec<f32>, _) = match padded {
        false => (vec![1, 4, 5], vec![1.0, -2.0, 0.5, 0.25, -0.75, 3.0], None),
        true => (
            vec![1, 4, 5, 1],
            vec![1.0, -2.0, 0.5, 0.25, -0.75, 3.0, 8.0, -8.0],
            Some(tensor(vec![1.0, 1.0, 1.0, 0.0], [4, 1])),
        ),
    };
    let n = rows.len();
    for _ in 0..3 {
        let ids = Tensor::<1, Int>::from_data(TensorData::new(rows.clone(), [n]), device);
        let g = tensor(grad.clone(), [n, 2]);
        table = adam.step(0.1, table, ids, g, live.clone());
    }
    table.into_data().convert::<f32>().try_into_vec().unwrap()
}

#[test]
fn bucketed_rows_on_the_gpu_step_as_the_exact_rows_on_the_cpu() {
    on_software_gpu(|backend| {
        let cpu = Backend::cpu();
        let exact = row_adam_steps(&cpu.device, false);
        let padded = row_adam_steps(&backend.device, true);
        for (i, (x, y)) in exact.iter().zip(&padded).enumerate() {
            assert!((x - y).abs() <= 1e-6, "element {i}: {x} vs {y}");
        }
        // Rows 0, 2 and 3 were never touched.
        let start: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
        for r in [0, 2, 3] {
            assert_eq!(padded[2 * r..2 * r + 2], start[2 * r..2 * r + 2], "row {r}");
        }
    });
}

/// `[B·S]` orders of `[B * S * N]` slots: each order's first `head` slots, and the rest of
/// its valid slots as a sorted set.
fn heads_and_rests(
    index: &[i64],
    counts: &[usize],
    samples: usize,
    n: usize,
    head: usize,
) -> Vec<(Vec<i64>, Vec<i64>)> {
    (0..counts.len() * samples)
        .map(|r| {
            let count = counts[r / samples];
            let order = &index[r * n..(r + 1) * n];
            let k = head.min(count);
            let mut rest = order[k..count].to_vec();
            rest.sort_unstable();
            let mut all = order.to_vec();
            all.sort_unstable();
            assert_eq!(
                all,
                (0..n as i64).collect::<Vec<_>>(),
                "order {r} is no permutation"
            );
            (order[..k].to_vec(), rest)
        })
        .collect()
}

#[test]
fn orders_drawn_on_the_device_equal_the_host_s() {
    on_software_gpu(device_orders_against_host);
}

fn device_orders_against_host(backend: &Backend) {
    use burn::tensor::Distribution;
    use rankdistil_loss::{OrderKeys, device_orders};
    // Ragged lists, an empty one, and ties (teacher scores on a grid of 4 values).
    let (b, n) = (5, 16);
    let counts = [16, 11, 4, 1, 0];
    let mask: Vec<bool> = (0..b * n).map(|e| e % n < counts[e / n]).collect();
    let teacher: Vec<f32> = (0..b * n).map(|e| ((e * 7 % 4) as f32) / 2.0).collect();
    let device = backend.device.clone();
    let t = Tensor::<2>::from_data(TensorData::new(teacher.clone(), [b, n]), &device);
    let read = |x: Tensor<2, Int>| x.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
    for head in [1, 3, 16, 20] {
        // The teacher's own order, ties to the lower slot.
        let host = ListOrders::teacher_top(&teacher, &mask, b, n, head);
        let on_device = read(device_orders(t.clone(), &counts, &OrderKeys::Teacher, head));
        assert_eq!(
            heads_and_rests(&on_device, &counts, 1, n, head),
            heads_and_rests(host.slots(), &counts, 1, n, head),
            "teacher order, head {head}"
        );
        // Sampled orders: the same noise gives the same orders.
        let samples = 3;
        let u = Tensor::<3>::random([b, samples, n], Distribution::Uniform(0.01, 0.99), &device);
        let noise = u
            .clone()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        let keys = OrderKeys::Noise {
            uniform: Box::new(u),
            temperature: 0.5,
        };
        let on_device = read(device_orders(t.clone(), &counts, &keys, head));
        // On the host: each (list, sample) as its own list, keyed by t/τ + g.
        let host_keys: Vec<f32> = (0..b * samples * n)
            .map(|e| {
                let (list, slot) = (e / (samples * n), e % n);
                let g = -(-(noise[e] as f64).ln()).ln();
                (teacher[list * n + slot] as f64 / 0.5 + g) as f32
            })
            .collect();
        let host_mask: Vec<bool> = (0..b * samples * n)
            .map(|e| mask[(e / (samples * n)) * n + e % n])
            .collect();
        let host = ListOrders::teacher_top(&host_keys, &host_mask, b * samples, n, head);
        assert_eq!(
            heads_and_rests(&on_device, &counts, samples, n, head),
            heads_and_rests(host.slots(), &counts, samples, n, head),
            "sampled orders, head {head}"
        );
    }
}
