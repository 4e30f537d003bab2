//! The trap rules, one function each, over the scenario as the model sees it. Each rule names
//! the field to change; its test in `tests/check.rs` triggers it on a built-in scenario and
//! shows a configuration that does not.

use models::envoy::outlier_detection::max_ejectable_hosts;
use models::istio::api::{DestinationRule, LocalityLbSetting, OutlierDetection};
use models::istio::connection_pool::DEFAULT_CONNECT_TIMEOUT;
use models::istio::locality::effective_setting;
use models::istio::outlier::detector_config;
use models::mesh::app::Delay;
use models::mesh::config::{Arrivals, FaultKind, FaultTarget, MeshConfig};
use sim::SimDuration;

use crate::scenario::Scenario;

use super::{Finding, Severity};

/// Every rule's findings, in rule order.
pub fn all(scenario: &Scenario) -> Vec<Finding> {
    let mesh = Mesh {
        config: &scenario.config,
        asm_version: scenario.asm_version,
        rto: scenario.rto,
        networks: &scenario.networks,
    };
    let rules: [fn(&Mesh) -> Vec<Finding>; 18] = [
        failover_without_outlier_detection,
        implicit_locality_failover,
        max_ejection_cannot_eject_region,
        panic_threshold_back,
        interval_longer_than_base_ejection,
        failback_slower_than_rto,
        gateway_errors_miss_the_failure,
        connect_timeout_without_route_timeout,
        retries_stay_in_the_dead_region,
        distribute_drops_a_region,
        distribute_misses_clients,
        distribute_before_asm_supports_it,
        workloads_without_locality_labels,
        outlier_detection_across_networks,
        traffic_blocked,
        backbone_test_bandwidth,
        backbone_below_failover_demand,
        standby_cannot_absorb,
    ];
    rules.iter().flat_map(|rule| rule(&mesh)).collect()
}

/// The scenario, with the questions the rules ask of it.
struct Mesh<'a> {
    config: &'a MeshConfig,
    asm_version: Option<[u32; 4]>,
    rto: Option<SimDuration>,
    networks: &'a [(String, Option<String>)],
}

/// Share of its hosts a locality must lose before Envoy sends any of its traffic elsewhere:
/// with overprovisioning 1.4, a priority at health h keeps min(100, 1.4 h) %.
const SPILL_STARTS_AT: f64 = 1.0 - 1.0 / 1.4;

