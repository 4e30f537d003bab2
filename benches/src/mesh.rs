//! The mesh benchmark workload: the built-in `seed-failover` scenario under open-loop Poisson
//! load, so that speed is measured on the model planners run (gateway, sidecars, retries,
//! outlier detection, backbone), not on a toy.

use std::fmt::Write;
use std::path::PathBuf;

use experiments::run::run;
use experiments::scenario::{Scenario, load};
use models::mesh::config::Arrivals;
use sim::SimDuration;

/// `seed-failover` at `rate` requests per second for `seconds` simulated seconds, with every
/// deployment given 8 pods of concurrency 32 so that the mesh keeps up (an overloaded pod would
/// queue requests without end, and the benchmark would measure queueing, not simulation).
pub fn seed_failover_under_load(rate: f64, seconds: u64) -> Scenario {
    seed_failover_sized(rate, seconds, 8)
}

/// The same with `replicas` pods (of concurrency 32) in every deployment.
pub fn seed_failover_sized(rate: f64, seconds: u64, replicas: u32) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../experiments/scenarios/seed-failover.yaml");
    let mut scenario = load(&path).expect("the built-in scenario loads");
    for deployment in scenario.config.clusters.iter_mut().flat_map(|c| c.deployments.iter_mut()) {
        deployment.replicas = replicas;
        deployment.concurrency = 32;
    }
    scenario.config.workload.arrivals = Arrivals::Poisson { rate };
    scenario.config.workload.start = SimDuration::from_secs(1);
    scenario.config.duration = SimDuration::from_secs(seconds);
    scenario
}

/// Runs one replication; returns the user requests simulated and how many were answered.
pub fn simulate(scenario: &Scenario) -> (u64, u64) {
    let summary = &run(scenario, scenario.config.seed, 1).expect("the scenario runs")[0].summary;
    (summary.requests, summary.requests - summary.unanswered)
}

/// A scenario file as a user who models every region writes it: Bookinfo in each of `regions`
/// regions with `replicas` pods per deployment, every pair of regions joined by a CEN connection,
/// the gateway in the first region, outlier detection on reviews; Poisson arrivals at `rate`
/// requests/s for `seconds` simulated seconds.
pub fn bookinfo_in_every_region(regions: usize, replicas: u32, rate: u32, seconds: u32) -> String {
    let mut y = format!("name: mesh-{regions}x{replicas}\nseed: 1\nduration: {seconds}s\nregions:\n");
    for i in 0..regions {
        writeln!(y, "  - {{name: r{i}, zones: [r{i}-a]}}").unwrap();
    }
    y.push_str("network: {intra_zone: 200us, inter_zone: 1ms, handshake_round_trips: 2}\nvpcs:\n");
    for i in 0..regions {
        let cidr = format!("10.{}.{}.0", i / 256, i % 256);
        writeln!(y, "  - {{name: vpc-{i}, region: r{i}, cidr: {cidr}/24, vswitches: [{{name: sw-{i}, cidr: {cidr}/24, zone: r{i}-a}}]}}").unwrap();
    }
    y.push_str("cen:\n  transit_routers:\n");
    for i in 0..regions {
        writeln!(y, "    - {{name: tr-{i}, region: r{i}, vpcs: [vpc-{i}]}}").unwrap();
    }
    y.push_str("  connections:\n");
    for i in 0..regions {
        for j in i + 1..regions {
            writeln!(y, "    - {{regions: [r{i}, r{j}], latency: {{min: 4ms, max: 6ms}}, bandwidth: 1Gbps, loss: 0, buffer: 100ms}}").unwrap();
        }
    }
    y.push_str("clusters:\n");
    for i in 0..regions {
        let (pods, services) = (format!("172.{}.{}.0/22", 16 + i / 64, (i % 64) * 4), format!("192.168.{i}.0/24"));
        writeln!(y, "  - name: c{i}\n    region: r{i}\n    vpc: vpc-{i}\n    network_plugin: flannel\n    pod_cidr: {pods}\n    service_cidr: {services}\n    deployments:").unwrap();
        for (service, version) in [("productpage", "v1"), ("details", "v1"), ("reviews", "v2"), ("ratings", "v1")] {
            writeln!(y, "      - {{service: {service}, version: {version}, zone: r{i}-a, replicas: {replicas}}}")
                .unwrap();
        }
        if i == 0 {
            y.push_str("    gateways:\n      - {name: ingressgateway, zone: r0-a, replicas: 1}\n");
        }
    }
    y.push_str("control_plane: {region: r0}\napp: {builtin: bookinfo}\nistio:\n  resources: |\n    apiVersion: networking.istio.io/v1\n    kind: DestinationRule\n    metadata: {name: reviews}\n    spec:\n      host: reviews\n      trafficPolicy:\n        outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1m}\n");
    writeln!(y, "workload:\n  gateway: ingressgateway\n  arrivals: {{poisson: {rate}}}\n  start: 1s").unwrap();
    y
}
