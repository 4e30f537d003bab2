//! The whole world on the seed document's set-up: two regions joined by CEN, Bookinfo in both
//! clusters, the gateway in hangzhou. Each test states what the seed document (or Envoy's rules)
//! lead us to expect, and why.

use models::istio::api::{
    ConnectionPoolSettings, DestinationRule, Failover, HttpRetry, LoadBalancerSettings, LocalityLbSetting,
    OutlierDetection, SimpleLb, Subset, TrafficPolicy,
};
use models::istio::cluster::MeshSettings;
use models::mesh::app::App;
use models::mesh::config::*;
use models::mesh::world::World;
use sim::{SimDuration, SimTime, Simulation};

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

fn deployment(service: &str, version: &str, zone: &str, replicas: u32) -> Deployment {
    Deployment {
        service: service.into(),
        version: version.into(),
        zone: zone.into(),
        replicas,
        concurrency: 16,
        locality_labels: true,
    }
}

/// The seed topology: ack-hangzhou serves reviews v1, ack-shanghai reviews v2 (the reading under
/// which the document's expected outputs add up).
fn seed() -> MeshConfig {
    let mut subsets = Vec::new();
    for v in ["v1", "v2", "v3"] {
        subsets.push(Subset {
            name: v.into(),
            labels: [("version".to_string(), v.to_string())].into(),
            traffic_policy: None,
        });
    }
    MeshConfig {
        seed: 1,
        duration: SimDuration::from_secs(30),
        regions: vec![
            Region { name: "cn-hangzhou".into(), zones: vec!["cn-hangzhou-k".into()] },
            Region { name: "cn-shanghai".into(), zones: vec!["cn-shanghai-b".into()] },
        ],
        network: NetworkConfig {
            intra_zone: SimDuration::from_micros(200),
            inter_zone: ms(1),
            backbone: vec![BackboneConfig {
                regions: ("cn-hangzhou".into(), "cn-shanghai".into()),
                min_latency: ms(4),
                max_latency: ms(6),
                bandwidth_bps: 100_000_000,
                loss: 0.0,
                buffer: ms(100),
            }],
            handshake_round_trips: 2,
            blocked: vec![],
        },
        clusters: vec![
            KubeCluster {
                name: "ack-hangzhou".into(),
                region: "cn-hangzhou".into(),
                deployments: vec![
                    deployment("productpage", "v1", "cn-hangzhou-k", 1),
                    deployment("details", "v1", "cn-hangzhou-k", 1),
                    deployment("reviews", "v1", "cn-hangzhou-k", 1),
                    deployment("ratings", "v1", "cn-hangzhou-k", 1),
                ],
                gateways: vec![Gateway {
                    name: "ingressgateway".into(),
                    zone: "cn-hangzhou-k".into(),
                    replicas: 1,
                    locality_labels: true,
                }],
            },
            KubeCluster {
                name: "ack-shanghai".into(),
                region: "cn-shanghai".into(),
                deployments: vec![
                    deployment("productpage", "v1", "cn-shanghai-b", 1),
                    deployment("details", "v1", "cn-shanghai-b", 1),
                    deployment("reviews", "v2", "cn-shanghai-b", 1),
                    deployment("ratings", "v1", "cn-shanghai-b", 1),
                ],
                gateways: vec![],
            },
        ],
        control_plane: ControlPlaneConfig {
            region: "cn-hangzhou".into(),
            debounce_after: ms(100),
            debounce_max: SimDuration::from_secs(10),
            watch_delay: ms(50),
            readiness_period: SimDuration::from_secs(10),
            readiness_failure_threshold: 3,
        },
        app: App::bookinfo(),
        istio: IstioConfig {
            mesh: MeshSettings::default(),
            destination_rules: vec![DestinationRule {
                name: "reviews".into(),
                host: "reviews".into(),
                traffic_policy: None,
                subsets,
            }],
            routes: vec![],
            proxy_concurrency: 2,
            envoy_overrides: vec![],
        },
        workload: Workload {
            gateway: "ingressgateway".into(),
            entry_service: "productpage".into(),
            start: SimDuration::from_secs(5),
            arrivals: Arrivals::Users { users: 1, think_time: ms(100), limit: Some(10) },
            requests: None,
            user_timeout: None,
        },
        faults: vec![],
        metrics: MetricsConfig {
            window: SimDuration::from_secs(1),
            slo_success: 0.99,
            share_service: "reviews".into(),
            marker: "full stars".into(),
            expected_share: None,
        },
    }
}