impl Mesh<'_> {
    /// The service's pods per region, in the order regions are listed.
    fn hosts_by_region(&self, service: &str) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = self.config.regions.iter().map(|r| (r.name.clone(), 0)).collect();
        for cluster in &self.config.clusters {
            for d in cluster.deployments.iter().filter(|d| d.service == service) {
                if let Some(entry) = counts.iter_mut().find(|(r, _)| *r == cluster.region) {
                    entry.1 += u64::from(d.replicas);
                }
            }
        }
        counts.retain(|(_, n)| *n > 0);
        counts
    }

    /// Services with pods in more than one region: the ones failover and splits are about.
    fn multi_region_services(&self) -> Vec<(&str, Vec<(String, u64)>)> {
        self.config
            .app
            .services
            .iter()
            .map(|s| (s.name.as_str(), self.hosts_by_region(&s.name)))
            .filter(|(_, regions)| regions.len() > 1)
            .collect()
    }

    fn rule(&self, service: &str) -> Option<&DestinationRule> {
        self.config.istio.destination_rules.iter().find(|r| r.host == service)
    }

    fn outlier(&self, service: &str) -> Option<&OutlierDetection> {
        self.rule(service)?.traffic_policy.as_ref()?.outlier_detection.as_ref()
    }

    /// The DestinationRules that set outlierDetection, with it.
    fn rules_with_outlier_detection(&self) -> impl Iterator<Item = (&DestinationRule, &OutlierDetection)> {
        self.config
            .istio
            .destination_rules
            .iter()
            .filter_map(|rule| Some((rule, rule.traffic_policy.as_ref()?.outlier_detection.as_ref()?)))
    }

    /// The path of a field of the service's DestinationRule (or of where one would go).
    fn rule_path(&self, service: &str, field: &str) -> String {
        match self.rule(service) {
            Some(rule) => format!("istio.resources[DestinationRule/{}].spec.trafficPolicy{field}", rule.name),
            None => "istio.resources".into(),
        }
    }

    /// The locality setting Istio applies to the service (`GetLocalityLbSetting`).
    fn locality(&self, service: &str) -> Option<&LocalityLbSetting> {
        let from_rule = self
            .rule(service)
            .and_then(|r| r.traffic_policy.as_ref())
            .and_then(|p| p.load_balancer.as_ref())
            .and_then(|lb| lb.locality_lb_setting.as_ref());
        effective_setting(self.config.istio.mesh.locality_lb_setting.as_ref(), from_rule)
    }

    /// Regions where something calls the service: pods of a version that calls it, or the
    /// workload's gateway for the entry service.
    fn client_regions(&self, service: &str) -> Vec<String> {
        let mut regions: Vec<String> = Vec::new();
        for s in &self.config.app.services {
            for v in s.versions.iter().filter(|v| v.calls.iter().any(|c| c.service == service)) {
                for cluster in &self.config.clusters {
                    if cluster.deployments.iter().any(|d| d.service == s.name && d.version == v.name && d.replicas > 0)
                    {
                        regions.push(cluster.region.clone());
                    }
                }
            }
        }
        if service == self.config.workload.entry_service {
            for cluster in &self.config.clusters {
                if cluster.gateways.iter().any(|g| g.name == self.config.workload.gateway) {
                    regions.push(cluster.region.clone());
                }
            }
        }
        regions.sort();
        regions.dedup();
        regions
    }

    /// Clusters where something calls the service: pods of a version that calls it, or the
    /// workload's gateway for the entry service.
    fn client_clusters(&self, service: &str) -> Vec<&str> {
        let calls = |name: &str, version: &str| {
            self.config.app.services.iter().any(|s| {
                s.name == name
                    && s.versions.iter().any(|v| v.name == version && v.calls.iter().any(|c| c.service == service))
            })
        };
        self.config
            .clusters
            .iter()
            .filter(|c| {
                c.deployments.iter().any(|d| d.replicas > 0 && calls(&d.service, &d.version))
                    || (service == self.config.workload.entry_service
                        && c.gateways.iter().any(|g| g.name == self.config.workload.gateway))
            })
            .map(|c| c.name.as_str())
            .collect()
    }

    /// The highest open-loop rate offered, requests per second (`None` for closed-loop users).
    fn peak_rate(&self) -> Option<f64> {
        match &self.config.workload.arrivals {
            Arrivals::Poisson { rate } | Arrivals::Constant { rate } => Some(*rate),
            Arrivals::Steps { steps } => steps.iter().map(|(_, r)| *r).reduce(f64::max),
            Arrivals::Users { .. } => None,
        }
    }

    /// Mean seconds a request holds a slot of a `version` pod of `service`: its own service time
    /// and its calls' (their versions weighted by pods), network time left out.
    fn holding_time(&self, service: &str, version: &str) -> f64 {
        fn mean(delay: Delay) -> f64 {
            match delay {
                Delay::Constant(t) | Delay::Exponential(t) => t.as_secs_f64(),
            }
        }
        fn holding(mesh: &Mesh, service: &str, version: &str, depth: usize) -> f64 {
            let Some(v) = mesh.config.app.service(service).and_then(|s| s.versions.iter().find(|v| v.name == version))
            else {
                return 0.0;
            };
            if depth > 16 {
                return mean(v.service_time);
            }
            let calls: f64 = v
                .calls
                .iter()
                .map(|c| {
                    let versions = mesh.version_pods(&c.service);
                    let total: f64 = versions.iter().map(|(_, n)| n).sum();
                    versions
                        .iter()
                        .map(|(name, n)| n / total.max(1.0) * holding(mesh, &c.service, name, depth + 1))
                        .sum::<f64>()
                })
                .sum();
            mean(v.service_time) + calls
        }
        holding(self, service, version, 0)
    }

    /// A service's versions and their pods in all clusters.
    fn version_pods(&self, service: &str) -> Vec<(String, f64)> {
        let mut versions: Vec<(String, f64)> = Vec::new();
        for d in self.config.clusters.iter().flat_map(|c| c.deployments.iter()).filter(|d| d.service == service) {
            match versions.iter_mut().find(|(v, _)| *v == d.version) {
                Some(entry) => entry.1 += f64::from(d.replicas),
                None => versions.push((d.version.clone(), f64::from(d.replicas))),
            }
        }
        versions
    }

    /// Calls a user request makes to `service` on average (versions weighted by their pods).
    fn visits(&self, service: &str) -> f64 {
        fn visits_from(mesh: &Mesh, from: &str, to: &str, depth: usize) -> f64 {
            if from == to {
                return 1.0;
            }
            let Some(s) = mesh.config.app.service(from) else { return 0.0 };
            if depth > 16 {
                return 0.0;
            }
            let versions = mesh.version_pods(from);
            let total: f64 = versions.iter().map(|(_, n)| n).sum();
            versions
                .iter()
                .filter_map(|(name, pods)| Some((s.versions.iter().find(|v| v.name == *name)?, pods)))
                .map(|(v, pods)| {
                    pods / total.max(1.0)
                        * v.calls.iter().map(|c| visits_from(mesh, &c.service, to, depth + 1)).sum::<f64>()
                })
                .sum()
        }
        visits_from(self, &self.config.workload.entry_service, service, 0)
    }
}

