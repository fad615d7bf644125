//! `rankdistil plot`: learning curves of one or more runs, as one SVG.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use plotters::prelude::*;

use rankdistil_train::store::atomic::write_atomic;
use rankdistil_train::store::metrics_log::{EpochMetrics, MetricsLog};

/// Plot training loss and a validation metric per epoch for runs, side by side, into an SVG.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A run directory (repeat for several runs on the same axes).
    #[arg(long = "run", required = true)]
    pub runs: Vec<PathBuf>,
    /// The validation metric of the right-hand panel.
    #[arg(long, default_value = "ndcg@10")]
    pub metric: String,
    /// The SVG to write.
    #[arg(long, default_value = "curves.svg")]
    pub out: PathBuf,
}

/// One line of a panel: its label and its (epoch, value) points.
struct Series {
    label: String,
    points: Vec<(f64, f64)>,
}

pub fn run(args: PlotArgs) -> anyhow::Result<()> {
    let mut loss = Vec::new();
    let mut metric = Vec::new();
    for run in &args.runs {
        let log = MetricsLog::of(run);
        let epochs = log.read(run)?;
        let label = run.display().to_string();
        loss.push(Series {
            label: label.clone(),
            points: finite(epochs.iter().map(|e| (e.epoch as f64, e.train_loss))),
        });
        if epochs.iter().all(|e| e.valid.is_empty()) {
            // A catalog student, say: validated by its study or not at all.
            eprintln!(
                "plot: {} logs no validation metric; only its training loss is drawn",
                run.display()
            );
            continue;
        }
        let values = metric_points(&epochs, &args.metric)
            .with_context(|| log.path().display().to_string())?;
        metric.push(Series {
            label,
            points: values,
        });
    }
    let relative = relative_losses(&mut loss);
    write_svg(&args, &loss, &metric, relative)?;
    let epochs = loss.iter().map(|s| s.points.len()).max().unwrap_or(0);
    println!(
        "wrote {}: training loss and validation {} of {} run(s), up to {epochs} epochs",
        args.out.display(),
        args.metric,
        args.runs.len()
    );
    Ok(())
}

/// Runs whose losses differ in scale (a distillation loss of about 40 beside a softmax
/// cross-entropy of about 4) share one axis only as a share of their first epoch's loss; then
/// each is divided by it. Returns whether they were.
fn relative_losses(loss: &mut [Series]) -> bool {
    let firsts: Vec<f64> = loss
        .iter()
        .filter_map(|s| s.points.first().map(|p| p.1))
        .collect();
    let (lo, hi) = firsts.iter().fold((f64::INFINITY, 0f64), |(lo, hi), &v| {
        (lo.min(v.abs()), hi.max(v.abs()))
    });
    if firsts.len() < 2 || lo <= 0.0 || hi / lo < 3.0 {
        return false;
    }
    for s in loss.iter_mut() {
        if let Some(&(_, first)) = s.points.first() {
            s.points.iter_mut().for_each(|p| p.1 /= first);
        }
    }
    true
}

fn finite(points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    points.filter(|(_, y)| y.is_finite()).collect()
}

fn metric_points(epochs: &[EpochMetrics], name: &str) -> anyhow::Result<Vec<(f64, f64)>> {
    if !epochs.iter().any(|e| e.valid.contains_key(name)) {
        let known: Vec<&str> = epochs[0].valid.keys().map(String::as_str).collect();
        bail!(
            "no validation metric \"{name}\"; the run logs {}",
            known.join(", ")
        );
    }
    Ok(finite(epochs.iter().filter_map(|e| {
        Some((e.epoch as f64, *e.valid.get(name)?))
    })))
}

/// The x and y ranges that hold every point of every series, with a margin.
fn bounds(series: &[Series]) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let points = series.iter().flat_map(|s| &s.points);
    let (mut x1, mut y0, mut y1) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points {
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    (1.0..x1.max(2.0), (y0 - pad)..(y1 + pad))
}

/// Draws both panels into an SVG in memory, then writes it: no half-drawn file on an error.
fn write_svg(
    args: &PlotArgs,
    loss: &[Series],
    metric: &[Series],
    relative: bool,
) -> anyhow::Result<()> {
    let mut svg = String::new();
    let titles = [
        match relative {
            true => "training loss, as a share of epoch 1's".to_string(),
            false => "training loss".to_string(),
        },
        format!("validation {}", args.metric),
    ];
    draw(
        SVGBackend::with_string(&mut svg, (1200, 480)).into_drawing_area(),
        args,
        [loss, metric],
        titles,
    )?;
    Ok(write_atomic(&args.out, svg.as_bytes())?)
}

fn draw(
    root: DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    args: &PlotArgs,
    [loss, metric]: [&[Series]; 2],
    [loss_title, metric_title]: [String; 2],
) -> anyhow::Result<()> {
    let err =
        |e: &dyn std::fmt::Display| anyhow::anyhow!("{}: cannot draw: {e}", args.out.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(600);
    for (area, series, title) in [(&left, loss, loss_title), (&right, metric, metric_title)] {
        let (xs, ys) = bounds(series);
        let mut chart = ChartBuilder::on(area)
            .caption(&title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(xs, ys)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc(title.as_str())
            .draw()
            .map_err(|e| err(&e))?;
        for (i, s) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(s.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}
