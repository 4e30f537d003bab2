//! A sweep's pictures, drawn from its `points.csv` alone (so `meshsim plot` redraws them
//! without running anything): a metric against one knob with its 95 % band, one line per value
//! of a second knob; and a heatmap of a metric over two knobs. Knobs other than the ones drawn
//! are held at their first value, which the caption states.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use sim::SimDuration;
use sim::stats::Histogram;

use super::{register_embedded_font, write_png};
use crate::output::write_atomically;
use crate::scenario::units::Bandwidth;
use crate::sweep::plan::{Plan, PlotSpec};
use crate::sweep::values::significant;

const WIDTH: u32 = 1100;
const HEIGHT: u32 = 700;

/// The metrics drawn by default, when the sweep has them.
const DEFAULT_METRICS: [&str; 3] = ["error_rate", "time_to_first_ejection_s", "latency_p99_ms"];

/// `points.csv`, read back.
pub struct PointsTable {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Knob column names, in order.
    pub knobs: Vec<String>,
}

impl PointsTable {
    /// Reads `dir/points.csv`.
    pub fn read(dir: &Path) -> Result<PointsTable, String> {
        let path = dir.join("points.csv");
        let mut reader = csv::Reader::from_path(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let header: Vec<String> = reader.headers().map_err(|e| e.to_string())?.iter().map(str::to_owned).collect();
        let end = header
            .iter()
            .position(|h| h == "replications")
            .ok_or_else(|| format!("{}: not a points.csv", path.display()))?;
        let rows = reader
            .records()
            .map(|r| r.map(|r| r.iter().map(str::to_owned).collect()).map_err(|e| format!("{}: {e}", path.display())))
            .collect::<Result<_, _>>()?;
        Ok(PointsTable { knobs: header[1..end].to_vec(), header, rows })
    }

    /// The rows, one per point, in point order.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// A column by its header.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The metrics it holds (names before `:mean`).
    pub fn metrics(&self) -> Vec<String> {
        self.header.iter().filter_map(|h| h.strip_suffix(":mean")).map(str::to_owned).collect()
    }

    /// A knob's distinct values in first-seen order.
    fn values(&self, knob: usize) -> Vec<String> {
        let mut values: Vec<String> = Vec::new();
        for row in &self.rows {
            if !values.contains(&row[knob]) {
                values.push(row[knob].clone());
            }
        }
        values
    }

    /// A knob by its name, or the one whose name ends with `.name`.
    pub fn knob(&self, name: &str) -> Result<usize, String> {
        let found: Vec<usize> = (1..=self.knobs.len())
            .filter(|&c| self.header[c] == name || self.header[c].ends_with(&format!(".{name}")))
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("no knob {name:?}; the knobs are {}", self.knobs.join(", "))),
            _ => Err(format!("{name:?} names more than one knob; write the whole path")),
        }
    }
}

/// A knob value as a number for an axis, with the axis unit: durations in seconds, bandwidths
/// in Mbps; `None` for values that are not quantities.
fn quantity(value: &str) -> Option<(f64, &'static str)> {
    if let Ok(v) = value.parse::<f64>() {
        return Some((v, ""));
    }
    if let Ok(d) = value.parse::<SimDuration>() {
        return Some((d.as_secs_f64(), " (s)"));
    }
    Bandwidth::parse(value).ok().map(|b| (b.0 as f64 / 1e6, " (Mbps)"))
}

/// An axis title for a metric column.
fn metric_title(metric: &str) -> String {
    match metric {
        "error_rate" => "user-visible error rate (fraction of requests)".into(),
        m if m.ends_with("_ms") => format!("{} (ms)", m.trim_end_matches("_ms").replace('_', " ")),
        m if m.ends_with("_s") => format!("{} (s)", m.trim_end_matches("_s").replace('_', " ")),
        m if m.ends_with("_mbps") => format!("{} (Mbps)", m.trim_end_matches("_mbps")),
        m => m.replace('_', " "),
    }
}

