//! The metric columns of a run's summary — one definition shared by `summary.csv`, a sweep's
//! `runs.csv` and `points.csv`, and `meshsim compare`, so a figure has the same name and format
//! everywhere.

use std::collections::HashMap;

use models::mesh::summary::RunSummary;

use crate::scenario::Scenario;

/// Which share and backbone columns a table carries, beside the fixed ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricColumns {
    /// `(zone, version)` of the share service's answers.
    shares: Vec<(String, String)>,
    /// Backbone link directions, `from->to`.
    links: Vec<String>,
}

/// The fixed metric columns, in order.
const FIXED: [&str; 20] = [
    "requests",
    "failed",
    "unanswered",
    "error_rate",
    "markers",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "time_to_first_ejection_s",
    "time_to_shift_s",
    "time_to_recover_slo_s",
    "failback_s",
    "ejections",
    "split_region",
    "split_expected",
    "split_observed",
    "split_ci_low",
    "split_ci_high",
    "split_error",
    "split_abs_error",
];

fn optional(value: Option<f64>) -> String {
    value.map_or(String::new(), |v| format!("{v:.3}"))
}

impl MetricColumns {
    /// The columns of a set of finished runs: the shares any of them saw, the links of the first.
    pub fn of_summaries<'a>(summaries: impl Iterator<Item = &'a RunSummary> + Clone) -> MetricColumns {
        let mut shares: Vec<(String, String)> =
            summaries.clone().flat_map(|s| s.shares.iter().map(|(z, v, _, _)| (z.clone(), v.clone()))).collect();
        shares.sort();
        shares.dedup();
        let links = summaries.take(1).flat_map(|s| s.backbone.iter().map(|(name, ..)| name.clone())).collect();
        MetricColumns { shares, links }
    }

    /// The columns every run of these scenarios can fill, known before any runs: the share
    /// service's deployments and every backbone direction.
    pub fn of_scenarios<'a>(scenarios: impl Iterator<Item = &'a Scenario>) -> MetricColumns {
        let mut columns = MetricColumns::default();
        for scenario in scenarios {
            let config = &scenario.config;
            for cluster in &config.clusters {
                for d in cluster.deployments.iter().filter(|d| d.service == config.metrics.share_service) {
                    columns.shares.push((d.zone.clone(), d.version.clone()));
                }
            }
            for b in &config.network.backbone {
                for name in [format!("{}->{}", b.regions.0, b.regions.1), format!("{}->{}", b.regions.1, b.regions.0)] {
                    if !columns.links.contains(&name) {
                        columns.links.push(name);
                    }
                }
            }
        }
        columns.shares.sort();
        columns.shares.dedup();
        columns
    }

    /// Column names.
    pub fn header(&self) -> Vec<String> {
        let mut header: Vec<String> = FIXED.iter().map(|s| s.to_string()).collect();
        header.extend(self.shares.iter().map(|(z, v)| format!("share:{z}/{v}")));
        for name in &self.links {
            for figure in ["mean_mbps", "peak_mbps", "drops", "peak_utilisation"] {
                header.push(format!("backbone:{name}:{figure}"));
            }
        }
        header
    }

    /// One run's cells, in the order of [`header`](Self::header); a link the run does not have
    /// is left empty.
    pub fn cells(&self, s: &RunSummary) -> Vec<String> {
        let mut row = vec![
            s.requests.to_string(),
            s.failed.to_string(),
            s.unanswered.to_string(),
            format!("{:.6}", s.error_rate),
            s.markers.to_string(),
            format!("{:.3}", s.latency_ms[0]),
            format!("{:.3}", s.latency_ms[1]),
            format!("{:.3}", s.latency_ms[2]),
            optional(s.time_to_first_ejection),
            optional(s.time_to_shift),
            optional(s.time_to_recover_slo),
            optional(s.failback),
            s.ejections.to_string(),
        ];
        match &s.split {
            Some((region, expected, observed, low, high, error)) => {
                row.push(region.clone());
                row.extend([*expected, *observed, *low, *high, *error, error.abs()].iter().map(|v| format!("{v:.6}")));
            }
            None => row.extend(std::iter::repeat_n(String::new(), 7)),
        }
        for (z, v) in &self.shares {
            let fraction = s.shares.iter().find(|(sz, sv, _, _)| sz == z && sv == v).map_or(0.0, |(_, _, _, f)| *f);
            row.push(format!("{fraction:.6}"));
        }
        // A mesh of 200 regions has 39,800 directed links: look each up, do not scan for it.
        let links: HashMap<&str, _> = s.backbone.iter().map(|link| (link.0.as_str(), link)).collect();
        for name in &self.links {
            match links.get(name.as_str()) {
                Some((_, _, mean, peak, drops, utilisation)) => {
                    row.extend([
                        format!("{mean:.6}"),
                        format!("{peak:.6}"),
                        drops.to_string(),
                        format!("{utilisation:.6}"),
                    ]);
                }
                None => row.extend(std::iter::repeat_n(String::new(), 4)),
            }
        }
        row
    }
}
