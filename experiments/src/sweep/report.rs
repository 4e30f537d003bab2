//! `report.html` for a sweep: the question it answers, its plan (seed, replications, the
//! settings fixed at every point, knobs and their values), every point's headline figures with
//! their 95 % intervals, and its plots (inline SVG), on one self-contained page readable from
//! disk with no server, no network and no script. It is made from the plan, `points.csv` and the
//! plots alone, so, like them, it is the same bytes however the sweep was split, resumed or
//! merged. Every text from the sweep file is escaped (the plots' own text is escaped by their
//! SVG writer).

use std::fmt::Write as _;

use super::plan::{Mode, Plan, PlotSpec};
use crate::plot::sweep::PointsTable;
use crate::report::{escape, inline_svg, page_start};

/// Points listed on the page (`points.csv` has them all).
const POINT_ROWS_SHOWN: usize = 1000;

/// The page. `specs` are the plots the sweep drew, `plots` their SVG files' names and texts.
pub fn html(plan: &Plan, table: &PointsTable, specs: &[PlotSpec], plots: &[(String, String)]) -> String {
    let mut page = page_start(
        &format!("meshsim sweep: {}", plan.name),
        &plan.description,
        "td.n{white-space:nowrap}#plan th{max-width:30em;overflow-wrap:anywhere}",
    );
    plan_section(&mut page, plan);
    points_section(&mut page, table, &shown_metrics(specs, table));
    page.push_str("<h2>Plots</h2>\n");
    for (file, svg) in plots {
        let _ = writeln!(page, "<h3>{}</h3>", escape(file.trim_end_matches(".svg")));
        page.push_str(inline_svg(svg));
        page.push('\n');
    }
    page.push_str("</body></html>\n");
    page
}

/// The metrics the points table shows: the error rate, then each plotted metric, once each, in
/// the order the plots name them; only those `points.csv` has.
fn shown_metrics(specs: &[PlotSpec], table: &PointsTable) -> Vec<String> {
    let held = table.metrics();
    let plotted = specs.iter().map(|spec| match spec {
        PlotSpec::Lines { y, .. } | PlotSpec::Heatmap { y, .. } => y.as_str(),
    });
    let mut shown: Vec<String> = Vec::new();
    for metric in std::iter::once("error_rate").chain(plotted) {
        if held.iter().any(|m| m == metric) && !shown.iter().any(|m| m == metric) {
            shown.push(metric.to_owned());
        }
    }
    shown
}

fn plan_section(page: &mut String, plan: &Plan) {
    let mode = match plan.mode {
        Mode::Grid => "grid (every combination)",
        Mode::Zip => "zip (the i-th values together)",
    };
    page.push_str("<h2>Plan</h2>\n<table id=\"plan\">\n");
    for (key, value) in [
        ("seed", plan.seed.to_string()),
        ("replications per point", plan.replications.to_string()),
        ("points", format!("{} ({mode})", plan.points())),
        ("runs", plan.runs().to_string()),
    ] {
        let _ = writeln!(page, "<tr><th>{key}</th><td>{}</td></tr>", escape(&value));
    }
    for (path, value) in plan.fixed() {
        let _ =
            writeln!(page, "<tr><th>set {}</th><td>{}</td></tr>", escape(&path.to_string()), escape(&value.inline()));
    }
    for knob in &plan.knobs {
        let values: Vec<String> = knob.values.iter().map(|v| v.inline()).collect();
        let _ = writeln!(page, "<tr><th>knob {}</th><td>{}</td></tr>", escape(&knob.name), escape(&values.join(", ")));
    }
    page.push_str("</table>\n");
}

fn points_section(page: &mut String, table: &PointsTable, metrics: &[String]) {
    let columns: Vec<[Option<usize>; 3]> = metrics
        .iter()
        .map(|m| ["mean", "ci_low", "ci_high"].map(|suffix| table.column(&format!("{m}:{suffix}"))))
        .collect();
    let replications = table.column("replications");
    page.push_str("<h2>Points</h2>\n<p>Means over each point's replications, with their 95 % intervals; points.csv has every metric.</p>\n<table id=\"points\">\n<tr><th>point</th>");
    for knob in &table.knobs {
        let _ = write!(page, "<th>{}</th>", escape(knob));
    }
    page.push_str("<th>replications</th>");
    for metric in metrics {
        let _ = write!(page, "<th>{}</th><th>95% CI</th>", escape(metric));
    }
    page.push_str("</tr>\n");
    let rows = table.rows();
    for row in rows.iter().take(POINT_ROWS_SHOWN) {
        let cell = |column: Option<usize>| column.and_then(|c| row.get(c)).and_then(|v| v.parse::<f64>().ok());
        let _ = write!(page, "<tr><td class=\"n\">{}</td>", escape(&row[0]));
        for value in row.iter().skip(1).take(table.knobs.len()) {
            let _ = write!(page, "<td>{}</td>", escape(value));
        }
        let _ = write!(page, "<td class=\"n\">{}</td>", cell(replications).map_or(String::new(), |n| n.to_string()));
        for [mean, low, high] in &columns {
            let mean = cell(*mean).map_or("-".to_string(), figure);
            let interval = match (cell(*low), cell(*high)) {
                (Some(low), Some(high)) => format!("{} to {}", figure(low), figure(high)),
                _ => String::new(),
            };
            let _ = write!(page, "<td class=\"n\">{mean}</td><td class=\"n\">{interval}</td>");
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
    if rows.len() > POINT_ROWS_SHOWN {
        let _ = writeln!(page, "<p>{} more points in points.csv.</p>", rows.len() - POINT_ROWS_SHOWN);
    }
}

/// `value` to four significant digits (an error rate of 0.00031 stays 0.0003100, not 0.0003).
fn figure(value: f64) -> String {
    let magnitude = if value == 0.0 { 0 } else { value.abs().log10().floor() as i32 };
    let decimals = (3 - magnitude).clamp(0, 9) as usize;
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_four_significant_digits() {
        assert_eq!(figure(0.00031), "0.0003100");
        assert_eq!(figure(0.459), "0.4590");
        assert_eq!(figure(-0.0002), "-0.0002000");
        assert_eq!(figure(38.404), "38.40");
        assert_eq!(figure(9064.5), "9064");
        assert_eq!(figure(0.0), "0.000");
    }
}
