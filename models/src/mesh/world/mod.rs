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

use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;

use rand::{Rng, RngExt};
use sim::{EventHandle, KeyedDraws, Model, RandomStreams, Scheduler, SimDuration, SimTime, StreamRng};

use super::app::OnFailure;
use super::config::{Arrivals, FaultKind, FaultTarget, MeshConfig, USER_GAVE_UP};
use super::control_plane::Debouncer;
use super::event_log::EventLog;
use super::metrics::Metrics;
use super::network::Transit;
use super::topology::{ConfigError, Path, Topology};
use crate::envoy::cluster::{Pick, UpstreamCluster};
use crate::envoy::connection_pool::{PendingStream, Released};
use crate::envoy::host_set::{EdsHealth, EndpointId};
use crate::envoy::outlier_detection::{EjectionOutcome, HostResult};
use crate::envoy::retry::{RetryPolicy, TryOutcome};
use crate::envoy::route::pick_weighted;
use crate::istio::cluster::{TranslateError, build};
use crate::istio::envoy_filter::patched;
use crate::istio::locality::{Client, Locality, ServiceEndpoint};
use crate::istio::retry::route_policy;
use translations::{Translation, Translations};

mod calls;
mod explain;
mod faults;
mod istiod;
mod pods;
mod translations;
mod users;

/// Bytes of a handshake message (SYN, TLS records), for the loss and cut checks.
const HANDSHAKE_BYTES: u64 = 200;

/// Rows the event log keeps per run (repeats fold into one row; past this it only counts).
const EVENT_LOG_ROWS: usize = 20_000;
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
    /// A user stops waiting for request (index, serial).
    UserGivesUp(u32, u32),
    /// A call makes its next attempt (after a retry backoff, or at once).
    AttemptStarts(u32, u32),
    /// A new connection (index, serial) is up.
    ConnectionUp(u32, u32),
    /// A new connection (index, serial) was refused.
    ConnectionRefused(u32, u32),
    /// A new connection (index, serial) timed out.
    ConnectionTimedOut(u32, u32),
    /// An attempt's request reached its pod.
    RequestArrives(u32, u32),
    /// The connection was reset under an attempt.
    Reset(u32, u32),
    /// A job finished its own work.
    WorkDone(u32, u32),
    /// An attempt's answer reached the caller (what it says travels with the attempt).
    Answer(u32, u32),
    /// An attempt's per-try timeout expired.
    TryTimeout(u32, u32),
    /// A call's route timeout expired.
    RouteTimeout(u32, u32),
    /// An upstream cluster of a proxy is due for sweeps or merged updates.
    ClusterTimer(UpstreamId),
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

/// An upstream cluster of one proxy, by its place in the world's arena of every proxy's
/// clusters (each proxy's together, in the order the proxy was built with them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpstreamId(u32);

impl UpstreamId {
    fn index(self) -> usize {
        self.0 as usize
    }
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
    /// Requests its connection has carried, this one included; 0 while it waits for one.
    carried: u32,
    /// The generation events of this attempt carry.
    generation: u32,
    per_try_timeout: Option<EventHandle>,
    /// The pod's answer (status and markers) once the pod has sent it, for its Answer event.
    answer: Option<(u16, u32)>,
}

impl Attempt {
    /// The pod it went to (endpoints are numbered as the pods they stand for).
    fn pod(&self) -> usize {
        self.pick.endpoint.0 as usize
    }
}

/// What keyed draws about one piece of work are keyed by: the user request it serves (by its
/// number in the run) and the attempts of the calls that brought it there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DrawKey {
    request: u64,
    attempt: u32,
}

/// A call from a proxy to a service.
#[derive(Clone, Debug)]
struct Call {
    proxy: usize,
    /// The proxy's zone, where its requests leave from and its answers return to.
    zone: usize,
    upstream: UpstreamId,
    /// The proxy worker whose load balancer and connection pools serve every attempt: the
    /// worker the downstream connection landed on.
    worker: usize,
    parent: Parent,
    /// The user request served, and the attempt of the job that made the call (0 for the user's).
    key: DrawKey,
    retries: u32,
    tried: [EndpointId; 8],
    tried_count: usize,
    attempt: Option<Attempt>,
    route_timeout: Option<EventHandle>,
    /// Whether a retry of this call holds a slot of the cluster's max_retries breaker (from
    /// the retry decision until that retry's attempt ends).
    retry_in_flight: bool,
}

