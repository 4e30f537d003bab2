//! The simulated world as a discrete-event model: users, gateways, sidecars, pods, istiod and
//! the network, with a request's whole life in between.
//!
//! A user request enters at an ingress gateway replica, whose Envoy makes a *call* to the entry
//! service. A call picks its destination (VirtualService weights), then makes *attempts*: pick a
//! host with the proxy's [`UpstreamCluster`], get a connection (reuse, or open one: TCP + mTLS
//! round trips, a refusal after one round trip, a connect timeout when nothing answers), send the
//! request over the network, and wait. At the pod a *job* queues for a concurrency slot, works for
//! its service time, makes its own calls through its sidecar, and answers. Every attempt's result
//! is charged to the caller's outlier detector; the route's retry policy decides what happens
//! next. istiod watches pods, debounces, and pushes endpoint sets to every proxy it can reach.
//!
//! Modelling choices: readiness probes fail for pods that refuse or hang (they leave EDS after
//! probe period × failure threshold), not for pods answering errors or slowly; a request or
//! answer dropped by a full backbone buffer or by loss resets its connection after a TCP
//! retransmission timeout (the caller sees a reset), while one sent into a dead zone or a cut link
//! vanishes (the call waits for a timeout, as a black-holed connection would); handshake messages take the typical link latency without queueing behind
//! payload; a deleted pod refuses new connections while its endpoint is still in a proxy's EDS.

use std::collections::VecDeque;
use std::rc::Rc;

use rand::{Rng, RngExt};
use sim::{EventHandle, Model, RandomStreams, Scheduler, SimDuration, SimTime, StreamRng};

use super::app::OnFailure;
use super::config::{Arrivals, FaultKind, FaultTarget, MeshConfig};
use super::control_plane::Debouncer;
use super::metrics::Metrics;
use super::network::Transit;
use super::topology::{ConfigError, Path, Topology};
use crate::envoy::cluster::{Pick, UpstreamCluster};
use crate::envoy::connection_pool::ConnectionGrant;
use crate::envoy::host_set::{EdsHealth, EndpointId};
use crate::envoy::outlier_detection::{EjectionOutcome, HostResult};
use crate::envoy::retry::{RetryPolicy, TryOutcome};
use crate::envoy::route::pick_weighted;
use crate::istio::cluster::{ProxyCluster, TranslateError, build};
use crate::istio::locality::{Client, ServiceEndpoint};
use crate::istio::retry::route_policy;

/// Bytes of a handshake message (SYN, TLS records), for the loss and cut checks.
const HANDSHAKE_BYTES: u64 = 200;
/// How long a connection takes to notice that a payload was dropped and give up on it (Linux's
/// initial TCP retransmission timeout): the caller then sees a reset.
const RETRANSMISSION_TIMEOUT: SimDuration = SimDuration::from_secs(1);
/// Time istiod takes to compute and send a push once it decides to push.
const PUSH_PROCESSING: SimDuration = SimDuration::from_millis(5);

/// What became of a message sent across the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// It arrives then.
    At(SimTime),
    /// A full buffer or loss dropped it: the connection resets after a retransmission timeout.
    Dropped,
    /// It went into a black hole (a dead zone, a cut link): nothing ever comes back.
    Vanishes,
}

/// What can happen in the world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// An open-loop user request arrives.
    Arrival,
    /// A closed-loop user sends its next request.
    UserSends(u32),
    /// A call makes its next attempt (after a retry backoff, or at once).
    AttemptStarts(u32, u32),
    /// A connection attempt failed: refused (`false`) or timed out (`true`).
    ConnectFailed(u32, u32, bool),
    /// An attempt's request reached its pod.
    RequestArrives(u32, u32),
    /// The connection was reset under an attempt.
    Reset(u32, u32),
    /// A job finished its own work.
    WorkDone(u32, u32),
    /// An attempt's answer reached the caller: status and markers.
    Answer(u32, u32, u16, u32),
    /// An attempt's per-try timeout expired.
    TryTimeout(u32, u32),
    /// A call's route timeout expired.
    RouteTimeout(u32, u32),
    /// An upstream cluster of a proxy is due for sweeps or merged updates.
    ClusterTimer(u32, u32),
    /// A fault starts.
    FaultStarts(u32),
    /// A fault ends.
    FaultEnds(u32),
    /// A pod's readiness probes have failed enough times.
    PodUnready(u32),
    /// istiod re-reads the endpoints of the clusters it can reach.
    IstiodSync,
    /// istiod's debounce check.
    DebounceCheck,
    /// A push (by index) reaches a proxy.
    EdsArrives(u32, u32),
}

/// A slab of records reused by index, each tagged with a serial so stale events are ignored.
struct Slab<T> {
    entries: Vec<Option<(u32, T)>>,
    free: Vec<u32>,
    next_serial: u32,
}

impl<T> Slab<T> {
    fn new() -> Self {
        Slab { entries: Vec::new(), free: Vec::new(), next_serial: 0 }
    }

    fn insert(&mut self, value: T) -> (u32, u32) {
        self.next_serial = self.next_serial.wrapping_add(1);
        let serial = self.next_serial;
        let index = match self.free.pop() {
            Some(i) => {
                self.entries[i as usize] = Some((serial, value));
                i
            }
            None => {
                self.entries.push(Some((serial, value)));
                self.entries.len() as u32 - 1
            }
        };
        (index, serial)
    }

    fn get_mut(&mut self, index: u32, serial: u32) -> Option<&mut T> {
        match self.entries.get_mut(index as usize)? {
            Some((s, value)) if *s == serial => Some(value),
            _ => None,
        }
    }

    fn remove(&mut self, index: u32, serial: u32) -> Option<T> {
        let slot = self.entries.get_mut(index as usize)?;
        if !matches!(slot, Some((s, _)) if *s == serial) {
            return None;
        }
        self.free.push(index);
        slot.take().map(|(_, v)| v)
    }

    fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }
}

/// Who waits for a call's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parent {
    /// A user request (index, serial), from closed-loop user `user` if any.
    User(u32, u32),
    /// A job (index, serial) of a pod.
    Job(u32, u32),
}

/// An attempt in flight.
#[derive(Clone, Copy, Debug)]
struct Attempt {
    pick: Pick,
    pod: usize,
    /// Requests the connection has carried, this one included.
    carried: u32,
    /// The generation events of this attempt carry.
    generation: u32,
    per_try_timeout: Option<EventHandle>,
}

/// A call from a proxy to a service.
#[derive(Clone, Debug)]
struct Call {
    proxy: usize,
    upstream: usize,
    parent: Parent,
    retries: u32,
    tried: [EndpointId; 8],
    tried_count: usize,
    attempt: Option<Attempt>,
    route_timeout: Option<EventHandle>,
    /// Whether a retry of this call holds a slot of the cluster's max_retries breaker (from
    /// the retry decision until that retry's attempt ends).
    retry_in_flight: bool,
}

/// A pod's work on one request.
#[derive(Clone, Debug)]
struct Job {
    pod: usize,
    /// The call (index, serial) and attempt generation it answers.
    caller: (u32, u32, u32),
    next_call: usize,
    outstanding: u32,
    markers: u32,
    calls_ok: bool,
}

