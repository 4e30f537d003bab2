//! Everything istiod sends one client proxy about one upstream cluster (a service, or one subset
//! of it): the Envoy cluster settings (CDS) and the endpoint assignment (EDS).
//!
//! Follows `pilot/pkg/networking/core/cluster_builder.go` and `cluster_traffic_policy.go`
//! (`applyTrafficPolicy`): the subset's traffic policy is merged over the rule's; the
//! load-balancing policy defaults to LEAST_REQUEST; outlier detection, panic threshold,
//! connection pool and locality settings are translated by their own modules.

use std::fmt;
use std::rc::Rc;

use sim::SimDuration;

use super::api::{DestinationRule, LocalityLbSetting, SimpleLb, TrafficPolicy};
use super::connection_pool::pool_limits;
use super::locality::{Client, ProxyAssignment, ServiceEndpoint, assign, effective_setting, locality_weighted};
use super::outlier::{detector_config, panic_threshold};
use super::version::IstioVersion;
use crate::envoy::cluster::{ClusterSettings, SweepPhase};
use crate::envoy::load_balancer::{LbPolicy, LbSettings};
use crate::envoy::priority_load::DEFAULT_OVERPROVISIONING_FACTOR;
use crate::envoy::version::EnvoyVersion;

/// Mesh-wide settings that shape every proxy's clusters.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshSettings {
    /// `meshConfig.localityLbSetting`; Istio's default is `{enabled: true}`.
    pub locality_lb_setting: Option<LocalityLbSetting>,
    /// The proxies' Envoy release.
    pub envoy_version: EnvoyVersion,
    /// The control plane's Istio release.
    pub istio_version: IstioVersion,
    /// Envoy's `update_merge_window` (Istio leaves Envoy's 1 s).
    pub update_merge_window: SimDuration,
    /// Phase of outlier sweeps relative to cluster creation.
    pub sweep_phase: SweepPhase,
}

impl Default for MeshSettings {
    fn default() -> Self {
        MeshSettings {
            locality_lb_setting: Some(LocalityLbSetting { enabled: Some(true), ..LocalityLbSetting::default() }),
            envoy_version: EnvoyVersion::DEFAULT,
            istio_version: IstioVersion::DEFAULT,
            update_merge_window: SimDuration::from_secs(1),
            sweep_phase: SweepPhase::Random,
        }
    }
}

/// Why a cluster cannot be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TranslateError {
    /// A route names a subset the DestinationRule does not define.
    UnknownSubset {
        /// The rule's name.
        rule: String,
        /// The subset asked for.
        subset: String,
    },
    /// A route names a subset but no DestinationRule applies to the host.
    SubsetWithoutRule {
        /// The subset asked for.
        subset: String,
    },
    /// `loadBalancer.simple: PASSTHROUGH` sends traffic to the original destination, which this
    /// simulator does not model.
    Passthrough {
        /// The rule's name.
        rule: String,
    },
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TranslateError::UnknownSubset { rule, subset } => {
                write!(
                    f,
                    "DestinationRule {rule:?} has no subset {subset:?}; add it under spec.subsets or route to an existing one"
                )
            }
            TranslateError::SubsetWithoutRule { subset } => {
                write!(f, "subset {subset:?} is used but no DestinationRule defines subsets for this host; add one")
            }
            TranslateError::Passthrough { rule } => write!(
                f,
                "DestinationRule {rule:?} uses loadBalancer.simple: PASSTHROUGH, which meshsim does not model; use LEAST_REQUEST, ROUND_ROBIN or RANDOM"
            ),
        }
    }
}

impl std::error::Error for TranslateError {}

/// One upstream cluster as istiod configures it for one proxy.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyCluster {
    /// CDS: how the proxy's Envoy treats the cluster.
    pub settings: ClusterSettings,
    /// EDS: the endpoints, priorities and weights it sees.
    pub assignment: ProxyAssignment,
}

