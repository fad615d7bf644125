//! `rankdistil catalog`: ranking over a whole item catalog (MovieLens-style implicit feedback):
//! a teacher trained with a full softmax over the catalog, its top-p cache written to disk,
//! and students distilled from that cache with sampled RankDistil, against label-only and
//! full-catalog softmax-KD students, over several seeds.

mod scoring;
mod settings;
mod top_p_cache;
mod training;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use rankdistil_data::{ImplicitSplit, read_recbole_inter, synthetic_catalog};
use rankdistil_loss::SampledRankDistilConfig;
use rankdistil_models::CatalogScorer;

use scoring::score_users;
pub(crate) use scoring::top_items;
use scoring::{evaluate_catalog, evaluate_popularity};
pub use settings::{CatalogData, CatalogMethod, CatalogModel, CatalogRunConfig};
use top_p_cache::{TopPCache, build_cache};
use training::{Target, train};

use crate::backend::{self, Backend, BackendChoice};
use crate::catalog_dir::{self, CatalogModelMeta};
use crate::config;
use crate::report::mean_std;
use crate::run_dir::write_atomic;

/// Train and compare catalog rankers (MovieLens-100k or a synthetic catalog); every model is
/// saved for `export` and `recommend`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// e.g. configs/catalog-ml100k.toml
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Where the teacher run, its top-p cache and the tables go (default: `runs/<config name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Reuse this catalog teacher (a `teacher/` folder of an earlier run) instead of training one.
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Reuse this top-p cache (from `rankdistil teacher-cache`) instead of building one.
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Continue an interrupted run in --out with the same config: its teacher, top-p cache and
    /// finished students are reused, and only what is missing is trained.
    #[arg(long)]
    pub resume: bool,
}

/// The resolved config a catalog run keeps, so `--resume` can check it continues the same run.
const RUN_CONFIG: &str = "config.toml";
/// The most host memory softmax KD's whole-catalog teacher scores may take.
const MAX_FULL_SCORES_BYTES: u128 = 4 << 30;

/// Score the whole catalog with a catalog teacher, once, and write each user's top-p unseen
/// items and scores to a binary file that `rankdistil catalog --cache` reads.
#[derive(Debug, Args)]
pub struct TeacherCacheArgs {
    /// A catalog teacher folder (`<catalog run>/teacher`).
    #[arg(long)]
    pub teacher: PathBuf,
    /// A RecBole `.inter` file to score instead of the teacher's own data (same catalog).
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    pub p: usize,
    /// The cache file (default: `<teacher>/teacher-top<p>.bin`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
}

/// The data's users, its split, and its item ids. Given a `catalog` (a saved model's item ids),
/// item indices follow that catalog, so the model scores each item with its own row.
fn load_split(
    data: &CatalogData,
    catalog: Option<&[String]>,
) -> anyhow::Result<(usize, ImplicitSplit, Vec<String>)> {
    let inter = match (&data.inter, &data.synthetic) {
        (Some(p), None) => read_recbole_inter(p)?,
        (None, Some(s)) => synthetic_catalog(s.users, s.items, s.per_user, s.dim, s.seed),
        _ => bail!(
            "[data] needs exactly one of `inter = \"<file.inter>\"` and a [data.synthetic] table"
        ),
    };
    let inter = match catalog {
        Some(ids) => {
            let source = match &data.inter {
                Some(p) => p.display().to_string(),
                None => "the synthetic catalog".into(),
            };
            inter
                .aligned_to(ids)
                .with_context(|| format!("{source}: does not fit the model"))?
        }
        None => inter,
    };
    let split = ImplicitSplit::from_ratings(&inter, data.min_rating, data.holdout, data.seed);
    Ok((inter.users.len(), split, inter.items))
}