/// A file-name-safe form of a column name.
fn slug(name: &str) -> String {
    let short = name.rsplit('.').next().unwrap_or(name);
    short.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

/// One point of a line: x, the mean, and its 95 % interval when there is one.
type LinePoint = (f64, f64, Option<(f64, f64)>);

/// One line of a metric plot.
struct Line {
    label: String,
    points: Vec<LinePoint>,
}

/// Draws `metric` against knob `x`, one line per value of knob `by`, into `dir` as
/// `<metric>-vs-<x>[-by-<by>].png` and `.svg`; returns the files.
pub fn draw_metric(
    dir: &Path,
    table: &PointsTable,
    x: &str,
    metric: &str,
    by: Option<&str>,
) -> Result<Vec<PathBuf>, String> {
    register_embedded_font();
    let x_col = table.knob(x)?;
    let by_col = by.map(|b| table.knob(b)).transpose()?;
    if by_col == Some(x_col) {
        return Err("--by must name another knob than --x".into());
    }
    let mean_col = table
        .column(&format!("{metric}:mean"))
        .ok_or_else(|| format!("no metric {metric:?} in points.csv; metrics are {}", table.metrics().join(", ")))?;
    let x_values = table.values(x_col);
    let numeric = x_values.iter().all(|v| quantity(v).is_some());
    let unit = if numeric { x_values.first().and_then(|v| quantity(v)).map_or("", |q| q.1) } else { "" };
    // Values spanning two decades or more (10, 100, 1000 requests) are spaced on a log axis.
    let magnitudes: Vec<f64> = x_values.iter().filter_map(|v| quantity(v)).map(|q| q.0).collect();
    let log = numeric
        && magnitudes.iter().all(|&m| m > 0.0)
        && magnitudes.iter().cloned().fold(0.0, f64::max)
            >= 100.0 * magnitudes.iter().cloned().fold(f64::INFINITY, f64::min);
    let position = |value: &str| -> f64 {
        if numeric {
            let m = quantity(value).map_or(0.0, |q| q.0);
            if log { m.log10() } else { m }
        } else {
            x_values.iter().position(|v| v == value).unwrap_or(0) as f64
        }
    };
    let held = held_knobs(table, &[Some(x_col), by_col]);
    let groups: Vec<Option<String>> = match by_col {
        Some(c) => table.values(c).into_iter().map(Some).collect(),
        None => vec![None],
    };
    let mut lines = Vec::new();
    for group in &groups {
        let mut points = Vec::new();
        for row in table.rows.iter().filter(|r| held.iter().all(|(c, v)| r[*c] == *v)) {
            if let (Some(g), Some(c)) = (group, by_col)
                && row[c] != *g
            {
                continue;
            }
            let Ok(mean) = row[mean_col].parse::<f64>() else { continue };
            let band = match (row[mean_col + 2].parse::<f64>(), row[mean_col + 3].parse::<f64>()) {
                (Ok(low), Ok(high)) => Some((low, high)),
                _ => None,
            };
            points.push((position(&row[x_col]), mean, band));
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let label = match (group, by_col) {
            (Some(g), Some(c)) => format!("{} = {g}", short_name(&table.header[c])),
            _ => metric.to_owned(),
        };
        lines.push(Line { label, points });
    }
    let x_title = format!("{}{unit}{}", short_name(&table.header[x_col]), if log { ", log scale" } else { "" });
    let caption = caption(&metric_title(metric), &held, table);
    let name = match by_col {
        Some(c) => format!("{}-vs-{}-by-{}", slug(metric), slug(&table.header[x_col]), slug(&table.header[c])),
        None => format!("{}-vs-{}", slug(metric), slug(&table.header[x_col])),
    };
    let labels = (!numeric).then_some(x_values.as_slice());
    let chart = LineChart {
        caption: &caption,
        x_title: &x_title,
        y_title: &metric_title(metric),
        lines: &lines,
        labels,
        markers: true,
        log_x: log,
    };
    write_both(dir, &name, |area| chart.draw(area), |area| chart.draw(area))
}

/// Knobs not drawn, held at their first value: `(column, value)`.
fn held_knobs(table: &PointsTable, drawn: &[Option<usize>]) -> Vec<(usize, String)> {
    (1..=table.knobs.len())
        .filter(|c| !drawn.contains(&Some(*c)))
        .filter_map(|c| table.rows.first().map(|r| (c, r[c].clone())))
        .collect()
}

fn short_name(column: &str) -> &str {
    column.rsplit('.').next().unwrap_or(column)
}

fn caption(title: &str, held: &[(usize, String)], table: &PointsTable) -> String {
    if held.is_empty() {
        return title.to_owned();
    }
    let fixed: Vec<String> = held.iter().map(|(c, v)| format!("{} = {v}", short_name(&table.header[*c]))).collect();
    format!("{title}; {}", fixed.join(", "))
}

/// Writes `<name>.svg` and `<name>.png` with the same drawing.
fn write_both(
    dir: &Path,
    name: &str,
    svg: impl FnOnce(DrawingArea<SVGBackend, Shift>) -> Result<(), String>,
    png: impl FnOnce(DrawingArea<BitMapBackend, Shift>) -> Result<(), String>,
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    let mut text = String::new();
    svg(SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area())?;
    let svg_path = dir.join(format!("{name}.svg"));
    write_atomically(&svg_path, text.as_bytes())?;
    let png_path = dir.join(format!("{name}.png"));
    write_png(&png_path, (WIDTH, HEIGHT), png)?;
    Ok(vec![png_path, svg_path])
}

struct LineChart<'a> {
    caption: &'a str,
    x_title: &'a str,
    y_title: &'a str,
    lines: &'a [Line],
    /// Category names when the knob's values are not quantities.
    labels: Option<&'a [String]>,
    /// Whether each point is marked (one per sweep point) or the line is dense (a CDF).
    markers: bool,
    /// Whether x positions are log10 of the values (labels show the values).
    log_x: bool,
}

impl LineChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let all = self.lines.iter().flat_map(|l| l.points.iter());
        let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
        for &(x, mean, band) in all {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y1 = y1.max(band.map_or(mean, |b| b.1.max(mean)));
        }
        if !x0.is_finite() {
            (x0, x1) = (0.0, 1.0);
        }
        let pad = ((x1 - x0) * 0.05).max(0.5 * (x1 == x0) as u8 as f64);
        let top = if y1 > 0.0 { y1 * 1.1 } else { 1.0 };
        // One line needs no legend (the caption names it); several get a column of their own.
        let legend_width = if self.lines.len() > 1 { 230 } else { 0 };
        let (layout, legend_area) = root.split_horizontally(WIDTH - legend_width);
        let mut chart = ChartBuilder::on(&layout)
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .caption(self.caption, ("sans-serif", 18))
            .build_cartesian_2d((x0 - pad)..(x1 + pad), 0.0..top)
            .map_err(err)?;
        let (labels, log_x) = (self.labels, self.log_x);
        let format_x = move |x: &f64| match labels {
            Some(names) if x.fract().abs() < 1e-9 && *x >= 0.0 => names.get(*x as usize).cloned().unwrap_or_default(),
            Some(_) => String::new(),
            None if log_x => format!("{}", significant(10f64.powf(*x), 3)),
            None => format!("{}", (x * 1000.0).round() / 1000.0),
        };
        chart
            .configure_mesh()
            .x_desc(self.x_title)
            .y_desc(self.y_title)
            .x_label_formatter(&format_x)
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
        for (i, line) in self.lines.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            let band: Vec<(f64, f64)> = line
                .points
                .iter()
                .filter_map(|(x, _, b)| b.map(|(low, _)| (*x, low.max(0.0))))
                .chain(line.points.iter().rev().filter_map(|(x, _, b)| b.map(|(_, high)| (*x, high))))
                .collect();
            if band.len() >= 4 {
                chart.draw_series(std::iter::once(Polygon::new(band, colour.mix(0.18)))).map_err(err)?;
            }
            chart
                .draw_series(LineSeries::new(line.points.iter().map(|(x, y, _)| (*x, *y)), colour.stroke_width(2)))
                .map_err(err)?;
            if self.markers {
                chart
                    .draw_series(line.points.iter().map(|(x, y, _)| Circle::new((*x, *y), 4, colour.filled())))
                    .map_err(err)?;
            }
        }
        // The legend sits in its own column, beside the plot, never over the data.
        legend_area.fill(&WHITE).map_err(err)?;
        for (i, line) in self.lines.iter().enumerate().filter(|_| legend_width > 0) {
            let colour = Palette99::pick(i).to_rgba();
            let y = 60 + 26 * i as i32;
            legend_area.draw(&Rectangle::new([(10, y - 6), (34, y + 6)], colour.filled())).map_err(err)?;
            legend_area.draw(&Text::new(line.label.clone(), (42, y - 8), ("sans-serif", 15))).map_err(err)?;
        }
        root.present().map_err(err)
    }
}

