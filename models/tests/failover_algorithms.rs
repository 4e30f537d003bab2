//! The Envoy and Istio algorithms working together, from DestinationRule to host picks, on the
//! behaviours spec §"Surprises" lists. A minimal synchronous router drives the requests: pick a
//! host, get the upstream's answer, charge it to the outlier detector, retry if the policy says
//! so — as `source/common/router/router.cc` does, without the network's timing.

use std::rc::Rc;

use models::envoy::cluster::{SweepPhase, UpstreamCluster};
use models::envoy::host_set::{EdsHealth, EndpointId, HostTable};
use models::envoy::outlier_detection::HostResult;
use models::envoy::retry::{RetryPolicy, TryOutcome};
use models::envoy::version::EnvoyVersion;
use models::istio::api::{DestinationRule, OutlierDetection, TrafficPolicy};
use models::istio::cluster::{MeshSettings, build};
use models::istio::locality::{Client, Locality, ServiceEndpoint};
use models::istio::retry::default_policy;
use models::istio::version::IstioVersion;
use sim::{RandomStreams, SimDuration, SimTime, StreamRng};

/// How an upstream answers an attempt.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Answer {
    Status(u16),
    Refuse,
}

/// What the user saw, and the endpoints each attempt went to.
struct Outcome {
    status: u16,
    attempts: Vec<EndpointId>,
}

fn send(
    cluster: &mut UpstreamCluster,
    policy: &RetryPolicy,
    answer: impl Fn(EndpointId) -> Answer,
    now: SimTime,
    rng: &mut StreamRng,
) -> Outcome {
    let mut attempts = Vec::new();
    loop {
        let Some(pick) = cluster.choose_host(0, &attempts, policy.host_selection(), rng) else {
            // No healthy upstream: a local 503 (UH).
            if policy.should_retry(TryOutcome::NoHealthyUpstream, attempts.len().saturating_sub(1) as u32) {
                continue;
            }
            return Outcome { status: 503, attempts };
        };
        attempts.push(pick.endpoint);
        let (result, outcome, status) = match answer(pick.endpoint) {
            Answer::Status(code) => (HostResult::Http(code), TryOutcome::Response(code), code),
            Answer::Refuse => (HostResult::ConnectFailed, TryOutcome::ConnectFailure, 503),
        };
        cluster.record(pick, result, now, rng);
        if !policy.should_retry(outcome, attempts.len() as u32 - 1) {
            return Outcome { status, attempts };
        }
    }
}

fn endpoint(id: u32, region: &str) -> ServiceEndpoint {
    ServiceEndpoint {
        endpoint: EndpointId(id),
        locality: Rc::new(Locality::new(region, &format!("{region}-a"), "")),
        labels: Default::default(),
        weight: 1,
        health: EdsHealth::Healthy,
    }
}

fn rule(outlier: OutlierDetection) -> DestinationRule {
    DestinationRule {
        name: "reviews".into(),
        host: "reviews".into(),
        traffic_policy: Some(TrafficPolicy { outlier_detection: Some(outlier), ..TrafficPolicy::default() }),
        subsets: Vec::new(),
    }
}

/// The seed document's outlier detection: consecutive5xxErrors 1, interval 1s, baseEjectionTime 1m.
fn seed_outlier(max_ejection_percent: i32) -> OutlierDetection {
    OutlierDetection {
        consecutive_5xx_errors: Some(1),
        interval: Some(SimDuration::from_secs(1)),
        base_ejection_time: Some(SimDuration::from_secs(60)),
        max_ejection_percent,
        ..OutlierDetection::default()
    }
}

fn hangzhou_client() -> Client {
    Client { locality: Locality::new("cn-hangzhou", "cn-hangzhou-a", ""), ..Client::default() }
}

fn cluster_for(
    mesh: &MeshSettings,
    rule: &DestinationRule,
    endpoints: &[ServiceEndpoint],
    rng: &mut StreamRng,
) -> UpstreamCluster {
    let built = build(mesh, &hangzhou_client(), 2, Some(rule), None, endpoints).unwrap();
    UpstreamCluster::new(built.settings, HostTable::new(&built.assignment.assignment), SimTime::ZERO, rng)
}

fn mesh(envoy_minor: u32) -> MeshSettings {
    MeshSettings {
        envoy_version: EnvoyVersion::new(envoy_minor),
        sweep_phase: SweepPhase::After(SimDuration::from_millis(500)),
        ..MeshSettings::default()
    }
}

#[test]
fn a_503_pod_in_a_two_pod_mesh_is_never_ejected_at_the_default_ten_percent() {
    // pod-503-keep-endpoints: hangzhou's reviews pod answers 503 but stays in EDS; shanghai's is fine.
    let endpoints = [endpoint(1, "cn-hangzhou"), endpoint(2, "cn-shanghai")];
    let answer = |e: EndpointId| if e == EndpointId(1) { Answer::Status(503) } else { Answer::Status(200) };
    let policy = default_policy(IstioVersion::DEFAULT);
    let errors = |envoy_minor: u32, max_ejection_percent: i32| {
        let mut rng = RandomStreams::new(1).stream("test");
        let mut cluster =
            cluster_for(&mesh(envoy_minor), &rule(seed_outlier(max_ejection_percent)), &endpoints, &mut rng);
        (0..100).filter(|_| send(&mut cluster, &policy, answer, SimTime::ZERO, &mut rng).status == 503).count()
    };
    // Envoy ≥ 1.28, maxEjectionPercent unset (10 %): 1 of 2 hosts is 50 %: never ejected, and
    // Istio ≥ 1.24 does not retry the 503, so every request fails.
    assert_eq!(errors(40, 0), 100);
    // maxEjectionPercent 100: ejected at the first 503; everything after goes to shanghai.
    assert_eq!(errors(40, 100), 1);
    // Envoy 1.27 always allowed the first ejection.
    assert_eq!(errors(27, 0), 1);
}

