//! What a simulated mesh is made of: regions, network, clusters and their workloads, the control
//! plane, the application, the Istio configuration, the workload, the faults and what to measure.
//!
//! Plain data, built by the `experiments` crate from a scenario file (or by tests directly).
//! Names refer to each other (a deployment's zone, a fault's target); building the world checks
//! every reference and names the first one that leads nowhere.

use sim::SimDuration;

use super::app::App;
use crate::istio::api::{DestinationRule, HttpRetry};
use crate::istio::cluster::MeshSettings;
use crate::istio::envoy_filter::EnvoyOverride;

/// A whole simulated mesh and the experiment run on it.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshConfig {
    /// Seed of every random stream of the run.
    pub seed: u64,
    /// Simulated time to run.
    pub duration: SimDuration,
    /// Regions and their zones.
    pub regions: Vec<Region>,
    /// Latencies and backbone links.
    pub network: NetworkConfig,
    /// Kubernetes clusters and what runs in them.
    pub clusters: Vec<KubeCluster>,
    /// istiod's location and timing.
    pub control_plane: ControlPlaneConfig,
    /// The application's services.
    pub app: App,
    /// Istio configuration.
    pub istio: IstioConfig,
    /// The traffic offered.
    pub workload: Workload,
    /// Timed faults.
    pub faults: Vec<Fault>,
    /// What to measure.
    pub metrics: MetricsConfig,
}

/// A cloud region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// E.g. `cn-hangzhou`.
    pub name: String,
    /// Its zones, e.g. `cn-hangzhou-k`.
    pub zones: Vec<String>,
}

/// Latency within regions and the backbone between them.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkConfig {
    /// One-way latency between two workloads of one zone.
    pub intra_zone: SimDuration,
    /// One-way latency between zones of one region.
    pub inter_zone: SimDuration,
    /// Inter-region connections.
    pub backbone: Vec<BackboneConfig>,
    /// Extra round trips a new connection costs before its first request (TCP + mTLS: 2).
    pub handshake_round_trips: u32,
    /// `(from cluster, to cluster)` pairs whose traffic the destination's security group drops:
    /// connections from one to the other time out.
    pub blocked: Vec<(String, String)>,
}

/// One inter-region connection (both directions alike).
#[derive(Clone, Debug, PartialEq)]
pub struct BackboneConfig {
    /// The two regions it joins.
    pub regions: (String, String),
    /// One-way latency range.
    pub min_latency: SimDuration,
    /// One-way latency range.
    pub max_latency: SimDuration,
    /// Purchased bandwidth per direction, bits per second (0: none purchased).
    pub bandwidth_bps: u64,
    /// Fraction of messages lost.
    pub loss: f64,
    /// Longest queueing before a message is dropped.
    pub buffer: SimDuration,
}

/// A Kubernetes cluster joined to the mesh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeCluster {
    /// E.g. `ack-hangzhou`.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Its application deployments.
    pub deployments: Vec<Deployment>,
    /// Its ingress gateways.
    pub gateways: Vec<Gateway>,
}

/// A deployment: `replicas` pods of one version of one service in one zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    /// The service its pods back.
    pub service: String,
    /// The `version` label.
    pub version: String,
    /// The zone its pods run in.
    pub zone: String,
    /// Number of pods.
    pub replicas: u32,
    /// Requests a pod serves at once; more wait in its queue.
    pub concurrency: u32,
    /// Whether its nodes carry the `topology.kubernetes.io/region` and `zone` labels Istio reads
    /// localities from; without them its proxies and endpoints have no locality.
    pub locality_labels: bool,
}

/// An ingress gateway deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gateway {
    /// Its name, referred to by the workload.
    pub name: String,
    /// The zone its replicas run in.
    pub zone: String,
    /// Number of replicas (each its own Envoy).
    pub replicas: u32,
    /// Whether its nodes carry the region and zone labels (see [`Deployment::locality_labels`]).
    pub locality_labels: bool,
}

/// istiod: where it runs and how it pushes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlPlaneConfig {
    /// The region it runs in.
    pub region: String,
    /// PILOT_DEBOUNCE_AFTER.
    pub debounce_after: SimDuration,
    /// PILOT_DEBOUNCE_MAX.
    pub debounce_max: SimDuration,
    /// Time from a pod change to istiod seeing it (API server watch), within its region.
    pub watch_delay: SimDuration,
    /// Readiness probe period.
    pub readiness_period: SimDuration,
    /// Readiness probe failures before a pod is unready.
    pub readiness_failure_threshold: u32,
}

/// The Istio resources in force.
#[derive(Clone, Debug, PartialEq)]
pub struct IstioConfig {
    /// Mesh-wide settings and versions.
    pub mesh: MeshSettings,
    /// DestinationRules, by host.
    pub destination_rules: Vec<DestinationRule>,
    /// HTTP routes (from VirtualServices), by host.
    pub routes: Vec<Route>,
    /// Envoy worker threads per proxy.
    pub proxy_concurrency: usize,
    /// Cluster settings patched outside Istio's API (EnvoyFilter), in order.
    pub envoy_overrides: Vec<EnvoyOverride>,
}

/// The route to one host: weighted destinations, timeout, retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The service.
    pub host: String,
    /// Subsets (or the whole service, `None`) and their weights.
    pub destinations: Vec<(Option<String>, u32)>,
    /// Route timeout; none by default.
    pub timeout: Option<SimDuration>,
    /// Retries; Istio's default policy when `None`.
    pub retries: Option<HttpRetry>,
}