/// Draws a heatmap of `metric`'s mean over knobs `x` and `y` as `<metric>-over-<x>-<y>`.
pub fn draw_heatmap(dir: &Path, table: &PointsTable, x: &str, y: &str, metric: &str) -> Result<Vec<PathBuf>, String> {
    register_embedded_font();
    let (x_col, y_col) = (table.knob(x)?, table.knob(y)?);
    let mean_col =
        table.column(&format!("{metric}:mean")).ok_or_else(|| format!("no metric {metric:?} in points.csv"))?;
    let (xs, ys) = (table.values(x_col), table.values(y_col));
    let held = held_knobs(table, &[Some(x_col), Some(y_col)]);
    let mut cells = vec![vec![None; xs.len()]; ys.len()];
    for row in table.rows.iter().filter(|r| held.iter().all(|(c, v)| r[*c] == *v)) {
        let i = xs.iter().position(|v| *v == row[x_col]).unwrap_or(0);
        let j = ys.iter().position(|v| *v == row[y_col]).unwrap_or(0);
        cells[j][i] = row[mean_col].parse::<f64>().ok();
    }
    let map = Heatmap {
        caption: &caption(&format!("mean {}", metric_title(metric)), &held, table),
        x_title: short_name(&table.header[x_col]),
        y_title: short_name(&table.header[y_col]),
        xs: &xs,
        ys: &ys,
        cells: &cells,
    };
    let name = format!("{}-over-{}-{}", slug(metric), slug(&table.header[x_col]), slug(&table.header[y_col]));
    write_both(dir, &name, |a| map.draw(a), |a| map.draw(a))
}

