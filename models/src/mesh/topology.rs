//! Where everything is: zones and regions, the backbone links between regions, clusters,
//! deployments and their pods, ingress gateways — resolved from names to indices once, with every
//! reference checked.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use sim::SimDuration;

use super::config::MeshConfig;
use super::network::BackboneLink;
use crate::envoy::host_set::EndpointId;
use crate::istio::locality::{Labels, Locality};

/// A zone of a region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    /// Its name.
    pub name: String,
    /// Index of its region.
    pub region: usize,
    /// The locality of workloads in it, shared by all of them.
    pub locality: Rc<Locality>,
}

/// A pod of a deployment (its endpoint id is its index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    /// Its endpoint in EDS.
    pub endpoint: EndpointId,
    /// Indices of its service in the application, its version within the service, its zone and
    /// its Kubernetes cluster: 32 bits each, since a large mesh holds thousands of pods.
    service: u32,
    version: u32,
    zone: u32,
    cluster: u32,
    /// Requests it serves at once.
    pub concurrency: u32,
    /// Its labels (`app`, `version`), shared with the other pods of its deployment.
    pub labels: Labels,
    /// Its position in the deployment (scale-downs remove the highest first).
    pub ordinal: u32,
    /// The locality istiod knows for it: its zone's, or none when its nodes lack the labels.
    pub locality: Rc<Locality>,
}

impl Pod {
    /// Index of its service in the application.
    pub fn service(&self) -> usize {
        self.service as usize
    }

    /// Index of its version within the service.
    pub fn version(&self) -> usize {
        self.version as usize
    }

    /// Index of its zone.
    pub fn zone(&self) -> usize {
        self.zone as usize
    }

    /// Index of its Kubernetes cluster.
    pub fn cluster(&self) -> usize {
        self.cluster as usize
    }
}

/// A deployment's pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentPods {
    /// Index of its cluster.
    pub cluster: usize,
    /// Its service and version indices.
    pub service: usize,
    /// Its version index.
    pub version: usize,
    /// Its pods, by ordinal.
    pub pods: Vec<usize>,
}

/// An ingress gateway replica (an Envoy of its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayReplica {
    /// Gateway name.
    pub gateway: String,
    /// Index of its zone.
    pub zone: usize,
    /// Index of its cluster.
    pub cluster: usize,
    /// The locality istiod knows for it: its zone's, or none when its nodes lack the labels.
    pub locality: Rc<Locality>,
}

/// How a message travels between two zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Within a region: a fixed one-way latency.
    Local(SimDuration),
    /// Across the backbone, on this link direction.
    Backbone(usize),
}

/// The resolved topology.
#[derive(Clone, Debug)]
pub struct Topology {
    /// Region names.
    pub regions: Vec<String>,
    /// Zones.
    pub zones: Vec<Zone>,
    /// Kubernetes clusters: name and region index.
    pub clusters: Vec<(String, usize)>,
    /// Backbone link directions.
    pub links: Vec<BackboneLink>,
    /// Names of the link directions, `from->to`.
    pub link_names: Vec<String>,
    link_of: HashMap<(usize, usize), usize>,
    /// `(from cluster, to cluster)` pairs a security group blocks.
    blocked: Vec<(usize, usize)>,
    /// `path(from, to)` for every zone pair, row-major.
    paths: Vec<Option<Path>>,
    intra_zone: SimDuration,
    inter_zone: SimDuration,
    /// Pods, by endpoint id.
    pub pods: Vec<Pod>,
    /// Deployments.
    pub deployments: Vec<DeploymentPods>,
    /// Gateway replicas.
    pub gateways: Vec<GatewayReplica>,
}

/// A reference in the configuration that leads nowhere, or a value that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Field path, e.g. `clusters[ack-hangzhou].deployments[0].zone`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The locality Istio reads from a workload's node labels: the zone's, or none without labels.
fn labelled_locality(zone: &Zone, labelled: bool, unlabelled: &Rc<Locality>) -> Rc<Locality> {
    Rc::clone(if labelled { &zone.locality } else { unlabelled })
}

fn error(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { path: path.into(), message: message.into() }
}

