//! The scenario file: its YAML schema, field for field as `SCENARIOS.md` documents it. Every
//! struct refuses unknown fields, so a typo is an error with its line, not a silent default.

use ipnet::IpNet;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;

use super::istio::LocalityLbSettingDoc;
use super::units::{Bandwidth, Duration};

/// A scenario file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Short name, used for the output folder.
    pub name: String,
    /// What the scenario shows, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed of the run (replication 0); `--seed` overrides.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Simulated time to run.
    pub duration: Duration,
    /// Envoy release of every proxy (default 1.40).
    #[serde(default)]
    pub envoy_version: Option<String>,
    /// Istio release of the control plane (default 1.30).
    #[serde(default)]
    pub istio_version: Option<String>,
    /// Regions and zones.
    pub regions: Vec<RegionDoc>,
    /// Latencies inside regions.
    #[serde(default)]
    pub network: Option<NetworkDoc>,
    /// VPCs and their vSwitches.
    #[serde(default)]
    pub vpcs: Vec<VpcDoc>,
    /// The Cloud Enterprise Network.
    #[serde(default)]
    pub cen: Option<CenDoc>,
    /// Inbound security-group rules; a cluster not listed accepts everything.
    #[serde(default)]
    pub security_groups: Vec<SecurityGroupDoc>,
    /// Kubernetes clusters.
    pub clusters: Vec<ClusterDoc>,
    /// istiod.
    pub control_plane: ControlPlaneDoc,
    /// The application.
    pub app: AppDoc,
    /// Istio configuration.
    #[serde(default)]
    pub istio: IstioDoc,
    /// The traffic offered.
    pub workload: WorkloadDoc,
    /// Timed faults.
    #[serde(default)]
    pub faults: Vec<FaultDoc>,
    /// Metric settings.
    #[serde(default)]
    pub metrics: MetricsDoc,
}

/// `regions[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionDoc {
    /// Region name.
    pub name: String,
    /// Its zones.
    pub zones: Vec<String>,
}

/// `network`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDoc {
    /// One-way latency within a zone (default 200us).
    #[serde(default)]
    pub intra_zone: Option<Duration>,
    /// One-way latency between zones of a region (default 1ms).
    #[serde(default)]
    pub inter_zone: Option<Duration>,
    /// Round trips a new connection costs before its request (default 2: TCP + mTLS).
    #[serde(default)]
    pub handshake_round_trips: Option<u32>,
}

/// `vpcs[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcDoc {
    /// VPC name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Its CIDR block.
    #[serde(deserialize_with = "super::units::cidr")]
    pub cidr: IpNet,
    /// Its vSwitches.
    #[serde(default)]
    pub vswitches: Vec<VswitchDoc>,
}

/// `vpcs[].vswitches[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VswitchDoc {
    /// vSwitch name.
    pub name: String,
    /// Its CIDR block (inside the VPC's).
    #[serde(deserialize_with = "super::units::cidr")]
    pub cidr: IpNet,
    /// Its zone, if stated.
    #[serde(default)]
    pub zone: Option<String>,
}

/// `cen`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CenDoc {
    /// Transit routers, one per region, with the VPCs attached.
    #[serde(default)]
    pub transit_routers: Vec<TransitRouterDoc>,
    /// Inter-region connections.
    #[serde(default)]
    pub connections: Vec<ConnectionDoc>,
}

/// `cen.transit_routers[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitRouterDoc {
    /// Router name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// VPCs attached.
    #[serde(default)]
    pub vpcs: Vec<String>,
}

/// `cen.connections[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionDoc {
    /// The two regions.
    pub regions: [String; 2],
    /// One-way latency range.
    pub latency: LatencyDoc,
    /// Purchased bandwidth: `none`, `1kbps` (CEN's free test bandwidth) or a plan (`100Mbps`).
    pub bandwidth: Bandwidth,
    /// Fraction of messages lost (default 0).
    #[serde(default)]
    pub loss: f64,
    /// Longest queueing before drops (default 100ms).
    #[serde(default)]
    pub buffer: Option<Duration>,
}

/// A latency range.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyDoc {
    /// Shortest.
    pub min: Duration,
    /// Longest.
    pub max: Duration,
}