pub fn run_teacher_cache(args: TeacherCacheArgs) -> anyhow::Result<()> {
    let backend = backend::open(args.backend)?;
    let (teacher, meta) = catalog_dir::load(&args.teacher, &backend.device)?;
    let mut data = meta.data.clone();
    if let Some(inter) = &args.data {
        data.inter = Some(inter.clone());
        data.synthetic = None;
    }
    let catalog = saved_item_ids(&args.teacher, meta.num_items)?;
    let (_, split, _) = load_split(&data, catalog.as_deref())?;
    anyhow::ensure!(
        split.num_items == meta.num_items,
        "{}: the teacher has {} items but its data now has {}",
        args.teacher.display(),
        meta.num_items,
        split.num_items
    );
    let started = Instant::now();
    let cache = build_cache(&teacher, &split, args.p, &backend);
    let path = args
        .out
        .unwrap_or_else(|| args.teacher.join(format!("teacher-top{}.bin", args.p)));
    cache.write(&path, split.num_items)?;
    println!(
        "teacher top-{} cache: {} users × {} items scored in {:.2}s, written to {}",
        args.p,
        split.train.len(),
        split.num_items,
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}

/// A saved model's item ids; `None` for a folder written before rankdistil saved them.
fn saved_item_ids(dir: &Path, num_items: usize) -> anyhow::Result<Option<Vec<String>>> {
    if !dir.join(catalog_dir::ITEMS_FILE).exists() {
        return Ok(None);
    }
    catalog_dir::load_item_ids(dir, num_items).map(Some)
}

/// Loads the catalog model folder `dir`, which must score this data's `num_items` items (and,
/// given `model`, have that architecture).
fn load_matching(
    dir: &Path,
    backend: &Backend,
    num_items: usize,
    model: Option<&CatalogModel>,
) -> anyhow::Result<CatalogScorer> {
    let (scorer, meta) = catalog_dir::load(dir, &backend.device)?;
    anyhow::ensure!(
        meta.num_items == num_items,
        "{}: the model has {} items, this data {num_items}",
        dir.display(),
        meta.num_items
    );
    if let Some(model) = model {
        anyhow::ensure!(
            meta.model == *model,
            "{}: the saved model is {:?}, the config asks for {model:?}",
            dir.display(),
            meta.model
        );
    }
    Ok(scorer)
}

pub fn run(args: CatalogArgs) -> anyhow::Result<()> {
    let cfg: CatalogRunConfig = config::load(&args.config)?;
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.config.display()))?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("runs").join(args.config.file_stem().unwrap_or_default()));
    let config_text = toml::to_string(&cfg)?;
    let stored = out.join(RUN_CONFIG);
    if args.resume {
        let text = std::fs::read_to_string(&stored).with_context(|| {
            format!(
                "{}: cannot read; --resume continues a catalog run, and {} holds none",
                stored.display(),
                out.display()
            )
        })?;
        anyhow::ensure!(
            text == config_text,
            "{}: the run was started with another config than {}; resume it with the same settings, or start a new --out",
            stored.display(),
            args.config.display()
        );
    } else {
        // A run that stopped before its teacher was saved (bad data, say) holds only its
        // config, a copy of the user's file: starting again over it loses nothing.
        anyhow::ensure!(
            !out.join("teacher").exists() && !out.join("students").exists(),
            "{} already holds a catalog run; pass --resume to continue it, or choose another --out (nothing was overwritten)",
            out.display()
        );
        std::fs::create_dir_all(&out)
            .with_context(|| format!("{}: cannot create", out.display()))?;
        write_atomic(&stored, config_text.as_bytes())?;
    }
    let backend = backend::open(args.backend)?;
    // A reused teacher fixes the catalog's item order.
    let saved_teacher = out.join("teacher");
    let reused = match &args.teacher {
        Some(dir) => Some(dir.clone()),
        None if args.resume && catalog_dir::meta_path(&saved_teacher).is_some() => {
            Some(saved_teacher.clone())
        }
        None => None,
    };
    if args.resume && reused.is_none() && out.join("students").exists() {
        bail!(
            "{}: holds students but no teacher/, so they were distilled from a teacher given with --teacher; resume with the same --teacher and --cache",
            out.display()
        );
    }
    let catalog = match &reused {
        Some(dir) => saved_item_ids(dir, catalog_dir::load_meta(dir)?.num_items)?,
        None => None,
    };
    let (num_users, split, item_ids) = load_split(&cfg.data, catalog.as_deref())?;
    let l = split.num_items;
    eprintln!(
        "catalog: {num_users} users, {l} items, {} training and {} held-out positives; {} users evaluated",
        split.train.iter().map(Vec::len).sum::<usize>(),
        split.test.iter().map(Vec::len).sum::<usize>(),
        split.evaluable().len()
    );

    // Softmax KD keeps the teacher's scores over the whole catalog for every user in memory.
    let full_bytes = (split.train.len() as u128) * (l as u128) * 4;
    if cfg.methods.contains(&CatalogMethod::SoftmaxKd) && full_bytes > MAX_FULL_SCORES_BYTES {
        bail!(
            "{}: softmax_kd needs the teacher's scores over all {l} items for all {} users, {:.1} GiB (at most {} GiB); drop it from methods and use sampled, whose cost does not grow with the catalog",
            args.config.display(),
            split.train.len(),
            full_bytes as f64 / (1u64 << 30) as f64,
            MAX_FULL_SCORES_BYTES >> 30
        );
    }

    let mut evaluated = None;
    let teacher = match &args.teacher {
        Some(dir) => load_matching(dir, &backend, l, None)?,
        None if args.resume && catalog_dir::meta_path(&saved_teacher).is_some() => {
            let t = load_matching(&saved_teacher, &backend, l, Some(&cfg.teacher.model))?;
            eprintln!("catalog: teacher reused from {}", saved_teacher.display());
            t
        }
        None => {
            let t = train(&cfg.teacher, &split, Target::Labels, &backend, 0, "teacher")?;
            let (ndcg, recall, eval_s) = evaluate_catalog(&t, &split, &backend);
            evaluated = Some((ndcg, recall, eval_s));
            let meta = CatalogModelMeta {
                data: cfg.data.clone(),
                model: cfg.teacher.model.clone(),
                num_items: l,
                ndcg_at_10: ndcg,
                recall_at_20: recall,
                role: "teacher".into(),
                method: None,
                seed: None,
            };
            catalog_dir::save(&saved_teacher, &t, &meta, &item_ids)?;
            t
        }
    };
    let (t_ndcg, t_recall, eval_s) =
        evaluated.unwrap_or_else(|| evaluate_catalog(&teacher, &split, &backend));
    eprintln!(
        "catalog: teacher NDCG@10 {t_ndcg:.4}, Recall@20 {t_recall:.4} (full-catalog evaluation in {eval_s:.2}s)"
    );

    // The teacher's top-p unseen items per user: written once, read by every student.
    let p = cfg.distill.p;
    let cache_path = match &args.cache {
        Some(path) => path.clone(),
        None => {
            let path = out.join(format!("teacher-top{p}.bin"));
            if args.resume && path.exists() {
                eprintln!(
                    "catalog: teacher top-{p} cache reused from {}",
                    path.display()
                );
            } else {
                let started = Instant::now();
                build_cache(&teacher, &split, p, &backend).write(&path, l)?;
                eprintln!(
                    "catalog: teacher top-{p} cache written to {} ({:.2}s)",
                    path.display(),
                    started.elapsed().as_secs_f64()
                );
            }
            path
        }
    };
    let cache = TopPCache::read(&cache_path, l)?;
    anyhow::ensure!(
        cache.users.len() == split.train.len() && cache.p >= cfg.distill.p,
        "{}: a top-{} cache for {} users does not serve p = {} for {} users",
        cache_path.display(),
        cache.p,
        cache.users.len(),
        cfg.distill.p,
        split.train.len()
    );
    // Softmax KD needs the teacher's scores over the whole catalog.
    let all: Vec<usize> = (0..split.train.len()).collect();
    let full = if cfg.methods.contains(&CatalogMethod::SoftmaxKd) {
        score_users(&teacher, &split, &all, &backend, false)
    } else {
        Vec::new()
    };

    let mut rows: Vec<(CatalogMethod, Vec<(f64, f64)>)> = Vec::new();
    for &method in &cfg.methods {
        let mut runs = Vec::new();
        for &seed in &cfg.seeds {
            let name = format!("{method:?} seed {seed}");
            let dir = out
                .join("students")
                .join(format!("{}-seed{seed}", method.key()));
            if args.resume && catalog_dir::meta_path(&dir).is_some() {
                let meta = catalog_dir::load_meta(&dir)?;
                anyhow::ensure!(
                    meta.method.as_deref() == Some(method.key()) && meta.seed == Some(seed),
                    "{}: holds {:?} seed {:?}, not {name}",
                    dir.display(),
                    meta.method,
                    meta.seed
                );
                eprintln!(
                    "catalog: {name} reused from {}: NDCG@10 {:.4}, Recall@20 {:.4}",
                    dir.display(),
                    meta.ndcg_at_10,
                    meta.recall_at_20
                );
                runs.push((meta.ndcg_at_10, meta.recall_at_20));
                continue;
            }
            let target = match method {
                CatalogMethod::LabelOnly => Target::Labels,
                CatalogMethod::Sampled => Target::Sampled(
                    &cache,
                    SampledRankDistilConfig::new()
                        .with_k(cfg.distill.k)
                        .with_p(cfg.distill.p)
                        .with_m(cfg.distill.m)
                        .with_samples(cfg.distill.samples)
                        .with_temperature(cfg.distill.temperature)
                        .with_teacher_temperature(cfg.distill.teacher_temperature)
                        .with_logq_correction(cfg.distill.logq_correction)
                        .with_popular(cfg.distill.popular_negatives)
                        .with_seed(seed)
                        .init(),
                    cfg.distill.alpha,
                ),
                CatalogMethod::SoftmaxKd => Target::SoftmaxKd(&full),
            };
            let student = train(&cfg.student, &split, target, &backend, seed, &name)?;
            let (ndcg, recall, _) = evaluate_catalog(&student, &split, &backend);
            let meta = CatalogModelMeta {
                data: cfg.data.clone(),
                model: cfg.student.model.clone(),
                num_items: l,
                ndcg_at_10: ndcg,
                recall_at_20: recall,
                role: "student".into(),
                method: Some(method.key().into()),
                seed: Some(seed),
            };
            catalog_dir::save(&dir, &student, &meta, &item_ids)?;
            eprintln!(
                "catalog: {name}: NDCG@10 {ndcg:.4}, Recall@20 {recall:.4}, saved to {}",
                dir.display()
            );
            runs.push((ndcg, recall));
        }
        rows.push((method, runs));
    }
    let name = |m: CatalogMethod| match m {
        CatalogMethod::LabelOnly => "label_only",
        CatalogMethod::Sampled => "sampled RankDistil",
        CatalogMethod::SoftmaxKd => "softmax_kd",
    };
    let (p_ndcg, p_recall) = evaluate_popularity(&split);
    let mut md = format!(
        "| model | NDCG@10 | Recall@20 |\n|---|---|---|\n| teacher | {t_ndcg:.4} | {t_recall:.4} |\n| popularity (training counts) | {p_ndcg:.4} | {p_recall:.4} |\n"
    );
    for (m, runs) in &rows {
        let (n, ns) = mean_std(&runs.iter().map(|r| r.0).collect::<Vec<_>>());
        let (r, rs) = mean_std(&runs.iter().map(|r| r.1).collect::<Vec<_>>());
        md += &format!("| {} | {n:.4} ± {ns:.4} | {r:.4} ± {rs:.4} |\n", name(*m));
    }
    write_atomic(&out.join("catalog.md"), md.as_bytes())?;
    println!(
        "full-catalog metrics ({} items, training items excluded), students over seeds {:?}:\n\n{md}\nfull-catalog evaluation of the teacher took {eval_s:.2}s; written to {}",
        l,
        cfg.seeds,
        out.join("catalog.md").display()
    );
    Ok(())
}
