//! `stats.csv`: Envoy's counters agree with the run's summary, and name proxies and clusters as
//! Istio does.

use std::path::PathBuf;

use experiments::findings;
use experiments::run::run;
use experiments::scenario::load;

fn scenario(name: &str) -> experiments::scenario::Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.yaml"));
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn counters_add_up_to_the_summary_in_every_built_in_scenario() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let s = load(&path).unwrap();
        let r = run(&s, s.config.seed, 1).unwrap().remove(0);
        let sum = |f: fn(&models::envoy::stats::ClusterStats) -> u64| r.stats.iter().map(|(_, _, c)| f(c)).sum::<u64>();
        assert_eq!(sum(|c| c.ejections_enforced_total), r.summary.ejections, "{}", s.name);
        assert_eq!(sum(|c| c.upstream_rq_retry), r.summary.retries, "{}", s.name);
        assert!(sum(|c| c.upstream_rq_total) >= r.summary.requests - r.summary.unanswered, "{}", s.name);
        assert!(r.stats.iter().all(|(_, _, c)| !c.is_unused()), "{}: idle clusters are left out", s.name);
        // The event log tells the same story.
        let (events, left_out) = &r.events;
        assert_eq!(*left_out, 0, "{}", s.name);
        let logged = |name: &str| events.iter().filter(|e| e.event == name).map(|e| u64::from(e.count)).sum::<u64>();
        assert_eq!(logged("ejected"), r.summary.ejections, "{}", s.name);
        assert_eq!(logged("ejection_refused"), sum(|c| c.ejections_overflow), "{}", s.name);
        assert_eq!(logged("fault_started"), s.config.faults.len() as u64, "{}", s.name);
    }
}

#[test]
fn the_mechanisms_show_in_the_counters() {
    // The 503 pod that is never ejected: the detector fires, max_ejection_percent refuses.
    let r = run(&scenario("pod-503-keep-endpoints"), 1, 1).unwrap().remove(0);
    let reviews: Vec<_> = r.stats.iter().filter(|(_, c, _)| c.contains("reviews.default.svc.cluster.local")).collect();
    assert!(reviews.iter().map(|(_, _, c)| c.ejections_overflow).sum::<u64>() > 100);
    assert_eq!(reviews.iter().map(|(_, _, c)| c.ejections_enforced_total).sum::<u64>(), 0);
    // A dark region: connects to it time out.
    let r = run(&scenario("region-outage"), 1, 1).unwrap().remove(0);
    assert!(r.stats.iter().map(|(_, _, c)| c.upstream_cx_connect_timeout).sum::<u64>() > 0);
    let gateway = r.stats.iter().find(|(p, _, _)| p == "ingressgateway-ack-hangzhou-0").expect("the gateway's row");
    assert_eq!(gateway.1, "outbound|9080||productpage.default.svc.cluster.local");
    assert!(r.stats.iter().any(|(p, _, _)| p == "productpage-v1-ack-hangzhou-0"));
}

#[test]
fn findings_name_the_mechanism_and_the_fix() {
    let s = scenario("pod-503-keep-endpoints");
    let found = findings::of(&s, &run(&s, 1, 1).unwrap());
    let refused = found.iter().find(|f| f.message.contains("ejections refused")).expect("refused ejections");
    assert!(refused.message.contains("maxEjectionPercent 10 % of 2 hosts"), "{refused:?}");
    assert!(refused.fix.contains("at least 50"), "{refused:?}");
    let s = scenario("region-outage");
    let found = findings::of(&s, &run(&s, 1, 1).unwrap());
    assert!(found.iter().any(|f| f.message.contains("waited out the connect timeout")), "{found:?}");
    let s = scenario("backbone-degraded");
    let found = findings::of(&s, &run(&s, 1, 1).unwrap());
    assert!(found.iter().any(|f| f.message.contains("messages dropped")), "{found:?}");
    // A run where nothing goes wrong has nothing to say.
    let s = scenario("seed-roundrobin");
    assert_eq!(findings::of(&s, &run(&s, 1, 1).unwrap()), vec![]);
}

#[test]
fn user_errors_are_the_gateways_5xx_when_nothing_is_retried() {
    // One hop, Istio 1.30 (503s are not retried): every user error is an upstream 5xx the
    // gateway counted, and the other way round.
    for case in ["c5xx1-i1s-503", "maxeject-unset-503", "hang-route-timeout"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fidelity/cases").join(format!("{case}.yaml"));
        let s = load(&path).unwrap();
        let r = run(&s, 1, 1).unwrap().remove(0);
        let gateway_5xx: u64 =
            r.stats.iter().filter(|(p, _, _)| p.starts_with("gateway-")).map(|(_, _, c)| c.upstream_rq_5xx).sum();
        assert!(r.summary.failed > 0, "{case}");
        assert_eq!(gateway_5xx, r.summary.failed, "{case}");
    }
}

#[test]
fn a_hung_pod_without_a_route_timeout_is_a_finding() {
    // blackhole-region's 1 s route timeout turns hangs into 504s: nothing hangs to the end.
    let mut s = scenario("blackhole-region");
    let hung = |s: &experiments::scenario::Scenario| {
        findings::of(s, &run(s, 1, 1).unwrap()).iter().any(|f| f.message.contains("still waiting when the run ended"))
    };
    assert!(!hung(&s));
    s.config.istio.routes.retain(|r| r.host != "reviews");
    assert!(hung(&s));
    // An open loop always ends with a few requests on their way: that is no finding.
    assert!(!hung(&scenario("backbone-degraded")));
}
