//! Scenario files: reading them, checking every reference, and turning them into the model's
//! [`MeshConfig`]. Errors name the file and the line and column (syntax, unknown fields, bad
//! units, references to things that do not exist, with the field path for the latter).

pub mod envoy_overrides;
pub mod file;
pub mod istio;
pub mod limits;
pub mod units;

use std::path::Path;

use ipnet::IpNet;
use models::envoy::cluster::SweepPhase;
use models::envoy::version::EnvoyVersion;
use models::istio::api::{Distribute, Failover, LocalityLbSetting};
use models::istio::cluster::MeshSettings;
use models::istio::version::IstioVersion;
use models::mesh::app::{App, Call, Delay, OnFailure, Service, Version};
use models::mesh::config::*;
use models::mesh::world::{BuildError, World};
use sim::{SimDuration, Simulation};

use file::*;

use crate::yaml::locate::{Position, locate, path_near};
use crate::yaml::path::FieldPath;

/// A scenario ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its name (the output folder's).
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The world to simulate.
    pub config: MeshConfig,
    /// Things accepted but not modelled, and configurations that look wrong.
    pub warnings: Vec<String>,
    /// The file's text, written next to the results.
    pub text: String,
    /// The ASM release, when stated: `(major, minor, patch, build)`.
    pub asm_version: Option<[u32; 4]>,
    /// The recovery time objective (`metrics.rto`), when stated.
    pub rto: Option<SimDuration>,
    /// Each cluster's Istio network, by cluster name (`clusters[].network`; unset: one network).
    pub networks: Vec<(String, Option<String>)>,
}

impl Scenario {
    /// Whether meshsim can simulate the mesh: clusters on several Istio networks reach each other
    /// through east-west gateways, which the model does not carry (it routes pod to pod, as over
    /// CEN); `check` still reports their traps.
    pub fn check_simulable(&self) -> Result<(), String> {
        let mut networks: Vec<&str> = self.networks.iter().map(|(_, n)| n.as_deref().unwrap_or("")).collect();
        networks.sort_unstable();
        networks.dedup();
        if networks.len() > 1 {
            return Err(format!(
                "{}: clusters on several Istio networks (clusters[].network) reach each other through east-west gateways, which meshsim does not simulate; `meshsim check` reports their traps. Put the clusters on one network (pods reach each other directly over CEN) to run it",
                self.name
            ));
        }
        Ok(())
    }
}

/// Reads the scenario file at `path` (Istio resource files are found relative to it).
pub fn load(path: &Path) -> Result<Scenario, String> {
    let text = crate::input::read_text(path, "the scenario")?;
    parse(&text, &path.display().to_string(), path.parent().unwrap_or(Path::new(".")))
}

