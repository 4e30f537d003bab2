//! What a scenario may ask for: values in range (the Istio API's own limits live with the Istio
//! reader; these are the documented limits of meshsim's model and of one machine), and a cost
//! estimate that refuses a run which would not fit in memory or would run for days, saying what
//! to reduce. Checked before the world is built, so nothing is allocated for a run refused here.
//! `SCENARIOS.md` lists the limits.

use models::mesh::app::OnFailure;
use models::mesh::config::{Arrivals, FaultKind, MeshConfig};
use sim::SimDuration;

/// The longest run.
pub const MAX_DURATION: SimDuration = SimDuration::from_secs(7 * 24 * 3600);
/// The most metric windows a run may have (duration / window).
pub const MAX_WINDOWS: u64 = 1_000_000;
/// The longest one-way network latency (within a region or on the backbone).
pub const MAX_LATENCY: SimDuration = SimDuration::from_secs(10);
/// The most round trips a connection set-up may cost.
pub const MAX_HANDSHAKE_ROUND_TRIPS: u32 = 16;
/// The most purchased bandwidth of one CEN connection: 10 Tbit/s.
pub const MAX_BANDWIDTH_BPS: u64 = 10_000_000_000_000;
/// The most pods of one deployment, replicas of one gateway, and pods in all.
pub const MAX_REPLICAS: u32 = 10_000;
/// The most pods (gateway replicas included) in a scenario.
pub const MAX_PODS: u64 = 50_000;
/// The most requests one pod works on at once.
pub const MAX_POD_CONCURRENCY: u32 = 100_000;
/// The most Envoy worker threads per proxy.
pub const MAX_PROXY_CONCURRENCY: usize = 64;
/// The highest offered rate, requests per second.
pub const MAX_RATE: f64 = 1_000_000.0;
/// The most closed-loop users.
pub const MAX_USERS: u32 = 1_000_000;
/// The most user requests a run may be expected to send (about half an hour of one core).
pub const MAX_REQUESTS: f64 = 1e9;
/// The memory one replication may be estimated to need.
pub const MEMORY_BUDGET_BYTES: f64 = 8.0 * (1u64 << 30) as f64;
/// Bytes of one upstream cluster on one proxy, before any per-host state: settings, counters,
/// mergers, and per worker the load balancer's schedules (measured at 1,000 pods per deployment
/// and rounded up).
const BYTES_PER_CLUSTER: f64 = 1024.0;
/// The same, per worker.
const BYTES_PER_CLUSTER_WORKER: f64 = 512.0;
/// Bytes a proxy keeps for one host it has sent to: outlier monitor and requests in flight...
const BYTES_PER_USED_HOST: f64 = 256.0;
/// ...and per worker, that host's connection pool.
const BYTES_PER_USED_HOST_WORKER: f64 = 256.0;
/// Attempts per call the estimate allows for (the first try and Istio's default two retries).
const ATTEMPTS_PER_CALL: f64 = 3.0;

/// A value out of range: the field path and what to do.
pub type LimitError = (String, String);