/// A user request.
#[derive(Clone, Copy, Debug)]
struct UserRequest {
    started: SimTime,
    user: Option<u32>,
}

/// How a pod behaves under the faults in force.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    Normal,
    Respond(u16),
    Refuse,
    Hang,
    Slow(SimDuration),
    FailFraction(f64, u16),
}

/// A pod's state.
#[derive(Clone, Debug)]
struct PodState {
    exists: bool,
    ready: bool,
    down: bool,
    behaviour: Behaviour,
    unready_timer: Option<EventHandle>,
    busy: u32,
    queue: VecDeque<(u32, u32)>,
    /// Hit by the first fault (for time to shift).
    faulted: bool,
}

/// One upstream cluster of one proxy, with its timer and waiting calls.
struct ProxyUpstream {
    service: usize,
    subset: Option<String>,
    cluster: UpstreamCluster,
    timer: Option<(SimTime, EventHandle)>,
    pending: VecDeque<(u32, u32)>,
}

/// An Envoy: a gateway replica or a pod's sidecar.
struct Proxy {
    zone: usize,
    cluster: usize,
    upstreams: Vec<ProxyUpstream>,
    /// Per service: the upstream index of each route destination (empty: never called).
    routes: Vec<Vec<usize>>,
}

/// A service's route as the proxies apply it.
struct ServiceRoute {
    weights: Vec<u32>,
    subsets: Vec<Option<String>>,
    timeout: Option<SimDuration>,
    retry: RetryPolicy,
}

/// The random streams of the world, one per source of randomness.
struct Streams {
    arrivals: StreamRng,
    service: StreamRng,
    balancing: StreamRng,
    outlier: StreamRng,
    retries: StreamRng,
    network: StreamRng,
    routing: StreamRng,
}

/// The whole simulated mesh.
pub struct World {
    config: Rc<MeshConfig>,
    topology: Topology,
    routes: Vec<ServiceRoute>,
    proxies: Vec<Proxy>,
    /// Each pod's sidecar proxy, if its version calls out.
    pod_proxy: Vec<Option<usize>>,
    /// The proxies of the workload gateway's replicas.
    entry_proxies: Vec<usize>,
    /// The service behind the gateway.
    entry_service: usize,
    /// The service whose answers are counted as shares, if it exists.
    share_service: Option<usize>,
    /// Per service, per version: the service index of each call.
    callees: Vec<Vec<Vec<usize>>>,
    pods: Vec<PodState>,
    calls: Slab<Call>,
    jobs: Slab<Job>,
    users: Slab<UserRequest>,
    streams: Streams,
    /// istiod's endpoint view: pods per service.
    istiod_view: Vec<Vec<usize>>,
    pushes: Vec<Rc<Vec<Vec<usize>>>>,
    debouncer: Debouncer,
    down_zones: Vec<bool>,
    control_plane_zone: usize,
    control_plane_cut: bool,
    /// Saved link settings while a backbone fault is active.
    saved_links: Vec<Option<super::network::BackboneLink>>,
    closed_loop_sent: u64,
    fault_started: Option<SimTime>,
    fault_ended: Option<SimTime>,
    /// Index of the fault that started first.
    first_fault: Option<usize>,
    metrics: Metrics,
}

