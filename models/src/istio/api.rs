//! The parts of Istio's `networking.istio.io` API that shape failover and traffic splitting,
//! field for field (camelCase names in the docs). Scenario files carry these resources unchanged;
//! the `experiments` crate reads them into these types. Optional fields are `Option` exactly
//! where Istio distinguishes "unset" from a value (protobuf wrappers and messages).

use std::collections::BTreeMap;

use sim::SimDuration;

/// A `DestinationRule`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DestinationRule {
    /// `metadata.name`.
    pub name: String,
    /// `spec.host`: the service it applies to.
    pub host: String,
    /// `spec.trafficPolicy`.
    pub traffic_policy: Option<TrafficPolicy>,
    /// `spec.subsets`.
    pub subsets: Vec<Subset>,
}

/// A named subset of a service's endpoints (`spec.subsets[]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subset {
    /// `name`, e.g. `v1`.
    pub name: String,
    /// `labels` an endpoint must carry to belong.
    pub labels: BTreeMap<String, String>,
    /// `trafficPolicy` overriding the rule's, field group by field group.
    pub traffic_policy: Option<TrafficPolicy>,
}

/// `TrafficPolicy`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrafficPolicy {
    /// `loadBalancer`.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// `connectionPool`.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// `outlierDetection`.
    pub outlier_detection: Option<OutlierDetection>,
}

impl TrafficPolicy {
    /// The policy a subset's cluster gets: each group the subset sets replaces the rule's
    /// (Istio's `MergeTrafficPolicy`).
    pub fn merged_with(&self, subset: Option<&TrafficPolicy>) -> TrafficPolicy {
        let Some(subset) = subset else { return self.clone() };
        TrafficPolicy {
            load_balancer: subset.load_balancer.clone().or_else(|| self.load_balancer.clone()),
            connection_pool: subset.connection_pool.clone().or_else(|| self.connection_pool.clone()),
            outlier_detection: subset.outlier_detection.clone().or_else(|| self.outlier_detection.clone()),
        }
    }
}

/// `LoadBalancerSettings.simple`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SimpleLb {
    /// `UNSPECIFIED`: Istio's default (LEAST_REQUEST).
    #[default]
    Unspecified,
    /// `LEAST_REQUEST` (and its deprecated alias `LEAST_CONN`).
    LeastRequest,
    /// `ROUND_ROBIN`.
    RoundRobin,
    /// `RANDOM`.
    Random,
    /// `PASSTHROUGH`: no load balancing by the proxy.
    Passthrough,
}

/// `LoadBalancerSettings`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadBalancerSettings {
    /// `simple`.
    pub simple: SimpleLb,
    /// `localityLbSetting`.
    pub locality_lb_setting: Option<LocalityLbSetting>,
}

/// `LocalityLoadBalancerSetting` (also the mesh-wide `meshConfig.localityLbSetting`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalityLbSetting {
    /// `enabled`: unset means on.
    pub enabled: Option<bool>,
    /// `distribute`: explicit traffic shares per source locality.
    pub distribute: Vec<Distribute>,
    /// `failover`: region-to-region failover order.
    pub failover: Vec<Failover>,
    /// `failoverPriority`: labels whose match with the client decides priority.
    pub failover_priority: Vec<String>,
}

/// One `distribute` rule: traffic from `from` goes to the `to` localities by weight.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Distribute {
    /// Source locality pattern, `region/zone/subzone` with `*` wildcards.
    pub from: String,
    /// Destination locality patterns and their weights, in the order written.
    pub to: Vec<(String, u32)>,
}

/// One `failover` rule: clients in region `from` fail over to region `to`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failover {
    /// Client region.
    pub from: String,
    /// Region to fail over to.
    pub to: String,
}

/// `OutlierDetection`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutlierDetection {
    /// `consecutive5xxErrors` (a wrapper: unset differs from 0).
    pub consecutive_5xx_errors: Option<u32>,
    /// `consecutiveGatewayErrors` (a wrapper).
    pub consecutive_gateway_errors: Option<u32>,
    /// `consecutiveLocalOriginFailures` (a wrapper).
    pub consecutive_local_origin_failures: Option<u32>,
    /// `splitExternalLocalOriginErrors`.
    pub split_external_local_origin_errors: bool,
    /// `interval`.
    pub interval: Option<SimDuration>,
    /// `baseEjectionTime`.
    pub base_ejection_time: Option<SimDuration>,
    /// `maxEjectionPercent` (a plain int32: 0 means unset).
    pub max_ejection_percent: i32,
    /// `minHealthPercent` (a plain int32).
    pub min_health_percent: i32,
}

/// `ConnectionPoolSettings`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionPoolSettings {
    /// `tcp.maxConnections` (0: unset).
    pub max_connections: i32,
    /// `tcp.connectTimeout`.
    pub connect_timeout: Option<SimDuration>,
    /// `http.http1MaxPendingRequests` (0: unset).
    pub http1_max_pending_requests: i32,
    /// `http.http2MaxRequests` (0: unset).
    pub http2_max_requests: i32,
    /// `http.maxRequestsPerConnection` (0: unset).
    pub max_requests_per_connection: i32,
    /// `http.maxRetries` (0: unset).
    pub max_retries: i32,
}

/// `HTTPRetry` of a VirtualService route.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRetry {
    /// `attempts`: retries allowed; 0 disables retries.
    pub attempts: u32,
    /// `perTryTimeout`.
    pub per_try_timeout: Option<SimDuration>,
    /// `retryOn`: comma-separated Envoy conditions and status codes.
    pub retry_on: Option<String>,
    /// `retryRemoteLocalities`.
    pub retry_remote_localities: bool,
    /// `retryIgnorePreviousHosts` (`None`: unset, the default predicate stays).
    pub retry_ignore_previous_hosts: Option<bool>,
    /// `backoff`: the base interval between retries.
    pub backoff: Option<SimDuration>,
}