impl Call {
    /// Gives up the call's max_retries slot, if it holds one (from the retry decision until that
    /// retry's attempt ends): the cluster whose breaker counted it, for the world to free.
    fn take_retry_slot(&mut self) -> Option<UpstreamId> {
        std::mem::take(&mut self.retry_in_flight).then_some(self.upstream)
    }
}

/// A pod's work on one request.
#[derive(Clone, Debug)]
struct Job {
    pod: usize,
    /// The call (index, serial) and attempt generation it answers.
    caller: (u32, u32, u32),
    /// The user request served, and the attempts of the calls that brought the work here
    /// (each call's retries folded into its caller's number).
    key: DrawKey,
    next_call: usize,
    outstanding: u32,
    markers: u32,
    calls_ok: bool,
}

/// A connection being established, and whose pool it belongs to: the host as picked, so that
/// its pool is found by index while the cluster's endpoints stay as they were.
#[derive(Clone, Copy, Debug)]
struct Connecting {
    upstream: UpstreamId,
    worker: usize,
    pick: Pick,
}

/// A user request.
#[derive(Clone, Copy, Debug)]
struct UserRequest {
    started: SimTime,
    user: Option<u32>,
    /// The user's own timeout, while armed.
    give_up: Option<EventHandle>,
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
    /// Jobs waiting for a free slot, oldest first.
    #[expect(
        clippy::box_collection,
        reason = "8 bytes in every pod's state rather than 32: most pods never queue a job"
    )]
    queue: Option<Box<VecDeque<(u32, u32)>>>,
    /// Hit by the first fault (for time to shift).
    faulted: bool,
}

/// One upstream cluster of one proxy, with its timer and waiting calls.
struct ProxyUpstream {
    /// The proxy it belongs to, and the service it sends to (as `u32`: a large mesh holds
    /// thousands of these).
    proxy: u32,
    service: u32,
    subset: Option<Rc<str>>,
    cluster: UpstreamCluster,
    /// Its timer, due at the handle's time.
    timer: Option<EventHandle>,
}

impl ProxyUpstream {
    /// The proxy it belongs to.
    fn proxy(&self) -> usize {
        self.proxy as usize
    }

    /// The service it sends to.
    fn service(&self) -> usize {
        self.service as usize
    }
}

/// Whose Envoy a proxy is: a pod's sidecar, or a gateway replica (by index in the topology,
/// and its ordinal among its gateway's replicas).
#[derive(Clone, Copy, Debug)]
enum ProxyOf {
    Pod(u32),
    Gateway { index: u32, replica: u32 },
}

/// An Envoy: a gateway replica or a pod's sidecar. Its indices are `u32`: a large mesh holds
/// thousands of proxies.
struct Proxy {
    zone: u32,
    /// Its pod or gateway replica, which name it (named only when a run's outputs are written).
    of: ProxyOf,
    /// Where istiod thinks it runs (empty without node locality labels).
    locality: Rc<Locality>,
    cluster: u32,
    /// Its clusters in the world's arena.
    upstreams: std::ops::Range<u32>,
    /// Its route destinations' clusters, shared by every proxy that calls the same services.
    routes: Rc<RouteLayout>,
}

impl Proxy {
    /// Its zone.
    fn zone(&self) -> usize {
        self.zone as usize
    }

    /// Its Kubernetes cluster.
    fn cluster(&self) -> usize {
        self.cluster as usize
    }

    /// Its clusters.
    fn upstream_ids(&self) -> impl Iterator<Item = UpstreamId> + use<> {
        self.upstreams.clone().map(UpstreamId)
    }
}

/// Per service, the cluster of each route destination as an offset into a proxy's clusters
/// (empty: never called). Proxies that call the same services lay their clusters out alike.
type RouteLayout = Vec<Vec<u32>>;