/// Reads a scenario from its text; `source` names it in errors.
pub fn parse(text: &str, source: &str, base: &Path) -> Result<Scenario, String> {
    let file: ScenarioFile = serde_saphyr::from_str_with_options(text, crate::input::yaml_options()).map_err(|e| {
        // The reader says where; the field's path says what, for an error in a long file.
        let field = e
            .location()
            .and_then(|at| path_near(text, Position { line: at.line(), column: at.column() }))
            .map_or(String::new(), |path| format!("field {path}: "));
        format!("{source}: {field}{}", crate::input::yaml_error(&e))
    })?;
    let mut warnings = Vec::new();
    let fail = |path: &str, message: String| located(text, source, path, message);
    crate::input::check_folder_name(&file.name).map_err(|e| fail("name", e))?;
    let envoy_version = match &file.envoy_version {
        Some(v) => v.parse::<EnvoyVersion>().map_err(|e| fail("envoy_version", e.to_string()))?,
        None => EnvoyVersion::DEFAULT,
    };
    let istio_version = match &file.istio_version {
        Some(v) => v.parse::<IstioVersion>().map_err(|e| fail("istio_version", e.to_string()))?,
        None => IstioVersion::DEFAULT,
    };
    let region_names: Vec<&str> = file.regions.iter().map(|r| r.name.as_str()).collect();
    let known_region = |name: &str, path: &str| {
        if region_names.contains(&name) {
            Ok(())
        } else {
            Err(fail(path, format!("unknown region {name:?}; regions are {}", region_names.join(", "))))
        }
    };
    check_vpcs(&file, &known_region, &fail)?;
    let backbone = backbone(&file, &known_region, &fail, &mut warnings)?;
    known_region(&file.control_plane.region.value, "control_plane.region")?;
    check_joinable(&file, &backbone, &fail, &mut warnings)?;
    let blocked = blocked_pairs(&file, &fail)?;
    let app = app(&file.app).map_err(|e| fail("app", e))?;
    let mut istio = istio_config(&file, base, envoy_version, istio_version, source, &fail, &mut warnings)?;
    istio.envoy_overrides = envoy_overrides::read(&file.istio.envoy_overrides, &file, &app, &istio.destination_rules)
        .map_err(|(path, message)| fail(&path, message))?;
    check_locality_regions(&istio, &region_names, &fail)?;
    let hosts = istio
        .destination_rules
        .iter()
        .map(|r| ("DestinationRule", &r.host))
        .chain(istio.routes.iter().map(|r| ("VirtualService route", &r.host)));
    for (kind, host) in hosts {
        if app.service(host).is_none() {
            warnings.push(format!("{kind} for host {host:?} applies to no service of the app"));
        }
    }
    let network = file.network.as_ref();
    let config = MeshConfig {
        seed: file.seed.unwrap_or(1),
        duration: file.duration.0,
        regions: file.regions.iter().map(|r| Region { name: r.name.clone(), zones: r.zones.clone() }).collect(),
        network: NetworkConfig {
            intra_zone: network.and_then(|n| n.intra_zone).map_or(SimDuration::from_micros(200), |d| d.0),
            inter_zone: network.and_then(|n| n.inter_zone).map_or(SimDuration::from_millis(1), |d| d.0),
            backbone,
            handshake_round_trips: network.and_then(|n| n.handshake_round_trips).unwrap_or(2),
            blocked,
        },
        clusters: file
            .clusters
            .iter()
            .map(|c| KubeCluster {
                name: c.name.clone(),
                region: c.region.value.clone(),
                deployments: c
                    .deployments
                    .iter()
                    .map(|d| Deployment {
                        service: d.service.value.clone(),
                        version: d.version.value.clone(),
                        zone: d.zone.value.clone(),
                        replicas: d.replicas,
                        concurrency: d.concurrency.unwrap_or(16),
                        locality_labels: d.locality_labels.unwrap_or(true),
                    })
                    .collect(),
                gateways: c
                    .gateways
                    .iter()
                    .map(|g| Gateway {
                        name: g.name.clone(),
                        zone: g.zone.value.clone(),
                        replicas: g.replicas.unwrap_or(1),
                        locality_labels: g.locality_labels.unwrap_or(true),
                    })
                    .collect(),
            })
            .collect(),
        control_plane: {
            let cp = &file.control_plane;
            ControlPlaneConfig {
                region: cp.region.value.clone(),
                debounce_after: cp.debounce_after.map_or(SimDuration::from_millis(100), |d| d.0),
                debounce_max: cp.debounce_max.map_or(SimDuration::from_secs(10), |d| d.0),
                watch_delay: cp.watch_delay.map_or(SimDuration::from_millis(50), |d| d.0),
                readiness_period: cp.readiness_period.map_or(SimDuration::from_secs(10), |d| d.0),
                readiness_failure_threshold: cp.readiness_failure_threshold.unwrap_or(3),
            }
        },
        app,
        istio,
        workload: workload(&file.workload).map_err(|(field, e)| fail(field, e))?,
        faults: file
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| fault(f).map_err(|e| fail(&format!("faults[{i}]"), e)))
            .collect::<Result<_, _>>()?,
        metrics: MetricsConfig {
            window: file.metrics.window.map_or(SimDuration::from_secs(1), |d| d.0),
            slo_success: file.metrics.slo.unwrap_or(0.99),
            share_service: file.metrics.share_service.clone().unwrap_or_else(|| "reviews".into()),
            marker: file.metrics.marker.clone().unwrap_or_else(|| "full stars".into()),
            expected_share: match &file.metrics.expected_share {
                None => None,
                Some(e) => {
                    known_region(&e.region, "metrics.expected_share.region")?;
                    if !(0.0..=1.0).contains(&e.share) {
                        return Err(fail(
                            "metrics.expected_share.share",
                            format!("{} is not a fraction in [0, 1]", e.share),
                        ));
                    }
                    Some((e.region.clone(), e.share))
                }
            },
        },
    };
    // Ranges and the cost estimate, before anything is built for the run.
    limits::check(&config).map_err(|(path, message)| fail(&path, message))?;
    // Build the world once: every reference is checked there, and a bad one is reported with
    // the line of the field it came from.
    if let Err(error) = Simulation::try_new_with(|s| World::build(config.clone(), s)) {
        return Err(match error {
            BuildError::Config(e) => fail(&e.path, e.message),
            BuildError::Istio(e) => format!("{source}: istio: {e}"),
        });
    }
    let asm_version = match &file.istio.asm_version {
        None => None,
        Some(text) => Some(asm_release(text).ok_or_else(|| {
            fail("istio.asm_version", format!("{text:?} is not an ASM release; write four numbers, e.g. 1.22.6.66"))
        })?),
    };
    Ok(Scenario {
        asm_version,
        rto: file.metrics.rto.map(|d| d.0),
        networks: file.clusters.iter().map(|c| (c.name.clone(), c.network.clone())).collect(),
        name: file.name.clone(),
        description: file.description.clone().unwrap_or_default(),
        config,
        warnings,
        text: text.to_owned(),
    })
}