/// The document's failover DestinationRule on reviews.
fn seed_failover_rule(config: &mut MeshConfig) {
    let rule = &mut config.istio.destination_rules[0];
    rule.traffic_policy = Some(TrafficPolicy {
        connection_pool: Some(ConnectionPoolSettings {
            max_requests_per_connection: 1,
            ..ConnectionPoolSettings::default()
        }),
        outlier_detection: Some(OutlierDetection {
            consecutive_5xx_errors: Some(1),
            interval: Some(SimDuration::from_secs(1)),
            base_ejection_time: Some(SimDuration::from_secs(60)),
            ..OutlierDetection::default()
        }),
        load_balancer: Some(LoadBalancerSettings {
            locality_lb_setting: Some(LocalityLbSetting {
                enabled: Some(true),
                failover: vec![
                    Failover { from: "cn-hangzhou".into(), to: "cn-shanghai".into() },
                    Failover { from: "cn-shanghai".into(), to: "cn-hangzhou".into() },
                ],
                ..LocalityLbSetting::default()
            }),
            ..LoadBalancerSettings::default()
        }),
    });
}

/// A DestinationRule with (default) outlier detection on productpage, so that locality
/// failover applies to the gateway's calls too and pages stay in hangzhou while it is healthy.
/// Without it Istio assigns no priorities and the gateway spreads pages over both regions.
fn keep_productpage_local(config: &mut MeshConfig) {
    config.istio.destination_rules.push(DestinationRule {
        name: "productpage".into(),
        host: "productpage".into(),
        traffic_policy: Some(TrafficPolicy {
            outlier_detection: Some(OutlierDetection::default()),
            ..TrafficPolicy::default()
        }),
        subsets: Vec::new(),
    });
}

/// A fault on hangzhou's reviews v1 deployment from `start` on.
fn on_hangzhou_reviews(start: SimDuration, kind: FaultKind) -> Fault {
    Fault {
        start,
        end: None,
        target: FaultTarget::Deployment {
            cluster: "ack-hangzhou".into(),
            service: "reviews".into(),
            version: "v1".into(),
        },
        kind,
    }
}

fn run(config: MeshConfig) -> World {
    let end = SimTime::ZERO + config.duration;
    let mut simulation: Simulation<World> = Simulation::try_new_with(|s| World::build(config, s)).unwrap();
    simulation.run_until(end);
    simulation.into_model()
}

#[test]
fn seed_failover_serves_every_request_from_shanghai_v2() {
    // Hangzhou's reviews scaled to 0 at t=0; the 10 curls start at 5 s, long after the EDS push.
    let mut config = seed();
    seed_failover_rule(&mut config);
    config.faults.push(on_hangzhou_reviews(SimDuration::ZERO, FaultKind::ScaleTo(0)));
    let world = run(config);
    let m = world.metrics();
    assert_eq!((m.sent, m.answered, m.failed), (10, 10, 0));
    // Every page carries v2's two "full stars" lines: the document's 20.
    assert_eq!(m.markers, 20);
    assert_eq!(m.shares.iter().map(|(_, v, n)| (world.share_version(*v), *n)).collect::<Vec<_>>(), vec![("v2", 10)]);
}

#[test]
fn without_outlier_detection_on_productpage_pages_cross_regions() {
    // Locality load balancing is silently off for a service whose DestinationRule has no
    // outlierDetection (user-questions §1.1): the gateway balances over both productpages, and
    // pages built in shanghai get shanghai's reviews v2.
    let mut config = seed();
    seed_failover_rule(&mut config);
    config.workload.arrivals = Arrivals::Users { users: 1, think_time: ms(100), limit: Some(100) };
    let world = run(config.clone());
    let m = world.metrics();
    let share = |version: &str| {
        m.shares.iter().filter(|(_, v, _)| world.share_version(*v) == version).map(|(_, _, n)| *n).sum::<u64>()
    };
    assert_eq!((m.answered, m.failed), (100, 0));
    assert!(share("v1") > 20 && share("v2") > 20, "v1 {} v2 {}", share("v1"), share("v2"));
    assert_eq!(m.markers, 2 * share("v2"));
    // With outlier detection on productpage too, every page is built in hangzhou, with v1.
    keep_productpage_local(&mut config);
    let world = run(config);
    assert_eq!(
        world.metrics().shares.iter().map(|(_, v, n)| (world.share_version(*v), *n)).collect::<Vec<_>>(),
        vec![("v1", 100)]
    );
    assert_eq!(world.metrics().markers, 0);
}

