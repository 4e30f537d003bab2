//! Every built-in scenario runs, and predicts what the seed document (or Envoy's and Istio's
//! rules) lead us to expect. Each test says why.

use std::path::PathBuf;

use experiments::run::{Replication, run};
use experiments::scenario::{self, Scenario, load};
use models::istio::api::OutlierDetection;

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.yaml"));
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A built-in scenario with `istio.envoy_overrides` added.
fn with_overrides(name: &str, overrides: &str) -> Result<Scenario, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let anchor = "  proxy_concurrency: 2\n";
    assert!(text.contains(anchor));
    let text = text.replacen(anchor, &format!("{anchor}  envoy_overrides:\n{overrides}"), 1);
    scenario::parse(&text, name, path.parent().unwrap())
}

fn run_once(scenario: &Scenario) -> Replication {
    run(scenario, scenario.config.seed, 1).unwrap().remove(0)
}

fn share(r: &Replication, version: &str) -> f64 {
    r.summary.shares.iter().filter(|(_, v, _, _)| v == version).map(|(_, _, _, f)| f).sum()
}

fn reviews_outlier(scenario: &mut Scenario) -> &mut OutlierDetection {
    let rule = scenario.config.istio.destination_rules.iter_mut().find(|r| r.host == "reviews").unwrap();
    rule.traffic_policy.as_mut().unwrap().outlier_detection.as_mut().unwrap()
}

#[test]
fn seed_roundrobin_splits_reviews_about_evenly() {
    // No outlier detection → no locality priorities: LEAST_REQUEST over the three versions'
    // pods. With one user nothing is ever in flight, so each pick is two uniform draws: 1/3 each.
    let s = scenario("seed-roundrobin");
    let r = run_once(&s);
    assert_eq!(r.summary.requests, 3000);
    for version in ["v1", "v2", "v3"] {
        let share = share(&r, version);
        // Binomial sd at n = 3000 is 0.0086: ±3.5 sd.
        assert!((share - 1.0 / 3.0).abs() < 0.03, "{version}: {share}");
    }
    // After only 10 requests "about 1:1:1" is loose: over 100 seeds, how often does a version
    // get no request at all? Binomial(10, 1/3): P(0) = 1.7 % per version.
    let mut ten = s.clone();
    if let models::mesh::config::Arrivals::Users { limit, .. } = &mut ten.config.workload.arrivals {
        *limit = Some(10);
    }
    ten.config.duration = sim::SimDuration::from_secs(10);
    let results = run(&ten, 1, 100).unwrap();
    let missing = results.iter().filter(|r| ["v1", "v2", "v3"].iter().any(|v| share(r, v) == 0.0)).count();
    assert!(missing < 20, "{missing} of 100 runs missed a version");
}

#[test]
fn seed_failover_gives_twenty_full_stars_lines() {
    // Hangzhou's reviews scaled to 0: its endpoint leaves EDS (~0.2 s), shanghai's v2 becomes
    // P0, and every page carries v2's two "full stars" lines: 10 × 2 = 20, the document's figure.
    let r = run_once(&scenario("seed-failover"));
    assert_eq!((r.summary.requests, r.summary.failed, r.summary.unanswered), (10, 0, 0));
    assert_eq!(r.summary.markers, 20);
    assert_eq!(share(&r, "v2"), 1.0);
}

#[test]
fn seed_distribute_predicts_the_count_of_full_stars_lines() {
    // Mesh-wide 90/10 from hangzhou: the gateway sends 10 % of pages to shanghai's productpage,
    // whose reviews calls match no `from` rule and split 50/50; hangzhou's productpage sends 10 %
    // to v2. So about 0.9 × 0.1 + 0.1 × 0.5 = 14 % of pages show stars: 2.8 lines in 10
    // requests on average, where the document counted 2.
    let s = scenario("seed-distribute");
    let results = run(&s, 1, 200).unwrap();
    let mean = results.iter().map(|r| r.summary.markers as f64).sum::<f64>() / 200.0;
    assert!((2.0..3.6).contains(&mean), "mean {mean} lines per 10 requests");
    let exactly_two = results.iter().filter(|r| r.summary.markers == 2).count();
    assert!(exactly_two > 40, "the document's 2 lines came up {exactly_two} times in 200");
    assert!(results.iter().all(|r| r.summary.markers % 2 == 0));
    // The split against the configured 10 %, pooled over the 200 runs, comes out above it.
    let (expected, observed) = results.iter().fold((0.0, 0.0), |(e, o), r| {
        let (_, expected, observed, ..) = r.summary.split.clone().unwrap();
        (e + expected / 200.0, o + observed / 200.0)
    });
    assert!((expected - 0.1).abs() < 1e-9);
    assert!((0.11..0.18).contains(&observed), "observed shanghai share {observed}");
}

#[test]
fn pod_503_keeping_its_endpoint_is_never_ejected_unless_max_ejection_percent_allows() {
    // Two reviews hosts (one per region), maxEjectionPercent unset: 10 % of 2 never ejects from
    // Envoy 1.28, and Istio 1.30 does not retry 503: every page after 10 s lacks reviews.
    let mut s = scenario("pod-503-keep-endpoints");
    let r = run_once(&s);
    assert_eq!(r.summary.ejections, 0);
    assert_eq!(r.summary.markers, 0);
    assert_eq!(r.summary.failed, 0, "productpage degrades: users get 200 pages without reviews");
    // maxEjectionPercent 100: ejected at the first 503; shanghai's v2 serves with stars.
    reviews_outlier(&mut s).max_ejection_percent = 100;
    let r = run_once(&s);
    assert!(r.summary.ejections >= 1);
    assert!(r.summary.time_to_first_ejection.unwrap() < 0.5);
    assert!(share(&r, "v2") > 0.6, "{}", share(&r, "v2"));
}