/// A service's route as the proxies apply it.
struct ServiceRoute {
    weights: Vec<u32>,
    subsets: Vec<Option<Rc<str>>>,
    timeout: Option<SimDuration>,
    retry: RetryPolicy,
}

/// The random streams of the world, one per source of randomness. What a user request meets
/// on its way (service times, failures of a flaky pod, route and gateway picks) is keyed by the
/// request and attempt rather than drawn in order, so configurations compared with the same
/// seed give each request the same numbers wherever their settings send it.
struct Streams {
    arrivals: StreamRng,
    service: KeyedDraws,
    failures: KeyedDraws,
    balancing: StreamRng,
    outlier: StreamRng,
    retries: StreamRng,
    network: StreamRng,
    routing: KeyedDraws,
}

/// The whole simulated mesh.
pub struct World {
    config: Rc<MeshConfig>,
    topology: Topology,
    routes: Vec<ServiceRoute>,
    proxies: Vec<Proxy>,
    /// Every proxy's upstream clusters, each proxy's together.
    upstreams: Vec<ProxyUpstream>,
    /// The distinct route layouts of the proxies.
    route_layouts: Vec<Rc<RouteLayout>>,
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
    connections: Slab<Connecting>,
    log: EventLog,
    jobs: Slab<Job>,
    users: Slab<UserRequest>,
    streams: Streams,
    /// istiod's endpoint view: pods per service.
    istiod_view: Vec<Vec<usize>>,
    pushes: Vec<Rc<Vec<Vec<usize>>>>,
    translations: Translations,
    /// When the syncs istiod has scheduled are due (see `pod_changed`).
    istiod_syncs_due: BTreeSet<SimTime>,
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
            let (subsets, weights): (Vec<Option<Rc<str>>>, Vec<u32>) = match route {
                Some(r) if !r.destinations.is_empty() => {
                    r.destinations.iter().map(|(subset, weight)| (subset.as_deref().map(Rc::from), *weight)).unzip()
                }
                _ => (vec![None], vec![1]),
            };
            if weights.iter().all(|&w| w == 0) {
                return Err(config_error(format!("routes[{}].destinations", service.name), "all weights are zero"));
            }
            routes.push(ServiceRoute {
                weights,
                subsets,
                timeout: route.and_then(|r| r.timeout),
                retry: route_policy(route.and_then(|r| r.retries.as_ref()), config.istio.mesh.istio_version)
                    .map_err(|message| config_error(format!("routes[{}].retries.retryOn", service.name), message))?,
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
            upstreams: Vec::new(),
            route_layouts: Vec::new(),
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
                    queue: None,
                    faulted: false,
                })
                .collect(),
            calls: Slab::new(),
            connections: Slab::new(),
            log: EventLog::new(EVENT_LOG_ROWS),
            jobs: Slab::new(),
            users: Slab::new(),
            streams: Streams {
                arrivals: streams.stream("arrivals"),
                service: streams.keyed("service-times"),
                failures: streams.keyed("pod-failures"),
                balancing: streams.stream("load-balancing"),
                outlier: streams.stream("outlier-detection"),
                retries: streams.stream("retry-backoff"),
                network: streams.stream("network"),
                routing: streams.keyed("route-weights"),
            },
            istiod_view: Vec::new(),
            pushes: Vec::new(),
            translations: Translations::default(),
            istiod_syncs_due: BTreeSet::new(),
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
        // Gateways call the entry service; sidecars call what their version calls. The arena of
        // clusters is made to measure: grown by doubling, a large mesh's would be up to twice
        // the size it needs.
        let sidecar_callees =
            world.topology.pods.iter().map(|pod| world.callees[pod.service()][pod.version()].as_slice());
        let clusters = gateway_count * world.cluster_count(&[entry])
            + sidecar_callees.map(|callees| world.cluster_count(callees)).sum::<usize>();
        world.upstreams.reserve_exact(clusters);
        for g in 0..gateway_count {
            let zone = world.topology.gateways[g].zone;
            let gateway = &world.topology.gateways[g];
            let replica = world.topology.gateways[..g].iter().filter(|o| o.gateway == gateway.gateway).count();
            world.add_proxy(zone, ProxyOf::Gateway { index: g as u32, replica: replica as u32 }, &[entry])?;
            if world.topology.gateways[g].gateway == config.workload.gateway {
                world.entry_proxies.push(world.proxies.len() - 1);
            }
        }
        for p in 0..world.topology.pods.len() {
            let pod = &world.topology.pods[p];
            let callees = world.callees[pod.service()][pod.version()].clone();
            if !callees.is_empty() {
                world.add_proxy(pod.zone(), ProxyOf::Pod(p as u32), &callees)?;
                world.pod_proxy[p] = Some(world.proxies.len() - 1);
            }
        }
        debug_assert_eq!(world.upstreams.len(), clusters, "the arena was made to measure");
        for proxy in 0..world.proxies.len() {
            for upstream in world.proxies[proxy].upstream_ids() {
                world.rearm(upstream, scheduler);
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

    /// The name of the share service's version `version` (empty if no service is the share
    /// service, when no share is counted).
    pub fn share_version(&self, version: usize) -> &str {
        self.share_service.map_or("", |service| &self.config.app.services[service].versions[version].name)
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
                view[pod.service()].push(p);
            }
        }
        view
    }

