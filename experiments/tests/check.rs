//! `meshsim check`: each rule fires on a configuration that has its trap and stays silent on
//! one that does not; the command's exit codes and JSON.

use std::path::PathBuf;
use std::process::Command;

use experiments::check::{self, Severity, rules};
use experiments::scenario::{self, Scenario};
use models::mesh::config::Route;
use sim::SimDuration;

fn builtin_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.yaml"))
}

/// A built-in scenario with text edits applied.
fn edited(name: &str, edits: &[(&str, &str)]) -> Scenario {
    let path = builtin_path(name);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{name}: the edit {from:?} must apply");
        text = text.replacen(from, to, 1);
    }
    scenario::parse(&text, name, path.parent().unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

fn fired(scenario: &Scenario) -> Vec<&'static str> {
    rules::all(scenario).iter().map(|f| f.rule).collect()
}

fn fires(rule: &str, scenario: &Scenario) -> bool {
    fired(scenario).contains(&rule)
}

#[test]
fn failover_settings_without_outlier_detection() {
    // The seed's geolocation failover covers every service, but only reviews has outlierDetection.
    assert!(fires("failover-without-outlier-detection", &edited("seed-failover", &[])));
    assert!(!fires("failover-without-outlier-detection", &edited("region-outage", &[])));
}

#[test]
fn outlier_detection_alone_turns_locality_failover_on() {
    let geolocation = "  geolocation:\n    failover:\n      - {from: cn-hangzhou, to: cn-shanghai}\n      - {from: cn-shanghai, to: cn-hangzhou}\n";
    assert!(fires("implicit-locality-failover", &edited("seed-failover", &[(geolocation, "")])));
    assert!(!fires("implicit-locality-failover", &edited("seed-failover", &[])));
}

#[test]
fn max_ejection_percent_that_can_never_eject_a_region() {
    let seed = edited("seed-failover", &[]);
    let patched = edited(
        "seed-failover",
        &[(
            "  proxy_concurrency: 2
",
            "  proxy_concurrency: 2
  envoy_overrides:
    - {service: reviews, always_eject_one_host: true}
",
        )],
    );
    assert!(!fires("max-ejection-cannot-eject-region", &patched), "always_eject_one_host lets one of two go");
    let finding = rules::all(&seed).into_iter().find(|f| f.rule == "max-ejection-cannot-eject-region").unwrap();
    assert_eq!(finding.severity, Severity::Error);
    assert!(finding.message.contains("at most 0 at once") && finding.fix.contains("at least 50"), "{finding:?}");
    // Four hosts a region, 25 %: one of four goes, which spills some traffic but not all.
    let bigger = edited(
        "seed-failover",
        &[
            (
                "reviews, version: v1, zone: cn-hangzhou-k, replicas: 1",
                "reviews, version: v1, zone: cn-hangzhou-k, replicas: 4",
            ),
            (
                "reviews, version: v2, zone: cn-shanghai-b, replicas: 1",
                "reviews, version: v2, zone: cn-shanghai-b, replicas: 4",
            ),
            ("baseEjectionTime: 1m", "baseEjectionTime: 1m\n          maxEjectionPercent: 25"),
        ],
    );
    let finding = rules::all(&bigger).into_iter().find(|f| f.rule == "max-ejection-cannot-eject-region").unwrap();
    assert_eq!(finding.severity, Severity::Warning, "{finding:?}");
    let enough =
        edited("seed-failover", &[("baseEjectionTime: 1m", "baseEjectionTime: 1m\n          maxEjectionPercent: 50")]);
    assert!(!fires("max-ejection-cannot-eject-region", &enough));
}

#[test]
fn min_health_percent_brings_panic_back() {
    let panic =
        edited("seed-failover", &[("baseEjectionTime: 1m", "baseEjectionTime: 1m\n          minHealthPercent: 50")]);
    assert!(fires("panic-threshold", &panic));
    assert!(!fires("panic-threshold", &edited("seed-failover", &[])));
}

#[test]
fn an_interval_longer_than_the_ejection() {
    assert!(fires("interval-longer-than-base-ejection", &edited("seed-failover", &[("interval: 1s", "interval: 2m")])));
    assert!(!fires("interval-longer-than-base-ejection", &edited("seed-failover", &[])));
}

