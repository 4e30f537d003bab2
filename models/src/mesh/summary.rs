//! The figures a run reports, derived from its [`Metrics`](super::metrics::Metrics) by the
//! definitions given there: one summary per run and one row per time window.

use sim::{SimDuration, SimTime};

use super::world::World;

/// One run's headline figures.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Seed of the run.
    pub seed: u64,
    /// User requests sent.
    pub requests: u64,
    /// Answered with a 5xx.
    pub failed: u64,
    /// Not answered by the end of the run (counted as failed too in `error_rate`).
    pub unanswered: u64,
    /// (failed + unanswered) / requests.
    pub error_rate: f64,
    /// Marker lines in all answers (Bookinfo: "full stars").
    pub markers: u64,
    /// Latency quantiles of answered requests, milliseconds.
    pub latency_ms: [f64; 3],
    /// From the first fault to the first ejection, seconds.
    pub time_to_first_ejection: Option<f64>,
    /// From the first fault to the last attempt to a pod it hit, seconds.
    pub time_to_shift: Option<f64>,
    /// From the first fault to the end of the last window below the SLO, seconds.
    pub time_to_recover_slo: Option<f64>,
    /// From the end of the first fault to the first successful answer from a pod it hit, seconds.
    pub failback: Option<f64>,
    /// The expected region's observed share of the share service's answers, its Wilson 95 %
    /// interval, and the error against the configured share: `(region, expected, observed,
    /// low, high, error)`.
    pub split: Option<(String, f64, f64, f64, f64, f64)>,
    /// Ejections by any proxy.
    pub ejections: u64,
    /// Retries made by any proxy.
    pub retries: u64,
    /// Share-service answers: `(zone, version, count, fraction)`.
    pub shares: Vec<(String, String, u64, f64)>,
    /// Backbone link directions: `(name, bytes, mean Mbps, peak window Mbps, drops,
    /// utilisation of the purchased bandwidth at the peak)`.
    pub backbone: Vec<(String, u64, f64, f64, u64, f64)>,
}

/// Wilson score interval (95 %) for `successes` of `n`.
pub fn wilson_interval(successes: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, successes as f64 / n as f64, 1.959_963_984_540_054);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// One time window's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowRow {
    /// Window start, seconds.
    pub start: f64,
    /// Requests answered in it.
    pub requests: u64,
    /// Of which 5xx.
    pub failures: u64,
    /// p99 latency, milliseconds (NaN when empty).
    pub p99_ms: f64,
    /// Ejections in it.
    pub ejections: u64,
    /// Share-service answers per zone (topology order).
    pub share_by_zone: Vec<u64>,
    /// Mbps per backbone link direction (topology order).
    pub backbone_mbps: Vec<f64>,
}

fn seconds(from: SimTime, to: Option<SimTime>) -> Option<f64> {
    to.map(|t| t.checked_since(from).unwrap_or(SimDuration::ZERO).as_secs_f64())
}

impl RunSummary {
    /// Summarises a finished run of `duration`.
    pub fn of(world: &World, seed: u64, duration: SimDuration, slo: f64) -> RunSummary {
        let m = world.metrics();
        let topology = world.topology();
        let unanswered = world.unanswered() as u64;
        let quantile = |q| m.latency.quantile(q).map_or(f64::NAN, |ns| ns as f64 / 1e6);
        let total_shares: u64 = m.shares.iter().map(|(_, _, n)| n).sum();
        let mut shares: Vec<(String, String, u64, f64)> = m
            .shares
            .iter()
            .map(|(zone, version, n)| {
                let version = world.share_version(*version).to_owned();
                (topology.zones[*zone].name.clone(), version, *n, *n as f64 / total_shares.max(1) as f64)
            })
            .collect();
        shares.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let width = m.windows.width().as_secs_f64();
        let backbone = (0..topology.links.len())
            .map(|l| {
                let peak =
                    m.windows.iter().map(|(_, w)| w.backbone_bytes.get(l).copied().unwrap_or(0)).max().unwrap_or(0);
                (
                    topology.link_names[l].clone(),
                    m.backbone_bytes[l],
                    m.backbone_bytes[l] as f64 * 8.0 / duration.as_secs_f64().max(1e-9) / 1e6,
                    peak as f64 * 8.0 / width / 1e6,
                    m.backbone_drops[l],
                    match world.configured_bandwidth(l) {
                        0 => f64::INFINITY,
                        bps => peak as f64 * 8.0 / width / bps as f64,
                    },
                )
            })
            .collect();
        let fault = world.fault_started();
        RunSummary {
            seed,
            requests: m.sent,
            failed: m.failed,
            unanswered,
            error_rate: if m.sent == 0 { 0.0 } else { (m.failed + unanswered) as f64 / m.sent as f64 },
            markers: m.markers,
            latency_ms: [quantile(0.5), quantile(0.95), quantile(0.99)],
            time_to_first_ejection: fault.and_then(|f| seconds(f, m.first_ejection.filter(|&t| t >= f))),
            time_to_shift: fault.and_then(|f| seconds(f, m.last_attempt_to_faulted)),
            time_to_recover_slo: fault.and_then(|f| m.time_to_recover_slo(f, slo).map(|d| d.as_secs_f64())),
            failback: world.fault_ended().and_then(|end| seconds(end, m.first_answer_after_fault)),
            split: world.expected_share().map(|(region, expected)| {
                let in_region: u64 = m
                    .shares
                    .iter()
                    .filter(|(zone, _, _)| topology.regions[topology.zones[*zone].region] == region)
                    .map(|(_, _, n)| n)
                    .sum();
                let observed = in_region as f64 / total_shares.max(1) as f64;
                let (low, high) = wilson_interval(in_region, total_shares);
                (region, expected, observed, low, high, observed - expected)
            }),
            ejections: m.ejections,
            retries: m.retries,
            shares,
            backbone,
        }
    }
}

/// The run's windows as rows.
pub fn window_rows(world: &World) -> Vec<WindowRow> {
    let m = world.metrics();
    let topology = world.topology();
    let width = m.windows.width().as_secs_f64();
    m.windows
        .iter()
        .map(|(start, w)| WindowRow {
            start: start.as_secs_f64(),
            requests: w.requests,
            failures: w.failures,
            p99_ms: w.p99_ns().map_or(f64::NAN, |ns| ns as f64 / 1e6),
            ejections: w.ejections,
            share_by_zone: (0..topology.zones.len())
                .map(|z| w.share_by_locality.get(z).copied().unwrap_or(0))
                .collect(),
            backbone_mbps: (0..topology.links.len())
                .map(|l| w.backbone_bytes.get(l).copied().unwrap_or(0) as f64 * 8.0 / width / 1e6)
                .collect(),
        })
        .collect()
}