/// The offered traffic, entering at an ingress gateway.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// The gateway users reach.
    pub gateway: String,
    /// The service the gateway routes to.
    pub entry_service: String,
    /// When the first request is sent.
    pub start: SimDuration,
    /// How requests arrive.
    pub arrivals: Arrivals,
    /// Open loop: stop after this many requests in all, so a run can end with nothing in
    /// flight (closed-loop users have their own `limit`).
    pub requests: Option<u64>,
    /// How long a user waits before giving up (what `curl -m` does): the request then counts as
    /// failed for the user, and goes on in the mesh until Envoy's own timeouts end it.
    pub user_timeout: Option<SimDuration>,
}

/// The status a request that the user gave up on is counted with (curl's "operation timed out"
/// has no HTTP status).
pub const USER_GAVE_UP: u16 = 0;

/// Request arrival processes.
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    /// Open loop, exponential gaps at this mean rate (per second).
    Poisson {
        /// Requests per second.
        rate: f64,
    },
    /// Open loop, evenly spaced.
    Constant {
        /// Requests per second.
        rate: f64,
    },
    /// Open loop, a rate per interval: `(from, rate)` steps.
    Steps {
        /// From each time on, this rate (per second, Poisson).
        steps: Vec<(SimDuration, f64)>,
    },
    /// Closed loop: `users` each send, wait for the answer, think, send again.
    Users {
        /// Concurrent users.
        users: u32,
        /// Pause between an answer and the next request.
        think_time: SimDuration,
        /// Stop after this many requests in all (e.g. the seed's 10 curls), if set.
        limit: Option<u64>,
    },
}

/// A timed fault.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// When it starts.
    pub start: SimDuration,
    /// When it ends, if it does.
    pub end: Option<SimDuration>,
    /// What it hits.
    pub target: FaultTarget,
    /// What it does.
    pub kind: FaultKind,
}

/// What a fault hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultTarget {
    /// Every pod of a deployment.
    Deployment {
        /// Cluster name.
        cluster: String,
        /// Service.
        service: String,
        /// Version.
        version: String,
    },
    /// One pod of a deployment (by index).
    Pod {
        /// Cluster name.
        cluster: String,
        /// Service.
        service: String,
        /// Version.
        version: String,
        /// Pod index, from 0.
        index: u32,
    },
    /// A whole zone.
    Zone(String),
    /// A whole region.
    Region(String),
    /// The backbone connection between two regions.
    Backbone(String, String),
    /// The security-group rule letting cluster `from` reach cluster `to`.
    SecurityGroupRule {
        /// Source cluster.
        from: String,
        /// Destination cluster (whose security group holds the rule).
        to: String,
    },
    /// istiod itself (unreachable from every cluster).
    ControlPlane,
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Pods answer every request with this status.
    Respond(u16),
    /// Pods refuse connections.
    Refuse,
    /// Pods accept requests and never answer.
    Hang,
    /// Pods take this much longer per request.
    Slow(SimDuration),
    /// Pods fail this fraction of requests with this status.
    FailFraction(f64, u16),
    /// The deployment is scaled to this many pods (their endpoints leave EDS).
    ScaleTo(u32),
    /// Everything in the zone or region is gone: pods, gateways, its side of the backbone. Its
    /// endpoints stay in EDS (the control plane cannot see the region to remove them).
    Outage,
    /// The backbone connection drops everything.
    Cut,
    /// The backbone connection degrades.
    Degrade {
        /// New one-way latency range, if changed.
        latency: Option<(SimDuration, SimDuration)>,
        /// New loss fraction, if changed.
        loss: Option<f64>,
        /// New bandwidth (bits/s), if changed.
        bandwidth_bps: Option<u64>,
    },
    /// The control plane cannot reach any cluster: proxies keep their last endpoints.
    Unreachable,
    /// The security-group rule is removed: new connections from the source time out.
    RuleRemoved,
}

/// Metric settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsConfig {
    /// Width of a time-series window.
    pub window: SimDuration,
    /// Success ratio a window must reach to meet the SLO (e.g. 0.99).
    pub slo_success: f64,
    /// The service whose traffic shares per locality and version are reported.
    pub share_service: String,
    /// The page line counted per response (Bookinfo: "full stars").
    pub marker: String,
    /// The share of the share service's answers a region is configured to get (e.g. 0.1 for a
    /// 90/10 distribution), to report the split error against.
    pub expected_share: Option<(String, f64)>,
}

/// A short label, e.g. `reviews v1 @ ack-hangzhou: scale to 0` (timeline plots, event log).
impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.target {
            FaultTarget::Deployment { cluster, service, version } => format!("{service} {version} @ {cluster}"),
            FaultTarget::Pod { cluster, service, version, index } => {
                format!("{service} {version} #{index} @ {cluster}")
            }
            FaultTarget::Zone(z) => z.clone(),
            FaultTarget::Region(r) => r.clone(),
            FaultTarget::Backbone(a, b) => format!("{a} <-> {b}"),
            FaultTarget::ControlPlane => "istiod".into(),
            FaultTarget::SecurityGroupRule { from, to } => format!("{from} -> {to} rule"),
        };
        let action = match &self.kind {
            FaultKind::Respond(status) => format!("{status}s"),
            FaultKind::Refuse => "refuses".into(),
            FaultKind::Hang => "hangs".into(),
            FaultKind::Slow(d) => format!("+{d}"),
            FaultKind::FailFraction(fraction, status) => format!("{:.0}% {status}s", fraction * 100.0),
            FaultKind::ScaleTo(n) => format!("scale to {n}"),
            FaultKind::Outage => "outage".into(),
            FaultKind::Cut => "cut".into(),
            FaultKind::Degrade { .. } => "degraded".into(),
            FaultKind::Unreachable => "unreachable".into(),
            FaultKind::RuleRemoved => "removed".into(),
        };
        write!(f, "{target}: {action}")
    }
}