fn finding(severity: Severity, rule: &'static str, path: String, message: String, fix: String) -> Finding {
    Finding { severity, rule, path, at: None, message, fix }
}

/// Locality failover asked for (failover rules) on services without outlier detection: Istio
/// applies locality failover only to clusters with outlierDetection (#48084).
fn failover_without_outlier_detection(mesh: &Mesh) -> Vec<Finding> {
    let services: Vec<&str> = mesh
        .multi_region_services()
        .into_iter()
        .map(|(service, _)| service)
        .filter(|service| mesh.outlier(service).is_none())
        .filter(|service| {
            mesh.locality(service).is_some_and(|l| !l.failover.is_empty() || !l.failover_priority.is_empty())
        })
        .collect();
    if services.is_empty() {
        return Vec::new();
    }
    let path = match services.as_slice() {
        [one] => mesh.rule_path(one, ""),
        _ => "istio.resources".into(),
    };
    vec![finding(
        Severity::Error,
        "failover-without-outlier-detection",
        path,
        format!(
            "{} run in several regions with locality failover settings but no outlierDetection: Istio then ignores the settings, so clients spread these calls over every region from the start and keep sending to a failed one",
            list(&services)
        ),
        format!(
            "add outlierDetection (e.g. consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100) to the DestinationRule of {}",
            list(&services)
        ),
    )]
}

/// `a`, `a and b`, `a, b and c`.
fn list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// outlierDetection alone switches locality failover on (the mesh default `enabled: true`):
/// clients keep to their own region until hosts are ejected.
fn implicit_locality_failover(mesh: &Mesh) -> Vec<Finding> {
    mesh.multi_region_services()
        .into_iter()
        .filter(|(service, _)| mesh.outlier(service).is_some())
        .filter(|(service, _)| {
            mesh.locality(service).is_some_and(|l| l.failover.is_empty() && l.distribute.is_empty() && l.failover_priority.is_empty())
        })
        .map(|(service, _)| {
            finding(
                Severity::Info,
                "implicit-locality-failover",
                mesh.rule_path(service, ".outlierDetection"),
                format!("outlierDetection on {service} turns on locality failover by itself: each client sends only to its own zone, then region, and crosses regions only when enough local hosts are ejected"),
                "to spread traffic over regions instead, set localityLbSetting.enabled: false on the DestinationRule; to say where to fail over, add failover rules".into(),
            )
        })
        .collect()
}

/// maxEjectionPercent (10 % unset), counted over the whole cluster, cannot eject every host of
/// a region, or not even the ~29 % it takes before any traffic spills (item 3, admiral#205).
fn max_ejection_cannot_eject_region(mesh: &Mesh) -> Vec<Finding> {
    let version = mesh.config.istio.mesh.envoy_version;
    let mut found = Vec::new();
    for (service, regions) in mesh.multi_region_services() {
        let Some(outlier) = mesh.outlier(service) else { continue };
        let mut detector = detector_config(outlier);
        // EnvoyFilter patches every proxy's cluster of the service gets.
        for patch in mesh.config.istio.envoy_overrides.iter().filter(|p| p.proxies.is_none()) {
            if patch.service.as_deref().is_none_or(|s| s == service) {
                detector.always_eject_one_host = patch.always_eject_one_host.unwrap_or(detector.always_eject_one_host);
            }
        }
        let total: u64 = regions.iter().map(|(_, n)| n).sum();
        let ejectable = max_ejectable_hosts(&detector, version, total as usize) as u64;
        let Some((region, local)) = regions.iter().find(|(_, n)| ejectable < *n) else { continue };
        let spills = ejectable as f64 / *local as f64 > SPILL_STARTS_AT;
        let consequence = if spills {
            "so part of its traffic stays on failing hosts"
        } else {
            "not even the 29 % that must be out before any traffic leaves, so no traffic fails over at all"
        };
        found.push(finding(
            if spills { Severity::Warning } else { Severity::Error },
            "max-ejection-cannot-eject-region",
            mesh.rule_path(service, ".outlierDetection.maxEjectionPercent"),
            format!(
                "maxEjectionPercent {} % of {total} {service} hosts lets Envoy {} eject at most {ejectable} at once: of {region}'s {local} hosts, {consequence}",
                detector.max_ejection_percent,
                version
            ),
            format!(
                "set maxEjectionPercent to at least {} (every host of {region}), e.g. 100",
                (100 * local).div_ceil(total)
            ),
        ));
    }
    found
}

