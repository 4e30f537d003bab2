//! The timeline picture of a run: traffic share per zone, error rate and p99 latency against
//! time, with the faults marked, as PNG and SVG. Every window is a point on its line, so a run of
//! a few windows still shows its values; fault labels sit in a band above the data, turned to
//! the left of their line in the right half; ejections are marked along the time axis. Text uses
//! the embedded DejaVu Sans, so no system fonts are needed.

use std::path::Path;

use models::mesh::summary::WindowRow;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{register_embedded_font, write_png};
use crate::output::write_atomically;

/// What one picture shows.
pub struct Timeline<'a> {
    /// Scenario name, for the title.
    pub title: &'a str,
    /// The share service's name.
    pub share_service: &'a str,
    /// Zone names, in the order of `share_by_zone`.
    pub zones: &'a [String],
    /// Replication 0's windows.
    pub windows: &'a [WindowRow],
    /// Window width in seconds.
    pub window_seconds: f64,
    /// Fault start and end times in seconds, with a label.
    pub faults: &'a [(f64, Option<f64>, String)],
}

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 900;

/// The y range above the data kept for fault labels, as a fraction of the data's range.
const LABEL_BAND: f64 = 0.15;

/// Writes `timeline.png` and `timeline.svg` into `dir`.
pub fn write_timeline(dir: &Path, timeline: &Timeline) -> Result<(), String> {
    register_embedded_font();
    let mut svg = String::new();
    draw(SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area(), timeline)?;
    write_atomically(&dir.join("timeline.svg"), svg.as_bytes())?;
    write_png(&dir.join("timeline.png"), (WIDTH, HEIGHT), |area| draw(area, timeline))
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, t: &Timeline) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(&format!("meshsim: {}", t.title), ("sans-serif", 26)).map_err(err)?;
    let panels = root.split_evenly((3, 1));
    let end = t.windows.last().map_or(1.0, |w| w.start + t.window_seconds).max(t.window_seconds);
    let centre = |w: &WindowRow| w.start + t.window_seconds / 2.0;

    // 1. Share of the share service's answers per zone.
    let mut chart = ChartBuilder::on(&panels[0])
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .caption(format!("{} answers by zone", t.share_service), ("sans-serif", 18))
        .build_cartesian_2d(0.0..end, 0.0..100.0 * (1.0 + LABEL_BAND))
        .map_err(err)?;
    chart.configure_mesh().x_desc("time (s)").y_desc("share (%)").draw().map_err(err)?;
    for (z, zone) in t.zones.iter().enumerate() {
        let colour = Palette99::pick(z).to_rgba();
        let points = t.windows.iter().filter_map(|w| {
            let total: u64 = w.share_by_zone.iter().sum();
            (total > 0).then(|| (centre(w), 100.0 * w.share_by_zone[z] as f64 / total as f64))
        });
        let points: Vec<(f64, f64)> = points.collect();
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled()))).map_err(err)?;
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(err)?
            .label(zone.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    mark_faults(&mut chart, t, 100.0, end)?;
    mark_ejections(&mut chart, t)?;
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;

    // 2. Error rate.
    let mut chart = ChartBuilder::on(&panels[1])
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .caption("user-visible errors", ("sans-serif", 18))
        .build_cartesian_2d(0.0..end, 0.0..100.0 * (1.0 + LABEL_BAND))
        .map_err(err)?;
    chart.configure_mesh().x_desc("time (s)").y_desc("errors (% of requests)").draw().map_err(err)?;
    let errors: Vec<(f64, f64)> = t
        .windows
        .iter()
        .filter(|w| w.requests > 0)
        .map(|w| (centre(w), 100.0 * w.failures as f64 / w.requests as f64))
        .collect();
    chart.draw_series(errors.iter().map(|&p| Circle::new(p, 3, RED.filled()))).map_err(err)?;
    chart.draw_series(LineSeries::new(errors, RED.stroke_width(2))).map_err(err)?;
    mark_faults(&mut chart, t, 100.0, end)?;
    mark_ejections(&mut chart, t)?;

    // 3. p99 latency.
    let top = t.windows.iter().map(|w| w.p99_ms).filter(|v| v.is_finite()).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&panels[2])
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .caption("p99 latency", ("sans-serif", 18))
        .build_cartesian_2d(0.0..end, 0.0..top * (1.0 + LABEL_BAND))
        .map_err(err)?;
    chart.configure_mesh().x_desc("time (s)").y_desc("p99 latency (ms)").draw().map_err(err)?;
    let p99: Vec<(f64, f64)> =
        t.windows.iter().filter(|w| w.p99_ms.is_finite()).map(|w| (centre(w), w.p99_ms)).collect();
    chart.draw_series(p99.iter().map(|&p| Circle::new(p, 3, BLUE.filled()))).map_err(err)?;
    chart.draw_series(LineSeries::new(p99, BLUE.stroke_width(2))).map_err(err)?;
    mark_faults(&mut chart, t, top, end)?;
    mark_ejections(&mut chart, t)?;
    root.present().map_err(err)
}

/// The charts of the timeline: time against a value, both in `f64`.
type TimeChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

/// Vertical lines at fault starts (solid) and ends (lighter), labelled in the band above the
/// data (`top` is the data's top; `end` the run's, to turn labels left in the right half).
fn mark_faults<DB: DrawingBackend>(chart: &mut TimeChart<DB>, t: &Timeline, top: f64, end: f64) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let band = top * (1.0 + LABEL_BAND / 2.0);
    for (i, (start, stop, label)) in t.faults.iter().enumerate() {
        chart.draw_series(LineSeries::new([(*start, 0.0), (*start, top)], BLACK.stroke_width(1))).map_err(err)?;
        // Labels of faults starting close together step down within the band.
        let y = band - (i % 2) as f64 * top * LABEL_BAND / 3.0;
        let side = if *start > end / 2.0 { HPos::Right } else { HPos::Left };
        let style = TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(side, VPos::Center));
        chart.draw_series(std::iter::once(Text::new(label.clone(), (*start, y), style))).map_err(err)?;
        if let Some(stop) = stop {
            chart
                .draw_series(LineSeries::new([(*stop, 0.0), (*stop, top)], BLACK.mix(0.4).stroke_width(1)))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// A mark on the time axis in each window that saw ejections.
fn mark_ejections<DB: DrawingBackend>(chart: &mut TimeChart<DB>, t: &Timeline) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let marks = t
        .windows
        .iter()
        .filter(|w| w.ejections > 0)
        .map(|w| TriangleMarker::new((w.start + t.window_seconds / 2.0, 0.0), 6, MAGENTA.filled()));
    chart
        .draw_series(marks)
        .map_err(err)?
        .label("ejections")
        .legend(|(x, y)| TriangleMarker::new((x + 10, y), 6, MAGENTA.filled()));
    Ok(())
}