#[test]
fn a_gateway_without_locality_labels_spreads_pages_over_both_regions() {
    // istiod gives a proxy with no node locality (Istio #12947) every endpoint at one priority
    // (`applyLocalityFailover` ranks each against an empty region), so failover settings keep
    // nothing local: the gateway spreads pages over both productpages from the start.
    let mut config = seed();
    seed_failover_rule(&mut config);
    keep_productpage_local(&mut config);
    config.clusters[0].gateways[0].locality_labels = false;
    config.workload.arrivals = Arrivals::Users { users: 1, think_time: ms(100), limit: Some(100) };
    let world = run(config);
    let m = world.metrics();
    let share = |version: &str| {
        m.shares.iter().filter(|(_, v, _)| world.share_version(*v) == version).map(|(_, _, n)| *n).sum::<u64>()
    };
    assert_eq!((m.answered, m.failed), (100, 0));
    assert!(share("v1") > 20 && share("v2") > 20, "v1 {} v2 {}", share("v1"), share("v2"));
}

#[test]
fn each_successful_connect_resets_consecutive_local_origin_failures() {
    // Split mode, consecutiveLocalOriginFailures 2, a hanging reviews v1 behind a 200 ms route
    // timeout. Every attempt opens a connection (maxRequestsPerConnection 1) that succeeds, and
    // the router reports that (`UpstreamRequest::onPoolReady` → LocalOriginConnectSuccess),
    // resetting the count the timeout before raised to 1: the host is never ejected. A pod that
    // refuses connections instead reaches 2 at its second attempt.
    let mut config = seed();
    seed_failover_rule(&mut config);
    keep_productpage_local(&mut config);
    let policy = config.istio.destination_rules[0].traffic_policy.as_mut().unwrap();
    let od = policy.outlier_detection.as_mut().unwrap();
    od.consecutive_5xx_errors = Some(0);
    od.split_external_local_origin_errors = true;
    od.consecutive_local_origin_failures = Some(2);
    od.max_ejection_percent = 100;
    config.istio.routes.push(Route {
        host: "reviews".into(),
        destinations: vec![(None, 100)],
        timeout: Some(ms(200)),
        retries: Some(HttpRetry { attempts: 0, ..HttpRetry::default() }),
    });
    config.workload.arrivals = Arrivals::Users { users: 1, think_time: ms(100), limit: Some(20) };
    let mut hanging = config.clone();
    hanging.faults.push(on_hangzhou_reviews(SimDuration::ZERO, FaultKind::Hang));
    let world = run(hanging);
    assert_eq!(world.metrics().first_ejection, None);
    assert_eq!(world.metrics().answered, 20);
    config.faults.push(on_hangzhou_reviews(SimDuration::ZERO, FaultKind::Refuse));
    let world = run(config);
    assert!(world.metrics().first_ejection.is_some(), "refused connects are consecutive local-origin failures");
}

#[test]
fn an_open_loop_capped_at_n_requests_ends_with_nothing_in_flight() {
    let mut config = seed();
    config.workload.arrivals = Arrivals::Constant { rate: 50.0 };
    config.workload.requests = Some(100);
    let world = run(config);
    let m = world.metrics();
    assert_eq!((m.sent, m.answered, m.failed), (100, 100, 0));
    assert_eq!(world.unanswered(), 0);
}

#[test]
fn users_who_give_up_count_a_failure_and_move_on() {
    // curl -m 1 against a hanging reviews: each of the 10 users' requests fails for the user
    // after 1 s (status 0: no answer), and the next curl follows; without the timeout the first
    // request waits to the end of the run and nothing else is sent.
    let mut config = seed();
    seed_failover_rule(&mut config);
    keep_productpage_local(&mut config);
    config.faults.push(on_hangzhou_reviews(SimDuration::ZERO, FaultKind::Hang));
    let mut impatient = config.clone();
    impatient.workload.user_timeout = Some(SimDuration::from_secs(1));
    let world = run(impatient);
    let m = world.metrics();
    assert_eq!((m.sent, m.answered, m.failed), (10, 10, 10));
    let world = run(config);
    assert_eq!((world.metrics().sent, world.metrics().answered, world.unanswered()), (1, 0, 1));
}