    /// How many clusters a proxy calling `callees` has: one per route destination of each
    /// service it calls.
    fn cluster_count(&self, callees: &[usize]) -> usize {
        let first_mentions = callees.iter().enumerate().filter(|&(i, service)| !callees[..i].contains(service));
        first_mentions.map(|(_, &service)| self.routes[service].subsets.len()).sum()
    }

    /// Adds the Envoy of `of`, in `zone`, with a cluster for each route destination of each
    /// service in `callees`.
    fn add_proxy(&mut self, zone: usize, of: ProxyOf, callees: &[usize]) -> Result<(), BuildError> {
        // `workload`: the service of its pod, or its gateway's name (what EnvoyFilter patches select).
        let (cluster, locality, workload) = match of {
            ProxyOf::Pod(p) => {
                let pod = &self.topology.pods[p as usize];
                let service = self.config.app.services[pod.service()].name.clone();
                (pod.cluster(), pod.locality.clone(), service)
            }
            ProxyOf::Gateway { index, .. } => {
                let gateway = &self.topology.gateways[index as usize];
                (gateway.cluster, gateway.locality.clone(), gateway.gateway.clone())
            }
        };
        let first = self.upstreams.len();
        let mut routes: RouteLayout = vec![Vec::new(); self.routes.len()];
        for &service in callees {
            if !routes[service].is_empty() {
                continue;
            }
            for subset in self.routes[service].subsets.clone() {
                let Translation { settings, table } =
                    self.translation(&locality, service, subset.as_ref(), None).map_err(BuildError::Istio)?;
                let service_name = &self.config.app.services[service].name;
                let settings = patched(&self.config.istio.envoy_overrides, &workload, service_name, settings);
                let cluster = UpstreamCluster::new(settings, table, SimTime::ZERO, &mut self.streams.outlier);
                routes[service].push((self.upstreams.len() - first) as u32);
                let owner = self.proxies.len();
                self.upstreams.push(ProxyUpstream {
                    proxy: owner as u32,
                    service: service as u32,
                    subset,
                    cluster,
                    timer: None,
                });
            }
        }
        let routes = match self.route_layouts.iter().find(|layout| ***layout == routes) {
            Some(shared) => Rc::clone(shared),
            None => {
                let layout = Rc::new(routes);
                self.route_layouts.push(Rc::clone(&layout));
                layout
            }
        };
        let upstreams = first as u32..self.upstreams.len() as u32;
        self.proxies.push(Proxy { zone: zone as u32, of, locality, cluster: cluster as u32, upstreams, routes });
        Ok(())
    }

    /// The cluster through which `proxy` sends to destination `destination` of `service`.
    fn route(&self, proxy: usize, service: usize, destination: usize) -> UpstreamId {
        let proxy = &self.proxies[proxy];
        UpstreamId(proxy.upstreams.start + proxy.routes[service][destination])
    }

