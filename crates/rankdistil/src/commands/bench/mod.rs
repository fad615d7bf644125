//! `rankdistil bench`: the reference step against PyTorch, its profile, the per-loss and
//! catalog-size suites, and LETOR parsing.

use std::time::Instant;

use anyhow::Context;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use clap::{Args, ValueEnum};
use rankdistil_loss::{DistillMethod, HostTargets, ObjectiveConfig};
use rankdistil_models::{ItemLayout, MlpScorerConfig};

use crate::backend::{self, Backend, BackendChoice};
use crate::memory::{chunks, lists_per_chunk};

mod profile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Suite {
    /// The reference step of `scripts/torch_reference.py`: MLP 136→H→H→1, coupled RankDistil
    /// (k = 10, teacher order), Adam, at the four reference (B, N, H).
    Reference,
    /// One student step per loss at B = 64, N = 1000, k = 10, S = 8.
    Losses,
    /// Sampled RankDistil (p = 100, m = 100) against the full-catalog loss at L = 10³..10⁶.
    Sampled,
    /// LETOR parse throughput of --data, and the reload time from its binary cache.
    Parse,
    /// The reference step's time by phase (forward, loss, backward, Adam), and its matmuls
    /// alone in GFLOP/s: where a slow configuration loses its time.
    Profile,
}

/// Time training steps and print steps/s with the backend.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, value_enum, default_value_t = Suite::Reference)]
    pub suite: Suite,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Timed steps per configuration.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Untimed steps first, at least. On a GPU the warm-up goes on, in blocks of 5 steps, until
    /// the step time settles (kernel compilation and autotuning run on first use of each shape
    /// and can take tens of seconds), or for at most --max-warmup-s seconds.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    #[arg(long, default_value_t = 90.0)]
    pub max_warmup_s: f64,
    /// The LETOR file of the parse suite.
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// Reference configs as `B,N,H` separated by `;` (default: the four reference ones).
    #[arg(long)]
    pub configs: Option<String>,
    /// How the reference and profile steps run the MLP: `lists` keeps `[B, N, F]` (what the
    /// trainer does), `rows` flattens to `[B·N, F]` as PyTorch's `Linear` does.
    #[arg(long, value_enum, default_value_t = Layout::Lists)]
    pub layout: Layout,
}

/// `--layout`, the command-line face of [`ItemLayout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    Lists,
    Rows,
}

impl From<Layout> for ItemLayout {
    fn from(l: Layout) -> Self {
        match l {
            Layout::Lists => ItemLayout::Lists,
            Layout::Rows => ItemLayout::Rows,
        }
    }
}

/// The reference configurations (B lists, N items, H hidden).
pub const REFERENCE: [(usize, usize, usize); 4] = [
    (32, 128, 256),
    (256, 128, 512),
    (64, 2000, 256),
    (1024, 200, 1024),
];

const FEATURES: usize = 136;

fn reference_configs(text: Option<&str>) -> anyhow::Result<Vec<(usize, usize, usize)>> {
    match text {
        Some(c) => parse_configs(c),
        None => Ok(REFERENCE.to_vec()),
    }
}

fn parse_configs(text: &str) -> anyhow::Result<Vec<(usize, usize, usize)>> {
    text.split(';')
        .map(|c| {
            let v: Vec<usize> = c
                .split(',')
                .map(|x| x.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|_| anyhow::anyhow!("--configs: \"{c}\" is not B,N,H"))?;
            anyhow::ensure!(
                v.len() == 3 && v.iter().all(|&x| x > 0),
                "--configs: \"{c}\" is not B,N,H"
            );
            Ok((v[0], v[1], v[2]))
        })
        .collect()
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.suite == Suite::Parse {
        let path = args
            .data
            .as_deref()
            .context("--suite parse needs --data <LETOR file>")?;
        return parse(path);
    }
    let backend = backend::open(args.backend)?;
    println!("backend: {} ({})", backend.name, backend.adapter);
    let layout = ItemLayout::from(args.layout);
    if matches!(args.suite, Suite::Reference | Suite::Profile) {
        println!("MLP layout: {layout:?}");
    }
    match args.suite {
        Suite::Profile => profile::run(
            &backend,
            &reference_configs(args.configs.as_deref())?,
            layout,
            args.max_warmup_s,
            args.steps,
        )?,
        Suite::Reference => {
            let configs = reference_configs(args.configs.as_deref())?;
            println!(
                "| B | N | H | micro-batches | steps/s | GFLOP/s (MLP) | loss | warm-up s |\n|---|---|---|---|---|---|---|---|"
            );
            for (b, n, h) in configs {
                let r = reference_step(
                    &backend,
                    (b, n, h),
                    layout,
                    args.warmup,
                    args.max_warmup_s,
                    args.steps,
                )?;
                println!(
                    "| {b} | {n} | {h} | {} | {:.2} | {:.1} | {:.4} | {:.1} |",
                    r.micro_batches, r.steps_per_s, r.gflops, r.loss, r.warmup_s
                );
            }
        }
        Suite::Losses => losses(&backend, args.warmup, args.steps)?,
        Suite::Sampled => sampled(&backend, args.warmup, args.steps)?,
        Suite::Parse => unreachable!("handled above"),
    }
    Ok(())
}