/// Checks `config` against the limits; the first value out of range is reported.
pub fn check(config: &MeshConfig) -> Result<(), LimitError> {
    let err = |path: &str, message: String| Err((path.to_owned(), message));
    if config.duration == SimDuration::ZERO || config.duration > MAX_DURATION {
        return err("duration", format!("{} is not between 1ns and {MAX_DURATION} (7 days)", config.duration));
    }
    let window = config.metrics.window;
    if window < SimDuration::from_millis(1) {
        return err("metrics.window", format!("{window} is below 1ms; windows are 1ms or longer (default 1s)"));
    }
    let windows = config.duration.as_nanos().div_ceil(window.as_nanos());
    if windows > MAX_WINDOWS {
        return err(
            "metrics.window",
            format!(
                "{window} cuts the {} run into {windows} windows, over {MAX_WINDOWS}; use a longer window",
                config.duration
            ),
        );
    }
    let slo = config.metrics.slo_success;
    if !(slo > 0.0 && slo <= 1.0) {
        return err("metrics.slo", format!("{slo} is not a success ratio in (0, 1], e.g. 0.99"));
    }
    let network = &config.network;
    for (path, latency) in [("network.intra_zone", network.intra_zone), ("network.inter_zone", network.inter_zone)] {
        if latency > MAX_LATENCY {
            return err(path, format!("{latency} is over {MAX_LATENCY}, the longest one-way latency modelled"));
        }
    }
    if network.handshake_round_trips > MAX_HANDSHAKE_ROUND_TRIPS {
        return err(
            "network.handshake_round_trips",
            format!("{} is over {MAX_HANDSHAKE_ROUND_TRIPS}; TCP + mTLS takes 2", network.handshake_round_trips),
        );
    }
    for (i, link) in network.backbone.iter().enumerate() {
        let path = format!("cen.connections[{i}]");
        if link.max_latency > MAX_LATENCY {
            return err(&format!("{path}.latency.max"), format!("{} is over {MAX_LATENCY}", link.max_latency));
        }
        if link.bandwidth_bps > MAX_BANDWIDTH_BPS {
            return err(&format!("{path}.bandwidth"), "is over 10Tbps, more than any CEN plan; e.g. 100Mbps".into());
        }
        if link.buffer > SimDuration::from_secs(60) {
            return err(&format!("{path}.buffer"), format!("{} is over 1m of queueing", link.buffer));
        }
    }
    let mut pods: u64 = 0;
    for cluster in &config.clusters {
        for (d, deployment) in cluster.deployments.iter().enumerate() {
            let path = format!("clusters[{}].deployments[{d}]", cluster.name);
            if deployment.replicas > MAX_REPLICAS {
                return err(&format!("{path}.replicas"), format!("{} is over {MAX_REPLICAS}", deployment.replicas));
            }
            if deployment.concurrency == 0 || deployment.concurrency > MAX_POD_CONCURRENCY {
                return err(
                    &format!("{path}.concurrency"),
                    format!("{} is not between 1 and {MAX_POD_CONCURRENCY}", deployment.concurrency),
                );
            }
            pods += u64::from(deployment.replicas);
        }
        for (g, gateway) in cluster.gateways.iter().enumerate() {
            if gateway.replicas > MAX_REPLICAS {
                let path = format!("clusters[{}].gateways[{g}].replicas", cluster.name);
                return err(&path, format!("{} is over {MAX_REPLICAS}", gateway.replicas));
            }
            pods += u64::from(gateway.replicas);
        }
    }
    if pods > MAX_PODS {
        return err("clusters", format!("{pods} pods in all, over {MAX_PODS}; model fewer replicas"));
    }
    let workers = config.istio.proxy_concurrency;
    if workers == 0 || workers > MAX_PROXY_CONCURRENCY {
        return err(
            "istio.proxy_concurrency",
            format!(
                "{workers} is not between 1 and {MAX_PROXY_CONCURRENCY} worker threads (Istio's sidecar default is 2)"
            ),
        );
    }
    check_app(config)?;
    let expected_requests = check_workload(config)?;
    check_faults(config)?;
    check_memory(config, workers, expected_requests)
}

