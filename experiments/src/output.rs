//! What a run leaves behind: `summary.csv` (one row per replication), `timeseries.csv` (one row
//! per window per replication), `stats.csv` (Envoy's counters per replication, proxy and
//! cluster), `scenario.yaml` (the file as run) — each written to a temporary
//! file first and renamed, so no reader ever sees half a file — and the summary on the terminal.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sim::stats::{ConfidenceInterval, RunningStats};

use models::envoy::stats::ClusterStats;

use crate::columns::MetricColumns;
use crate::plot;
use crate::run::Replication;
use crate::scenario::Scenario;

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("output");
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    let written = std::fs::write(&temporary, bytes)
        .map_err(|e| format!("{}: cannot write: {e}", temporary.display()))
        .and_then(|()| {
            std::fs::rename(&temporary, path).map_err(|e| format!("{}: cannot rename into place: {e}", path.display()))
        });
    if written.is_err() {
        // No stray temporary file beside the outputs.
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// `summary.csv`.
pub fn summary_csv(results: &[Replication]) -> Result<Vec<u8>, String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let columns = MetricColumns::of_summaries(results.iter().map(|r| &r.summary));
    let mut header = vec!["replication".to_string(), "seed".to_string()];
    header.extend(columns.header());
    header.push("meshsim_version".into());
    out.write_record(&header).map_err(|e| e.to_string())?;
    for (r, rep) in results.iter().enumerate() {
        let mut row = vec![r.to_string(), rep.summary.seed.to_string()];
        row.extend(columns.cells(&rep.summary));
        row.push(env!("CARGO_PKG_VERSION").into());
        out.write_record(&row).map_err(|e| e.to_string())?;
    }
    out.into_inner().map_err(|e| e.to_string())
}

/// `timeseries.csv`.
pub fn timeseries_csv(results: &[Replication], zones: &[String], links: &[String]) -> Result<Vec<u8>, String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> =
        ["replication", "window_start_s", "requests", "failures", "success_ratio", "latency_p99_ms", "ejections"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    header.extend(zones.iter().map(|z| format!("share_answers:{z}")));
    header.extend(links.iter().map(|l| format!("backbone:{l}:mbps")));
    out.write_record(&header).map_err(|e| e.to_string())?;
    for (r, rep) in results.iter().enumerate() {
        for w in &rep.windows {
            let ratio = if w.requests == 0 { 1.0 } else { 1.0 - w.failures as f64 / w.requests as f64 };
            let mut row = vec![
                r.to_string(),
                format!("{:.3}", w.start),
                w.requests.to_string(),
                w.failures.to_string(),
                format!("{ratio:.6}"),
                if w.p99_ms.is_nan() { String::new() } else { format!("{:.3}", w.p99_ms) },
                w.ejections.to_string(),
            ];
            row.extend(w.share_by_zone.iter().map(u64::to_string));
            row.extend(w.backbone_mbps.iter().map(|m| format!("{m:.6}")));
            out.write_record(&row).map_err(|e| e.to_string())?;
        }
    }
    out.into_inner().map_err(|e| e.to_string())
}

/// `stats.csv`: Envoy's counters, one row per replication, proxy and upstream cluster that
/// carried anything, one column per counter under Envoy's name.
pub fn stats_csv(results: &[Replication]) -> Result<Vec<u8>, String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["replication", "proxy", "cluster"];
    header.extend(ClusterStats::NAMES);
    out.write_record(&header).map_err(|e| e.to_string())?;
    for (r, rep) in results.iter().enumerate() {
        for (proxy, cluster, stats) in &rep.stats {
            let mut row = vec![r.to_string(), proxy.clone(), cluster.clone()];
            row.extend(stats.values().iter().map(u64::to_string));
            out.write_record(&row).map_err(|e| e.to_string())?;
        }
    }
    out.into_inner().map_err(|e| e.to_string())
}

/// `events.csv`: what the mesh did, one row per event (repeats folded into `count`), and a last
/// row per replication for events past the log's cap.
pub fn events_csv(results: &[Replication]) -> Result<Vec<u8>, String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = ["replication", "time_s", "proxy", "cluster", "pod", "zone", "event", "detail", "count"];
    out.write_record(header).map_err(|e| e.to_string())?;
    for (r, rep) in results.iter().enumerate() {
        let (rows, left_out) = &rep.events;
        for e in rows {
            let time = format!("{:.6}", e.time_s);
            let count = e.count.to_string();
            let row = [&r.to_string(), &time, &e.proxy, &e.cluster, &e.pod, &e.zone, e.event, &e.detail, &count];
            out.write_record(row).map_err(|e| e.to_string())?;
        }
        if *left_out > 0 {
            let detail = format!("{left_out} more events not listed");
            let row = [&r.to_string(), "", "", "", "", "", "more", &detail, &left_out.to_string()];
            out.write_record(row).map_err(|e| e.to_string())?;
        }
    }
    out.into_inner().map_err(|e| e.to_string())
}

