//! Large meshes load and run: what a user who models every region, or a thousand pods per
//! deployment, gets from a plain `meshsim run`.

use std::fmt::Write;
use std::path::Path;

use experiments::run::simulate;
use experiments::scenario::parse;

/// Bookinfo in each of `regions` regions, `replicas` pods per deployment, every pair of regions
/// joined by a CEN connection, the gateway in the first region; `rate` requests/s for `seconds`.
fn mesh(regions: usize, replicas: u32, rate: u32, seconds: u32) -> String {
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

#[test]
fn two_hundred_regions_with_every_connection_load_and_run() {
    // 19,900 CEN connections: over 250,000 YAML nodes, past the reader's default budget.
    let scenario = parse(&mesh(200, 1, 50, 3), "mesh.yaml", Path::new(".")).unwrap();
    assert_eq!(scenario.config.clusters.len(), 200);
    let summary = simulate(&scenario, 1).unwrap().summary;
    assert!(summary.requests > 50, "{summary:?}");
    assert_eq!(summary.failed, 0);
}

#[test]
fn a_thousand_pods_per_deployment_load_and_run() {
    // Two regions of 4 × 1,000 pods (speed and memory against 10 pods: `mesh-size` in benches).
    let scenario = parse(&mesh(2, 1000, 200, 3), "mesh.yaml", Path::new(".")).unwrap();
    let summary = simulate(&scenario, 1).unwrap().summary;
    assert!(summary.requests > 200, "{summary:?}");
    assert_eq!(summary.failed, 0);
}