/// A run that could not start: a configuration reference that leads nowhere, or an Istio
/// resource that cannot be translated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// A bad reference or value.
    Config(ConfigError),
    /// An Istio translation problem.
    Istio(TranslateError),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Config(e) => e.fmt(f),
            BuildError::Istio(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<ConfigError> for BuildError {
    fn from(e: ConfigError) -> Self {
        BuildError::Config(e)
    }
}

fn config_error(path: impl Into<String>, message: impl Into<String>) -> BuildError {
    BuildError::Config(ConfigError { path: path.into(), message: message.into() })
}

impl World {
    /// Builds the world at time zero and schedules its first events.
    pub fn build(config: MeshConfig, scheduler: &mut Scheduler<Event>) -> Result<World, BuildError> {
        let config = Rc::new(config);
        let topology = Topology::build(&config)?;
        let streams = RandomStreams::new(config.seed);
        let app = &config.app;
        let service_index = |name: &str, path: &str| {
            app.services
                .iter()
                .position(|s| s.name == name)
                .ok_or_else(|| config_error(path, format!("unknown service {name:?}")))
        };
        for (i, call) in app.services.iter().flat_map(|s| s.versions.iter().flat_map(|v| v.calls.iter())).enumerate() {
            service_index(&call.service, &format!("app.calls[{i}].service"))?;
        }
        let mut routes = Vec::new();
        for service in &app.services {
            let route = config.istio.routes.iter().find(|r| r.host == service.name);
            let (subsets, weights): (Vec<Option<String>>, Vec<u32>) = match route {
                Some(r) if !r.destinations.is_empty() => r.destinations.iter().cloned().unzip(),
                _ => (vec![None], vec![1]),
            };
            if weights.iter().all(|&w| w == 0) {
                return Err(config_error(format!("routes[{}].destinations", service.name), "all weights are zero"));
            }
            routes.push(ServiceRoute {
                weights,
                subsets,
                timeout: route.and_then(|r| r.timeout),
                retry: route_policy(route.and_then(|r| r.retries.as_ref()), config.istio.mesh.istio_version),
            });
        }
        let control_plane_region =
            topology.regions.iter().position(|r| *r == config.control_plane.region).ok_or_else(|| {
                config_error("control_plane.region", format!("unknown region {:?}", config.control_plane.region))
            })?;
        let control_plane_zone =
            topology.zones.iter().position(|z| z.region == control_plane_region).expect("regions have zones");
        let gateway_count = topology.gateways.len();
        if !topology.gateways.iter().any(|g| g.gateway == config.workload.gateway) {
            return Err(config_error("workload.gateway", format!("no gateway named {:?}", config.workload.gateway)));
        }
        let entry = service_index(&config.workload.entry_service, "workload.entry_service")?;
        let callees = app
            .services
            .iter()
            .map(|s| {
                s.versions
                    .iter()
                    .map(|v| {
                        v.calls
                            .iter()
                            .map(|c| app.services.iter().position(|x| x.name == c.service).expect("checked above"))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let mut world = World {
            routes,
            proxies: Vec::new(),
            pod_proxy: vec![None; topology.pods.len()],
            entry_proxies: Vec::new(),
            entry_service: entry,
            share_service: app.services.iter().position(|s| s.name == config.metrics.share_service),
            callees,
            pods: (0..topology.pods.len())
                .map(|_| PodState {
                    exists: true,
                    ready: true,
                    down: false,
                    behaviour: Behaviour::Normal,
                    unready_timer: None,
                    busy: 0,
                    queue: VecDeque::new(),
                    faulted: false,
                })
                .collect(),
            calls: Slab::new(),
            jobs: Slab::new(),
            users: Slab::new(),
            streams: Streams {
                arrivals: streams.stream("arrivals"),
                service: streams.stream("service-times"),
                balancing: streams.stream("load-balancing"),
                outlier: streams.stream("outlier-detection"),
                retries: streams.stream("retry-backoff"),
                network: streams.stream("network"),
                routing: streams.stream("route-weights"),
            },
            istiod_view: Vec::new(),
            pushes: Vec::new(),
            debouncer: Debouncer::new(config.control_plane.debounce_after, config.control_plane.debounce_max),
            down_zones: vec![false; topology.zones.len()],
            control_plane_zone,
            control_plane_cut: false,
            saved_links: vec![None; topology.links.len()],
            closed_loop_sent: 0,
            fault_started: None,
            fault_ended: None,
            first_fault: None,
            metrics: Metrics::new(config.metrics.window, topology.links.len()),
            topology,
            config: Rc::clone(&config),
        };
        world.istiod_view = world.current_endpoints();
        // Gateways call the entry service; sidecars call what their version calls.
        for g in 0..gateway_count {
            let zone = world.topology.gateways[g].zone;
            world.add_proxy(zone, None, Some(g), &[entry])?;
            if world.topology.gateways[g].gateway == config.workload.gateway {
                world.entry_proxies.push(world.proxies.len() - 1);
            }
        }
        for p in 0..world.topology.pods.len() {
            let pod = &world.topology.pods[p];
            let callees = world.callees[pod.service][pod.version].clone();
            if !callees.is_empty() {
                world.add_proxy(pod.zone, Some(p), None, &callees)?;
                world.pod_proxy[p] = Some(world.proxies.len() - 1);
            }
        }
        for proxy in 0..world.proxies.len() {
            for upstream in 0..world.proxies[proxy].upstreams.len() {
                world.rearm(proxy, upstream, scheduler);
            }
        }
        for (i, fault) in config.faults.iter().enumerate() {
            world.check_fault_target(i, &fault.target)?;
            scheduler.schedule_at(SimTime::ZERO + fault.start, Event::FaultStarts(i as u32));
            if let Some(end) = fault.end {
                scheduler.schedule_at(SimTime::ZERO + end, Event::FaultEnds(i as u32));
            }
        }
        let start = SimTime::ZERO + config.workload.start;
        match &config.workload.arrivals {
            Arrivals::Users { users, .. } => {
                for user in 0..*users {
                    scheduler.schedule_at(start, Event::UserSends(user));
                }
            }
            _ => world.schedule_arrival(start, scheduler),
        }
        Ok(world)
    }

    fn check_fault_target(&self, index: usize, target: &FaultTarget) -> Result<(), BuildError> {
        let path = format!("faults[{index}].target");
        let ok = match target {
            FaultTarget::Deployment { .. } | FaultTarget::Pod { .. } => !self.target_pods(target).is_empty(),
            FaultTarget::Zone(z) => self.topology.zones.iter().any(|zone| &zone.name == z),
            FaultTarget::Region(r) => self.topology.regions.contains(r),
            FaultTarget::Backbone(a, b) => {
                let index = |n: &String| self.topology.regions.iter().position(|r| r == n);
                matches!((index(a), index(b)), (Some(a), Some(b)) if !self.topology.links_between(a, b).is_empty())
            }
            FaultTarget::ControlPlane => true,
            FaultTarget::SecurityGroupRule { from, to } => {
                self.topology.cluster_index(from).is_some() && self.topology.cluster_index(to).is_some()
            }
        };
        if ok { Ok(()) } else { Err(config_error(path, format!("{target:?} matches nothing in the topology"))) }
    }

    /// The metrics gathered so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The topology (for naming localities and links in reports).
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// When the first fault started, if one has.
    pub fn fault_started(&self) -> Option<SimTime> {
        self.fault_started
    }

    /// The purchased bandwidth of backbone link direction `link` as configured (bits/s).
    pub fn configured_bandwidth(&self, link: usize) -> u64 {
        self.config.network.backbone[link / 2].bandwidth_bps
    }

    /// The region and share the scenario expects the share service's answers to split by.
    pub fn expected_share(&self) -> Option<(String, f64)> {
        self.config.metrics.expected_share.clone()
    }

    /// When the first fault ended, if it has.
    pub fn fault_ended(&self) -> Option<SimTime> {
        self.fault_ended
    }

    /// Marks the end of the run at `end`: the time series then covers every window of the run,
    /// quiet ones at the end included.
    pub fn close(&mut self, end: SimTime) {
        if let Some(last) = end.as_nanos().checked_sub(1) {
            self.metrics.windows.extend_to(SimTime::from_nanos(last));
        }
    }

    /// User requests still unanswered.
    pub fn unanswered(&self) -> usize {
        self.users.len()
    }

    /// Pods per service that exist and are ready, as istiod would list them.
    fn current_endpoints(&self) -> Vec<Vec<usize>> {
        let mut view = vec![Vec::new(); self.config.app.services.len()];
        for (p, pod) in self.topology.pods.iter().enumerate() {
            if self.pods[p].exists && self.pods[p].ready {
                view[pod.service].push(p);
            }
        }
        view
    }

    /// The EDS a proxy gets for `service`/`subset` from an endpoint view.
    fn service_endpoints(&self, view: &[Vec<usize>], service: usize) -> Vec<ServiceEndpoint> {
        view[service]
            .iter()
            .map(|&p| {
                let pod = &self.topology.pods[p];
                ServiceEndpoint {
                    endpoint: pod.endpoint,
                    locality: self.topology.zones[pod.zone].locality.clone(),
                    labels: pod.labels.clone(),
                    weight: 1,
                    health: EdsHealth::Healthy,
                }
            })
            .collect()
    }

    /// What istiod sends `client` about `service` (or one subset of it) when it knows the
    /// endpoints in `view`.
    fn translate(
        &self,
        client: &Client,
        service: usize,
        subset: Option<&str>,
        view: &[Vec<usize>],
    ) -> Result<ProxyCluster, TranslateError> {
        let name = &self.config.app.services[service].name;
        let rule = self.config.istio.destination_rules.iter().find(|r| &r.host == name);
        let endpoints = self.service_endpoints(view, service);
        build(&self.config.istio.mesh, client, self.config.istio.proxy_concurrency, rule, subset, &endpoints)
    }

    fn client(&self, zone: usize) -> Client {
        Client { locality: self.topology.zones[zone].locality.clone(), labels: Default::default() }
    }

    fn add_proxy(
        &mut self,
        zone: usize,
        pod: Option<usize>,
        gateway: Option<usize>,
        callees: &[usize],
    ) -> Result<(), BuildError> {
        let cluster = match (pod, gateway) {
            (Some(p), _) => self.topology.pods[p].cluster,
            (None, Some(g)) => self.topology.gateways[g].cluster,
            (None, None) => unreachable!("a proxy belongs to a pod or a gateway"),
        };
        let mut proxy = Proxy { zone, cluster, upstreams: Vec::new(), routes: vec![Vec::new(); self.routes.len()] };
        let client = self.client(zone);
        for &service in callees {
            if !proxy.routes[service].is_empty() {
                continue;
            }
            for subset in self.routes[service].subsets.clone() {
                let built = self
                    .translate(&client, service, subset.as_deref(), &self.istiod_view)
                    .map_err(BuildError::Istio)?;
                let cluster = UpstreamCluster::new(
                    built.settings,
                    &built.assignment.assignment,
                    SimTime::ZERO,
                    &mut self.streams.outlier,
                );
                proxy.routes[service].push(proxy.upstreams.len());
                proxy.upstreams.push(ProxyUpstream { service, subset, cluster, timer: None, pending: VecDeque::new() });
            }
        }
        self.proxies.push(proxy);
        Ok(())
    }

    /// Keeps one timer per upstream cluster at its next due time.
    fn rearm(&mut self, proxy: usize, upstream: usize, s: &mut Scheduler<Event>) {
        let u = &mut self.proxies[proxy].upstreams[upstream];
        let next = u.cluster.next_timer();
        if u.timer.map(|(t, _)| t) == next {
            return;
        }
        if let Some((_, handle)) = u.timer.take() {
            s.cancel(handle);
        }
        if let Some(t) = next {
            let t = t.max(s.now());
            u.timer = Some((t, s.schedule_at(t, Event::ClusterTimer(proxy as u32, upstream as u32))));
        }
    }

    /// A message from zone `from` to zone `to` sent now: when it arrives, or `None` if lost.
    fn transmit(&mut self, from: usize, to: usize, bytes: u64, now: SimTime) -> Delivery {
        if self.down_zones[from] || self.down_zones[to] {
            return Delivery::Vanishes;
        }
        match self.topology.path(from, to) {
            None => Delivery::Vanishes,
            Some(Path::Local(d)) => Delivery::At(now + d),
            Some(Path::Backbone(link)) => {
                let up = self.topology.links[link].is_up();
                match self.topology.links[link].send(now, bytes, &mut self.streams.network) {
                    Transit::Arrives(t) => {
                        self.metrics.backbone(now, link, bytes, false);
                        Delivery::At(t)
                    }
                    Transit::Dropped => {
                        self.metrics.backbone(now, link, bytes, true);
                        if up { Delivery::Dropped } else { Delivery::Vanishes }
                    }
                }
            }
        }
    }

    // ----- users -----

    fn start_user_request(&mut self, user: Option<u32>, s: &mut Scheduler<Event>) {
        let now = s.now();
        self.metrics.sent += 1;
        let (request, serial) = self.users.insert(UserRequest { started: now, user });
        // The load balancer in front of the gateway spreads users over the replicas that are up.
        let live = |w: &World, p: &usize| !w.down_zones[w.proxies[*p].zone];
        let up = self.entry_proxies.iter().filter(|p| live(self, p)).count();
        if up == 0 {
            self.finish_user(request, serial, 503, 0, s);
            return;
        }
        let k = (self.streams.routing.next_u64() % up as u64) as usize;
        let proxy = *self.entry_proxies.iter().filter(|p| live(self, p)).nth(k).expect("k < up");
        let entry = self.entry_service;
        self.start_call(proxy, entry, Parent::User(request, serial), s);
    }

    fn finish_user(&mut self, request: u32, serial: u32, status: u16, markers: u32, s: &mut Scheduler<Event>) {
        let Some(user) = self.users.remove(request, serial) else { return };
        let now = s.now();
        self.metrics.answered(now, now - user.started, status, markers);
        if let (Some(u), Arrivals::Users { think_time, limit, .. }) = (user.user, &self.config.workload.arrivals)
            && limit.is_none_or(|l| self.closed_loop_sent < l)
        {
            s.schedule_in(*think_time, Event::UserSends(u));
        }
    }

    /// The open-loop rate in force at `t` (per second) and when it next changes.
    fn rate_at(&self, t: SimTime) -> (f64, Option<SimTime>) {
        match &self.config.workload.arrivals {
            Arrivals::Poisson { rate } | Arrivals::Constant { rate } => (*rate, None),
            Arrivals::Steps { steps } => {
                let rate = steps.iter().rev().find(|(from, _)| SimTime::ZERO + *from <= t).map_or(0.0, |&(_, r)| r);
                let next = steps.iter().map(|&(from, _)| SimTime::ZERO + from).filter(|&b| b > t).min();
                (rate, next)
            }
            Arrivals::Users { .. } => (0.0, None),
        }
    }

    /// Schedules the next open-loop arrival after `from`. A draw that would cross a change of
    /// rate restarts at the change, which is exact for a piecewise-constant Poisson process.
    fn schedule_arrival(&mut self, mut from: SimTime, s: &mut Scheduler<Event>) {
        loop {
            let (rate, change) = self.rate_at(from);
            if rate > 0.0 {
                let gap = match self.config.workload.arrivals {
                    Arrivals::Constant { .. } => 1.0 / rate,
                    _ => -(1.0 - self.streams.arrivals.random::<f64>()).ln() / rate,
                };
                let at = from + SimDuration::from_secs_f64(gap);
                match change {
                    Some(boundary) if at > boundary => from = boundary,
                    _ => {
                        s.schedule_at(at, Event::Arrival);
                        return;
                    }
                }
            } else {
                match change {
                    Some(boundary) => from = boundary,
                    None => return,
                }
            }
        }
    }

    // ----- calls and attempts -----

    fn start_call(&mut self, proxy: usize, service: usize, parent: Parent, s: &mut Scheduler<Event>) {
        let route = &self.routes[service];
        let destination =
            pick_weighted(&route.weights, self.streams.routing.next_u64()).expect("weights checked at build");
        let upstream = self.proxies[proxy].routes[service][destination];
        let timeout = route.timeout;
        let call = Call {
            proxy,
            upstream,
            parent,
            retries: 0,
            tried: [EndpointId(u32::MAX); 8],
            tried_count: 0,
            attempt: None,
            route_timeout: None,
            retry_in_flight: false,
        };
        let (index, serial) = self.calls.insert(call);
        if let Some(timeout) = timeout {
            let handle = s.schedule_in(timeout, Event::RouteTimeout(index, serial));
            self.calls.get_mut(index, serial).expect("just inserted").route_timeout = Some(handle);
        }
        self.start_attempt(index, serial, s);
    }

    /// The service a call goes to.
    fn service_of(&self, call: &Call) -> usize {
        self.proxies[call.proxy].upstreams[call.upstream].service
    }

    fn start_attempt(&mut self, index: u32, serial: u32, s: &mut Scheduler<Event>) {
        let now = s.now();
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        let call = call.clone();
        let policy = &self.routes[self.service_of(&call)].retry;
        let (previous_hosts, host_picks, per_try) =
            (policy.previous_hosts, policy.host_picks(), policy.per_try_timeout);
        let proxy_zone = self.proxies[call.proxy].zone;
        let workers = self.config.istio.proxy_concurrency.max(1) as u64;
        let worker = (self.streams.balancing.next_u64() % workers) as usize;
        let upstream = &mut self.proxies[call.proxy].upstreams[call.upstream];
        let (breaker, limits) = upstream.cluster.breaker();
        if !breaker.request_admitted(limits) {
            return self.end_call(index, serial, 503, 0, s);
        }
        let previous = if previous_hosts { &call.tried[..call.tried_count] } else { &[][..] };
        let picks = if previous_hosts { host_picks } else { 1 };
        let Some(pick) = upstream.cluster.choose_host(worker, previous, picks, &mut self.streams.balancing) else {
            return self.after_try(index, serial, TryOutcome::NoHealthyUpstream, 503, 0, s);
        };
        let pod = pick.endpoint.0 as usize;
        let (breaker, limits) = upstream.cluster.breaker();
        let may_open = breaker.connection_admitted(limits);
        let pending_ok = breaker.pending_admitted(limits);
        let grant = upstream.cluster.pool(pick).expect("just picked").acquire(may_open);
        let Some(grant) = grant else {
            if !pending_ok {
                return self.end_call(index, serial, 503, 0, s);
            }
            upstream.cluster.breaker().0.track_pending(true);
            upstream.pending.push_back((index, serial));
            return;
        };
        upstream.cluster.request_started(pick);
        upstream.cluster.breaker().0.track_request(true);
        if grant == ConnectionGrant::Open {
            upstream.cluster.breaker().0.track_connection(true);
        }
        let connect_timeout = upstream.cluster.settings().connect_timeout;
        if self.pods[pod].faulted && self.fault_started.is_some() {
            self.metrics.last_attempt_to_faulted = Some(now);
        }
        let generation = s.events_handled() as u32;
        let carried = match grant {
            ConnectionGrant::Reused { carried } => carried + 1,
            ConnectionGrant::Open => 1,
        };
        let per_try_timeout = per_try.map(|t| s.schedule_in(t, Event::TryTimeout(index, generation)));
        let call = self.calls.get_mut(index, serial).expect("checked above");
        if call.tried_count < call.tried.len() {
            call.tried[call.tried_count] = pick.endpoint;
            call.tried_count += 1;
        }
        call.attempt = Some(Attempt { pick, pod, carried, generation, per_try_timeout });
        let pod_zone = self.topology.pods[pod].zone;
        let request_bytes = self.config.app.services[self.topology.pods[pod].service].request_bytes;
        let send_at = if grant == ConnectionGrant::Open {
            // SYN: lost, or no one home → connect timeout; refused → RST after a round trip.
            let blocked = self.topology.is_blocked(self.proxies[call.proxy].cluster, self.topology.pods[pod].cluster);
            let reachable = !blocked
                && matches!(self.transmit(proxy_zone, pod_zone, HANDSHAKE_BYTES, now), Delivery::At(_))
                && self.pods[pod].exists;
            let refuses = !self.pods[pod].exists || self.pods[pod].behaviour == Behaviour::Refuse;
            let one_way = self.topology.typical_latency(proxy_zone, pod_zone).unwrap_or(SimDuration::ZERO);
            let round_trip = one_way + one_way;
            if refuses && !blocked && !self.pods[pod].down && (reachable || !self.pods[pod].exists) {
                s.schedule_in(round_trip, Event::ConnectFailed(index, generation, false));
                return;
            }
            if !reachable || self.pods[pod].down {
                s.schedule_in(connect_timeout, Event::ConnectFailed(index, generation, true));
                return;
            }
            let handshakes = u64::from(self.config.network.handshake_round_trips);
            now + SimDuration::from_nanos(round_trip.as_nanos().saturating_mul(handshakes))
        } else {
            now
        };
        match self.transmit(proxy_zone, pod_zone, request_bytes, send_at) {
            Delivery::At(arrival) => {
                s.schedule_at(arrival, Event::RequestArrives(index, generation));
            }
            Delivery::Dropped => {
                s.schedule_at(send_at + RETRANSMISSION_TIMEOUT, Event::Reset(index, generation));
            }
            Delivery::Vanishes => {}
        }
    }

    /// The call's current attempt if `generation` is still it.
    fn current_attempt(&mut self, index: u32, generation: u32) -> Option<(u32, Attempt)> {
        let serial = match self.calls.entries.get(index as usize)? {
            Some((serial, call)) if call.attempt.is_some_and(|a| a.generation == generation) => *serial,
            _ => return None,
        };
        let attempt = self.calls.get_mut(index, serial)?.attempt?;
        Some((serial, attempt))
    }

    /// Ends the current attempt: releases its connection and counts, charges its result.
    fn close_attempt(
        &mut self,
        index: u32,
        serial: u32,
        result: Option<HostResult>,
        connection_failed: bool,
        s: &mut Scheduler<Event>,
    ) {
        let now = s.now();
        self.release_retry(index, serial);
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        let Some(attempt) = call.attempt.take() else { return };
        let (proxy, upstream_index) = (call.proxy, call.upstream);
        if let Some(handle) = attempt.per_try_timeout {
            s.cancel(handle);
        }
        let upstream = &mut self.proxies[proxy].upstreams[upstream_index];
        upstream.cluster.request_finished(attempt.pick);
        upstream.cluster.breaker().0.track_request(false);
        let max_per_connection = upstream.cluster.settings().max_requests_per_connection;
        let closed = upstream
            .cluster
            .pool(attempt.pick)
            .map(|pool| pool.release(attempt.carried, max_per_connection, connection_failed))
            .unwrap_or(true);
        if closed {
            upstream.cluster.breaker().0.track_connection(false);
        }
        if let Some(result) = result
            && let Some(detection) = upstream.cluster.record(attempt.pick, result, now, &mut self.streams.outlier)
            && detection.outcome == EjectionOutcome::Ejected
        {
            self.metrics.ejection(now);
        }
        self.rearm(proxy, upstream_index, s);
        // A freed connection or slot lets a waiting call go.
        if let Some((waiting, waiting_serial)) = self.proxies[proxy].upstreams[upstream_index].pending.pop_front() {
            self.proxies[proxy].upstreams[upstream_index].cluster.breaker().0.track_pending(false);
            self.start_attempt(waiting, waiting_serial, s);
        }
    }

    /// After a try ended with `outcome`: retry after a backoff, or end the call.
    fn after_try(
        &mut self,
        index: u32,
        serial: u32,
        outcome: TryOutcome,
        status: u16,
        markers: u32,
        s: &mut Scheduler<Event>,
    ) {
        // The try that just ended, if it was a retry, no longer counts against max_retries.
        self.release_retry(index, serial);
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        let (retries, proxy, upstream) = (call.retries, call.proxy, call.upstream);
        let service = self.proxies[proxy].upstreams[upstream].service;
        let policy = &self.routes[service].retry;
        let (breaker, limits) = self.proxies[proxy].upstreams[upstream].cluster.breaker();
        // A retry over the cluster's max_retries is simply not made (`upstream_rq_retry_overflow`).
        if policy.should_retry(outcome, retries) && breaker.retry_admitted(limits) {
            breaker.track_retry(true);
            let backoff = policy.backoff(retries + 1, &mut self.streams.retries);
            let call = self.calls.get_mut(index, serial).expect("checked");
            call.retries += 1;
            call.retry_in_flight = true;
            s.schedule_in(backoff, Event::AttemptStarts(index, serial));
        } else {
            self.end_call(index, serial, status, markers, s);
        }
    }

    /// Frees the call's max_retries slot, if it holds one.
    fn release_retry(&mut self, index: u32, serial: u32) {
        let Some(call) = self.calls.get_mut(index, serial) else { return };
        if std::mem::take(&mut call.retry_in_flight) {
            let (proxy, upstream) = (call.proxy, call.upstream);
            self.proxies[proxy].upstreams[upstream].cluster.breaker().0.track_retry(false);
        }
    }

    fn end_call(&mut self, index: u32, serial: u32, status: u16, markers: u32, s: &mut Scheduler<Event>) {
        self.release_retry(index, serial);
        let Some(call) = self.calls.remove(index, serial) else { return };
        if let Some(handle) = call.route_timeout {
            s.cancel(handle);
        }
        match call.parent {
            Parent::User(request, user_serial) => self.finish_user(request, user_serial, status, markers, s),
            Parent::Job(job, job_serial) => self.call_done(job, job_serial, status, markers, s),
        }
    }

    // ----- pods and jobs -----

    fn request_arrives(&mut self, index: u32, generation: u32, s: &mut Scheduler<Event>) {
        let Some((serial, attempt)) = self.current_attempt(index, generation) else { return };
        let pod = attempt.pod;
        if self.pods[pod].down {
            return; // Lost: the call waits for a timeout.
        }
        if !self.pods[pod].exists || self.pods[pod].behaviour == Behaviour::Refuse {
            let back = self.answer_delay(pod, index, serial);
            s.schedule_in(back, Event::Reset(index, generation));
            return;
        }
        let (job, job_serial) = self.jobs.insert(Job {
            pod,
            caller: (index, serial, generation),
            next_call: 0,
            outstanding: 0,
            markers: 0,
            calls_ok: true,
        });
        let state = &mut self.pods[pod];
        if state.busy < self.topology.pods[pod].concurrency {
            state.busy += 1;
            self.begin_work(job, job_serial, s);
        } else {
            state.queue.push_back((job, job_serial));
        }
    }

    /// One-way latency back from a pod to a call's proxy, for resets.
    fn answer_delay(&self, pod: usize, index: u32, serial: u32) -> SimDuration {
        let proxy_zone = self.calls.entries[index as usize]
            .as_ref()
            .filter(|(s, _)| *s == serial)
            .map(|(_, c)| self.proxies[c.proxy].zone);
        proxy_zone
            .and_then(|z| self.topology.typical_latency(self.topology.pods[pod].zone, z))
            .unwrap_or(SimDuration::ZERO)
    }

    fn begin_work(&mut self, job: u32, job_serial: u32, s: &mut Scheduler<Event>) {
        let pod = self.jobs.get_mut(job, job_serial).expect("live job").pod;
        let info = &self.topology.pods[pod];
        let mut work = self.config.app.services[info.service].versions[info.version]
            .service_time
            .sample(&mut self.streams.service);
        match self.pods[pod].behaviour {
            Behaviour::Hang => return, // Holds its slot and never answers.
            Behaviour::Slow(extra) => work = work + extra,
            _ => {}
        }
        s.schedule_in(work, Event::WorkDone(job, job_serial));
    }

    fn work_done(&mut self, job: u32, job_serial: u32, s: &mut Scheduler<Event>) {
        let Some(pod) = self.jobs.get_mut(job, job_serial).map(|j| j.pod) else { return };
        match self.pods[pod].behaviour {
            Behaviour::Respond(status) => return self.respond(job, job_serial, status, 0, s),
            Behaviour::FailFraction(fraction, status) if self.streams.service.random::<f64>() < fraction => {
                return self.respond(job, job_serial, status, 0, s);
            }
            Behaviour::Hang => return,
            _ => {}
        }
        let info = &self.topology.pods[pod];
        let version = &self.config.app.services[info.service].versions[info.version];
        if version.calls.is_empty() {
            return self.respond(job, job_serial, 200, version.markers, s);
        }
        if version.parallel {
            let count = version.calls.len();
            self.jobs.get_mut(job, job_serial).expect("live").outstanding = count as u32;
            for _ in 0..count {
                self.next_child_call(job, job_serial, s);
            }
        } else {
            self.jobs.get_mut(job, job_serial).expect("live").outstanding = 1;
            self.next_child_call(job, job_serial, s);
        }
    }

    fn next_child_call(&mut self, job: u32, job_serial: u32, s: &mut Scheduler<Event>) {
        let record = self.jobs.get_mut(job, job_serial).expect("live");
        let (pod, step) = (record.pod, record.next_call);
        record.next_call += 1;
        let info = &self.topology.pods[pod];
        let service = self.callees[info.service][info.version][step];
        let proxy = self.pod_proxy[pod].expect("pods that call have a sidecar");
        self.start_call(proxy, service, Parent::Job(job, job_serial), s);
    }

    fn call_done(&mut self, job: u32, job_serial: u32, status: u16, markers: u32, s: &mut Scheduler<Event>) {
        let Some(record) = self.jobs.get_mut(job, job_serial) else { return };
        let pod = record.pod;
        let info = &self.topology.pods[pod];
        let version = &self.config.app.services[info.service].versions[info.version];
        let step = record.next_call - 1;
        let on_failure = version.calls[step.min(version.calls.len() - 1)].on_failure;
        record.outstanding -= 1;
        if status >= 500 {
            match on_failure {
                OnFailure::Fail(code) => return self.respond(job, job_serial, code, 0, s),
                OnFailure::Degrade => record.calls_ok = false,
            }
        } else {
            record.markers += markers;
        }
        if version.parallel {
            if record.outstanding > 0 {
                return;
            }
        } else if record.next_call < version.calls.len() {
            record.outstanding = 1;
            return self.next_child_call(job, job_serial, s);
        }
        let own = if record.calls_ok { version.markers } else { 0 };
        let total = record.markers + own;
        self.respond(job, job_serial, 200, total, s);
    }

    fn respond(&mut self, job: u32, job_serial: u32, status: u16, markers: u32, s: &mut Scheduler<Event>) {
        let now = s.now();
        let Some(record) = self.jobs.remove(job, job_serial) else { return };
        let pod = record.pod;
        // Free the slot for the next queued request.
        if let Some((next, next_serial)) = self.pods[pod].queue.pop_front() {
            self.begin_work(next, next_serial, s);
        } else {
            self.pods[pod].busy -= 1;
        }
        let info = &self.topology.pods[pod];
        let service = &self.config.app.services[info.service];
        if status < 500 && self.pods[pod].faulted && self.fault_ended.is_some() {
            self.metrics.first_answer_after_fault.get_or_insert(now);
        }
        if self.share_service == Some(info.service) && status < 500 {
            self.metrics.share(now, info.zone, &service.versions[info.version].name);
        }
        let (index, serial, generation) = record.caller;
        let Some(proxy) = self.calls.get_mut(index, serial).map(|c| c.proxy) else { return };
        let response_bytes = service.response_bytes;
        let (from, to) = (info.zone, self.proxies[proxy].zone);
        if self.pods[pod].down {
            return;
        }
        match self.transmit(from, to, response_bytes, now) {
            Delivery::At(arrival) => {
                s.schedule_at(arrival, Event::Answer(index, generation, status, markers));
            }
            Delivery::Dropped => {
                s.schedule_in(RETRANSMISSION_TIMEOUT, Event::Reset(index, generation));
            }
            Delivery::Vanishes => {}
        }
    }

    // ----- the control plane -----

    /// Whether istiod can watch and push to `cluster`: it is up, not cut off, the cluster's
    /// region has a zone that is up, and the backbone to it carries traffic.
    fn istiod_reaches(&self, cluster: usize) -> bool {
        if self.control_plane_cut || self.down_zones[self.control_plane_zone] {
            return false;
        }
        let region = self.topology.clusters[cluster].1;
        self.topology.zones.iter().enumerate().any(|(z, zone)| {
            zone.region == region
                && !self.down_zones[z]
                && self.topology.typical_latency(self.control_plane_zone, z).is_some()
        })
    }

    /// A pod changed: istiod hears of it after the watch delay (if it can reach its cluster).
    fn pod_changed(&mut self, pod: usize, s: &mut Scheduler<Event>) {
        let cluster = self.topology.pods[pod].cluster;
        if !self.istiod_reaches(cluster) {
            return;
        }
        let region = self.topology.clusters[cluster].1;
        let zone = self.topology.zones.iter().position(|z| z.region == region).expect("regions have zones");
        let delay = self.config.control_plane.watch_delay
            + self.topology.typical_latency(zone, self.control_plane_zone).unwrap_or(SimDuration::ZERO);
        s.schedule_in(delay, Event::IstiodSync);
    }

    fn istiod_sync(&mut self, s: &mut Scheduler<Event>) {
        let current = self.current_endpoints();
        let mut view = self.istiod_view.clone();
        for (service, pods) in view.iter_mut().enumerate() {
            // Keep what istiod cached for clusters it cannot reach; refresh the rest.
            pods.retain(|&p| !self.istiod_reaches(self.topology.pods[p].cluster));
            pods.extend(
                current[service].iter().copied().filter(|&p| self.istiod_reaches(self.topology.pods[p].cluster)),
            );
            pods.sort_unstable();
        }
        if view != self.istiod_view {
            self.istiod_view = view;
            if let Some(check) = self.debouncer.on_event(s.now()) {
                s.schedule_at(check, Event::DebounceCheck);
            }
        }
    }

    fn debounce_check(&mut self, s: &mut Scheduler<Event>) {
        match self.debouncer.on_check(s.now()) {
            Err(next) => {
                s.schedule_at(next, Event::DebounceCheck);
            }
            Ok(()) => self.push(s),
        }
    }

    fn push(&mut self, s: &mut Scheduler<Event>) {
        let push = self.pushes.len() as u32;
        self.pushes.push(Rc::new(self.istiod_view.clone()));
        for proxy in 0..self.proxies.len() {
            let zone = self.proxies[proxy].zone;
            if !self.istiod_reaches(self.proxies[proxy].cluster) {
                continue;
            }
            if let Some(latency) = self.topology.typical_latency(self.control_plane_zone, zone) {
                s.schedule_in(PUSH_PROCESSING + latency, Event::EdsArrives(proxy as u32, push));
            }
        }
    }

    fn eds_arrives(&mut self, proxy: usize, push: usize, s: &mut Scheduler<Event>) {
        let view = Rc::clone(&self.pushes[push]);
        let client = self.client(self.proxies[proxy].zone);
        for upstream in 0..self.proxies[proxy].upstreams.len() {
            let (service, subset) = {
                let u = &self.proxies[proxy].upstreams[upstream];
                (u.service, u.subset.clone())
            };
            let built = self
                .translate(&client, service, subset.as_deref(), &view)
                .expect("the same translation succeeded at build time");
            self.proxies[proxy].upstreams[upstream].cluster.update_assignment(
                &built.assignment.assignment,
                s.now(),
                &mut self.streams.outlier,
            );
            self.rearm(proxy, upstream, s);
        }
    }

    // ----- faults -----

    fn target_pods(&self, target: &FaultTarget) -> Vec<usize> {
        let cluster_of = |name: &str| self.topology.clusters.iter().position(|(c, _)| c == name);
        let matches_deployment = |p: usize, cluster: &str, service: &str, version: &str| {
            let pod = &self.topology.pods[p];
            let svc = &self.config.app.services[pod.service];
            Some(pod.cluster) == cluster_of(cluster) && svc.name == service && svc.versions[pod.version].name == version
        };
        (0..self.topology.pods.len())
            .filter(|&p| match target {
                FaultTarget::Deployment { cluster, service, version } => {
                    matches_deployment(p, cluster, service, version)
                }
                FaultTarget::Pod { cluster, service, version, index } => {
                    matches_deployment(p, cluster, service, version) && self.topology.pods[p].ordinal == *index
                }
                FaultTarget::Zone(z) => self.topology.zones[self.topology.pods[p].zone].name == *z,
                FaultTarget::Region(r) => {
                    self.topology.regions[self.topology.zones[self.topology.pods[p].zone].region] == *r
                }
                FaultTarget::Backbone(..) | FaultTarget::ControlPlane | FaultTarget::SecurityGroupRule { .. } => false,
            })
            .collect()
    }

    fn target_zones(&self, target: &FaultTarget) -> Vec<usize> {
        (0..self.topology.zones.len())
            .filter(|&z| match target {
                FaultTarget::Zone(name) => self.topology.zones[z].name == *name,
                FaultTarget::Region(r) => self.topology.regions[self.topology.zones[z].region] == *r,
                _ => false,
            })
            .collect()
    }

    fn region_index(&self, name: &str) -> usize {
        self.topology.regions.iter().position(|r| r == name).expect("checked at build")
    }

    fn fault(&mut self, index: usize, starting: bool, s: &mut Scheduler<Event>) {
        let fault = self.config.faults[index].clone();
        if !starting && self.first_fault == Some(index) {
            self.fault_ended = Some(s.now());
        }
        if starting && self.fault_started.is_none() {
            self.fault_started = Some(s.now());
            self.first_fault = Some(index);
            for p in self.target_pods(&fault.target) {
                self.pods[p].faulted = true;
            }
        }
        let pods = self.target_pods(&fault.target);
        match &fault.kind {
            FaultKind::Respond(status) => self.set_behaviour(&pods, starting, Behaviour::Respond(*status), s),
            FaultKind::Refuse => self.set_behaviour(&pods, starting, Behaviour::Refuse, s),
            FaultKind::Hang => self.set_behaviour(&pods, starting, Behaviour::Hang, s),
            FaultKind::Slow(extra) => self.set_behaviour(&pods, starting, Behaviour::Slow(*extra), s),
            FaultKind::FailFraction(f, status) => {
                self.set_behaviour(&pods, starting, Behaviour::FailFraction(*f, *status), s)
            }
            FaultKind::ScaleTo(n) => {
                for &p in &pods {
                    let keep = self.topology.pods[p].ordinal < *n;
                    self.pods[p].exists = !starting || keep;
                    self.pod_changed(p, s);
                }
            }
            FaultKind::Outage => {
                for z in self.target_zones(&fault.target) {
                    self.down_zones[z] = starting;
                }
                for &p in &pods {
                    self.pods[p].down = starting;
                }
                if let FaultTarget::Region(r) = &fault.target {
                    let links = self.topology.links_of_region(self.region_index(r));
                    self.set_links(&links, starting, |link| link.cut = true);
                }
                s.schedule_in(SimDuration::ZERO, Event::IstiodSync);
            }
            FaultKind::Cut | FaultKind::Degrade { .. } => {
                let FaultTarget::Backbone(a, b) = &fault.target else { return };
                let links = self.topology.links_between(self.region_index(a), self.region_index(b));
                let kind = fault.kind.clone();
                self.set_links(&links, starting, move |link| match &kind {
                    FaultKind::Cut => link.cut = true,
                    FaultKind::Degrade { latency, loss, bandwidth_bps } => {
                        if let Some((min, max)) = latency {
                            link.min_latency = *min;
                            link.max_latency = *max;
                        }
                        if let Some(loss) = loss {
                            link.loss = *loss;
                        }
                        if let Some(bps) = bandwidth_bps {
                            link.bandwidth_bps = *bps;
                        }
                    }
                    _ => {}
                });
                if !starting {
                    // Reconnected: istiod resyncs and pushes what it missed.
                    s.schedule_in(SimDuration::ZERO, Event::IstiodSync);
                    self.push(s);
                }
            }
            FaultKind::RuleRemoved => {
                let FaultTarget::SecurityGroupRule { from, to } = &fault.target else { return };
                let (from, to) = (self.topology.cluster_index(from), self.topology.cluster_index(to));
                if let (Some(from), Some(to)) = (from, to) {
                    self.topology.set_blocked(from, to, starting);
                }
            }
            FaultKind::Unreachable => {
                self.control_plane_cut = starting;
                if !starting {
                    s.schedule_in(SimDuration::ZERO, Event::IstiodSync);
                    self.push(s);
                }
            }
        }
    }

    fn set_links(&mut self, links: &[usize], starting: bool, apply: impl Fn(&mut super::network::BackboneLink)) {
        for &l in links {
            if starting {
                self.saved_links[l].get_or_insert_with(|| self.topology.links[l].clone());
                apply(&mut self.topology.links[l]);
            } else if let Some(saved) = self.saved_links[l].take() {
                let link = &mut self.topology.links[l];
                link.min_latency = saved.min_latency;
                link.max_latency = saved.max_latency;
                link.loss = saved.loss;
                link.bandwidth_bps = saved.bandwidth_bps;
                link.cut = saved.cut;
            }
        }
    }

    fn set_behaviour(&mut self, pods: &[usize], starting: bool, behaviour: Behaviour, s: &mut Scheduler<Event>) {
        let probe_fails = matches!(behaviour, Behaviour::Refuse | Behaviour::Hang);
        let cp = &self.config.control_plane;
        let unready_after =
            SimDuration::from_nanos(cp.readiness_period.as_nanos() * u64::from(cp.readiness_failure_threshold));
        for &p in pods {
            let state = &mut self.pods[p];
            state.behaviour = if starting { behaviour } else { Behaviour::Normal };
            if let Some(handle) = state.unready_timer.take() {
                s.cancel(handle);
            }
            if starting && probe_fails {
                state.unready_timer = Some(s.schedule_in(unready_after, Event::PodUnready(p as u32)));
            } else if !starting && !state.ready {
                state.ready = true;
                self.pod_changed(p, s);
            }
        }
    }
}

impl Model for World {
    type Event = Event;

    fn handle(&mut self, event: Event, s: &mut Scheduler<Event>) {
        match event {
            Event::Arrival => {
                self.start_user_request(None, s);
                self.schedule_arrival(s.now(), s);
            }
            Event::UserSends(user) => {
                if let Arrivals::Users { limit, .. } = self.config.workload.arrivals
                    && limit.is_some_and(|l| self.closed_loop_sent >= l)
                {
                    return;
                }
                self.closed_loop_sent += 1;
                self.start_user_request(Some(user), s);
            }
            Event::AttemptStarts(index, serial) => self.start_attempt(index, serial, s),
            Event::ConnectFailed(index, generation, timed_out) => {
                let Some((serial, _)) = self.current_attempt(index, generation) else { return };
                let result = if timed_out { HostResult::Timeout } else { HostResult::ConnectFailed };
                self.close_attempt(index, serial, Some(result), true, s);
                self.after_try(index, serial, TryOutcome::ConnectFailure, 503, 0, s);
            }
            Event::RequestArrives(index, generation) => self.request_arrives(index, generation, s),
            Event::Reset(index, generation) => {
                let Some((serial, _)) = self.current_attempt(index, generation) else { return };
                self.close_attempt(index, serial, Some(HostResult::ConnectFailed), true, s);
                self.after_try(index, serial, TryOutcome::Reset, 503, 0, s);
            }
            Event::WorkDone(job, serial) => self.work_done(job, serial, s),
            Event::Answer(index, generation, status, markers) => {
                let Some((serial, _)) = self.current_attempt(index, generation) else { return };
                self.close_attempt(index, serial, Some(HostResult::Http(status)), false, s);
                self.after_try(index, serial, TryOutcome::Response(status), status, markers, s);
            }
            Event::TryTimeout(index, generation) => {
                let Some((serial, _)) = self.current_attempt(index, generation) else { return };
                if let Some(a) = self.calls.get_mut(index, serial).and_then(|c| c.attempt.as_mut()) {
                    a.per_try_timeout = None;
                }
                self.close_attempt(index, serial, Some(HostResult::Timeout), true, s);
                self.after_try(index, serial, TryOutcome::Timeout, 504, 0, s);
            }
            Event::RouteTimeout(index, serial) => {
                if let Some(call) = self.calls.get_mut(index, serial) {
                    call.route_timeout = None;
                    self.close_attempt(index, serial, Some(HostResult::Timeout), true, s);
                    self.end_call(index, serial, 504, 0, s);
                }
            }
            Event::ClusterTimer(proxy, upstream) => {
                let (proxy, upstream) = (proxy as usize, upstream as usize);
                let u = &mut self.proxies[proxy].upstreams[upstream];
                u.timer = None;
                if let Some(report) = u.cluster.on_timer(s.now(), &mut self.streams.outlier) {
                    for _ in report.detections.iter().filter(|d| d.outcome == EjectionOutcome::Ejected) {
                        self.metrics.ejection(s.now());
                    }
                }
                self.rearm(proxy, upstream, s);
            }
            Event::FaultStarts(i) => self.fault(i as usize, true, s),
            Event::FaultEnds(i) => self.fault(i as usize, false, s),
            Event::PodUnready(p) => {
                let p = p as usize;
                self.pods[p].unready_timer = None;
                self.pods[p].ready = false;
                self.pod_changed(p, s);
            }
            Event::IstiodSync => self.istiod_sync(s),
            Event::DebounceCheck => self.debounce_check(s),
            Event::EdsArrives(proxy, push) => self.eds_arrives(proxy as usize, push as usize, s),
        }
    }
}
