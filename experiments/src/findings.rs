//! Findings: the few things a planner must know about a run, read from Envoy's counters
//! (`stats.csv`), each with the mechanism behind it and what to change — why failover did not
//! happen, why users waited, why traffic reached failing hosts.

use models::envoy::outlier_detection::max_ejectable_hosts;
use models::envoy::stats::ClusterStats;
use models::istio::outlier::{detector_config, panic_threshold};
use models::mesh::config::{FaultKind, FaultTarget};

use crate::output::json_string;
use crate::run::Replication;
use crate::scenario::Scenario;

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What happened, and by which mechanism.
    pub message: String,
    /// What to change.
    pub fix: String,
}

/// The service of an Istio cluster name (`outbound|9080|v1|reviews.default.svc.cluster.local`).
fn service_of(cluster: &str) -> &str {
    cluster.split('|').nth(3).and_then(|host| host.split('.').next()).unwrap_or(cluster)
}

/// A count over `n` replications: the total for one, the mean per replication for more (the
/// findings then say so).
fn count(total: u64, n: usize) -> String {
    if n <= 1 { total.to_string() } else { format!("{:.0}", total as f64 / n as f64) }
}

/// The findings of a run, service by service in the app's order.
pub fn of(scenario: &Scenario, results: &[Replication]) -> Vec<Finding> {
    let config = &scenario.config;
    let n = results.len();
    let mut found = Vec::new();
    for service in &config.app.services {
        let name = service.name.as_str();
        let mut total = ClusterStats::default();
        let mut proxies = std::collections::BTreeSet::new();
        for (proxy, cluster, stats) in results.iter().flat_map(|r| r.stats.iter()) {
            if service_of(cluster) != name {
                continue;
            }
            proxies.insert(proxy.as_str());
            let t = &mut total;
            t.upstream_rq_total += stats.upstream_rq_total;
            t.ejections_overflow += stats.ejections_overflow;
            t.ejections_enforced_total += stats.ejections_enforced_total;
            t.attempts_to_ejected_before_update += stats.attempts_to_ejected_before_update;
            t.lb_healthy_panic += stats.lb_healthy_panic;
            t.upstream_cx_connect_timeout += stats.upstream_cx_connect_timeout;
            t.upstream_rq_retry_overflow += stats.upstream_rq_retry_overflow;
            t.upstream_rq_pending_overflow += stats.upstream_rq_pending_overflow;
        }
        let rule = config.istio.destination_rules.iter().find(|r| r.host == name);
        let policy = rule.and_then(|r| r.traffic_policy.as_ref());
        let outlier = policy.and_then(|p| p.outlier_detection.as_ref());
        let hosts: u64 = config
            .clusters
            .iter()
            .flat_map(|c| c.deployments.iter())
            .filter(|d| d.service == name)
            .map(|d| u64::from(d.replicas))
            .sum();
        let proxies = proxies.len();
        if total.ejections_overflow > 0
            && let Some(outlier) = outlier
        {
            let detector = detector_config(outlier);
            let ejectable = max_ejectable_hosts(&detector, config.istio.mesh.envoy_version, hosts as usize);
            let one_host = 100.0 / hosts.max(1) as f64;
            found.push(Finding {
                message: format!(
                    "{name}: {} ejections refused across {proxies} {} ({} carried out): maxEjectionPercent {} % of {hosts} hosts lets Envoy {} eject at most {ejectable} at once (one host is {one_host:.0} %)",
                    count(total.ejections_overflow, n),
                    if proxies == 1 { "proxy" } else { "proxies" },
                    count(total.ejections_enforced_total, n),
                    detector.max_ejection_percent,
                    config.istio.mesh.envoy_version,
                ),
                fix: format!(
                    "set maxEjectionPercent to at least {:.0} on the DestinationRule of {name} (100 lets a whole region go)",
                    one_host.ceil()
                ),
            });
        }
        if total.attempts_to_ejected_before_update > 0 {
            found.push(Finding {
                message: format!(
                    "{name}: {} attempts went to hosts already ejected while the {} update merge window held the update from the load balancers",
                    count(total.attempts_to_ejected_before_update, n),
                    config.istio.mesh.update_merge_window
                ),
                fix: "this is Envoy's behaviour; a shorter update_merge_window (istio.update_merge_window, or an envoy_overrides patch) shortens it".into(),
            });
        }
        if total.lb_healthy_panic > 0 {
            let share = 100.0 * total.lb_healthy_panic as f64 / total.upstream_rq_total.max(1) as f64;
            found.push(Finding {
                message: format!(
                    "{name}: the panic threshold ({} %) sent {} picks ({share:.0} % of attempts) to every host of a priority, failing ones included",
                    panic_threshold(outlier),
                    count(total.lb_healthy_panic, n)
                ),
                fix: if outlier.is_some() {
                    format!("leave minHealthPercent at 0 on the DestinationRule of {name}: with outlier detection Istio turns panic off")
                } else {
                    format!("add outlierDetection to the DestinationRule of {name}: Istio then turns panic off")
                },
            });
        }
        if total.upstream_cx_connect_timeout > 0 {
            found.push(Finding {
                message: format!(
                    "{name}: {} connections waited out the connect timeout to unreachable hosts before failing",
                    count(total.upstream_cx_connect_timeout, n)
                ),
                fix: format!(
                    "a route timeout on the VirtualService of {name} bounds what users wait; a shorter connectionPool.tcp.connectTimeout fails (and ejects) sooner"
                ),
            });
        }
        if total.upstream_rq_retry_overflow > 0 {
            found.push(Finding {
                message: format!(
                    "{name}: {} retries were not made: the max_retries circuit breaker was full",
                    count(total.upstream_rq_retry_overflow, n)
                ),
                fix: format!("raise connectionPool.http.maxRetries on the DestinationRule of {name}"),
            });
        }
        if total.upstream_rq_pending_overflow > 0 {
            found.push(Finding {
                message: format!(
                    "{name}: {} requests were refused by circuit breakers (local 503, UO): max_pending_requests or max_requests was full",
                    count(total.upstream_rq_pending_overflow, n)
                ),
                fix: format!(
                    "raise connectionPool.http.http1MaxPendingRequests or http2MaxRequests on the DestinationRule of {name}, or add pods"
                ),
            });
        }
    }
    // Backbone directions that dropped messages: a queue over its buffer, loss or a cut.
    if let Some(first) = results.first() {
        for (l, (link, ..)) in first.summary.backbone.iter().enumerate() {
            let drops: u64 = results.iter().map(|r| r.summary.backbone.get(l).map_or(0, |b| b.4)).sum();
            let peak = results.iter().filter_map(|r| r.summary.backbone.get(l)).map(|b| b.5).fold(0.0, f64::max);
            if drops == 0 {
                continue;
            }
            let (from, to) = link.split_once("->").unwrap_or((link.as_str(), ""));
            let faulted = config.faults.iter().any(|f| {
                matches!(&f.target, FaultTarget::Backbone(a, b) if (a == from && b == to) || (a == to && b == from))
                    && matches!(f.kind, FaultKind::Degrade { .. } | FaultKind::Cut)
            });
            let message = format!(
                "backbone {link}: {} messages dropped (its queue over the buffer, loss, or a cut), each costing its sender a retransmission timeout or a reset; the busiest window used {:.0} % of the purchased bandwidth",
                count(drops, n),
                peak * 100.0
            );
            let fix = if faulted {
                "the scenario's fault degrades or cuts this link: route timeouts and failover within the region keep users from waiting on it".into()
            } else {
                "buy bandwidth for the traffic after failover (cen.connections[].bandwidth; `meshsim check` estimates it), or keep failover within the region".into()
            };
            found.push(Finding { message, fix });
        }
    }
    // Requests still waiting at the end, far more than the ones simply in flight (rate × p99,
    // with room), while no timeout ever fired: something holds them.
    let unanswered: u64 = results.iter().map(|r| r.summary.unanswered).sum();
    let in_flight: f64 = results
        .iter()
        .map(|r| {
            let rate = r.summary.requests as f64 / config.duration.as_secs_f64().max(1e-9);
            3.0 * rate * r.summary.latency_ms[2] / 1000.0 + 5.0
        })
        .sum();
    let timeouts: u64 = results.iter().flat_map(|r| r.stats.iter()).map(|(_, _, s)| s.upstream_rq_timeout).sum();
    if unanswered as f64 > in_flight && timeouts == 0 && config.workload.user_timeout.is_none() {
        found.push(Finding {
            message: format!(
                "{} user requests were still waiting when the run ended, and no route timeout fired: a pod that accepts requests and never answers holds every request sent to it until the connection dies",
                count(unanswered, n)
            ),
            fix: "give the routes a timeout in their VirtualService (e.g. timeout: 2s), so a hung pod costs an error (and counts toward its ejection) instead of a hung page".into(),
        });
    }
    if n > 1 {
        for f in &mut found {
            f.message.push_str(&format!(" (counts are means over {n} replications)"));
        }
    }
    found
}

/// The findings as lines for the terminal, after the summary table.
pub fn text(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nFindings:\n");
    for f in findings {
        out.push_str(&format!("- {}\n  fix: {}\n", f.message, f.fix));
    }
    out
}

/// The findings as a JSON array.
pub fn json(findings: &[Finding]) -> String {
    let items: Vec<String> = findings
        .iter()
        .map(|f| format!("{{\"message\":{},\"fix\":{}}}", json_string(&f.message), json_string(&f.fix)))
        .collect();
    format!("[{}]", items.join(","))
}