struct Heatmap<'a> {
    caption: &'a str,
    x_title: &'a str,
    y_title: &'a str,
    xs: &'a [String],
    ys: &'a [String],
    cells: &'a [Vec<Option<f64>>],
}

impl Heatmap<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let values = self.cells.iter().flatten().flatten().copied();
        let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
        let span = if high > low { high - low } else { 1.0 };
        let (xs, ys) = (self.xs, self.ys);
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(90)
            .caption(self.caption, ("sans-serif", 18))
            .build_cartesian_2d(0.0..xs.len() as f64, 0.0..ys.len() as f64)
            .map_err(err)?;
        let name = |names: &[String], v: f64| {
            let i = (v - 0.5).round();
            if (v - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(self.x_title)
            .y_desc(self.y_title)
            .x_labels(xs.len() * 2 + 1)
            .y_labels(ys.len() * 2 + 1)
            .x_label_formatter(&|v| name(xs, *v))
            .y_label_formatter(&|v| name(ys, *v))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
        for (j, row) in self.cells.iter().enumerate() {
            for (i, cell) in row.iter().enumerate() {
                let (x, y) = (i as f64, j as f64);
                let (colour, text) = match cell {
                    Some(v) => {
                        let t = (v - low) / span;
                        (
                            RGBColor((40.0 + 215.0 * t) as u8, (170.0 - 120.0 * t) as u8, (220.0 - 180.0 * t) as u8),
                            format!("{v:.3}"),
                        )
                    }
                    None => (RGBColor(230, 230, 230), "-".into()),
                };
                chart
                    .draw_series(std::iter::once(Rectangle::new([(x, y), (x + 1.0, y + 1.0)], colour.filled())))
                    .map_err(err)?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        text,
                        (x + 0.4, y + 0.55),
                        ("sans-serif", 15).into_font().color(&BLACK),
                    )))
                    .map_err(err)?;
            }
        }
        root.present().map_err(err)
    }
}