/// Services do not call themselves, directly or around a loop (a request would never end).
fn check_app(config: &MeshConfig) -> Result<(), LimitError> {
    let services = &config.app.services;
    let index = |name: &str| services.iter().position(|s| s.name == name);
    // Depth-first search for a cycle in the call graph.
    fn visit(at: usize, graph: &[Vec<usize>], state: &mut [u8], path: &mut Vec<usize>) -> Option<Vec<usize>> {
        state[at] = 1;
        path.push(at);
        for &next in &graph[at] {
            if state[next] == 1 {
                let start = path.iter().position(|&p| p == next).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(next);
                return Some(cycle);
            }
            if state[next] == 0
                && let Some(cycle) = visit(next, graph, state, path)
            {
                return Some(cycle);
            }
        }
        path.pop();
        state[at] = 2;
        None
    }
    let graph: Vec<Vec<usize>> = services
        .iter()
        .map(|s| s.versions.iter().flat_map(|v| v.calls.iter().filter_map(|c| index(&c.service))).collect())
        .collect();
    let mut state = vec![0u8; services.len()];
    for start in 0..services.len() {
        if state[start] == 0
            && let Some(cycle) = visit(start, &graph, &mut state, &mut Vec::new())
        {
            let names: Vec<&str> = cycle.iter().map(|&i| services[i].name.as_str()).collect();
            return Err((
                format!("app.services[{}].versions.calls", services[cycle[0]].name),
                format!("the calls go round in a loop ({}), so a request would never finish", names.join(" -> ")),
            ));
        }
    }
    for service in services {
        for version in &service.versions {
            for call in &version.calls {
                if let OnFailure::Fail(status) = call.on_failure
                    && !(100..=599).contains(&status)
                {
                    return Err((
                        format!("app.services[{}].versions[{}].calls", service.name, version.name),
                        format!("on_failure status {status} is not an HTTP status (100 to 599)"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks the workload; returns about how many user requests it sends.
fn check_workload(config: &MeshConfig) -> Result<f64, LimitError> {
    let gateway = &config.workload.gateway;
    let replicas: Vec<u32> = config
        .clusters
        .iter()
        .flat_map(|c| c.gateways.iter())
        .filter(|g| g.name == *gateway)
        .map(|g| g.replicas)
        .collect();
    if !replicas.is_empty() && replicas.iter().all(|&r| r == 0) {
        return Err((
            "workload.gateway".into(),
            format!("gateway {gateway:?} has 0 replicas, so no user request can enter; give it at least 1"),
        ));
    }
    let path = "workload.arrivals";
    let rate_ok = |rate: f64| rate.is_finite() && (0.0..=MAX_RATE).contains(&rate);
    let seconds = config.duration.as_secs_f64();
    let expected = match &config.workload.arrivals {
        Arrivals::Poisson { rate } | Arrivals::Constant { rate } => {
            if !rate_ok(*rate) || *rate == 0.0 {
                return Err((path.into(), format!("rate {rate} is not between 0 and {MAX_RATE} requests per second")));
            }
            rate * seconds
        }
        Arrivals::Steps { steps } => {
            if let Some((at, rate)) = steps.iter().find(|(_, rate)| !rate_ok(*rate)) {
                return Err((
                    path.into(),
                    format!("the rate {rate} from {at} is not between 0 and {MAX_RATE} requests per second"),
                ));
            }
            steps.iter().map(|(_, rate)| rate).fold(0.0, |a: f64, &b| a.max(b)) * seconds
        }
        Arrivals::Users { users, think_time, limit } => {
            if *users == 0 || *users > MAX_USERS {
                return Err((format!("{path}.users.count"), format!("{users} is not between 1 and {MAX_USERS}")));
            }
            // Each user sends at most one request per round trip; 1 ms is a floor on it.
            let per_user = seconds / think_time.as_secs_f64().max(0.001);
            let open = f64::from(*users) * per_user;
            limit.map_or(open, |l| open.min(l as f64))
        }
    };
    if expected > MAX_REQUESTS {
        return Err((
            path.into(),
            format!(
                "about {expected:.3e} user requests in {} (over {MAX_REQUESTS:.0e}, some hours of computing); shorten the run or lower the rate",
                config.duration
            ),
        ));
    }
    Ok(expected)
}

fn check_faults(config: &MeshConfig) -> Result<(), LimitError> {
    for (i, fault) in config.faults.iter().enumerate() {
        let path = format!("faults[{i}]");
        if fault.start >= config.duration {
            return Err((
                format!("{path}.at"),
                format!(
                    "{} is not before the end of the run ({}): the fault would never happen",
                    fault.start, config.duration
                ),
            ));
        }
        let status = match fault.kind {
            FaultKind::Respond(status) | FaultKind::FailFraction(_, status) => Some(status),
            _ => None,
        };
        if let Some(status) = status
            && !(100..=599).contains(&status)
        {
            return Err((
                format!("{path}.action"),
                format!("status {status} is not an HTTP status (100 to 599), e.g. 503"),
            ));
        }
    }
    Ok(())
}

/// The memory estimate. Every calling proxy holds one cluster per service it calls; per host,
/// a proxy keeps state only once it has sent to it, so a caller-callee pair costs per host
/// used, at most every host of the callee for every caller, and at most one new host per
/// attempt on that edge (each user request crosses each edge of the call graph at most once).
fn check_memory(config: &MeshConfig, workers: usize, expected_requests: f64) -> Result<(), LimitError> {
    let pods_of = |service: &str| -> u64 {
        config
            .clusters
            .iter()
            .flat_map(|c| c.deployments.iter())
            .filter(|d| d.service == service)
            .map(|d| u64::from(d.replicas))
            .sum()
    };
    let attempts = expected_requests * ATTEMPTS_PER_CALL;
    let (mut clusters, mut hosts_used) = (0.0, 0.0);
    let mut edge = |callers: u64, hosts: u64| {
        clusters += callers as f64;
        hosts_used += (callers as f64 * hosts as f64).min(attempts);
    };
    for service in &config.app.services {
        for version in &service.versions {
            let callers: u64 = config
                .clusters
                .iter()
                .flat_map(|c| c.deployments.iter())
                .filter(|d| d.service == service.name && d.version == version.name)
                .map(|d| u64::from(d.replicas))
                .sum();
            for call in &version.calls {
                edge(callers, pods_of(&call.service));
            }
        }
    }
    let gateways: u64 = config.clusters.iter().flat_map(|c| c.gateways.iter()).map(|g| u64::from(g.replicas)).sum();
    edge(gateways, pods_of(&config.workload.entry_service));
    let workers = workers as f64;
    let bytes = clusters * (BYTES_PER_CLUSTER + BYTES_PER_CLUSTER_WORKER * workers)
        + hosts_used * (BYTES_PER_USED_HOST + BYTES_PER_USED_HOST_WORKER * workers);
    if bytes > MEMORY_BUDGET_BYTES {
        return Err((
            "clusters".into(),
            format!(
                "a run would need about {:.1} GiB (each calling proxy keeps state for every host it sends to, on each of its {workers} workers), over the {:.0} GiB budget; use fewer replicas, proxy workers or requests",
                bytes / (1u64 << 30) as f64,
                MEMORY_BUDGET_BYTES / (1u64 << 30) as f64
            ),
        ));
    }
    Ok(())
}