/// minHealthPercent above 0 brings Envoy's panic mode back: below it, traffic goes to every
/// host, ejected or not (cluster_traffic_policy.go).
fn panic_threshold_back(mesh: &Mesh) -> Vec<Finding> {
    mesh.rules_with_outlier_detection()
        .filter(|(_, od)| od.min_health_percent > 0)
        .map(|(rule, od)| {
            finding(
                Severity::Warning,
                "panic-threshold",
                format!("istio.resources[DestinationRule/{}].spec.trafficPolicy.outlierDetection.minHealthPercent", rule.name),
                format!(
                    "minHealthPercent {} makes Envoy panic when fewer than {} % of {}'s hosts are healthy: it then sends to every host, failing ones included, instead of failing over",
                    od.min_health_percent, od.min_health_percent, rule.host
                ),
                "leave minHealthPercent at 0 (Istio's default with outlierDetection)".into(),
            )
        })
        .collect()
}

/// Ejected hosts come back only at sweeps: an interval longer than baseEjectionTime stretches
/// every ejection to the next sweep.
fn interval_longer_than_base_ejection(mesh: &Mesh) -> Vec<Finding> {
    let mut found = Vec::new();
    for (rule, od) in mesh.rules_with_outlier_detection() {
        let detector = detector_config(od);
        if detector.interval > detector.base_ejection_time {
            found.push(finding(
                Severity::Warning,
                "interval-longer-than-base-ejection",
                format!("istio.resources[DestinationRule/{}].spec.trafficPolicy.outlierDetection.interval", rule.name),
                format!(
                    "interval {} is longer than baseEjectionTime {}: hosts return only at a sweep, so every ejection of {} lasts up to {}",
                    detector.interval, detector.base_ejection_time, rule.host, detector.interval
                ),
                "make interval at most baseEjectionTime".into(),
            ));
        }
    }
    found
}

/// A pod that keeps failing is ejected again each time it returns, for base × (ejections so
/// far), capped at max_ejection_time, and returns only at a sweep: once it recovers, traffic
/// may stay away longer than the recovery time objective (Envoy's outlier detection docs).
fn failback_slower_than_rto(mesh: &Mesh) -> Vec<Finding> {
    let Some(rto) = mesh.rto else { return Vec::new() };
    let mut found = Vec::new();
    for fault in &mesh.config.faults {
        let service = match &fault.target {
            FaultTarget::Deployment { service, .. } | FaultTarget::Pod { service, .. } => service,
            _ => continue,
        };
        let (Some(end), true) = (
            fault.end,
            matches!(
                fault.kind,
                FaultKind::Respond(_) | FaultKind::Refuse | FaultKind::Hang | FaultKind::FailFraction(..)
            ),
        ) else {
            continue;
        };
        let Some((rule, od)) = mesh.rules_with_outlier_detection().find(|(r, _)| r.host == *service) else { continue };
        let detector = detector_config(od);
        let length = SimDuration::from_nanos(end.as_nanos().saturating_sub(fault.start.as_nanos()));
        let delay = failback_delay(length, detector.base_ejection_time, detector.max_ejection_time, detector.interval);
        if delay > rto {
            found.push(finding(
                Severity::Warning,
                "failback-slower-than-rto",
                format!("istio.resources[DestinationRule/{}].spec.trafficPolicy.outlierDetection.baseEjectionTime", rule.name),
                format!(
                    "{service}'s failing pods are ejected again each time they return, {} longer each time (up to {}); after this {} fault ends they may get no traffic for up to {delay}, beyond the {rto} RTO",
                    detector.base_ejection_time, detector.max_ejection_time, length
                ),
                "shorten baseEjectionTime (each re-ejection lasts one more of it), or cap the growth with an EnvoyFilter max_ejection_time".into(),
            ));
        }
    }
    found
}