/// `security_groups[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupDoc {
    /// The cluster whose nodes the group protects.
    pub cluster: String,
    /// Source CIDRs allowed in (besides the cluster itself).
    #[serde(deserialize_with = "super::units::cidrs")]
    pub allow: Vec<IpNet>,
}

/// `clusters[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterDoc {
    /// Cluster name.
    pub name: String,
    /// Its region.
    pub region: Spanned<String>,
    /// Its VPC.
    #[serde(default)]
    pub vpc: Option<String>,
    /// `flannel` or `terway` (default flannel).
    #[serde(default)]
    pub network_plugin: Option<String>,
    /// Pod CIDR.
    #[serde(default, deserialize_with = "super::units::optional_cidr")]
    pub pod_cidr: Option<IpNet>,
    /// Service CIDR.
    #[serde(default, deserialize_with = "super::units::optional_cidr")]
    pub service_cidr: Option<IpNet>,
    /// Deployments.
    #[serde(default)]
    pub deployments: Vec<DeploymentDoc>,
    /// Ingress gateways.
    #[serde(default)]
    pub gateways: Vec<GatewayDoc>,
    /// Istio network (`topology.istio.io/network`); clusters on different networks reach each
    /// other through east-west gateways (default: one flat network, as over CEN).
    #[serde(default)]
    pub network: Option<String>,
}

/// `clusters[].deployments[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentDoc {
    /// Service.
    pub service: Spanned<String>,
    /// Version label.
    pub version: Spanned<String>,
    /// Zone of its pods (nodes' `topology.kubernetes.io/zone`).
    pub zone: Spanned<String>,
    /// Pods.
    pub replicas: u32,
    /// Requests a pod serves at once (default 16).
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Whether its nodes carry the region/zone labels Istio reads localities from (default true).
    #[serde(default)]
    pub locality_labels: Option<bool>,
}

/// `clusters[].gateways[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayDoc {
    /// Gateway name.
    pub name: String,
    /// Zone of its replicas.
    pub zone: Spanned<String>,
    /// Replicas (default 1).
    #[serde(default)]
    pub replicas: Option<u32>,
    /// Whether its nodes carry the region/zone labels (default true).
    #[serde(default)]
    pub locality_labels: Option<bool>,
}

/// `istio.envoy_overrides[]`: one EnvoyFilter cluster patch.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvoyOverrideDoc {
    /// The upstream service whose clusters it patches (default: every cluster).
    #[serde(default)]
    pub service: Option<Spanned<String>>,
    /// The service or gateway whose proxies it patches (default: every proxy).
    #[serde(default)]
    pub proxies: Option<Spanned<String>>,
    /// `outlier_detection.always_eject_one_host`.
    #[serde(default)]
    pub always_eject_one_host: Option<bool>,
    /// `outlier_detection.max_ejection_time`.
    #[serde(default)]
    pub max_ejection_time: Option<Duration>,
    /// `common_lb_config.update_merge_window`.
    #[serde(default)]
    pub update_merge_window: Option<Duration>,
    /// `common_lb_config.healthy_panic_threshold`, percent.
    #[serde(default)]
    pub healthy_panic_threshold: Option<u32>,
}

/// `control_plane`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneDoc {
    /// Region istiod runs in.
    pub region: Spanned<String>,
    /// PILOT_DEBOUNCE_AFTER (default 100ms).
    #[serde(default)]
    pub debounce_after: Option<Duration>,
    /// PILOT_DEBOUNCE_MAX (default 10s).
    #[serde(default)]
    pub debounce_max: Option<Duration>,
    /// API-server watch delay (default 50ms).
    #[serde(default)]
    pub watch_delay: Option<Duration>,
    /// Readiness probe period (default 10s).
    #[serde(default)]
    pub readiness_period: Option<Duration>,
    /// Readiness failures before unready (default 3).
    #[serde(default)]
    pub readiness_failure_threshold: Option<u32>,
}

/// `app`: `bookinfo`, or services spelled out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum AppDoc {
    /// The built-in Bookinfo.
    Builtin(String),
    /// Services spelled out.
    Services(Vec<ServiceDoc>),
}

/// `app.services[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDoc {
    /// Service name.
    pub name: String,
    /// Request size in bytes (default 800).
    #[serde(default)]
    pub request_bytes: Option<u64>,
    /// Response size in bytes (default 2000).
    #[serde(default)]
    pub response_bytes: Option<u64>,
    /// Versions.
    pub versions: Vec<VersionDoc>,
}