#[test]
fn failback_slower_than_the_recovery_time_objective() {
    // The pod fails from 10 s to 40 s with baseEjectionTime 20 s: ejected at once, back at 20 s
    // and ejected again for 40 s, so after it recovers it gets traffic back only 30 s later.
    let rto = |value: &str| edited("pod-503-failback", &[("  window: 1s", &format!("  window: 1s\n  rto: {value}"))]);
    let tight = rto("10s");
    let finding = rules::all(&tight).into_iter().find(|f| f.rule == "failback-slower-than-rto").unwrap();
    assert!(finding.message.contains("for up to 30s, beyond the 10s RTO"), "{finding:?}");
    assert!(!fires("failback-slower-than-rto", &rto("1m")));
    assert!(!fires("failback-slower-than-rto", &edited("pod-503-failback", &[])), "no RTO stated");
}

#[test]
fn gateway_errors_only_while_the_app_answers_500() {
    let counts = ("consecutive5xxErrors: 1", "consecutive5xxErrors: 0\n          consecutiveGatewayErrors: 1");
    let answers_500 = edited("pod-503-keep-endpoints", &[counts, ("respond: 503", "respond: 500")]);
    assert!(fires("gateway-errors-only", &answers_500));
    assert!(!fires("gateway-errors-only", &edited("pod-503-keep-endpoints", &[counts])));
}

#[test]
fn a_connect_timeout_with_no_route_timeout() {
    let mut seed = edited("seed-failover", &[]);
    assert!(fires("connect-timeout-without-route-timeout", &seed));
    for service in ["productpage", "details", "reviews", "ratings"] {
        seed.config.istio.routes.retain(|r| r.host != service);
        let route = Route {
            host: service.into(),
            destinations: vec![(None, 100)],
            timeout: Some(SimDuration::from_secs(2)),
            retries: None,
        };
        seed.config.istio.routes.push(route);
    }
    assert!(!fires("connect-timeout-without-route-timeout", &seed));
}

#[test]
fn retries_that_stay_in_the_failing_region() {
    let mut seed = edited("seed-failover", &[]);
    assert!(fires("retries-stay-local", &seed));
    let remote = models::istio::api::HttpRetry { attempts: 2, retry_remote_localities: true, ..Default::default() };
    let route = Route { host: "reviews".into(), destinations: vec![(None, 100)], timeout: None, retries: Some(remote) };
    seed.config.istio.routes.push(route);
    assert!(!fires("retries-stay-local", &seed));
}

#[test]
fn distribute_that_drops_a_region_or_misses_clients() {
    let all_away = edited("seed-distribute", &[("percent: 10", "percent: 100")]);
    assert!(fires("distribute-drops-region", &all_away));
    let seed = edited("seed-distribute", &[]);
    assert!(!fires("distribute-drops-region", &seed));
    // Only hangzhou's clients are given a split; shanghai's follow the default order.
    assert!(fires("distribute-misses-clients", &seed));
    assert!(!fires("distribute-misses-clients", &edited("seed-failover", &[])));
}

#[test]
fn distribute_on_an_asm_release_without_it() {
    let old = edited(
        "seed-distribute",
        &[("  proxy_concurrency: 2", "  proxy_concurrency: 2\n  asm_version: \"1.22.6.28\"")],
    );
    assert!(fires("asm-version-distribute", &old));
    let new = edited(
        "seed-distribute",
        &[("  proxy_concurrency: 2", "  proxy_concurrency: 2\n  asm_version: \"1.22.6.66\"")],
    );
    assert!(!fires("asm-version-distribute", &new));
    assert!(!fires("asm-version-distribute", &edited("seed-distribute", &[])), "no release stated");
}

#[test]
fn gateways_and_pods_without_locality_labels() {
    let gateway = "{name: ingressgateway, zone: cn-hangzhou-k, replicas: 1}";
    let unlabelled = edited(
        "region-outage",
        &[(gateway, "{name: ingressgateway, zone: cn-hangzhou-k, replicas: 1, locality_labels: false}")],
    );
    let finding = rules::all(&unlabelled).into_iter().find(|f| f.rule == "missing-locality-labels").unwrap();
    assert_eq!(finding.path, "clusters[ack-hangzhou].gateways[0].locality_labels");
    assert!(finding.message.contains("calls to productpage go to every region alike"), "{finding:?}");
    assert!(!fires("missing-locality-labels", &edited("region-outage", &[])));
    // A productpage pod without labels calls reviews (which fails over) without a locality.
    let pod = "{service: productpage, version: v1, zone: cn-hangzhou-k, replicas: 1}";
    let unlabelled = edited(
        "seed-failover",
        &[(pod, "{service: productpage, version: v1, zone: cn-hangzhou-k, replicas: 1, locality_labels: false}")],
    );
    let finding = rules::all(&unlabelled).into_iter().find(|f| f.rule == "missing-locality-labels").unwrap();
    assert!(finding.message.contains("its calls to reviews"), "{finding:?}");
    assert!(!fires("missing-locality-labels", &edited("seed-failover", &[])));
}