impl Topology {
    /// Resolves the configuration's names, checking every reference.
    pub fn build(config: &MeshConfig) -> Result<Topology, ConfigError> {
        let regions: Vec<String> = config.regions.iter().map(|r| r.name.clone()).collect();
        let mut zones = Vec::new();
        // The locality of workloads whose nodes lack the labels, shared by all of them.
        let unlabelled = Rc::new(Locality::default());
        for (r, region) in config.regions.iter().enumerate() {
            if regions[..r].contains(&region.name) {
                return Err(error(format!("regions[{}]", region.name), "the region is listed twice"));
            }
            if region.zones.is_empty() {
                return Err(error(format!("regions[{}].zones", region.name), "a region needs at least one zone"));
            }
            for zone in &region.zones {
                if zones.iter().any(|z: &Zone| &z.name == zone) {
                    return Err(error(
                        format!("regions[{}].zones", region.name),
                        format!("zone {zone:?} is listed twice"),
                    ));
                }
                zones.push(Zone {
                    name: zone.clone(),
                    region: r,
                    locality: Rc::new(Locality::new(&region.name, zone, "")),
                });
            }
        }
        let region_index = |name: &str, path: &str| {
            regions
                .iter()
                .position(|r| r == name)
                .ok_or_else(|| error(path, format!("unknown region {name:?}; regions are {}", regions.join(", "))))
        };
        let zone_index = |name: &str, path: &str| {
            zones.iter().position(|z| z.name == name).ok_or_else(|| {
                let names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
                error(path, format!("unknown zone {name:?}; zones are {}", names.join(", ")))
            })
        };
        let mut links = Vec::new();
        let mut link_names = Vec::new();
        let mut link_of = HashMap::new();
        for (i, b) in config.network.backbone.iter().enumerate() {
            let path = format!("network.backbone[{i}]");
            let a = region_index(&b.regions.0, &format!("{path}.regions"))?;
            let z = region_index(&b.regions.1, &format!("{path}.regions"))?;
            for (from, to) in [(a, z), (z, a)] {
                if link_of.insert((from, to), links.len()).is_some() {
                    return Err(error(&path, "a second connection between the same regions; merge them"));
                }
                let mut link = BackboneLink::new(b.bandwidth_bps, b.min_latency, b.max_latency, b.buffer);
                link.loss = b.loss;
                links.push(link);
                link_names.push(format!("{}->{}", regions[from], regions[to]));
            }
        }
        let mut clusters = Vec::new();
        let mut pods = Vec::new();
        let mut deployments = Vec::new();
        let mut gateways = Vec::new();
        for (c, cluster) in config.clusters.iter().enumerate() {
            let path = format!("clusters[{}]", cluster.name);
            let region = region_index(&cluster.region, &format!("{path}.region"))?;
            clusters.push((cluster.name.clone(), region));
            for (d, deployment) in cluster.deployments.iter().enumerate() {
                let path = format!("{path}.deployments[{d}]");
                let zone = zone_index(&deployment.zone, &format!("{path}.zone"))?;
                if zones[zone].region != region {
                    return Err(error(
                        format!("{path}.zone"),
                        format!("zone {:?} is not in the cluster's region", deployment.zone),
                    ));
                }
                let service =
                    config.app.services.iter().position(|s| s.name == deployment.service).ok_or_else(|| {
                        error(
                            format!("{path}.service"),
                            format!("unknown service {:?}; define it under app", deployment.service),
                        )
                    })?;
                let version = config.app.services[service]
                    .versions
                    .iter()
                    .position(|v| v.name == deployment.version)
                    .ok_or_else(|| {
                    error(
                        format!("{path}.version"),
                        format!("service {:?} has no version {:?}", deployment.service, deployment.version),
                    )
                })?;
                if deployment.concurrency == 0 {
                    return Err(error(format!("{path}.concurrency"), "must be at least 1"));
                }
                let labels: Labels = Rc::new(BTreeMap::from([
                    ("app".to_string(), deployment.service.clone()),
                    ("version".to_string(), deployment.version.clone()),
                ]));
                let mut members = Vec::new();
                for ordinal in 0..deployment.replicas {
                    members.push(pods.len());
                    pods.push(Pod {
                        endpoint: EndpointId(pods.len() as u32),
                        service: service as u32,
                        version: version as u32,
                        zone: zone as u32,
                        cluster: c as u32,
                        concurrency: deployment.concurrency,
                        labels: Rc::clone(&labels),
                        ordinal,
                        locality: labelled_locality(&zones[zone], deployment.locality_labels, &unlabelled),
                    });
                }
                deployments.push(DeploymentPods { cluster: c, service, version, pods: members });
            }
            for (g, gateway) in cluster.gateways.iter().enumerate() {
                let zone = zone_index(&gateway.zone, &format!("{path}.gateways[{g}].zone"))?;
                for _ in 0..gateway.replicas {
                    gateways.push(GatewayReplica {
                        gateway: gateway.name.clone(),
                        zone,
                        cluster: c,
                        locality: labelled_locality(&zones[zone], gateway.locality_labels, &unlabelled),
                    });
                }
            }
        }
        let cluster_index = |name: &str, path: &str| {
            clusters
                .iter()
                .position(|(c, _): &(String, usize)| c == name)
                .ok_or_else(|| error(path, format!("unknown cluster {name:?}")))
        };
        let mut blocked = Vec::new();
        for (i, (from, to)) in config.network.blocked.iter().enumerate() {
            let path = format!("network.blocked[{i}]");
            blocked.push((cluster_index(from, &path)?, cluster_index(to, &path)?));
        }
        let mut topology = Topology {
            paths: Vec::new(),
            blocked,
            regions,
            zones,
            clusters,
            links,
            link_names,
            link_of,
            intra_zone: config.network.intra_zone,
            inter_zone: config.network.inter_zone,
            pods,
            deployments,
            gateways,
        };
        let zones = topology.zones.len();
        topology.paths = (0..zones * zones).map(|i| topology.compute_path(i / zones, i % zones)).collect();
        Ok(topology)
    }