#[test]
fn a_503_pod_that_keeps_its_endpoint_is_never_ejected_at_ten_percent() {
    // pod-503-keep-endpoints: hangzhou's reviews answers 503; its endpoint stays (readiness is
    // fine). Two reviews hosts in all; 10 % of 2 can never eject (Envoy ≥ 1.28), and Istio ≥ 1.24
    // does not retry the 503: every page degrades (productpage answers 200 without reviews).
    let mut config = seed();
    seed_failover_rule(&mut config);
    keep_productpage_local(&mut config);
    config.workload.arrivals = Arrivals::Users { users: 1, think_time: ms(100), limit: Some(50) };
    config.faults.push(on_hangzhou_reviews(SimDuration::ZERO, FaultKind::Respond(503)));
    let world = run(config.clone());
    let m = world.metrics();
    assert_eq!((m.answered, m.failed, m.markers, m.ejections), (50, 0, 0, 0));
    // With maxEjectionPercent 100 the pod is ejected at its first 503 and shanghai's v2 serves
    // the remaining 49 pages with stars.
    let rule = config.istio.destination_rules[0].traffic_policy.as_mut().unwrap();
    rule.outlier_detection.as_mut().unwrap().max_ejection_percent = 100;
    let world = run(config);
    let m = world.metrics();
    assert_eq!(m.ejections, 1);
    assert_eq!(m.markers, 2 * 49);
}

#[test]
fn a_removed_security_group_rule_turns_cross_region_calls_into_connect_timeouts() {
    // All reviews traffic crosses to shanghai (hangzhou's scaled to 0). With the rule letting
    // hangzhou's pods into shanghai removed, every new connection (one per request here) waits
    // the 10 s connect timeout, the retries wait again, and the page comes back without reviews.
    let mut config = seed();
    seed_failover_rule(&mut config);
    keep_productpage_local(&mut config);
    config.duration = SimDuration::from_secs(120);
    config.workload.arrivals = Arrivals::Users { users: 1, think_time: ms(100), limit: Some(3) };
    config.faults.push(on_hangzhou_reviews(SimDuration::ZERO, FaultKind::ScaleTo(0)));
    config.faults.push(Fault {
        start: SimDuration::ZERO,
        end: None,
        target: FaultTarget::SecurityGroupRule { from: "ack-hangzhou".into(), to: "ack-shanghai".into() },
        kind: FaultKind::RuleRemoved,
    });
    let world = run(config);
    let m = world.metrics();
    assert_eq!((m.answered, m.failed, m.markers), (3, 0, 0));
    assert!(m.latency.quantile(0.5).unwrap() >= 10_000_000_000, "each page waited at least one connect timeout");
}

#[test]
fn a_region_without_zones_is_a_configuration_error() {
    let mut config = seed();
    config.regions[1].zones.clear();
    let result = Simulation::<World>::try_new_with(|s| World::build(config, s));
    let Err(error) = result else { panic!("a region without zones must be refused") };
    assert!(error.to_string().contains("regions[cn-shanghai].zones: a region needs at least one zone"), "{error}");
}

#[test]
fn with_the_control_plane_cut_off_proxies_keep_stale_endpoints() {
    // istiod unreachable from 0 s; hangzhou's reviews scaled to 0 at 1 s. The proxies never hear
    // of it: they keep sending to the deleted pod, whose connections are refused, until outlier
    // detection (maxEjectionPercent 100) ejects it. With istiod reachable the endpoint simply
    // leaves EDS and nothing is ejected (seed_failover_serves_every_request_from_shanghai_v2).
    let mut config = seed();
    seed_failover_rule(&mut config);
    keep_productpage_local(&mut config);
    let rule = config.istio.destination_rules[0].traffic_policy.as_mut().unwrap();
    rule.outlier_detection.as_mut().unwrap().max_ejection_percent = 100;
    config.faults.push(Fault {
        start: SimDuration::ZERO,
        end: None,
        target: FaultTarget::ControlPlane,
        kind: FaultKind::Unreachable,
    });
    config.faults.push(on_hangzhou_reviews(SimDuration::from_secs(1), FaultKind::ScaleTo(0)));
    let world = run(config);
    let m = world.metrics();
    assert!(m.ejections >= 1, "the stale endpoint had to be ejected");
    assert_eq!(m.markers, 20, "after the ejection every page comes from shanghai's v2");
}