/// `app.services[].versions[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionDoc {
    /// Version name.
    pub name: String,
    /// Work per request.
    pub service_time: DelayDoc,
    /// Calls made per request.
    #[serde(default)]
    pub calls: Vec<CallDoc>,
    /// Calls go out together (default: one after another).
    #[serde(default)]
    pub parallel: bool,
    /// Marker lines its answer carries when its calls succeed.
    #[serde(default)]
    pub markers: u32,
}

/// A service-time distribution.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum DelayDoc {
    /// Always this long.
    Constant(Duration),
    /// Exponential with this mean.
    Exponential(Duration),
}

/// `calls[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallDoc {
    /// Service called.
    pub service: String,
    /// `degrade` (default) or `{fail: STATUS}`.
    #[serde(default)]
    pub on_failure: Option<OnFailureDoc>,
}

/// What a caller does when a call fails.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum OnFailureDoc {
    /// Answer 200 without that part.
    Degrade,
    /// Answer with this status.
    Fail(u16),
}

/// `istio`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IstioDoc {
    /// Envoy worker threads per proxy (default 2).
    #[serde(default)]
    pub proxy_concurrency: Option<usize>,
    /// Alibaba Cloud Service Mesh release, when the mesh is ASM (e.g. `1.22.6.66`), for the
    /// checks of features ASM gates by release.
    #[serde(default)]
    pub asm_version: Option<String>,
    /// Envoy's update_merge_window (default 1s).
    #[serde(default)]
    pub update_merge_window: Option<Duration>,
    /// First outlier sweep after cluster creation: `random` (default) or a duration.
    #[serde(default)]
    pub sweep_phase: Option<String>,
    /// Cluster settings patched outside Istio's API (what an EnvoyFilter does), in order.
    #[serde(default)]
    pub envoy_overrides: Vec<EnvoyOverrideDoc>,
    /// The mesh config fragment, as in Istio (`localityLbSetting`).
    #[serde(default)]
    pub mesh_config: Option<MeshConfigDoc>,
    /// ASM console geolocation settings.
    #[serde(default)]
    pub geolocation: Option<GeolocationDoc>,
    /// Istio resources, a multi-document YAML block, unchanged (with where it was written).
    #[serde(default)]
    pub resources: Option<Spanned<String>>,
    /// Files of Istio resources, relative to the scenario file.
    #[serde(default)]
    pub resource_files: Vec<String>,
}

/// `istio.mesh_config`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MeshConfigDoc {
    /// `localityLbSetting`.
    #[serde(default)]
    pub locality_lb_setting: Option<LocalityLbSettingDoc>,
    /// Other mesh settings, not modelled.
    #[serde(default)]
    pub default_config: Option<IgnoredAny>,
}

/// `istio.geolocation`: the ASM console's locality settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeolocationDoc {
    /// Region failover pairs (`enable geolocation-based failover`).
    #[serde(default)]
    pub failover: Vec<RegionPairDoc>,
    /// Cross-region traffic distribution.
    #[serde(default)]
    pub distribution: Vec<DistributionDoc>,
}

/// A failover pair.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPairDoc {
    /// Client region.
    pub from: String,
    /// Region to fail over to.
    pub to: String,
}

/// A distribution rule: from a region, this percentage to another region, the rest stays.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionDoc {
    /// Client region.
    pub from: String,
    /// Target region.
    pub to: String,
    /// Percentage sent there.
    pub percent: u32,
}

/// `workload`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadDoc {
    /// Gateway users reach.
    pub gateway: Spanned<String>,
    /// Service behind it (default productpage).
    #[serde(default)]
    pub entry_service: Option<Spanned<String>>,
    /// When the first request is sent (default 0s).
    #[serde(default)]
    pub start: Option<Duration>,
    /// How requests arrive.
    pub arrivals: ArrivalsDoc,
    /// Open loop: requests in all, then arrivals stop.
    #[serde(default)]
    pub requests: Option<u64>,
    /// How long a user waits before giving up (`curl -m`).
    #[serde(default)]
    pub timeout: Option<Duration>,
}