#[test]
fn outlier_detection_across_istio_networks() {
    let shanghai = "  - name: ack-shanghai\n    region: cn-shanghai\n";
    let split = edited(
        "region-outage",
        &[(shanghai, "  - name: ack-shanghai\n    region: cn-shanghai\n    network: net-shanghai\n")],
    );
    let finding = rules::all(&split).into_iter().find(|f| f.rule == "outlier-detection-across-networks").unwrap();
    assert!(finding.message.contains("through its east-west gateway"), "{finding:?}");
    assert!(!fires("outlier-detection-across-networks", &edited("region-outage", &[])));
    // meshsim routes pod to pod: it says so instead of simulating the gateways.
    let refused = experiments::run::run(&split, 1, 1).unwrap_err();
    assert!(refused.contains("east-west gateways, which meshsim does not simulate"), "{refused}");
}

#[test]
fn a_backbone_too_thin_for_failover() {
    let test_only = edited("seed-failover", &[("bandwidth: 100Mbps", "bandwidth: 1kbps")]);
    assert!(fires("test-bandwidth-only", &test_only));
    assert!(!fires("test-bandwidth-only", &edited("seed-failover", &[])));
    // 300 requests/s of reviews after failover need several Mbps.
    let thin = edited("backbone-degraded", &[("bandwidth: 100Mbps", "bandwidth: 2Mbps")]);
    assert!(fires("bandwidth-below-failover-demand", &thin));
    assert!(!fires("bandwidth-below-failover-demand", &edited("backbone-degraded", &[])));
}

#[test]
fn a_security_group_without_the_peer_pod_cidr() {
    let blocked = edited(
        "seed-failover",
        &[("{cluster: ack-shanghai, allow: [10.0.0.0/16]}", "{cluster: ack-shanghai, allow: [10.9.0.0/16]}")],
    );
    let finding = rules::all(&blocked).into_iter().find(|f| f.rule == "traffic-blocked").unwrap();
    assert!(finding.message.contains("pods in ack-hangzhou cannot reach pods in ack-shanghai"), "{finding:?}");
    assert!(!fires("traffic-blocked", &edited("seed-failover", &[])));
}

#[test]
fn a_standby_region_too_small_for_the_load() {
    let heavy = edited("pod-503-keep-endpoints", &[("poisson: 20", "poisson: 2000")]);
    assert!(fires("standby-cannot-absorb", &heavy));
    assert!(!fires("standby-cannot-absorb", &edited("pod-503-keep-endpoints", &[])));
}

#[test]
fn the_command_exits_by_the_worst_finding_and_speaks_json() {
    let meshsim = || Command::new(env!("CARGO_BIN_EXE_meshsim"));
    let seed = meshsim().arg("check").arg(builtin_path("seed-failover")).output().unwrap();
    assert_eq!(seed.status.code(), Some(1), "the seed configuration's traps are errors");
    let text = String::from_utf8(seed.stdout).unwrap();
    assert!(
        text.contains("error: ") && text.contains("[max-ejection-cannot-eject-region]") && text.contains("  fix: "),
        "{text}"
    );
    assert!(text.contains("line 105 column 11"), "the outlierDetection block, where maxEjectionPercent goes: {text}");
    let clean = meshsim().arg("check").arg(builtin_path("seed-roundrobin")).output().unwrap();
    assert_eq!(clean.status.code(), Some(0), "warnings only: {}", String::from_utf8_lossy(&clean.stdout));
    let json = meshsim().args(["check", "--format", "json"]).arg(builtin_path("seed-failover")).output().unwrap();
    let json = String::from_utf8(json.stdout).unwrap();
    assert!(
        json.starts_with("{\"file\":") && json.contains("\"severity\":\"error\"") && json.contains("\"line\":105"),
        "{json}"
    );
    let unreadable = meshsim().arg("check").arg("/nonexistent/scenario.yaml").output().unwrap();
    assert_eq!(unreadable.status.code(), Some(2));
    let report = check::check(&edited("region-outage", &[]), "region-outage");
    assert!(!report.has_errors(), "{}", report.text());
}