/// Builds the cluster for `subset` (or the whole service) of a service whose endpoints are
/// `endpoints`, as seen by `client` running `workers` Envoy worker threads.
pub fn build(
    mesh: &MeshSettings,
    client: &Client,
    workers: usize,
    rule: Option<&DestinationRule>,
    subset: Option<&str>,
    endpoints: &[ServiceEndpoint],
) -> Result<ProxyCluster, TranslateError> {
    let subset = match (rule, subset) {
        (_, None) => None,
        (None, Some(name)) => return Err(TranslateError::SubsetWithoutRule { subset: name.to_owned() }),
        (Some(rule), Some(name)) => Some(
            rule.subsets
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| TranslateError::UnknownSubset { rule: rule.name.clone(), subset: name.to_owned() })?,
        ),
    };
    let base = rule.and_then(|r| r.traffic_policy.clone()).unwrap_or_default();
    let policy: TrafficPolicy = base.merged_with(subset.and_then(|s| s.traffic_policy.as_ref()));
    let members: Vec<ServiceEndpoint> = match subset {
        Some(s) => {
            endpoints.iter().filter(|e| s.labels.iter().all(|(k, v)| e.labels.get(k) == Some(v))).cloned().collect()
        }
        None => endpoints.to_vec(),
    };
    let lb_settings = policy.load_balancer.as_ref();
    let policy_kind = match lb_settings.map(|l| l.simple).unwrap_or_default() {
        SimpleLb::Unspecified if mesh.istio_version.least_request_is_default() => LbPolicy::LEAST_REQUEST,
        SimpleLb::Unspecified | SimpleLb::RoundRobin => LbPolicy::RoundRobin,
        SimpleLb::LeastRequest => LbPolicy::LEAST_REQUEST,
        SimpleLb::Random => LbPolicy::Random,
        SimpleLb::Passthrough => {
            return Err(TranslateError::Passthrough { rule: rule.map(|r| r.name.clone()).unwrap_or_default() });
        }
    };
    let outlier = policy.outlier_detection.as_ref();
    let failover_enabled = outlier.is_some();
    let setting =
        effective_setting(mesh.locality_lb_setting.as_ref(), lb_settings.and_then(|l| l.locality_lb_setting.as_ref()));
    let limits = pool_limits(policy.connection_pool.as_ref());
    Ok(ProxyCluster {
        settings: ClusterSettings {
            lb: LbSettings {
                policy: policy_kind,
                locality_weighted: locality_weighted(setting, failover_enabled),
                panic_threshold: panic_threshold(outlier),
                overprovisioning_factor: DEFAULT_OVERPROVISIONING_FACTOR,
                version: mesh.envoy_version,
            },
            outlier_detection: outlier.map(|o| Rc::new(detector_config(o))),
            sweep_phase: mesh.sweep_phase,
            update_merge_window: mesh.update_merge_window,
            circuit_breakers: limits.thresholds,
            max_requests_per_connection: limits.max_requests_per_connection,
            connect_timeout: limits.connect_timeout,
            workers,
        },
        assignment: assign(client, &members, setting, failover_enabled),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::host_set::{EdsHealth, EndpointId};
    use crate::istio::api::{LoadBalancerSettings, OutlierDetection, Subset};
    use crate::istio::locality::Locality;

    fn endpoint(id: u32, region: &str, version: &str) -> ServiceEndpoint {
        ServiceEndpoint {
            endpoint: EndpointId(id),
            locality: Rc::new(Locality::new(region, "a", "")),
            labels: std::rc::Rc::new([("version".to_string(), version.to_string())].into()),
            weight: 1,
            health: EdsHealth::Healthy,
        }
    }

    fn reviews_rule(outlier: Option<OutlierDetection>) -> DestinationRule {
        let subset = |v: &str| Subset {
            name: v.into(),
            labels: [("version".to_string(), v.to_string())].into(),
            traffic_policy: None,
        };
        DestinationRule {
            name: "reviews".into(),
            host: "reviews".into(),
            traffic_policy: Some(TrafficPolicy { outlier_detection: outlier, ..TrafficPolicy::default() }),
            subsets: vec![subset("v1"), subset("v2")],
        }
    }

    #[test]
    fn subsets_select_endpoints_and_outlier_detection_switches_failover_on() {
        let endpoints = [endpoint(1, "hz", "v1"), endpoint(2, "sh", "v1"), endpoint(3, "sh", "v2")];
        let client = Client { locality: Locality::new("hz", "a", ""), ..Client::default() };
        let mesh = MeshSettings::default();
        let rule =
            reviews_rule(Some(OutlierDetection { consecutive_5xx_errors: Some(1), ..OutlierDetection::default() }));
        let v1 = build(&mesh, &client, 2, Some(&rule), Some("v1"), &endpoints).unwrap();
        let levels: Vec<(u32, Vec<u32>)> = v1
            .assignment
            .assignment
            .localities
            .iter()
            .map(|g| (g.priority, g.endpoints.iter().map(|e| e.endpoint.0).collect()))
            .collect();
        assert_eq!(levels, vec![(0, vec![1]), (1, vec![2])]);
        assert_eq!(v1.settings.lb.policy, LbPolicy::LEAST_REQUEST);
        assert_eq!(v1.settings.lb.panic_threshold, 0);
        assert!(v1.settings.outlier_detection.is_some());
        // Without outlier detection: one priority, Envoy's 50 % panic threshold.
        let plain = build(&mesh, &client, 2, Some(&reviews_rule(None)), Some("v1"), &endpoints).unwrap();
        assert!(plain.assignment.assignment.localities.iter().all(|g| g.priority == 0));
        assert_eq!(plain.settings.lb.panic_threshold, 50);
    }

    #[test]
    fn bad_references_are_clear_errors() {
        let endpoints = [endpoint(1, "hz", "v1")];
        let client = Client::default();
        let mesh = MeshSettings::default();
        let err = build(&mesh, &client, 2, Some(&reviews_rule(None)), Some("v9"), &endpoints).unwrap_err();
        assert!(err.to_string().contains("no subset \"v9\""), "{err}");
        assert!(build(&mesh, &client, 2, None, Some("v1"), &endpoints).is_err());
        let mut rule = reviews_rule(None);
        rule.traffic_policy.as_mut().unwrap().load_balancer =
            Some(LoadBalancerSettings { simple: SimpleLb::Passthrough, locality_lb_setting: None });
        assert!(
            build(&mesh, &client, 2, Some(&rule), None, &endpoints).unwrap_err().to_string().contains("PASSTHROUGH")
        );
    }
}