/// How long after a fault of `length` ends its host may stay ejected: ejected at once, back
/// after `k × base` (at most `max`) rounded up to a sweep, ejected again while the fault lasts.
fn failback_delay(length: SimDuration, base: SimDuration, max: SimDuration, interval: SimDuration) -> SimDuration {
    let round_up = |d: SimDuration| {
        let step = interval.as_nanos().max(1);
        SimDuration::from_nanos(d.as_nanos().div_ceil(step).saturating_mul(step))
    };
    let mut at = SimDuration::ZERO;
    for k in 1u64.. {
        let length_k = base.checked_mul(k).map_or(max, |t| t.min(max));
        at = at + round_up(length_k);
        if at >= length || k > 10_000 {
            break;
        }
    }
    SimDuration::from_nanos(at.as_nanos().saturating_sub(length.as_nanos()))
}

/// Only gateway errors (502/503/504) count, but a fault answers with another 5xx: those
/// failures never eject anything (#8846).
fn gateway_errors_miss_the_failure(mesh: &Mesh) -> Vec<Finding> {
    let statuses: Vec<u16> = mesh
        .config
        .faults
        .iter()
        .filter_map(|f| match f.kind {
            FaultKind::Respond(s) | FaultKind::FailFraction(_, s)
                if (500..600).contains(&s) && !(502..=504).contains(&s) =>
            {
                Some(s)
            }
            _ => None,
        })
        .collect();
    let Some(status) = statuses.first() else { return Vec::new() };
    mesh.rules_with_outlier_detection()
        .filter(|(_, od)| od.consecutive_5xx_errors == Some(0) && od.consecutive_gateway_errors.is_some_and(|n| n > 0))
        .map(|(rule, _)| {
            finding(
                Severity::Warning,
                "gateway-errors-only",
                format!("istio.resources[DestinationRule/{}].spec.trafficPolicy.outlierDetection.consecutiveGatewayErrors", rule.name),
                format!("{} counts only 502, 503 and 504 towards ejection, but the scenario's failure answers {status}: the failing hosts are never ejected", rule.host),
                "count all 5xx with consecutive5xxErrors (remove consecutive5xxErrors: 0)".into(),
            )
        })
        .collect()
}

/// A dead region holds every attempt for the connect timeout (10 s unless set) and no route
/// timeout cuts it short (#21707).
fn connect_timeout_without_route_timeout(mesh: &Mesh) -> Vec<Finding> {
    let mut services = Vec::new();
    let mut longest = DEFAULT_CONNECT_TIMEOUT;
    for (service, _) in mesh.multi_region_services() {
        if mesh.config.istio.routes.iter().any(|r| r.host == service && r.timeout.is_some()) {
            continue;
        }
        let connect = mesh
            .rule(service)
            .and_then(|r| r.traffic_policy.as_ref())
            .and_then(|p| p.connection_pool.as_ref())
            .and_then(|c| c.connect_timeout)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        if connect.as_secs_f64() >= 1.0 {
            services.push(service);
            longest = connect.max(longest);
        }
    }
    if services.is_empty() {
        return Vec::new();
    }
    vec![finding(
        Severity::Warning,
        "connect-timeout-without-route-timeout",
        "istio.resources".into(),
        format!(
            "when a region goes dark, each attempt there to {} waits out the connect timeout (up to {longest}), and no VirtualService timeout bounds what users wait",
            list(&services)
        ),
        "give these services a route timeout in a VirtualService (e.g. timeout: 2s), or a shorter connectionPool.tcp.connectTimeout".into(),
    )]
}

/// Retries are on (Istio's default or the route's), but retryRemoteLocalities is not: a retry
/// is likely to pick the same dead region again (#45668).
fn retries_stay_in_the_dead_region(mesh: &Mesh) -> Vec<Finding> {
    let services: Vec<&str> = mesh
        .multi_region_services()
        .into_iter()
        .map(|(service, _)| service)
        .filter(|service| mesh.outlier(service).is_some())
        .filter(|service| {
            let route = mesh.config.istio.routes.iter().find(|r| r.host == *service);
            match route.and_then(|r| r.retries.as_ref()) {
                Some(retry) => retry.attempts > 0 && !retry.retry_remote_localities,
                None => true,
            }
        })
        .collect();
    if services.is_empty() {
        return Vec::new();
    }
    vec![finding(
        Severity::Info,
        "retries-stay-local",
        "istio.resources".into(),
        format!(
            "retries of calls to {} stay in the same locality priority (retryRemoteLocalities is not set): while a local region fails, a retry usually lands there again",
            list(&services)
        ),
        "set retries.retryRemoteLocalities: true on their VirtualService routes (Istio's update frequency 2: from the second retry on, retries leave the priorities already tried)".into(),
    )]
}