/// Writes every output file into `dir`, an existing folder (the run's staging folder).
pub fn write_outputs(
    dir: &Path,
    scenario: &Scenario,
    results: &[Replication],
    zones: &[String],
    links: &[String],
) -> Result<Vec<PathBuf>, String> {
    let files = [
        ("summary.csv", summary_csv(results)?),
        ("timeseries.csv", timeseries_csv(results, zones, links)?),
        ("stats.csv", stats_csv(results)?),
        ("events.csv", events_csv(results)?),
        ("scenario.yaml", scenario.text.clone().into_bytes()),
    ];
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomically(&path, &bytes)?;
        written.push(path);
    }
    if let Some(first) = results.first() {
        let faults: Vec<(f64, Option<f64>, String)> = scenario
            .config
            .faults
            .iter()
            .map(|f| (f.start.as_secs_f64(), f.end.map(|e| e.as_secs_f64()), f.to_string()))
            .collect();
        let plots = dir.join("plots");
        std::fs::create_dir_all(&plots).map_err(|e| format!("{}: cannot create: {e}", plots.display()))?;
        plot::write_timeline(
            &plots,
            &plot::Timeline {
                title: &scenario.name,
                share_service: &scenario.config.metrics.share_service,
                zones,
                windows: &first.windows,
                window_seconds: scenario.config.metrics.window.as_secs_f64(),
                faults: &faults,
            },
        )?;
        written.push(plots.join("timeline.png"));
        written.push(plots.join("timeline.svg"));
        let svg = std::fs::read_to_string(plots.join("timeline.svg")).map_err(|e| format!("timeline.svg: {e}"))?;
        let report = dir.join("report.html");
        write_atomically(&report, crate::report::html(scenario, results, &svg).as_bytes())?;
        written.push(report);
    }
    Ok(written)
}

/// The terminal summary: per replication up to ten, then means with 95 % intervals.
pub fn table(scenario: &Scenario, results: &[Replication]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "scenario {}: {}", scenario.name, scenario.description.trim());
    for warning in &scenario.warnings {
        let _ = writeln!(t, "warning: {warning}");
    }
    let _ = writeln!(
        t,
        "{:>4} {:>20} {:>8} {:>7} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "rep", "seed", "requests", "errors", "markers", "p50 ms", "p99 ms", "eject s", "shift s", "slo s", "ejects"
    );
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    for (r, rep) in results.iter().enumerate().take(10) {
        let s = &rep.summary;
        let _ = writeln!(
            t,
            "{:>4} {:>20} {:>8} {:>7} {:>8} {:>8.2} {:>9.2} {:>9} {:>9} {:>8} {:>8}",
            r,
            s.seed,
            s.requests,
            s.failed + s.unanswered,
            s.markers,
            s.latency_ms[0],
            s.latency_ms[2],
            show(s.time_to_first_ejection),
            show(s.time_to_shift),
            show(s.time_to_recover_slo),
            s.ejections
        );
    }
    if let Some(first) = results.first() {
        let _ = writeln!(t, "\"{}\" lines (replication 0): {}", scenario.config.metrics.marker, first.summary.markers);
        let _ = writeln!(t, "shares of {} (replication 0):", scenario.config.metrics.share_service);
        for (zone, version, count, fraction) in &first.summary.shares {
            let _ = writeln!(t, "  {zone:<20} {version:<6} {count:>9} {:>7.2}%", fraction * 100.0);
        }
        // A mesh of many regions has links that carry nothing: they share one line.
        let (used, idle): (Vec<_>, Vec<_>) =
            first.summary.backbone.iter().partition(|(_, bytes, _, _, drops, _)| *bytes > 0 || *drops > 0);
        for (name, bytes, mean, peak, drops, utilisation) in used {
            let _ = writeln!(
                t,
                "backbone {name}: {bytes} bytes, mean {mean:.3} Mbps, peak {peak:.3} Mbps ({:.1}% of the plan), {drops} drops",
                utilisation * 100.0
            );
        }
        if !idle.is_empty() {
            let _ = writeln!(t, "backbone: {} other links carried nothing (all are in summary.csv)", idle.len());
        }
        if let Some((region, expected, observed, low, high, error)) = &first.summary.split {
            let _ = writeln!(
                t,
                "split: {region} got {:.2}% (95% CI {:.2}-{:.2}%) against {:.2}% configured: error {:+.2} points",
                observed * 100.0,
                low * 100.0,
                high * 100.0,
                expected * 100.0,
                error * 100.0
            );
        }
        if let Some(failback) = first.summary.failback {
            let _ = writeln!(t, "failback: {failback:.3} s after the fault ended");
        }
    }
    if results.len() >= 2 {
        let _ = writeln!(t, "across {} replications (mean ± 95% CI):", results.len());
        let metric = |name: &str, value: &dyn Fn(&Replication) -> Option<f64>| {
            let mut stats = RunningStats::default();
            results.iter().filter_map(value).for_each(|v| stats.push(v));
            match ConfidenceInterval::student_t(&stats, 0.95) {
                Some(ci) => format!("  {name:<24} {:.4} ± {:.4} (n={})\n", ci.mean, ci.half_width, stats.count()),
                None => format!("  {name:<24} n={}\n", stats.count()),
            }
        };
        t += &metric("error rate", &|r| Some(r.summary.error_rate));
        t += &metric("markers", &|r| Some(r.summary.markers as f64));
        t += &metric("p99 latency ms", &|r| Some(r.summary.latency_ms[2]));
        t += &metric("time to first ejection s", &|r| r.summary.time_to_first_ejection);
        t += &metric("time to shift s", &|r| r.summary.time_to_shift);
        t += &metric("time to recover SLO s", &|r| r.summary.time_to_recover_slo);
    }
    t
}