#[test]
fn every_attempt_of_a_retried_request_is_charged_to_its_own_host() {
    // Three pods refusing connections; the default policy retries twice, each time avoiding the
    // hosts already tried; each attempt's failure is charged to the host it went to.
    let endpoints = [endpoint(1, "cn-hangzhou"), endpoint(2, "cn-hangzhou"), endpoint(3, "cn-hangzhou")];
    let mut rng = RandomStreams::new(7).stream("test");
    let mut cluster = cluster_for(&mesh(40), &rule(seed_outlier(100)), &endpoints, &mut rng);
    let outcome =
        send(&mut cluster, &default_policy(IstioVersion::DEFAULT), |_| Answer::Refuse, SimTime::ZERO, &mut rng);
    assert_eq!(outcome.status, 503);
    assert_eq!(outcome.attempts.len(), 3);
    let mut distinct = outcome.attempts.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "previous_hosts sent each retry elsewhere: {:?}", outcome.attempts);
    assert_eq!(cluster.detector().unwrap().ejected_count(), 3, "one request ejected three hosts");
}

#[test]
fn upstream_503s_are_retried_up_to_istio_1_23_and_count_towards_ejection_either_way() {
    // Two pods in one locality, one answering 503; no ejection possible (consecutive 5xx 1000).
    let endpoints = [endpoint(1, "cn-hangzhou"), endpoint(2, "cn-hangzhou")];
    let answer = |e: EndpointId| if e == EndpointId(1) { Answer::Status(503) } else { Answer::Status(200) };
    let outlier = OutlierDetection { consecutive_5xx_errors: Some(1000), ..OutlierDetection::default() };
    let user_errors = |istio_minor: u32| {
        let mut rng = RandomStreams::new(3).stream("test");
        let mut cluster = cluster_for(&mesh(40), &rule(outlier.clone()), &endpoints, &mut rng);
        let policy = default_policy(IstioVersion::new(istio_minor));
        (0..2000).filter(|_| send(&mut cluster, &policy, answer, SimTime::ZERO, &mut rng).status == 503).count()
    };
    // 1.23 retries onto the other pod (previous_hosts): no user sees the 503.
    assert_eq!(user_errors(23), 0);
    // 1.24+: the half of requests that land on the bad pod fail.
    let errors = user_errors(30);
    assert!((900..1100).contains(&errors), "{errors} of 2000");
    // Hidden or not, the failures reach the detector: consecutive 5xx 2 ejects the bad pod
    // after its second failure even under 1.23, where users never saw one.
    let mut rng = RandomStreams::new(3).stream("test");
    let two =
        OutlierDetection { consecutive_5xx_errors: Some(2), max_ejection_percent: 100, ..OutlierDetection::default() };
    let mut cluster = cluster_for(&mesh(40), &rule(two), &endpoints, &mut rng);
    let policy = default_policy(IstioVersion::new(23));
    let mut sent = 0;
    while !cluster.is_ejected(0) {
        assert_eq!(send(&mut cluster, &policy, answer, SimTime::ZERO, &mut rng).status, 200);
        sent += 1;
        assert!(sent < 100);
    }
}

#[test]
fn min_health_percent_keeps_sending_to_ejected_hosts_in_panic() {
    // Both pods of the only region fail; both get ejected.
    let endpoints = [endpoint(1, "cn-hangzhou"), endpoint(2, "cn-hangzhou")];
    let policy = RetryPolicy::none();
    let statuses = |min_health_percent: i32| {
        let mut rng = RandomStreams::new(5).stream("test");
        let outlier = OutlierDetection { min_health_percent, ..seed_outlier(100) };
        let mut cluster = cluster_for(&mesh(40), &rule(outlier), &endpoints, &mut rng);
        for _ in 0..20 {
            send(&mut cluster, &policy, |_| Answer::Status(500), SimTime::ZERO, &mut rng);
        }
        assert_eq!(cluster.detector().unwrap().ejected_count(), 2);
        // The second ejection came within the 1 s merge window of the first: let it reach the
        // load balancers (sweeps before 60 s unejects nothing).
        let one_second = SimTime::ZERO + SimDuration::from_secs(1);
        while let Some(t) = cluster.next_timer().filter(|&t| t <= one_second) {
            cluster.on_timer(t, &mut rng);
        }
        assert_eq!(cluster.priority_load().panic[..], [min_health_percent > 0]);
        // Now the pods have recovered: who gets the next requests?
        (0..100)
            .map(|_| send(&mut cluster, &policy, |_| Answer::Status(200), SimTime::ZERO, &mut rng).status)
            .collect::<Vec<_>>()
    };
    // minHealthPercent 50: 0 % healthy < 50 % → panic → the ejected (recovered) pods serve.
    assert!(statuses(50).iter().all(|&s| s == 200));
    // Istio's default 0: no panic, no healthy host: 503 "no healthy upstream" until unejected.
    assert!(statuses(0).iter().all(|&s| s == 503));
}

#[test]
fn each_client_proxy_ejects_on_its_own() {
    let endpoints = [endpoint(1, "cn-hangzhou"), endpoint(2, "cn-shanghai")];
    let mut rng = RandomStreams::new(9).stream("test");
    let mut first = cluster_for(&mesh(40), &rule(seed_outlier(100)), &endpoints, &mut rng);
    let second = cluster_for(&mesh(40), &rule(seed_outlier(100)), &endpoints, &mut rng);
    send(&mut first, &RetryPolicy::none(), |_| Answer::Status(503), SimTime::ZERO, &mut rng);
    assert!(first.is_ejected(0));
    assert!(!second.is_ejected(0));
}