/// `distribute` gives a region with endpoints no weight: its hosts get no traffic, even when
/// every listed region fails (#33470, #48197).
fn distribute_drops_a_region(mesh: &Mesh) -> Vec<Finding> {
    let mut found = Vec::new();
    for (service, regions) in mesh.multi_region_services() {
        let Some(setting) = mesh.locality(service) else { continue };
        for rule in &setting.distribute {
            let covered =
                |region: &str| rule.to.iter().any(|(pattern, w)| *w > 0 && pattern_region_matches(pattern, region));
            for (region, _) in regions.iter().filter(|(r, _)| !covered(r)) {
                found.push(finding(
                    Severity::Error,
                    "distribute-drops-region",
                    "istio".into(),
                    format!(
                        "the distribute rule for clients in {} sends {service} nothing in {region}: those hosts take no traffic from these clients even if every listed region fails (distribute does not fail over)",
                        rule.from
                    ),
                    format!("give {region}/* a weight in that rule, or use failover instead of distribute"),
                ));
            }
        }
    }
    found
}

/// `distribute` rules that leave some clients out: those clients follow the default (#22669).
fn distribute_misses_clients(mesh: &Mesh) -> Vec<Finding> {
    let mut missed: Vec<(String, Vec<&str>)> = Vec::new();
    for (service, _) in mesh.multi_region_services() {
        let Some(setting) = mesh.locality(service) else { continue };
        if setting.distribute.is_empty() {
            continue;
        }
        for region in mesh.client_regions(service) {
            if !setting.distribute.iter().any(|d| pattern_region_matches(&d.from, &region)) {
                match missed.iter_mut().find(|(r, _)| *r == region) {
                    Some((_, services)) => services.push(service),
                    None => missed.push((region, vec![service])),
                }
            }
        }
    }
    missed
        .into_iter()
        .map(|(region, services)| {
            finding(
                Severity::Warning,
                "distribute-misses-clients",
                "istio".into(),
                format!(
                    "clients in {region} of {} match no distribute rule: their calls are spread over every locality alike (flat load balancing), not split as configured",
                    list(&services)
                ),
                format!("add a distribute rule from {region}/* if those clients should split too"),
            )
        })
        .collect()
}

/// The first ASM release whose console offers traffic distribution.
const ASM_DISTRIBUTION: [u32; 4] = [1, 22, 6, 66];

/// `distribute` on an ASM release that cannot configure it (the ASM cross-region guide).
fn distribute_before_asm_supports_it(mesh: &Mesh) -> Vec<Finding> {
    let Some(release) = mesh.asm_version.filter(|r| *r < ASM_DISTRIBUTION) else { return Vec::new() };
    let uses_distribute =
        mesh.config.app.services.iter().any(|s| mesh.locality(&s.name).is_some_and(|l| !l.distribute.is_empty()));
    if !uses_distribute {
        return Vec::new();
    }
    let shown: Vec<String> = release.iter().map(u32::to_string).collect();
    vec![finding(
        Severity::Info,
        "asm-version-distribute",
        "istio.asm_version".into(),
        format!(
            "ASM {} predates 1.22.6.66, the first release whose console configures cross-region traffic distribution",
            shown.join(".")
        ),
        "upgrade ASM to 1.22.6.66 or later before relying on distribute".into(),
    )]
}