/// A JSON string literal.
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number, `null` for missing or non-finite values.
pub(crate) fn json_number(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".into(),
    }
}

/// The summary as one JSON document, for scripts.
pub fn json(scenario: &Scenario, results: &[Replication]) -> String {
    let replications: Vec<String> = results
        .iter()
        .map(|r| {
            let s = &r.summary;
            let shares: Vec<String> = s
                .shares
                .iter()
                .map(|(z, v, n, f)| format!("{{\"zone\":{},\"version\":{},\"count\":{n},\"fraction\":{}}}", json_string(z), json_string(v), json_number(Some(*f))))
                .collect();
            let backbone: Vec<String> = s
                .backbone
                .iter()
                .map(|(l, bytes, mean, peak, drops, utilisation)| {
                    format!(
                        "{{\"link\":{},\"bytes\":{bytes},\"mean_mbps\":{},\"peak_mbps\":{},\"drops\":{drops},\"peak_utilisation\":{}}}",
                        json_string(l),
                        json_number(Some(*mean)),
                        json_number(Some(*peak)),
                        json_number(Some(*utilisation))
                    )
                })
                .collect();
            format!(
                "{{\"seed\":{},\"requests\":{},\"failed\":{},\"unanswered\":{},\"error_rate\":{},\"markers\":{},\"latency_ms\":{{\"p50\":{},\"p95\":{},\"p99\":{}}},\"time_to_first_ejection_s\":{},\"time_to_shift_s\":{},\"time_to_recover_slo_s\":{},\"failback_s\":{},\"ejections\":{},\"retries\":{},\"shares\":[{}],\"backbone\":[{}]}}",
                s.seed,
                s.requests,
                s.failed,
                s.unanswered,
                json_number(Some(s.error_rate)),
                s.markers,
                json_number(Some(s.latency_ms[0])),
                json_number(Some(s.latency_ms[1])),
                json_number(Some(s.latency_ms[2])),
                json_number(s.time_to_first_ejection),
                json_number(s.time_to_shift),
                json_number(s.time_to_recover_slo),
                json_number(s.failback),
                s.ejections,
                s.retries,
                shares.join(","),
                backbone.join(",")
            )
        })
        .collect();
    let warnings: Vec<String> = scenario.warnings.iter().map(|w| json_string(w)).collect();
    format!(
        "{{\"scenario\":{},\"meshsim_version\":{},\"warnings\":[{}],\"findings\":{},\"replications\":[{}]}}",
        json_string(&scenario.name),
        json_string(env!("CARGO_PKG_VERSION")),
        warnings.join(","),
        crate::findings::json(&crate::findings::of(scenario, results)),
        replications.join(",")
    )
}