pub struct StepTiming {
    /// Seconds spent warming up (compilation, autotune) before timing.
    pub warmup_s: f64,
    pub steps_per_s: f64,
    pub gflops: f64,
    pub loss: f32,
    pub micro_batches: usize,
}

/// The PyTorch reference step, with the same shapes and math, on `backend`.
pub fn reference_step(
    backend: &Backend,
    (b, n, h): (usize, usize, usize),
    layout: ItemLayout,
    warmup: usize,
    max_warmup_s: f64,
    steps: usize,
) -> anyhow::Result<StepTiming> {
    let device = backend.training_device();
    device.seed(7);
    let mut model = MlpScorerConfig::new(FEATURES, vec![h, h])
        .init(&device)
        .with_layout(layout);
    let mut optim = AdamConfig::new().init();
    let x = Tensor::<3>::random([b, n, FEATURES], Distribution::Normal(0.0, 1.0), &device);
    let t = Tensor::<2>::random([b, n], Distribution::Normal(0.0, 1.0), &device);
    let mask = Tensor::<2, Bool>::full([b, n], true, &device);
    let loss_fn = rankdistil_loss::CoupledRankDistilConfig::new()
        .with_k(10)
        .with_samples(0)
        .init();
    let parts = chunks(
        b,
        lists_per_chunk(b, n, h.max(FEATURES), backend.buffer_budget)?,
    );
    let micro_batches = parts.len();
    let mut step = |model: rankdistil_models::MlpScorer| {
        if parts.len() == 1 {
            let loss =
                loss_fn.forward_device_order(model.forward(x.clone()), t.clone(), mask.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            return (optim.step(1e-3, model, grads), loss.detach());
        }
        let mut accumulator = burn::optim::GradientsAccumulator::new();
        let mut total = Tensor::<1>::zeros([1], &device);
        for r in &parts {
            let w = r.len() as f64 / b as f64;
            let xs = x.clone().slice([r.clone(), 0..n, 0..FEATURES]);
            let s = model.forward(xs); // [b, N]
            let loss = loss_fn.forward_device_order(
                s,
                t.clone().slice([r.clone(), 0..n]),
                mask.clone().slice([r.clone(), 0..n]),
            ) * w;
            total = total + loss.clone().detach();
            accumulator.accumulate(&model, GradientsParams::from_grads(loss.backward(), &model));
        }
        (optim.step(1e-3, model, accumulator.grads()), total)
    };
    let warm_start = Instant::now();
    for _ in 0..warmup {
        let (m, l) = step(model);
        model = m;
        l.into_scalar::<f32>();
    }
    if backend.is_gpu {
        // Blocks of 5 steps until two in a row agree within 10%.
        let mut previous = f64::INFINITY;
        while warm_start.elapsed().as_secs_f64() < max_warmup_s {
            let t = Instant::now();
            let mut l = Tensor::<1>::zeros([1], &device);
            for _ in 0..5 {
                let (m, loss) = step(model);
                model = m;
                l = loss;
            }
            l.into_scalar::<f32>();
            let block = t.elapsed().as_secs_f64();
            if (block - previous).abs() <= 0.1 * previous {
                break;
            }
            previous = block;
        }
    }
    let warmup_s = warm_start.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut last = Tensor::<1>::zeros([1], &device);
    for _ in 0..steps {
        let (m, l) = step(model);
        model = m;
        last = l;
    }
    // One read at the end waits for the queued work, as torch.cuda.synchronize does.
    let loss = last.into_scalar::<f32>();
    let dt = started.elapsed().as_secs_f64();
    let flops = 6.0 * (b * n) as f64 * (FEATURES * h + h * h + h) as f64 * steps as f64;
    Ok(StepTiming {
        warmup_s,
        steps_per_s: steps as f64 / dt,
        gflops: flops / dt / 1e9,
        loss,
        micro_batches,
    })
}

/// One student step (MLP 136→32→1, the loss, Adam) per method at B=64, N=1000, k=10, S=8.
fn losses(backend: &Backend, warmup: usize, steps: usize) -> anyhow::Result<()> {
    let (b, n) = (64usize, 1000usize);
    let device = backend.training_device();
    device.seed(3);
    let x = Tensor::<3>::random([b, n, FEATURES], Distribution::Normal(0.0, 1.0), &device);
    let teacher: Vec<f32> =
        Tensor::<2>::random([b, n], Distribution::Normal(0.0, 1.0), &backend.device)
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .expect("floats");
    let labels: Vec<f32> = teacher
        .iter()
        .map(|t| (t * 1.5 + 1.0).clamp(0.0, 4.0).floor())
        .collect();
    let mask = vec![true; b * n];
    println!(
        "student step (MLP 136→32→1 + loss + Adam), B={b} N={n} k=10 S=8, {steps} steps\n\n| loss | ms/step | steps/s |\n|---|---|---|"
    );
    for method in DistillMethod::ALL {
        let mut cfg = ObjectiveConfig::new(method);
        cfg.k = 10;
        cfg.samples = 8;
        let objective = cfg.init();
        let mut model = MlpScorerConfig::new(FEATURES, vec![32]).init(&device);
        let mut optim = AdamConfig::new().init();
        let targets = HostTargets {
            batch: b,
            len: n,
            mask: &mask,
            labels: &labels,
            teacher: Some(&teacher),
        };
        let mut run = |model: rankdistil_models::MlpScorer, i: u64| {
            objective.reseed(i);
            let loss = objective.forward(model.forward(x.clone()), &targets);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let model = optim.step(1e-3, model, grads);
            (model, loss)
        };
        let ms = time_steps(&mut model, &mut run, warmup, steps);
        println!("| {} | {ms:.1} | {:.2} |", method.name(), 1e3 / ms);
    }
    Ok(())
}

/// A query tower (64 → 64 → 32) scored by dot product against a fixed item table `[L, 32]`.
/// The sampled step gathers only the `p + m` candidates' rows; the full step scores all L.
fn sampled(backend: &Backend, warmup: usize, steps: usize) -> anyhow::Result<()> {
    use rand::{RngExt, SeedableRng, rngs::StdRng};
    use rankdistil_loss::{CoupledRankDistilConfig, SampledRankDistilConfig};

    let (b, f, d, p, m, k) = (64usize, 64usize, 32usize, 100usize, 100usize, 10usize);
    let device = backend.training_device();
    device.seed(5);
    let queries = Tensor::<3>::random([b, 1, f], Distribution::Normal(0.0, 1.0), &device);
    println!(
        "query tower 64→64→32 · item table [L, 32], B={b}, k={k}; sampled: p={p}, m={m}; {steps} steps\n\n| L | sampled loss alone ms/step | sampled step ms/step | full-catalog ms/step |\n|---|---|---|---|"
    );
    for l in [1_000usize, 10_000, 100_000, 1_000_000] {
        let mut rng = StdRng::seed_from_u64(l as u64);
        let table: Vec<f32> = (0..l * d).map(|_| rng.random::<f32>() - 0.5).collect();
        // The teacher's top-p per query (as a teacher top-p cache would hold them).
        let tops: Vec<Vec<u32>> = (0..b)
            .map(|_| rankdistil_loss::distinct_uniform(l, p, &Default::default(), &mut rng))
            .collect();
        let teacher_top: Vec<f32> = (0..b)
            .flat_map(|_| (0..p + m).map(|j| -(j as f32)))
            .collect();
        let loss = SampledRankDistilConfig::new()
            .with_k(k)
            .with_p(p)
            .with_m(m)
            .init();
        let mut tower = MlpScorerConfig::new(f, vec![64, d]).init(&device);
        let mut optim = AdamConfig::new().init();
        let mut step = |tower: rankdistil_models::MlpScorer, i: u64| {
            loss.reseed(i);
            let cands: Vec<_> = tops.iter().map(|t| loss.candidates(t, l)).collect();
            let rows: Vec<f32> = cands
                .iter()
                .flat_map(|c| {
                    c.items.iter().flat_map(|&it| {
                        table[it as usize * d..(it as usize + 1) * d]
                            .iter()
                            .copied()
                    })
                })
                .collect();
            let items =
                Tensor::<3>::from_data(burn::tensor::TensorData::new(rows, [b, p + m, d]), &device);
            let q = tower.forward_embedding(queries.clone()); // [B, 1, D]
            let scores = (items * q).sum_dim(2).squeeze_dim::<2>(2); // [B, p + m]
            let value = loss.forward(scores, &teacher_top, &cands);
            let grads = GradientsParams::from_grads(value.backward(), &tower);
            (optim.step(1e-3, tower, grads), value)
        };
        let sampled_ms = time_steps(&mut tower, &mut step, warmup, steps);

        // The loss alone: draw the negatives, then forward and backward on given candidate
        // scores; no item table is read.
        let scores = Tensor::<2>::random([b, p + m], Distribution::Normal(0.0, 1.0), &device);
        let loss_only = |i: u64| {
            loss.reseed(i);
            let cands: Vec<_> = tops.iter().map(|t| loss.candidates(t, l)).collect();
            let s = scores.clone().require_grad();
            let value = loss.forward(s.clone(), &teacher_top, &cands);
            let grads = value.backward();
            s.grad(&grads)
                .expect("scores take part")
                .sum()
                .into_scalar::<f32>()
        };
        (0..warmup as u64).for_each(|i| {
            loss_only(i);
        });
        let t = Instant::now();
        (0..steps as u64).for_each(|i| {
            loss_only(i);
        });
        let loss_ms = t.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64;

        // The full-catalog loss: score all L items, coupled RankDistil on the teacher's order.
        let full_steps = if l >= 1_000_000 { 2.min(steps) } else { steps };
        let table_t = Tensor::<2>::from_data(
            burn::tensor::TensorData::new(table.clone(), [l, d]),
            &device,
        )
        .transpose(); // [D, L]
        let teacher_full = Tensor::<2>::random([b, l], Distribution::Normal(0.0, 1.0), &device);
        let mask = Tensor::<2, Bool>::full([b, l], true, &device);
        let coupled = CoupledRankDistilConfig::new()
            .with_k(k)
            .with_samples(0)
            .init();
        let mut tower = MlpScorerConfig::new(f, vec![64, d]).init(&device);
        let mut optim = AdamConfig::new().init();
        let mut full = |tower: rankdistil_models::MlpScorer, _i: u64| {
            let q = tower.forward_embedding(queries.clone()).reshape([b, d]); // [B, D]
            let scores = q.matmul(table_t.clone()); // [B, L]
            let value = coupled.forward_device_order(scores, teacher_full.clone(), mask.clone());
            let grads = GradientsParams::from_grads(value.backward(), &tower);
            (optim.step(1e-3, tower, grads), value)
        };
        let full_ms = time_steps(&mut tower, &mut full, warmup.min(1), full_steps);
        println!("| {l} | {loss_ms:.2} | {sampled_ms:.2} | {full_ms:.1} |");
    }
    Ok(())
}

/// Mean milliseconds per step after `warmup` untimed steps.
fn time_steps(
    model: &mut rankdistil_models::MlpScorer,
    step: &mut impl FnMut(
        rankdistil_models::MlpScorer,
        u64,
    ) -> (rankdistil_models::MlpScorer, Tensor<1>),
    warmup: usize,
    steps: usize,
) -> f64 {
    let mut current = model.clone();
    for i in 0..warmup {
        let (m, l) = step(current, i as u64);
        current = m;
        l.into_scalar::<f32>();
    }
    let started = Instant::now();
    let mut last = None;
    for i in 0..steps {
        let (m, l) = step(current, (warmup + i) as u64);
        current = m;
        last = Some(l);
    }
    if let Some(l) = last {
        l.into_scalar::<f32>();
    }
    *model = current;
    started.elapsed().as_secs_f64() * 1e3 / steps.max(1) as f64
}

/// Text parse throughput, cache write and cache reload for one LETOR file.
fn parse(path: &std::path::Path) -> anyhow::Result<()> {
    use rankdistil_data::{CacheStatus, LetorOptions, cache_path, read_letor, read_letor_cached};
    let mb = std::fs::metadata(path)
        .with_context(|| format!("{}: cannot stat", path.display()))?
        .len() as f64
        / 1e6;
    let _ = std::fs::remove_file(cache_path(path));
    let t = Instant::now();
    let data = read_letor(path, LetorOptions::default())?;
    let parse_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (_, built) = read_letor_cached(path, LetorOptions::default())?;
    let build_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (again, hit) = read_letor_cached(path, LetorOptions::default())?;
    let reload_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        built == CacheStatus::Built && hit == CacheStatus::Hit,
        "cache did not behave: {built:?}, {hit:?}"
    );
    anyhow::ensure!(
        again.features == data.features,
        "the cache does not reproduce the text"
    );
    println!(
        "{}: {mb:.1} MB, {} rows, {} queries, {} features\n\n| step | seconds | MB/s |\n|---|---|---|\n\
         | parse text | {parse_s:.2} | {:.1} |\n| parse + write cache | {build_s:.2} | – |\n| reload from cache | {reload_s:.2} | {:.1} |",
        path.display(),
        data.num_rows(),
        data.num_queries(),
        data.num_features,
        mb / parse_s,
        mb / reload_s
    );
    Ok(())
}