/// Arrival processes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ArrivalsDoc {
    /// Poisson, requests per second.
    Poisson(f64),
    /// Evenly spaced, requests per second.
    Constant(f64),
    /// Poisson with a rate per step.
    Steps(Vec<StepDoc>),
    /// A rate rising linearly.
    Ramp(RampDoc),
    /// Closed-loop users.
    Users(UsersDoc),
}

/// A step of rate.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDoc {
    /// From when.
    pub at: Duration,
    /// Requests per second.
    pub rate: f64,
}

/// A linear ramp, approximated by one-second steps.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RampDoc {
    /// Rate at the start.
    pub from: f64,
    /// Rate at the end.
    pub to: f64,
    /// Ramp length.
    pub over: Duration,
}

/// Closed-loop users.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersDoc {
    /// Concurrent users.
    pub count: u32,
    /// Pause between answer and next request (default 0s).
    #[serde(default)]
    pub think_time: Option<Duration>,
    /// Total requests, if limited.
    #[serde(default)]
    pub requests: Option<u64>,
}

/// `faults[]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultDoc {
    /// Start.
    pub at: Duration,
    /// End, if any.
    #[serde(default)]
    pub until: Option<Duration>,
    /// What it hits.
    pub target: Spanned<TargetDoc>,
    /// What it does.
    pub action: ActionDoc,
}

/// A fault target.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum TargetDoc {
    /// Every pod of a deployment.
    Deployment(DeploymentRefDoc),
    /// One pod of a deployment.
    Pod(PodRefDoc),
    /// A zone.
    Zone(String),
    /// A region.
    Region(String),
    /// A backbone connection.
    Backbone([String; 2]),
    /// A security-group rule letting one cluster reach another.
    SecurityGroupRule(SecurityGroupRuleDoc),
    /// istiod.
    ControlPlane,
}

/// A deployment reference.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRefDoc {
    /// Cluster.
    pub cluster: String,
    /// Service.
    pub service: String,
    /// Version.
    pub version: String,
}

/// A pod reference.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodRefDoc {
    /// Cluster.
    pub cluster: String,
    /// Service.
    pub service: String,
    /// Version.
    pub version: String,
    /// Pod index from 0.
    pub index: u32,
}

/// A fault's action.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ActionDoc {
    /// Answer every request with this status.
    Respond(u16),
    /// Refuse connections.
    Refuse,
    /// Accept and never answer.
    Hang,
    /// Take this much longer.
    Slow(Duration),
    /// Fail a fraction of requests.
    FailFraction(FailFractionDoc),
    /// Scale the deployment to this many pods.
    ScaleTo(u32),
    /// Zone or region outage.
    Outage,
    /// Backbone cut.
    Cut,
    /// Backbone degraded.
    Degrade(DegradeDoc),
    /// Control plane unreachable.
    Unreachable,
    /// Security-group rule removed.
    RuleRemoved,
}

/// `{security_group_rule: {from, to}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupRuleDoc {
    /// Source cluster.
    pub from: String,
    /// Destination cluster.
    pub to: String,
}

/// `fail_fraction`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailFractionDoc {
    /// Fraction of requests failed.
    pub fraction: f64,
    /// Their status (default 503).
    #[serde(default)]
    pub status: Option<u16>,
}

/// `degrade`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegradeDoc {
    /// New latency range.
    #[serde(default)]
    pub latency: Option<LatencyDoc>,
    /// New loss fraction.
    #[serde(default)]
    pub loss: Option<f64>,
    /// New bandwidth.
    #[serde(default)]
    pub bandwidth: Option<Bandwidth>,
}

/// `metrics`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MetricsDoc {
    /// Window width (default 1s).
    #[serde(default)]
    pub window: Option<Duration>,
    /// SLO success ratio (default 0.99).
    #[serde(default)]
    pub slo: Option<f64>,
    /// Service whose shares are reported (default reviews).
    #[serde(default)]
    pub share_service: Option<String>,
    /// Marker line counted (default "full stars").
    #[serde(default)]
    pub marker: Option<String>,
    /// The configured share of a region, to report the split error against.
    #[serde(default)]
    pub expected_share: Option<ExpectedShareDoc>,
    /// Recovery time objective: how soon after a fault ends traffic must be back.
    #[serde(default)]
    pub rto: Option<Duration>,
}

/// `metrics.expected_share`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedShareDoc {
    /// The region.
    pub region: String,
    /// Its configured fraction of the share service's answers, e.g. 0.1.
    pub share: f64,
}