    /// How a message goes from zone `from` to zone `to`; `None` when the regions have no
    /// backbone connection at all.
    #[inline]
    pub fn path(&self, from: usize, to: usize) -> Option<Path> {
        self.paths[from * self.zones.len() + to]
    }

    fn compute_path(&self, from: usize, to: usize) -> Option<Path> {
        let (a, b) = (&self.zones[from], &self.zones[to]);
        if from == to {
            Some(Path::Local(self.intra_zone))
        } else if a.region == b.region {
            Some(Path::Local(self.inter_zone))
        } else {
            self.link_of.get(&(a.region, b.region)).map(|&l| Path::Backbone(l))
        }
    }

    /// Whether a security group drops traffic from cluster `from` to cluster `to`.
    pub fn is_blocked(&self, from: usize, to: usize) -> bool {
        self.blocked.contains(&(from, to))
    }

    /// Blocks (a rule removed) or unblocks traffic from cluster `from` to cluster `to`.
    pub fn set_blocked(&mut self, from: usize, to: usize, blocked: bool) {
        self.blocked.retain(|&pair| pair != (from, to));
        if blocked {
            self.blocked.push((from, to));
        }
    }

    /// The index of the cluster called `name`.
    pub fn cluster_index(&self, name: &str) -> Option<usize> {
        self.clusters.iter().position(|(c, _)| c == name)
    }

    /// The link directions between two regions (both ways), for faults.
    pub fn links_between(&self, a: usize, b: usize) -> Vec<usize> {
        [(a, b), (b, a)].iter().filter_map(|k| self.link_of.get(k).copied()).collect()
    }

    /// Every link direction touching region `r`.
    pub fn links_of_region(&self, r: usize) -> Vec<usize> {
        let mut found: Vec<usize> =
            self.link_of.iter().filter(|((a, b), _)| *a == r || *b == r).map(|(_, &l)| l).collect();
        found.sort_unstable();
        found
    }

    /// A typical one-way latency from zone `from` to zone `to` (for control-plane pushes and
    /// handshakes); `None` if no path exists or its link is down.
    pub fn typical_latency(&self, from: usize, to: usize) -> Option<SimDuration> {
        match self.path(from, to)? {
            Path::Local(d) => Some(d),
            Path::Backbone(l) => self.links[l].is_up().then(|| self.links[l].typical_latency()),
        }
    }
}