#[test]
fn an_envoy_filter_patch_with_always_eject_one_host_lets_the_503_pod_go() {
    // The same 10 % of 2 hosts, patched (as an EnvoyFilter would) with Envoy 1.31's
    // always_eject_one_host: one host may always be ejected, so hangzhou's fails over.
    let s =
        with_overrides("pod-503-keep-endpoints", "    - {service: reviews, always_eject_one_host: true}\n").unwrap();
    let r = run_once(&s);
    assert!(r.summary.ejections >= 1);
    assert!(share(&r, "v2") > 0.6, "{}", share(&r, "v2"));
    // A patch on other proxies' clusters changes nothing.
    let elsewhere = "    - {service: reviews, proxies: details, always_eject_one_host: true}\n";
    assert_eq!(run_once(&with_overrides("pod-503-keep-endpoints", elsewhere).unwrap()).summary.ejections, 0);
    let unknown = with_overrides("pod-503-keep-endpoints", "    - {service: reviewz, healthy_panic_threshold: 0}\n");
    assert!(unknown.unwrap_err().contains("istio.envoy_overrides[0].service: unknown service \"reviewz\""));
    let short = with_overrides("pod-503-keep-endpoints", "    - {service: reviews, max_ejection_time: 1ms}\n");
    assert!(short.unwrap_err().contains("max_ejection_time cannot be smaller than base_ejection_time"));
}

#[test]
fn pod_503_failback_re_ejects_while_broken_and_returns_when_healthy() {
    // 503s from 10 s to 40 s, base ejection 20 s: ejected at once, back at ~30.x s (next sweep),
    // re-ejected with 40 s, back at ~71 s; the fault is over by then, so traffic stays home.
    let r = run_once(&scenario("pod-503-failback"));
    assert!(r.summary.ejections >= 2, "{} ejections", r.summary.ejections);
    assert!(r.summary.time_to_first_ejection.unwrap() < 0.5);
    let late: Vec<_> = r.windows.iter().filter(|w| w.start >= 90.0).collect();
    let (home, away): (u64, u64) =
        late.iter().fold((0, 0), |(h, a), w| (h + w.share_by_zone[0], a + w.share_by_zone[1]));
    assert!(home > 10 * away, "after recovery: {home} at home, {away} away");
    let during: Vec<_> = r.windows.iter().filter(|w| (12.0..28.0).contains(&w.start)).collect();
    assert!(during.iter().all(|w| w.share_by_zone[0] == 0), "hangzhou serves nothing while ejected");
    // The fault ends at 40 s but the second ejection (40 s from ~30.5 s) runs to ~71 s.
    let failback = r.summary.failback.unwrap();
    assert!((25.0..40.0).contains(&failback), "failback {failback} s after the fault ended");
}

#[test]
fn region_outage_costs_connect_timeouts_until_the_dead_hosts_are_ejected() {
    // Shanghai goes dark at 20 s; its endpoints stay in EDS. An attempt there waits the 10 s
    // connect timeout; consecutive 5xx 2 per proxy and host ejects after a few; the default
    // retries move each failed attempt to hangzhou, so users see latency more than errors.
    let r = run_once(&scenario("region-outage"));
    let eject = r.summary.time_to_first_ejection.unwrap();
    assert!((10.0..12.0).contains(&eject), "first ejection {eject} s after the outage");
    assert!(r.summary.error_rate < 0.02, "error rate {}", r.summary.error_rate);
    assert!(r.summary.latency_ms[2] > 10_000.0, "p99 {} ms carries the connect timeout", r.summary.latency_ms[2]);
}

#[test]
fn a_blackholed_pod_hangs_pages_without_a_timeout_and_is_ejected_with_one() {
    // With the scenario's 1 s route timeout, each hang becomes a 504 charged to outlier
    // detection: ejected after the first, no page hangs.
    let mut s = scenario("blackhole-region");
    let r = run_once(&s);
    // At most the one or two requests still on their way when the run ends (20 per second,
    // each answered in tens of milliseconds) are unanswered.
    assert!(r.summary.unanswered <= 2, "unanswered {}", r.summary.unanswered);
    assert!(r.summary.ejections >= 1);
    assert!((1.0..2.5).contains(&r.summary.time_to_first_ejection.unwrap()));
    // Without it, pages routed to the hanging pod wait for good: nothing ever times out, so
    // nothing is ejected; only the readiness probes (30 s) take the pod out of EDS.
    s.config.istio.routes.retain(|r| r.host != "reviews");
    let r = run_once(&s);
    assert!(r.summary.unanswered > 10, "hung pages: {}", r.summary.unanswered);
    assert_eq!(r.summary.ejections, 0);
}

#[test]
fn a_degraded_backbone_queues_then_drops() {
    // Every reviews call crosses the backbone after failover; at 30 s the link falls to 2 Mbps,
    // below demand: queues fill the 100 ms buffer, then messages drop.
    let r = run_once(&scenario("backbone-degraded"));
    let drops: u64 = r.summary.backbone.iter().map(|(_, _, _, _, d, _)| d).sum();
    assert!(drops > 0);
    let before: Vec<_> = r.windows.iter().filter(|w| (5.0..29.0).contains(&w.start)).collect();
    let after: Vec<_> = r.windows.iter().filter(|w| w.start >= 35.0).collect();
    let p99 = |ws: &[&models::mesh::summary::WindowRow]| ws.iter().map(|w| w.p99_ms).fold(0.0, f64::max);
    assert!(p99(&after) > 5.0 * p99(&before), "p99 before {} after {}", p99(&before), p99(&after));
}