/// An ASM release (`1.22.6.66`) as comparable numbers.
fn asm_release(text: &str) -> Option<[u32; 4]> {
    let parts: Vec<u32> = text.trim().split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    parts.try_into().ok()
}

/// An error about the field at `path`, with the line and column it was written on when the
/// file has it (not for a default).
fn located(text: &str, source: &str, path: &str, message: String) -> String {
    match path.parse::<FieldPath>().ok().and_then(|p| locate(text, &p)) {
        Some(at) => format!("{source}: {at}: {path}: {message}"),
        None => format!("{source}: {path}: {message}"),
    }
}

/// Every region a locality setting names exists: a misspelt region matches no endpoint, and
/// its traffic share or failover target silently goes nowhere.
fn check_locality_regions(
    istio: &IstioConfig,
    regions: &[&str],
    fail: &impl Fn(&str, String) -> String,
) -> Result<(), String> {
    let mut settings: Vec<(String, &LocalityLbSetting)> = Vec::new();
    if let Some(mesh) = &istio.mesh.locality_lb_setting {
        settings.push(("istio.mesh_config.localityLbSetting".into(), mesh));
    }
    for rule in &istio.destination_rules {
        let policies = rule.traffic_policy.iter().chain(rule.subsets.iter().filter_map(|s| s.traffic_policy.as_ref()));
        for policy in policies {
            if let Some(setting) = policy.load_balancer.as_ref().and_then(|lb| lb.locality_lb_setting.as_ref()) {
                let path = format!(
                    "istio.resources[DestinationRule/{}].spec.trafficPolicy.loadBalancer.localityLbSetting",
                    rule.name
                );
                settings.push((path, setting));
            }
        }
    }
    for (path, setting) in settings {
        let named = setting
            .distribute
            .iter()
            .flat_map(|d| std::iter::once(d.from.as_str()).chain(d.to.iter().map(|(to, _)| to.as_str())))
            .chain(setting.failover.iter().flat_map(|f| [f.from.as_str(), f.to.as_str()]));
        for pattern in named {
            let region = pattern.split('/').next().unwrap_or_default();
            if region != "*" && !regions.contains(&region) {
                return Err(fail(
                    &path,
                    format!(
                        "{pattern:?} names region {region:?}, which the scenario does not have: it matches no endpoint; regions are {}",
                        regions.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// VPCs, vSwitches and transit routers: regions exist, vSwitches sit inside their VPC.
fn check_vpcs(
    file: &ScenarioFile,
    known_region: &impl Fn(&str, &str) -> Result<(), String>,
    fail: &impl Fn(&str, String) -> String,
) -> Result<(), String> {
    for vpc in &file.vpcs {
        known_region(&vpc.region, &format!("vpcs[{}].region", vpc.name))?;
        for vswitch in &vpc.vswitches {
            if !vpc.cidr.contains(&vswitch.cidr) {
                return Err(fail(
                    &format!("vpcs[{}].vswitches[{}].cidr", vpc.name, vswitch.name),
                    format!("{} is not inside the VPC's {}", vswitch.cidr, vpc.cidr),
                ));
            }
        }
    }
    for vpc in &file.vpcs {
        let region = file.regions.iter().find(|r| r.name == vpc.region);
        for vswitch in vpc.vswitches.iter().filter(|v| v.zone.is_some()) {
            let zone = vswitch.zone.as_deref().unwrap_or_default();
            if !region.is_some_and(|r| r.zones.iter().any(|z| z == zone)) {
                return Err(fail(
                    &format!("vpcs[{}].vswitches[{}].zone", vpc.name, vswitch.name),
                    format!("zone {zone:?} is not in region {}", vpc.region),
                ));
            }
        }
    }
    check_cidr_overlaps(file, fail)?;
    let vpc = |name: &str| file.vpcs.iter().find(|v| v.name == name);
    if let Some(cen) = &file.cen {
        for router in &cen.transit_routers {
            known_region(&router.region, &format!("cen.transit_routers[{}].region", router.name))?;
            for name in &router.vpcs {
                let found = vpc(name).ok_or_else(|| {
                    fail(&format!("cen.transit_routers[{}].vpcs", router.name), format!("unknown VPC {name:?}"))
                })?;
                if found.region != router.region {
                    return Err(fail(
                        &format!("cen.transit_routers[{}].vpcs", router.name),
                        format!("VPC {name:?} is in {}, not the router's region", found.region),
                    ));
                }
            }
        }
    }
    for cluster in &file.clusters {
        if let Some(name) = &cluster.vpc {
            let found = vpc(name)
                .ok_or_else(|| fail(&format!("clusters[{}].vpc", cluster.name), format!("unknown VPC {name:?}")))?;
            if found.region != cluster.region.value {
                return Err(fail(
                    &format!("clusters[{}].vpc", cluster.name),
                    format!("VPC {name:?} is in {}, the cluster in {}", found.region, cluster.region.value),
                ));
            }
        }
        match cluster.network_plugin.as_deref() {
            None | Some("flannel") | Some("terway") => {}
            Some(other) => {
                return Err(fail(
                    &format!("clusters[{}].network_plugin", cluster.name),
                    format!("unknown plugin {other:?}; use flannel or terway"),
                ));
            }
        }
    }
    Ok(())
}

/// CIDR blocks routed through CEN must not overlap (the seed document's rule: overlapping
/// vSwitch, pod or service CIDRs make routes conflict and the cluster cannot be added).
fn check_cidr_overlaps(file: &ScenarioFile, fail: &impl Fn(&str, String) -> String) -> Result<(), String> {
    let mut blocks: Vec<(String, IpNet)> = Vec::new();
    for vpc in &file.vpcs {
        blocks.extend(vpc.vswitches.iter().map(|v| (format!("vpcs[{}].vswitches[{}].cidr", vpc.name, v.name), v.cidr)));
    }
    for c in &file.clusters {
        blocks.extend(c.pod_cidr.map(|n| (format!("clusters[{}].pod_cidr", c.name), n)));
        blocks.extend(c.service_cidr.map(|n| (format!("clusters[{}].service_cidr", c.name), n)));
    }
    for (i, (path_a, a)) in blocks.iter().enumerate() {
        for (path_b, b) in &blocks[i + 1..] {
            if a.contains(&b.network()) || b.contains(&a.network()) {
                return Err(fail(
                    path_b,
                    format!("{b} overlaps {a} ({path_a}); CIDR blocks joined through CEN must not overlap"),
                ));
            }
        }
    }
    Ok(())
}

fn backbone(
    file: &ScenarioFile,
    known_region: &impl Fn(&str, &str) -> Result<(), String>,
    fail: &impl Fn(&str, String) -> String,
    warnings: &mut Vec<String>,
) -> Result<Vec<BackboneConfig>, String> {
    let mut links = Vec::new();
    for (i, c) in file.cen.iter().flat_map(|cen| cen.connections.iter()).enumerate() {
        let path = format!("cen.connections[{i}]");
        known_region(&c.regions[0], &format!("{path}.regions"))?;
        known_region(&c.regions[1], &format!("{path}.regions"))?;
        if c.latency.min > c.latency.max {
            return Err(fail(&format!("{path}.latency"), "min is larger than max".into()));
        }
        if !(0.0..1.0).contains(&c.loss) {
            return Err(fail(&format!("{path}.loss"), format!("{} is not a fraction in [0, 1)", c.loss)));
        }
        if c.bandwidth.0 > 0 && c.bandwidth.0 <= 1_000 {
            warnings.push(format!(
                "{path}: {} bit/s is CEN's free test bandwidth: it passes ping but cannot carry service traffic",
                c.bandwidth.0
            ));
        }
        links.push(BackboneConfig {
            regions: (c.regions[0].clone(), c.regions[1].clone()),
            min_latency: c.latency.min.0,
            max_latency: c.latency.max.0,
            bandwidth_bps: c.bandwidth.0,
            loss: c.loss,
            buffer: c.buffer.map_or(SimDuration::from_millis(100), |d| d.0),
        });
    }
    Ok(links)
}

/// The seed document's FAQ: a cluster in a region with no purchased bandwidth to the control
/// plane's region cannot be added to the mesh.
fn check_joinable(
    file: &ScenarioFile,
    backbone: &[BackboneConfig],
    fail: &impl Fn(&str, String) -> String,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let cp = &file.control_plane.region.value;
    for cluster in &file.clusters {
        if &cluster.region.value == cp {
            continue;
        }
        if !attached_to_cen(file, cluster) {
            return Err(fail(
                &format!("clusters[{}].vpc", cluster.name),
                format!(
                    "cannot join the mesh: its VPC is not attached to a CEN transit router in {}, so the control plane in {cp} cannot reach it; add the VPC to that router's vpcs",
                    cluster.region.value
                ),
            ));
        }
        let link = backbone.iter().find(|b| {
            (&b.regions.0 == cp && b.regions.1 == cluster.region.value)
                || (&b.regions.1 == cp && b.regions.0 == cluster.region.value)
        });
        match link {
            None | Some(BackboneConfig { bandwidth_bps: 0, .. }) => {
                return Err(fail(
                    &format!("clusters[{}]", cluster.name),
                    format!(
                        "cannot join the mesh: the control plane in {cp} cannot reach {} without inter-region bandwidth; add a cen.connections entry between them with a bandwidth plan",
                        cluster.region.value
                    ),
                ));
            }
            Some(b) if b.bandwidth_bps <= 1_000 => warnings.push(format!(
                "clusters[{}]: joined over test bandwidth only; service traffic across regions will be dropped",
                cluster.name
            )),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Whether a cluster's VPC is on the CEN: no transit routers are described (the plan is taken
/// as complete), or a router in the cluster's region has its VPC attached.
fn attached_to_cen(file: &ScenarioFile, cluster: &ClusterDoc) -> bool {
    let routers = file.cen.iter().flat_map(|cen| cen.transit_routers.iter()).collect::<Vec<_>>();
    routers.is_empty()
        || cluster
            .vpc
            .as_ref()
            .is_some_and(|vpc| routers.iter().any(|r| r.region == cluster.region.value && r.vpcs.contains(vpc)))
}

/// Cluster pairs whose traffic cannot get through: across regions when either VPC is off the
/// CEN; or when the destination's security group lists rules and none covers the source's pods
/// (their pod CIDR with Flannel, their vSwitches with Terway).
fn blocked_pairs(file: &ScenarioFile, fail: &impl Fn(&str, String) -> String) -> Result<Vec<(String, String)>, String> {
    for group in &file.security_groups {
        if !file.clusters.iter().any(|c| c.name == group.cluster) {
            return Err(fail("security_groups", format!("unknown cluster {:?}", group.cluster)));
        }
    }
    let sources = |c: &ClusterDoc| -> Vec<IpNet> {
        match c.network_plugin.as_deref() {
            Some("terway") => file
                .vpcs
                .iter()
                .filter(|v| Some(&v.name) == c.vpc.as_ref())
                .flat_map(|v| v.vswitches.iter().map(|s| s.cidr))
                .collect(),
            _ => c.pod_cidr.into_iter().collect(),
        }
    };
    let mut blocked = Vec::new();
    for from in &file.clusters {
        for to in file.clusters.iter().filter(|to| to.region.value != from.region.value) {
            if !attached_to_cen(file, from) || !attached_to_cen(file, to) {
                blocked.push((from.name.clone(), to.name.clone()));
            }
        }
    }
    for to in &file.clusters {
        let rules: Vec<&IpNet> =
            file.security_groups.iter().filter(|g| g.cluster == to.name).flat_map(|g| g.allow.iter()).collect();
        if file.security_groups.iter().all(|g| g.cluster != to.name) {
            continue;
        }
        for from in file.clusters.iter().filter(|f| f.name != to.name) {
            let from_sources = sources(from);
            let allowed =
                !from_sources.is_empty() && from_sources.iter().all(|src| rules.iter().any(|rule| rule.contains(src)));
            if !allowed && !blocked.contains(&(from.name.clone(), to.name.clone())) {
                blocked.push((from.name.clone(), to.name.clone()));
            }
        }
    }
    Ok(blocked)
}

fn app(doc: &AppDoc) -> Result<App, String> {
    match doc {
        AppDoc::Builtin(name) if name == "bookinfo" => Ok(App::bookinfo()),
        AppDoc::Builtin(name) => Err(format!("unknown built-in app {name:?}; the built-in app is bookinfo")),
        AppDoc::Services(services) => Ok(App {
            services: services
                .iter()
                .map(|s| Service {
                    name: s.name.clone(),
                    request_bytes: s.request_bytes.unwrap_or(800),
                    response_bytes: s.response_bytes.unwrap_or(2_000),
                    versions: s
                        .versions
                        .iter()
                        .map(|v| Version {
                            name: v.name.clone(),
                            service_time: match v.service_time {
                                DelayDoc::Constant(d) => Delay::Constant(d.0),
                                DelayDoc::Exponential(d) => Delay::Exponential(d.0),
                            },
                            calls: v
                                .calls
                                .iter()
                                .map(|c| Call {
                                    service: c.service.clone(),
                                    on_failure: match c.on_failure {
                                        None | Some(OnFailureDoc::Degrade) => OnFailure::Degrade,
                                        Some(OnFailureDoc::Fail(status)) => OnFailure::Fail(status),
                                    },
                                })
                                .collect(),
                            parallel: v.parallel,
                            markers: v.markers,
                        })
                        .collect(),
                })
                .collect(),
        }),
    }
}

fn istio_config(
    file: &ScenarioFile,
    base: &Path,
    envoy_version: EnvoyVersion,
    istio_version: IstioVersion,
    source: &str,
    fail: &impl Fn(&str, String) -> String,
    warnings: &mut Vec<String>,
) -> Result<IstioConfig, String> {
    let doc = &file.istio;
    let mut resources = istio::IstioResources::default();
    let mut add = |stream: &str, origin: String, first_line: usize| -> Result<(), String> {
        let read = istio::read_stream(stream, &origin, first_line)?;
        resources.destination_rules.extend(read.destination_rules);
        resources.routes.extend(read.routes);
        resources.warnings.extend(read.warnings);
        Ok(())
    };
    if let Some(inline) = &doc.resources {
        // The location of a block scalar is its first line of text.
        add(&inline.value, source.to_owned(), inline.referenced.line() as usize)?;
    }
    for name in &doc.resource_files {
        let path = base.join(name);
        let text =
            crate::input::read_text(&path, "an Istio resource file").map_err(|e| fail("istio.resource_files", e))?;
        add(&text, path.display().to_string(), 1)?;
    }
    warnings.append(&mut resources.warnings);
    if doc.mesh_config.as_ref().is_some_and(|m| m.default_config.is_some()) {
        warnings.push("istio.mesh_config.defaultConfig is accepted but not modelled".into());
    }
    let mut locality = LocalityLbSetting { enabled: Some(true), ..LocalityLbSetting::default() };
    let mesh_setting = doc.mesh_config.as_ref().and_then(|m| m.locality_lb_setting.as_ref());
    if let Some(geo) = &doc.geolocation {
        if mesh_setting.is_some() {
            return Err(fail(
                "istio.geolocation",
                "set locality either through mesh_config.localityLbSetting or geolocation, not both".into(),
            ));
        }
        if !geo.failover.is_empty() && !geo.distribution.is_empty() {
            return Err(fail(
                "istio.geolocation",
                "ASM needs failover mode disabled before traffic distribution is enabled; keep one of them".into(),
            ));
        }
        let regions: Vec<&str> = file.regions.iter().map(|r| r.name.as_str()).collect();
        let named = geo
            .failover
            .iter()
            .flat_map(|f| [&f.from, &f.to])
            .chain(geo.distribution.iter().flat_map(|d| [&d.from, &d.to]));
        for region in named {
            if !regions.contains(&region.as_str()) {
                return Err(fail(
                    "istio.geolocation",
                    format!("unknown region {region:?}; regions are {}", regions.join(", ")),
                ));
            }
        }
        locality.failover = geo.failover.iter().map(|f| Failover { from: f.from.clone(), to: f.to.clone() }).collect();
        for d in &geo.distribution {
            if d.percent > 100 {
                return Err(fail("istio.geolocation.distribution", format!("{}% is over 100%", d.percent)));
            }
            let mut to = vec![(format!("{}/*", d.to), d.percent)];
            if d.percent < 100 {
                to.push((format!("{}/*", d.from), 100 - d.percent));
            }
            locality.distribute.push(Distribute { from: format!("{}/*", d.from), to });
        }
    }
    if let Some(setting) = mesh_setting {
        setting.check().map_err(|e| fail(&format!("istio.mesh_config.localityLbSetting.{}", e.field), e.message))?;
    }
    let mesh_locality = Some(mesh_setting.map_or(locality, istio::LocalityLbSettingDoc::to_model));
    let sweep_phase = match doc.sweep_phase.as_deref() {
        None | Some("random") => SweepPhase::Random,
        Some(text) => SweepPhase::After(
            text.parse::<SimDuration>().map_err(|e| fail("istio.sweep_phase", format!("{e}; or write random")))?,
        ),
    };
    Ok(IstioConfig {
        mesh: MeshSettings {
            locality_lb_setting: mesh_locality,
            envoy_version,
            istio_version,
            update_merge_window: doc.update_merge_window.map_or(SimDuration::from_secs(1), |d| d.0),
            sweep_phase,
        },
        destination_rules: resources.destination_rules,
        routes: resources.routes,
        proxy_concurrency: doc.proxy_concurrency.unwrap_or(2),
        envoy_overrides: Vec::new(),
    })
}

/// The workload; an error names the field at fault.
fn workload(doc: &WorkloadDoc) -> Result<Workload, (&'static str, String)> {
    let arrivals = match &doc.arrivals {
        ArrivalsDoc::Poisson(rate) | ArrivalsDoc::Constant(rate) if rate.is_nan() || *rate <= 0.0 => {
            return Err(("workload.arrivals", format!("rate {rate} must be positive")));
        }
        ArrivalsDoc::Poisson(rate) => Arrivals::Poisson { rate: *rate },
        ArrivalsDoc::Constant(rate) => Arrivals::Constant { rate: *rate },
        ArrivalsDoc::Steps(steps) => {
            let mut steps: Vec<(SimDuration, f64)> = steps.iter().map(|s| (s.at.0, s.rate)).collect();
            steps.sort_by_key(|&(at, _)| at);
            Arrivals::Steps { steps }
        }
        ArrivalsDoc::Ramp(ramp) => {
            let seconds = ramp.over.0.as_secs_f64().ceil().max(1.0) as u64;
            let steps = (0..=seconds)
                .map(|i| {
                    let f = i as f64 / seconds as f64;
                    (SimDuration::from_secs(i), ramp.from + (ramp.to - ramp.from) * f)
                })
                .collect();
            Arrivals::Steps { steps }
        }
        ArrivalsDoc::Users(users) => Arrivals::Users {
            users: users.count,
            think_time: users.think_time.map_or(SimDuration::ZERO, |d| d.0),
            limit: users.requests,
        },
    };
    if let Some(requests) = doc.requests {
        if matches!(arrivals, Arrivals::Users { .. }) {
            let message = "caps open-loop arrivals; closed-loop users take arrivals.users.requests";
            return Err(("workload.requests", message.into()));
        }
        if requests == 0 {
            return Err(("workload.requests", "must be at least 1 (leave it out for no cap)".into()));
        }
    }
    if doc.timeout.is_some_and(|t| t.0 == SimDuration::ZERO) {
        let message = "must be above 0s (leave it out for users who wait as long as it takes)";
        return Err(("workload.timeout", message.into()));
    }
    Ok(Workload {
        gateway: doc.gateway.value.clone(),
        entry_service: doc.entry_service.as_ref().map_or_else(|| "productpage".into(), |s| s.value.clone()),
        start: doc.start.map_or(SimDuration::ZERO, |d| d.0),
        arrivals,
        requests: doc.requests,
        user_timeout: doc.timeout.map(|t| t.0),
    })
}

fn fault(doc: &FaultDoc) -> Result<Fault, String> {
    if doc.until.is_some_and(|end| end <= doc.at) {
        return Err("until must come after at".into());
    }
    let target = match &doc.target.value {
        TargetDoc::Deployment(d) => FaultTarget::Deployment {
            cluster: d.cluster.clone(),
            service: d.service.clone(),
            version: d.version.clone(),
        },
        TargetDoc::Pod(p) => FaultTarget::Pod {
            cluster: p.cluster.clone(),
            service: p.service.clone(),
            version: p.version.clone(),
            index: p.index,
        },
        TargetDoc::Zone(z) => FaultTarget::Zone(z.clone()),
        TargetDoc::Region(r) => FaultTarget::Region(r.clone()),
        TargetDoc::Backbone([a, b]) => FaultTarget::Backbone(a.clone(), b.clone()),
        TargetDoc::ControlPlane => FaultTarget::ControlPlane,
        TargetDoc::SecurityGroupRule(rule) => {
            FaultTarget::SecurityGroupRule { from: rule.from.clone(), to: rule.to.clone() }
        }
    };
    let pods = matches!(target, FaultTarget::Deployment { .. } | FaultTarget::Pod { .. });
    let kind = match &doc.action {
        ActionDoc::Respond(status) => FaultKind::Respond(*status),
        ActionDoc::Refuse => FaultKind::Refuse,
        ActionDoc::Hang => FaultKind::Hang,
        ActionDoc::Slow(d) => FaultKind::Slow(d.0),
        ActionDoc::FailFraction(f) if !(0.0..=1.0).contains(&f.fraction) => {
            return Err(format!("fail_fraction.fraction {} is not in [0, 1]", f.fraction));
        }
        ActionDoc::FailFraction(f) => FaultKind::FailFraction(f.fraction, f.status.unwrap_or(503)),
        ActionDoc::ScaleTo(n) => FaultKind::ScaleTo(*n),
        ActionDoc::Outage => FaultKind::Outage,
        ActionDoc::Cut => FaultKind::Cut,
        ActionDoc::Degrade(d) => FaultKind::Degrade {
            latency: d.latency.as_ref().map(|l| (l.min.0, l.max.0)),
            loss: d.loss,
            bandwidth_bps: d.bandwidth.map(|b| b.0),
        },
        ActionDoc::Unreachable => FaultKind::Unreachable,
        ActionDoc::RuleRemoved => FaultKind::RuleRemoved,
    };
    let fits = match &kind {
        FaultKind::Respond(_)
        | FaultKind::Refuse
        | FaultKind::Hang
        | FaultKind::Slow(_)
        | FaultKind::FailFraction(..) => pods || matches!(target, FaultTarget::Zone(_) | FaultTarget::Region(_)),
        FaultKind::ScaleTo(_) => matches!(target, FaultTarget::Deployment { .. }),
        FaultKind::Outage => matches!(target, FaultTarget::Zone(_) | FaultTarget::Region(_)),
        FaultKind::Cut | FaultKind::Degrade { .. } => matches!(target, FaultTarget::Backbone(..)),
        FaultKind::Unreachable => matches!(target, FaultTarget::ControlPlane),
        FaultKind::RuleRemoved => matches!(target, FaultTarget::SecurityGroupRule { .. }),
    };
    if !fits {
        let (target_kind, actions) = match target {
            FaultTarget::Deployment { .. } => ("a deployment", "respond, refuse, hang, slow, fail_fraction, scale_to"),
            FaultTarget::Pod { .. } => ("a pod", "respond, refuse, hang, slow, fail_fraction"),
            FaultTarget::Zone(_) | FaultTarget::Region(_) => {
                ("a zone or region", "outage, respond, refuse, hang, slow, fail_fraction")
            }
            FaultTarget::Backbone(..) => ("a backbone connection", "cut, degrade"),
            FaultTarget::ControlPlane => ("the control plane", "unreachable"),
            FaultTarget::SecurityGroupRule { .. } => ("a security-group rule", "rule_removed"),
        };
        return Err(format!("action {} does not apply to {target_kind}; its actions are {actions}", doc.action_name()));
    }
    Ok(Fault { start: doc.at.0, end: doc.until.map(|d| d.0), target, kind })
}

impl FaultDoc {
    fn action_name(&self) -> &'static str {
        match self.action {
            ActionDoc::Respond(_) => "respond",
            ActionDoc::Refuse => "refuse",
            ActionDoc::Hang => "hang",
            ActionDoc::Slow(_) => "slow",
            ActionDoc::FailFraction(_) => "fail_fraction",
            ActionDoc::ScaleTo(_) => "scale_to",
            ActionDoc::Outage => "outage",
            ActionDoc::Cut => "cut",
            ActionDoc::Degrade(_) => "degrade",
            ActionDoc::Unreachable => "unreachable",
            ActionDoc::RuleRemoved => "rule_removed",
        }
    }
}