/// Draws the latency distribution (CDF) of each `(label, histogram of nanoseconds)` into
/// `dir/latency-cdf.png` and `.svg`, up to the largest p99.9.
pub fn draw_latency_cdf(dir: &Path, curves: &[(String, Histogram)]) -> Result<Vec<PathBuf>, String> {
    register_embedded_font();
    let lines: Vec<Line> = curves
        .iter()
        .map(|(label, histogram)| Line {
            label: label.clone(),
            points: (0..=1000)
                .filter_map(|permille| {
                    let q = permille as f64 / 1000.0;
                    histogram.quantile(q.min(0.999)).map(|ns| (ns as f64 / 1e6, q, None))
                })
                .collect(),
        })
        .collect();
    let chart = LineChart {
        caption: "latency distribution of answered requests",
        x_title: "latency (ms)",
        y_title: "fraction of requests at or below",
        lines: &lines,
        labels: None,
        markers: false,
        log_x: false,
    };
    write_both(dir, "latency-cdf", |area| chart.draw(area), |area| chart.draw(area))
}

/// The plots a sweep draws when it ends: those its file lists under `plots`, or by default
/// each of a few headline metrics against the knob with the most values (one line per value of
/// the next such knob) and a heatmap of the error rate over the two.
pub fn plot_specs(plan: &Plan, table: &PointsTable) -> Vec<PlotSpec> {
    let mut specs = plan.plots.clone();
    if specs.is_empty() {
        let mut knobs: Vec<(usize, &str)> = plan.knobs.iter().map(|k| (k.values.len(), k.name.as_str())).collect();
        knobs.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        let x = knobs[0].1.to_owned();
        let by = knobs.get(1).filter(|(n, _)| *n <= 8).map(|(_, name)| name.to_string());
        let metrics = table.metrics();
        for metric in DEFAULT_METRICS.iter().filter(|m| metrics.iter().any(|t| t == *m)) {
            specs.push(PlotSpec::Lines { x: x.clone(), y: metric.to_string(), by: by.clone() });
        }
        if let Some((_, over)) = knobs.get(1) {
            specs.push(PlotSpec::Heatmap { x, over: over.to_string(), y: "error_rate".into() });
        }
    }
    specs
}

/// Draws `specs` (a sweep's [`plot_specs`]) from its points into `out/plots`. Returns the files.
pub fn write_sweep_plots(out: &Path, table: &PointsTable, specs: &[PlotSpec]) -> Result<Vec<PathBuf>, String> {
    let dir = out.join("plots");
    let mut written = Vec::new();
    for spec in specs {
        written.extend(match spec {
            PlotSpec::Lines { x, y, by } => draw_metric(&dir, table, x, y, by.as_deref())?,
            PlotSpec::Heatmap { x, over, y } => draw_heatmap(&dir, table, x, over, y)?,
        });
    }
    Ok(written)
}