#[test]
fn stepped_arrivals_follow_their_rates() {
    let mut config = seed();
    config.duration = SimDuration::from_secs(20);
    config.workload.start = SimDuration::ZERO;
    config.workload.arrivals =
        Arrivals::Steps { steps: vec![(SimDuration::ZERO, 0.0), (SimDuration::from_secs(10), 200.0)] };
    let world = run(config);
    let sent = world.metrics().sent;
    // 200/s for 10 s: Poisson, sd ≈ 45.
    assert!((1850..2150).contains(&sent), "{sent} requests");
    assert!(world.metrics().windows.iter().take(10).all(|(_, w)| w.requests == 0));
}

#[test]
fn max_retries_caps_retries_in_flight() {
    // Two reviews pods in hangzhou, one refusing connections and never ejected (consecutive 5xx
    // disabled). Istio's default policy retries connect failures onto the other pod
    // (previous_hosts), so with unlimited retries every page gets its reviews. With
    // connectionPool.http.maxRetries 1 and 40 users at once, retries beyond the one in flight
    // are not made, and those pages come back without reviews.
    let run_with = |max_retries: i32| {
        let mut config = seed();
        seed_failover_rule(&mut config);
        keep_productpage_local(&mut config);
        config.clusters[0].deployments[2].replicas = 2;
        let policy = config.istio.destination_rules[0].traffic_policy.as_mut().unwrap();
        policy.connection_pool.as_mut().unwrap().max_retries = max_retries;
        policy.outlier_detection.as_mut().unwrap().consecutive_5xx_errors = Some(0);
        config.workload.arrivals = Arrivals::Users { users: 40, think_time: ms(5), limit: Some(2_000) };
        config.faults.push(Fault {
            start: SimDuration::ZERO,
            end: None,
            target: FaultTarget::Pod {
                cluster: "ack-hangzhou".into(),
                service: "reviews".into(),
                version: "v1".into(),
                index: 0,
            },
            kind: FaultKind::Refuse,
        });
        config.control_plane.readiness_period = SimDuration::from_secs(1000);
        let world = run(config);
        world.metrics().shares.iter().map(|(_, _, n)| n).sum::<u64>()
    };
    let unlimited = run_with(0);
    let capped = run_with(1);
    // Unlimited: nearly every page gets reviews within its two retries. Not all: LEAST_REQUEST
    // favours the refusing pod, which never has requests in flight, so a few retries pick it
    // six times over.
    assert!(unlimited > 1_950, "unlimited {unlimited}");
    assert!(capped + 100 < unlimited, "capped {capped} vs unlimited {unlimited}");
}

/// One region, the gateway in zone k, `replicas` frontend pods in zone j (answering in 1 ms,
/// calling nothing) behind a DestinationRule with `policy`, and open-loop `rate` requests/s.
fn frontend_only(replicas: u32, policy: TrafficPolicy, rate: f64) -> MeshConfig {
    use models::mesh::app::{Delay, Service, Version};
    let mut config = seed();
    config.regions =
        vec![Region { name: "cn-hangzhou".into(), zones: vec!["cn-hangzhou-k".into(), "cn-hangzhou-j".into()] }];
    config.network.backbone.clear();
    config.clusters.truncate(1);
    config.clusters[0].deployments = vec![deployment("frontend", "v1", "cn-hangzhou-j", replicas)];
    config.app = App {
        services: vec![Service {
            name: "frontend".into(),
            request_bytes: 500,
            response_bytes: 500,
            versions: vec![Version {
                name: "v1".into(),
                service_time: Delay::Constant(ms(1)),
                calls: vec![],
                parallel: false,
                markers: 0,
            }],
        }],
    };
    config.istio.destination_rules = vec![DestinationRule {
        name: "frontend".into(),
        host: "frontend".into(),
        traffic_policy: Some(policy),
        subsets: vec![],
    }];
    config.workload = Workload {
        gateway: "ingressgateway".into(),
        entry_service: "frontend".into(),
        start: SimDuration::ZERO,
        arrivals: Arrivals::Constant { rate },
        requests: None,
        user_timeout: None,
    };
    config.metrics.share_service = "frontend".into();
    config
}

