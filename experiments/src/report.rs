//! `report.html`: one self-contained page per run — the scenario in brief, the headline figures
//! with their confidence intervals, the findings, the timeline plot (inline SVG), the event log
//! and Envoy's counters — readable from disk with no server, no network, no script. Every text
//! that comes from the scenario file is escaped.

use std::fmt::Write as _;

use models::envoy::stats::ClusterStats;
use sim::stats::{ConfidenceInterval, RunningStats};

use crate::columns::MetricColumns;
use crate::findings;
use crate::run::Replication;
use crate::scenario::Scenario;

/// Event-log rows shown on the page (`events.csv` has them all).
const EVENT_ROWS_SHOWN: usize = 500;

/// `text` with HTML's special characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The pages' style sheet (a run's report and a sweep's).
const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:70em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;display:block;overflow-x:auto}td,th{border:1px solid #ccc;padding:0.2em 0.6em;text-align:left}\
th{background:#eef}td.n{text-align:right;font-variant-numeric:tabular-nums}.fix{color:#064}\
h2{border-bottom:2px solid #88a;padding-bottom:0.1em}svg{max-width:100%;height:auto}";

/// The page. `timeline_svg` is the run's timeline plot (replication 0).
pub fn html(scenario: &Scenario, results: &[Replication], timeline_svg: &str) -> String {
    let mut page = page_start(&format!("meshsim: {}", scenario.name), &scenario.description, "");
    scenario_section(&mut page, scenario, results);
    headline_section(&mut page, results);
    let found = findings::of(scenario, results);
    page.push_str("<h2>Findings</h2>\n");
    if found.is_empty() {
        page.push_str("<p>Nothing in Envoy's counters calls for attention.</p>\n");
    } else {
        page.push_str("<ul id=\"findings\">\n");
        for f in &found {
            let _ =
                writeln!(page, "<li>{}<br><span class=\"fix\">fix: {}</span></li>", escape(&f.message), escape(&f.fix));
        }
        page.push_str("</ul>\n");
    }
    page.push_str("<h2>Timeline (replication 0)</h2>\n");
    page.push_str(inline_svg(timeline_svg));
    page.push('\n');
    if let Some(first) = results.first() {
        events_section(&mut page, first);
        stats_section(&mut page, first);
    }
    page.push_str("</body></html>\n");
    page
}

/// A page's opening, up to and including its description: `title` as its title and heading,
/// `extra_style` after the shared style sheet; both texts escaped.
pub(crate) fn page_start(title: &str, description: &str, extra_style: &str) -> String {
    let title = escape(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}{extra_style}</style></head><body>\n<h1>{title}</h1>\n<p>{}</p>\n",
        escape(description.trim())
    )
}

/// An SVG file's text as it goes inside HTML: from its `<svg` element on, since the file's
/// own XML declaration does not belong inside a page.
pub(crate) fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map_or("", |start| &svg[start..])
}

fn scenario_section(page: &mut String, scenario: &Scenario, results: &[Replication]) {
    let config = &scenario.config;
    let pods: u64 = config.clusters.iter().flat_map(|c| c.deployments.iter()).map(|d| u64::from(d.replicas)).sum();
    let mut rows = vec![
        ("simulated time".to_string(), config.duration.to_string()),
        (
            "replications".to_string(),
            format!("{} (seed of the first: {})", results.len(), results.first().map_or(0, |r| r.summary.seed)),
        ),
        (
            "Envoy / Istio".to_string(),
            format!("{} / {}", config.istio.mesh.envoy_version, config.istio.mesh.istio_version),
        ),
        ("regions".to_string(), config.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")),
        (
            "clusters".to_string(),
            config.clusters.iter().map(|c| format!("{} ({})", c.name, c.region)).collect::<Vec<_>>().join(", "),
        ),
        ("pods".to_string(), pods.to_string()),
    ];
    for (i, fault) in config.faults.iter().enumerate() {
        let end = fault.end.map_or(String::new(), |e| format!(" until {e}"));
        rows.push((format!("fault {i}"), format!("from {}{end}: {fault}", fault.start)));
    }
    page.push_str("<h2>Scenario</h2>\n<table>\n");
    for (key, value) in rows {
        let _ = writeln!(page, "<tr><th>{}</th><td>{}</td></tr>", escape(&key), escape(&value));
    }
    page.push_str("</table>\n");
    for warning in &scenario.warnings {
        let _ = writeln!(page, "<p>warning: {}</p>", escape(warning));
    }
}

fn headline_section(page: &mut String, results: &[Replication]) {
    let columns = MetricColumns::of_summaries(results.iter().map(|r| &r.summary));
    let header = columns.header();
    let cells: Vec<Vec<String>> = results.iter().map(|r| columns.cells(&r.summary)).collect();
    page.push_str("<h2>Headline figures</h2>\n<table id=\"headline\">\n<tr><th>metric</th><th>mean</th><th>95% CI</th><th>n</th></tr>\n");
    for (c, metric) in header.iter().enumerate() {
        let mut stats = RunningStats::default();
        cells.iter().filter_map(|row| row[c].parse::<f64>().ok()).filter(|v| v.is_finite()).for_each(|v| stats.push(v));
        let n = stats.count();
        let (mean, ci) = match (n, ConfidenceInterval::student_t(&stats, 0.95)) {
            (0, _) => ("-".to_string(), String::new()),
            (_, Some(ci)) => {
                (format!("{:.4}", ci.mean), format!("{:.4} to {:.4}", ci.mean - ci.half_width, ci.mean + ci.half_width))
            }
            (_, None) => (format!("{:.4}", stats.mean()), String::new()),
        };
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{mean}</td><td class=\"n\">{ci}</td><td class=\"n\">{n}</td></tr>",
            escape(metric)
        );
    }
    page.push_str("</table>\n");
}

fn events_section(page: &mut String, first: &Replication) {
    let (rows, left_out) = &first.events;
    page.push_str("<h2>Event log (replication 0)</h2>\n<table id=\"events\">\n<tr><th>time s</th><th>proxy</th><th>cluster</th><th>pod</th><th>zone</th><th>event</th><th>detail</th><th>count</th></tr>\n");
    for e in rows.iter().take(EVENT_ROWS_SHOWN) {
        let _ = writeln!(
            page,
            "<tr><td class=\"n\">{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            e.time_s,
            escape(&e.proxy),
            escape(&e.cluster),
            escape(&e.pod),
            escape(&e.zone),
            e.event,
            escape(&e.detail),
            e.count
        );
    }
    page.push_str("</table>\n");
    let more = rows.len().saturating_sub(EVENT_ROWS_SHOWN) as u64 + left_out;
    if more > 0 {
        let _ = writeln!(page, "<p>{more} more events in events.csv.</p>");
    }
}

fn stats_section(page: &mut String, first: &Replication) {
    // Only the counters some cluster moved, to keep the table readable.
    let used: Vec<usize> =
        (0..ClusterStats::NAMES.len()).filter(|&i| first.stats.iter().any(|(_, _, s)| s.values()[i] > 0)).collect();
    page.push_str("<h2>Envoy counters per proxy and cluster (replication 0)</h2>\n<table id=\"stats\">\n<tr><th>proxy</th><th>cluster</th>");
    for &i in &used {
        let _ = write!(page, "<th>{}</th>", ClusterStats::NAMES[i]);
    }
    page.push_str("</tr>\n");
    for (proxy, cluster, stats) in &first.stats {
        let values = stats.values();
        let _ = write!(page, "<tr><td>{}</td><td>{}</td>", escape(proxy), escape(cluster));
        for &i in &used {
            let _ = write!(page, "<td class=\"n\">{}</td>", values[i]);
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_text_cannot_open_a_tag() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
