//! The timeline picture of a run: traffic share per zone, error rate and p99 latency against
//! time, with the faults marked, as PNG and SVG. Text uses the embedded DejaVu Sans, so no
//! system fonts are needed.

use std::path::Path;

use models::mesh::summary::WindowRow;
use plotters::coord::Shift;
use plotters::prelude::*;

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
        .build_cartesian_2d(0.0..end, 0.0..100.0)
        .map_err(err)?;
    chart.configure_mesh().x_desc("time (s)").y_desc("share (%)").draw().map_err(err)?;
    for (z, zone) in t.zones.iter().enumerate() {
        let colour = Palette99::pick(z).to_rgba();
        let points = t.windows.iter().filter_map(|w| {
            let total: u64 = w.share_by_zone.iter().sum();
            (total > 0).then(|| (centre(w), 100.0 * w.share_by_zone[z] as f64 / total as f64))
        });
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(err)?
            .label(zone.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    mark_faults(&mut chart, t, 100.0)?;
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(err)?;

    // 2. Error rate.
    let mut chart = ChartBuilder::on(&panels[1])
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .caption("user-visible errors", ("sans-serif", 18))
        .build_cartesian_2d(0.0..end, 0.0..100.0)
        .map_err(err)?;
    chart.configure_mesh().x_desc("time (s)").y_desc("errors (% of requests)").draw().map_err(err)?;
    let errors =
        t.windows.iter().filter(|w| w.requests > 0).map(|w| (centre(w), 100.0 * w.failures as f64 / w.requests as f64));
    chart.draw_series(LineSeries::new(errors, RED.stroke_width(2))).map_err(err)?;
    mark_faults(&mut chart, t, 100.0)?;

    // 3. p99 latency.
    let top = t.windows.iter().map(|w| w.p99_ms).filter(|v| v.is_finite()).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&panels[2])
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .caption("p99 latency", ("sans-serif", 18))
        .build_cartesian_2d(0.0..end, 0.0..top)
        .map_err(err)?;
    chart.configure_mesh().x_desc("time (s)").y_desc("p99 latency (ms)").draw().map_err(err)?;
    let p99 = t.windows.iter().filter(|w| w.p99_ms.is_finite()).map(|w| (centre(w), w.p99_ms));
    chart.draw_series(LineSeries::new(p99, BLUE.stroke_width(2))).map_err(err)?;
    mark_faults(&mut chart, t, top)?;
    root.present().map_err(err)
}

/// Vertical lines at fault starts (solid) and ends (dashed-looking, lighter), labelled.
fn mark_faults<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    t: &Timeline,
    top: f64,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    for (start, end, label) in t.faults {
        chart.draw_series(LineSeries::new([(*start, 0.0), (*start, top)], BLACK.stroke_width(1))).map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(label.clone(), (*start, top * 0.95), ("sans-serif", 13))))
            .map_err(err)?;
        if let Some(end) = end {
            chart
                .draw_series(LineSeries::new([(*end, 0.0), (*end, top)], BLACK.mix(0.4).stroke_width(1)))
                .map_err(err)?;
        }
    }
    Ok(())
}