/// A fault on frontend pod `index` from the start.
fn on_frontend_pod(index: u32, kind: FaultKind) -> Fault {
    Fault {
        start: SimDuration::ZERO,
        end: None,
        target: FaultTarget::Pod {
            cluster: "ack-hangzhou".into(),
            service: "frontend".into(),
            version: "v1".into(),
            index,
        },
        kind,
    }
}

/// The frontend pods' zone goes dark from the start: connects to them time out.
fn frontend_zone_goes_dark() -> Fault {
    Fault {
        start: SimDuration::ZERO,
        end: None,
        target: FaultTarget::Zone("cn-hangzhou-j".into()),
        kind: FaultKind::Outage,
    }
}

/// The frontend route with these retries.
fn frontend_retries(retries: HttpRetry) -> Route {
    Route { host: "frontend".into(), destinations: vec![(None, 100)], timeout: None, retries: Some(retries) }
}

#[test]
fn a_failed_connect_fails_every_request_waiting_in_its_pool() {
    // The frontend's zone is dark: connects time out after 1 s. maxConnections 1 lets each of the
    // gateway's two workers open only its pool's first connection, so the 25 requests of the
    // first half second wait in two pools; when each pool's connection times out, every request
    // waiting there fails with it (`purgePendingStreams`), all by about 1.5 s, rather than each
    // waiting out a connect timeout of its own in turn.
    let policy = TrafficPolicy {
        connection_pool: Some(ConnectionPoolSettings {
            max_connections: 1,
            connect_timeout: Some(SimDuration::from_secs(1)),
            ..ConnectionPoolSettings::default()
        }),
        ..TrafficPolicy::default()
    };
    let mut config = frontend_only(1, policy, 50.0);
    config.workload.requests = Some(25);
    config.istio.routes = vec![frontend_retries(HttpRetry { attempts: 0, ..HttpRetry::default() })];
    config.faults = vec![frontend_zone_goes_dark()];
    config.duration = SimDuration::from_millis(1_600);
    let world = run(config);
    let m = world.metrics();
    assert_eq!((m.sent, m.answered, m.failed), (25, 25, 25));
}

#[test]
fn least_request_counts_a_request_only_once_its_connection_is_up() {
    // LEAST_REQUEST over a black-holed pod (its zone is dark) and a healthy one, no outlier
    // detection, no retries.
    // rq_active rises when a request is attached to a ready connection (conn_pool_base.cc), so
    // requests stuck connecting to the black hole never count against it: the two-choice picks
    // mostly tie and half the requests or more go there and fail. Counting them from the pick
    // would steer all but the quarter of picks that draw it twice away from it.
    let policy = TrafficPolicy {
        connection_pool: Some(ConnectionPoolSettings {
            connect_timeout: Some(SimDuration::from_secs(1)),
            ..ConnectionPoolSettings::default()
        }),
        load_balancer: Some(LoadBalancerSettings { simple: SimpleLb::LeastRequest, ..LoadBalancerSettings::default() }),
        ..TrafficPolicy::default()
    };
    let mut config = frontend_only(1, policy, 100.0);
    config.workload.requests = Some(400);
    config.clusters[0].deployments.push(deployment("frontend", "v1", "cn-hangzhou-k", 1));
    config.istio.routes = vec![frontend_retries(HttpRetry { attempts: 0, ..HttpRetry::default() })];
    config.faults = vec![frontend_zone_goes_dark()];
    config.duration = SimDuration::from_secs(6);
    let world = run(config);
    let m = world.metrics();
    assert_eq!((m.sent, m.answered), (400, 400));
    // A half from the tied draws, more when the healthy pod is busy (it then loses the tie).
    let failed = m.failed as f64 / m.sent as f64;
    assert!((0.45..0.7).contains(&failed), "{} of {} failed", m.failed, m.sent);
}