/// Gateways or pods whose nodes lack the region/zone labels, where locality settings matter:
/// istiod knows no locality for them (#12947). As clients, every endpoint ranks alike for them
/// (`applyLocalityFailover` compares against an empty region), so nothing stays local and no
/// distribute rule matches; as endpoints, they rank behind every labelled locality.
fn workloads_without_locality_labels(mesh: &Mesh) -> Vec<Finding> {
    let localised: Vec<&str> = mesh
        .multi_region_services()
        .into_iter()
        .map(|(service, _)| service)
        .filter(|service| {
            mesh.locality(service).is_some_and(|l| !l.distribute.is_empty() || mesh.outlier(service).is_some())
        })
        .collect();
    let mut found = Vec::new();
    for cluster in &mesh.config.clusters {
        for (g, gateway) in cluster.gateways.iter().enumerate().filter(|(_, g)| !g.locality_labels) {
            let entry = mesh.config.workload.entry_service.as_str();
            if gateway.name == mesh.config.workload.gateway && localised.contains(&entry) {
                found.push(finding(
                    Severity::Warning,
                    "missing-locality-labels",
                    format!("clusters[{}].gateways[{g}].locality_labels", cluster.name),
                    format!(
                        "gateway {} runs on nodes without topology.kubernetes.io/region and zone labels, so istiod knows no locality for it: its calls to {entry} go to every region alike, and the locality settings of {entry} do nothing for it",
                        gateway.name
                    ),
                    "label the nodes (or schedule the gateway onto labelled nodes) with topology.kubernetes.io/region and topology.kubernetes.io/zone".into(),
                ));
            }
        }
        for (d, deployment) in cluster.deployments.iter().enumerate().filter(|(_, d)| !d.locality_labels) {
            let callees: Vec<&str> = mesh
                .config
                .app
                .services
                .iter()
                .filter(|s| s.name == deployment.service)
                .flat_map(|s| s.versions.iter().filter(|v| v.name == deployment.version))
                .flat_map(|v| v.calls.iter().map(|c| c.service.as_str()))
                .filter(|callee| localised.contains(callee))
                .collect();
            let as_endpoint = localised.contains(&deployment.service.as_str());
            if callees.is_empty() && !as_endpoint {
                continue;
            }
            let mut effects = Vec::new();
            if !callees.is_empty() {
                effects.push(format!(
                    "its calls to {} go to every region alike, whatever their locality settings",
                    list(&callees)
                ));
            }
            if as_endpoint {
                effects.push(format!(
                    "as {} endpoints its pods rank behind every labelled locality, so they get traffic only once all others fail",
                    deployment.service
                ));
            }
            found.push(finding(
                Severity::Warning,
                "missing-locality-labels",
                format!("clusters[{}].deployments[{d}].locality_labels", cluster.name),
                format!(
                    "{} {} runs on nodes without topology.kubernetes.io/region and zone labels, so istiod knows no locality for it: {}",
                    deployment.service,
                    deployment.version,
                    effects.join("; ")
                ),
                "label the nodes with topology.kubernetes.io/region and topology.kubernetes.io/zone".into(),
            ));
        }
    }
    found
}

/// Outlier detection on calls that cross Istio networks: istiod replaces the remote network's
/// endpoints by its east-west gateway, one endpoint per locality weighted by the pods behind it
/// (`EndpointsByNetworkFilter`), so the detector judges the gateway: a few errors from one pod
/// there eject every pod of that network at once (#52435).
fn outlier_detection_across_networks(mesh: &Mesh) -> Vec<Finding> {
    let network_of = |cluster: &str| {
        mesh.networks.iter().find(|(c, _)| c == cluster).and_then(|(_, n)| n.as_deref()).unwrap_or("(default)")
    };
    let mut found = Vec::new();
    for (service, _) in mesh.multi_region_services() {
        if mesh.outlier(service).is_none() {
            continue;
        }
        let mut served: Vec<&str> = mesh
            .config
            .clusters
            .iter()
            .filter(|c| c.deployments.iter().any(|d| d.service == service && d.replicas > 0))
            .map(|c| network_of(&c.name))
            .collect();
        served.sort_unstable();
        served.dedup();
        let mut calling: Vec<&str> = mesh.client_clusters(service).into_iter().map(network_of).collect();
        calling.sort_unstable();
        calling.dedup();
        let crossings: Vec<(&str, &str)> = calling
            .iter()
            .flat_map(|&from| served.iter().filter(move |&&to| to != from).map(move |&to| (from, to)))
            .collect();
        let Some(&(from, to)) = crossings.first() else { continue };
        found.push(finding(
            Severity::Warning,
            "outlier-detection-across-networks",
            mesh.rule_path(service, ".outlierDetection"),
            format!(
                "clients on network {from} reach the {service} pods of network {to} through its east-west gateway, which istiod gives them as one endpoint per locality: outlier detection judges the gateway, not the pods, so errors from one pod behind it can eject every {service} pod of network {to} at once, and maxEjectionPercent counts gateways"
            ),
            "put the clusters on one network (over CEN, pods reach each other directly) so that outlier detection judges pods".into(),
        ));
    }
    found
}

/// Whether a locality pattern (`region/zone/subzone`, `*` wildcards) covers all of `region`.
fn pattern_region_matches(pattern: &str, region: &str) -> bool {
    let first = pattern.split('/').next().unwrap_or("");
    first == "*" || first == region
}

