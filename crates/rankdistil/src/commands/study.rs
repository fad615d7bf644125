//! `rankdistil study`: the equal-budget comparison of every method, with paired tests and the
//! student-size sweep; `study.md`, `study.json` and `sweep.svg` in `--out`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use plotters::prelude::*;
use rankdistil_train::settings;
use rankdistil_train::store::atomic::write_atomic;
use rankdistil_train::store::run_lock::RunLock;
use rankdistil_train::study::catalog::CatalogStudy;
use rankdistil_train::study::catalog_config::CatalogStudyConfig;
use rankdistil_train::study::config::ListStudyConfig;
use rankdistil_train::study::list::ListStudy;
use rankdistil_train::study::report::SweepSeries;

use crate::commands::args::BackendArg;

/// Tune every method with the same budget, test the chosen settings over seeds, and sweep
/// the student's size.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// A study config, e.g. configs/study/mslr.toml.
    #[arg(long)]
    pub config: PathBuf,
    #[command(flatten)]
    pub backend: BackendArg,
    /// The study's directory (default: `runs/study-<config name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the study in --out, training only the runs its record lacks.
    #[arg(long)]
    pub resume: bool,
}

pub fn run(args: StudyArgs) -> anyhow::Result<()> {
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args
            .config
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy();
        PathBuf::from(format!("runs/study-{stem}"))
    });
    let _lock = RunLock::acquire(&out)?;
    let backend = args.backend.open()?;
    let started = std::time::Instant::now();
    let findings = if is_catalog_study(&args.config)? {
        let config: CatalogStudyConfig = settings::load(&args.config)?;
        let study = CatalogStudy {
            config: &config,
            out: &out,
            resume: args.resume,
        };
        study.run(&backend)?
    } else {
        let config: ListStudyConfig = settings::load(&args.config)?;
        let study = ListStudy {
            config: &config,
            out: &out,
            resume: args.resume,
        };
        study.run(&backend)?
    };
    let markdown = findings.markdown();
    write_atomic(&out.join("study.md"), markdown.as_bytes())?;
    let plotted = findings.sweep.iter().any(|s| s.points.len() > 1);
    if plotted {
        write_sweep_svg(&out.join("sweep.svg"), &findings.sweep)?;
    }
    println!(
        "{markdown}\nstudy in {:.0} s; written to {}/study.{{md,json}}{}",
        started.elapsed().as_secs_f64(),
        out.display(),
        if plotted { " and sweep.svg" } else { "" }
    );
    Ok(())
}

/// A catalog study has a `[data]` table; a list study names a teacher config instead.
fn is_catalog_study(path: &std::path::Path) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the config", path.display()))?;
    let table: toml::Table = match toml::from_str(&text) {
        Ok(table) => table,
        // Either loader reports the parse error with its line.
        Err(_) => return Ok(false),
    };
    Ok(table.contains_key("data"))
}

/// Test NDCG@10 against student parameters (log scale), one line per method, drawn in
/// memory and then written whole.
fn write_sweep_svg(path: &std::path::Path, series: &[SweepSeries]) -> anyhow::Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: cannot draw: {e}", path.display());
    let points = series.iter().flat_map(|s| &s.points);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, 0f64, f64::MAX, f64::MIN);
    for &(p, m, s) in points {
        (x0, x1) = (x0.min(p as f64), x1.max(p as f64));
        (y0, y1) = (y0.min(m - s), y1.max(m + s));
    }
    let pad = ((y1 - y0) * 0.1).max(1e-3);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption("test NDCG@10 against student size", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x0 * 0.8..x1 * 1.25).log_scale(), (y0 - pad)..(y1 + pad))
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("student parameters")
            .y_desc("test NDCG@10 (mean ± std over seeds)")
            .draw()
            .map_err(|e| err(&e))?;
        for (i, s) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let line = s.points.iter().map(|&(p, m, _)| (p as f64, m));
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(s.method.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
            let bars = s.points.iter().map(|&(p, m, sd)| {
                PathElement::new(
                    [(p as f64, m - sd), (p as f64, m + sd)],
                    color.stroke_width(1),
                )
            });
            chart.draw_series(bars).map_err(|e| err(&e))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(write_atomic(path, svg.as_bytes())?)
}