#[test]
fn every_attempt_of_a_request_uses_the_worker_its_connection_landed_on() {
    // ROUND_ROBIN over a 503ing pod and a healthy one, one retry on 503 without the
    // previous_hosts predicate, requests 200 ms apart. A retry runs on its request's worker,
    // whose round-robin index has moved on to the other pod: every retry succeeds. Drawing a
    // worker per attempt would send a quarter of the requests' retries back to the 503 pod.
    let policy = TrafficPolicy {
        load_balancer: Some(LoadBalancerSettings { simple: SimpleLb::RoundRobin, ..LoadBalancerSettings::default() }),
        ..TrafficPolicy::default()
    };
    let mut config = frontend_only(2, policy, 5.0);
    config.istio.routes = vec![frontend_retries(HttpRetry {
        attempts: 1,
        retry_on: Some("503".into()),
        retry_ignore_previous_hosts: Some(false),
        ..HttpRetry::default()
    })];
    config.faults = vec![on_frontend_pod(0, FaultKind::Respond(503))];
    config.duration = SimDuration::from_secs(20);
    let world = run(config);
    let m = world.metrics();
    assert_eq!((m.sent, m.failed), (100, 0));
}

#[test]
fn requests_waiting_for_new_connections_count_as_pending() {
    // http1MaxPendingRequests 1 and a new connection per request: a request waits as pending
    // for its handshake, so with four users at once the second one waiting overflows (local 503,
    // UO), though maxConnections is unlimited.
    let pool = |pending: i32| TrafficPolicy {
        connection_pool: Some(ConnectionPoolSettings {
            http1_max_pending_requests: pending,
            max_requests_per_connection: 1,
            ..ConnectionPoolSettings::default()
        }),
        ..TrafficPolicy::default()
    };
    let mut config = frontend_only(2, pool(1), 1.0);
    config.workload.arrivals = Arrivals::Users { users: 4, think_time: SimDuration::ZERO, limit: Some(400) };
    let world = run(config.clone());
    assert!(world.metrics().failed > 0, "pending overflows");
    config.istio.destination_rules[0].traffic_policy = Some(pool(0));
    assert_eq!(run(config).metrics().failed, 0);
}

#[test]
fn the_app_mesh_outlier_walkthrough_is_reproduced() {
    // Published measurement (aws-app-mesh-examples, howto-k8s-outlier-detection; user-questions
    // §4): 4 hosts, 1 returns 500, 50 requests/s, 5 consecutive server errors eject, interval
    // 10 s, base ejection 10 s, max 50 %. Observed: exactly 5 errors per ejection, 200 requests in
    // 4 s at 97.5 % success, 100 % success while the host is ejected.
    let policy = TrafficPolicy {
        outlier_detection: Some(OutlierDetection {
            consecutive_5xx_errors: Some(5),
            interval: Some(SimDuration::from_secs(10)),
            base_ejection_time: Some(SimDuration::from_secs(10)),
            max_ejection_percent: 50,
            ..OutlierDetection::default()
        }),
        ..TrafficPolicy::default()
    };
    let mut config = frontend_only(4, policy, 50.0);
    // The walkthrough's pods share the gateway's zone.
    config.clusters[0].deployments = vec![deployment("frontend", "v1", "cn-hangzhou-k", 4)];
    config.faults = vec![on_frontend_pod(0, FaultKind::Respond(500))];
    config.duration = SimDuration::from_secs(4);
    let world = run(config.clone());
    let m = world.metrics();
    assert_eq!((m.sent, m.failed, m.ejections), (200, 5, 1), "200 requests in 4 s, 5 errors, one ejection");
    // Over a minute, with updates applied at once, each return after an ejection costs exactly 5
    // more errors, as the walkthrough saw.
    config.duration = SimDuration::from_secs(60);
    config.istio.mesh.update_merge_window = SimDuration::ZERO;
    let world = run(config.clone());
    let m = world.metrics();
    assert!(m.ejections >= 3);
    assert_eq!(m.failed, 5 * m.ejections, "{} errors for {} ejections", m.failed, m.ejections);
    // With Envoy's default 1 s update_merge_window (spec addenda, checked against Envoy 1.40), a
    // re-ejection within a second of the return reaches the load balancers only when the window
    // closes, and the broken host keeps taking its quarter of the traffic meanwhile: more errors
    // per return than the walkthrough reported (its Envoy settings are not published).
    config.istio.mesh.update_merge_window = SimDuration::from_secs(1);
    let merged = run(config);
    let m2 = merged.metrics();
    assert!(m2.failed > 5 * m2.ejections, "{} errors for {} ejections", m2.failed, m2.ejections);
}