/// Pods of one cluster cannot reach another's: a security group there lacks the peer's pod CIDR
/// (Flannel) or vSwitch CIDRs (Terway), or a VPC is not attached to the CEN.
fn traffic_blocked(mesh: &Mesh) -> Vec<Finding> {
    mesh.config
        .network
        .blocked
        .iter()
        .map(|(from, to)| {
            finding(
                Severity::Error,
                "traffic-blocked",
                "security_groups".into(),
                format!(
                    "pods in {from} cannot reach pods in {to}: every call from {from} to {to} fails (a security group of {to} does not allow {from}'s pod or vSwitch CIDRs, or a VPC is off the CEN), so failover from {from} to {to} cannot work"
                ),
                format!("allow {from}'s pod CIDR (Flannel) or vSwitch CIDRs (Terway) in {to}'s security group, and attach both VPCs to CEN transit routers"),
            )
        })
        .collect()
}

/// Only CEN's free 1 kbit/s test bandwidth between regions: it passes a ping, not service
/// traffic.
fn backbone_test_bandwidth(mesh: &Mesh) -> Vec<Finding> {
    mesh.config
        .network
        .backbone
        .iter()
        .enumerate()
        .filter(|(_, b)| b.bandwidth_bps > 0 && b.bandwidth_bps <= 1_000)
        .map(|(i, b)| {
            finding(
                Severity::Error,
                "test-bandwidth-only",
                format!("cen.connections[{i}].bandwidth"),
                format!(
                    "{} <-> {} has only CEN's 1 kbit/s test bandwidth: istiod's pushes may pass, but every cross-region call is dropped",
                    b.regions.0, b.regions.1
                ),
                "buy a bandwidth plan for the connection (e.g. 100Mbps)".into(),
            )
        })
        .collect()
}

/// The purchased bandwidth is below what the backbone must carry once a service fails over
/// to the other region (its calls and answers all crossing), with 25 % headroom.
fn backbone_below_failover_demand(mesh: &Mesh) -> Vec<Finding> {
    let Some(rate) = mesh.peak_rate() else { return Vec::new() };
    let mut worst: Option<(f64, &str)> = None;
    for (service, _) in mesh.multi_region_services() {
        let Some(s) = mesh.config.app.services.iter().find(|s| s.name == service) else { continue };
        let bits = rate * mesh.visits(service) * (s.request_bytes.max(s.response_bytes) as f64) * 8.0;
        if worst.is_none_or(|(b, _)| bits > b) {
            worst = Some((bits, service));
        }
    }
    let Some((bits, service)) = worst else { return Vec::new() };
    mesh.config
        .network
        .backbone
        .iter()
        .enumerate()
        .filter(|(_, b)| b.bandwidth_bps > 1_000 && (b.bandwidth_bps as f64) < bits * 1.25)
        .map(|(i, b)| {
            finding(
                Severity::Warning,
                "bandwidth-below-failover-demand",
                format!("cen.connections[{i}].bandwidth"),
                format!(
                    "if {service} fails over across {} <-> {}, its traffic at {rate} requests/s needs about {:.1} Mbps each way, more than the {:.1} Mbps plan (with 25 % headroom): queues, drops and timeouts follow",
                    b.regions.0,
                    b.regions.1,
                    bits / 1e6,
                    b.bandwidth_bps as f64 / 1e6
                ),
                format!("buy at least {:.0} Mbps, or run `meshsim sweep experiments/sweeps/cen-bandwidth.yaml` on this scenario", (bits * 1.25 / 1e6).ceil()),
            )
        })
        .collect()
}

/// A region cannot serve a service's whole load when the other region fails (#50727): its
/// pods × concurrency slots, each held for the version's service time plus its calls', serve
/// fewer requests per second than the service is offered.
fn standby_cannot_absorb(mesh: &Mesh) -> Vec<Finding> {
    let Some(rate) = mesh.peak_rate() else { return Vec::new() };
    let mut found = Vec::new();
    for (service, regions) in mesh.multi_region_services() {
        let offered = rate * mesh.visits(service);
        if offered == 0.0 {
            continue;
        }
        for (region, _) in &regions {
            let capacity: f64 = mesh
                .config
                .clusters
                .iter()
                .filter(|c| c.region == *region)
                .flat_map(|c| c.deployments.iter())
                .filter(|d| d.service == service)
                .map(|d| {
                    f64::from(d.replicas) * f64::from(d.concurrency) / mesh.holding_time(service, &d.version).max(1e-6)
                })
                .sum();
            if capacity < offered {
                found.push(finding(
                    Severity::Warning,
                    "standby-cannot-absorb",
                    "clusters".into(),
                    format!(
                        "if the other regions fail, {region} must serve all {offered:.0} requests/s of {service}, but its pods serve at most about {capacity:.0} (pods x concurrency / time a request holds a slot): requests queue without end"
                    ),
                    format!("give {service} more replicas or concurrency in {region}"),
                ));
            }
        }
    }
    found
}