    /// Keeps one timer per upstream cluster at its next due time, and logs its events.
    fn rearm(&mut self, upstream: UpstreamId, s: &mut Scheduler<Event>) {
        if !self.upstreams[upstream.index()].cluster.take_changed() {
            return;
        }
        self.log_cluster_events(upstream, s.now());
        let u = &mut self.upstreams[upstream.index()];
        let next = u.cluster.next_timer();
        if u.timer.map(EventHandle::time) == next {
            return;
        }
        if let Some(handle) = u.timer.take() {
            s.cancel(handle);
        }
        if let Some(t) = next {
            let t = t.max(s.now());
            u.timer = Some(s.schedule_at(t, Event::ClusterTimer(upstream)));
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
}

impl Model for World {
    type Event = Event;

    fn handle(&mut self, event: Event, s: &mut Scheduler<Event>) {
        match event {
            Event::Arrival => {
                self.start_user_request(None, s);
                if self.config.workload.requests.is_none_or(|limit| self.metrics.sent < limit) {
                    self.schedule_arrival(s.now(), s);
                }
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
            Event::UserGivesUp(request, serial) => self.user_gives_up(request, serial, s),
            Event::AttemptStarts(index, serial) => self.start_attempt(index, serial, s),
            Event::ConnectionUp(index, serial) => self.connection_up(index, serial, s),
            Event::ConnectionRefused(index, serial) => self.connection_failed(index, serial, false, s),
            Event::ConnectionTimedOut(index, serial) => self.connection_failed(index, serial, true, s),
            Event::RequestArrives(index, generation) => self.request_arrives(index, generation, s),
            Event::Reset(index, generation) => {
                let Some((serial, _)) = self.current_attempt(index, generation) else { return };
                self.close_attempt(index, serial, Some(HostResult::ConnectFailed), true, s);
                self.after_try(index, serial, TryOutcome::Reset, 503, 0, s);
            }
            Event::WorkDone(job, serial) => self.work_done(job, serial, s),
            Event::Answer(index, generation) => {
                let Some((serial, attempt)) = self.current_attempt(index, generation) else { return };
                let (status, markers) = attempt.answer.expect("an answer event follows its attempt's answer");
                self.close_attempt(index, serial, Some(HostResult::Http(status)), false, s);
                self.after_try(index, serial, TryOutcome::Response(status), status, markers, s);
            }
            Event::TryTimeout(index, generation) => {
                let Some((serial, _)) = self.current_attempt(index, generation) else { return };
                if let Some(call) = self.calls.get_mut(index, serial) {
                    let upstream = call.upstream;
                    if let Some(a) = call.attempt.as_mut() {
                        a.per_try_timeout = None;
                    }
                    self.upstreams[upstream.index()].cluster.stats_mut().others_mut().upstream_rq_per_try_timeout += 1;
                }
                self.close_attempt(index, serial, Some(HostResult::Timeout), true, s);
                self.after_try(index, serial, TryOutcome::Timeout, 504, 0, s);
            }
            Event::RouteTimeout(index, serial) => {
                if let Some(call) = self.calls.get_mut(index, serial) {
                    call.route_timeout = None;
                    self.upstreams[call.upstream.index()].cluster.stats_mut().others_mut().upstream_rq_timeout += 1;
                    self.close_attempt(index, serial, Some(HostResult::Timeout), true, s);
                    self.end_call(index, serial, 504, 0, s);
                }
            }
            Event::ClusterTimer(upstream) => {
                let u = &mut self.upstreams[upstream.index()];
                u.timer = None;
                if let Some(report) = u.cluster.on_timer(s.now(), &mut self.streams.outlier) {
                    for _ in report.detections.iter().filter(|d| d.outcome == EjectionOutcome::Ejected) {
                        self.metrics.ejection(s.now());
                    }
                }
                self.rearm(upstream, s);
            }
            Event::FaultStarts(i) => self.fault(i as usize, true, s),
            Event::FaultEnds(i) => self.fault(i as usize, false, s),
            Event::PodUnready(p) => {
                let p = p as usize;
                self.log.push(s.now(), None, None, Some(self.topology.pods[p].endpoint), "pod_unready", String::new());
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
