//! Real Istio resources, read unchanged: `DestinationRule`, `VirtualService` and `Gateway`
//! documents (`networking.istio.io/v1`, `v1beta1`, `v1alpha3`), many to a YAML stream.
//!
//! Each document's `kind` is read first, then the document is read again as that kind, so that a
//! mistake is reported with its own line and column. Fields Istio defines but meshsim does not
//! model (TLS, port-level settings, header matches...) are accepted and reported as warnings;
//! fields Istio does not define are errors, as `istioctl validate` would say.

use std::collections::BTreeMap;
use std::fmt;

use models::istio::api::{
    ConnectionPoolSettings, DestinationRule, Distribute, Failover, HttpRetry, LoadBalancerSettings, LocalityLbSetting,
    OutlierDetection, SimpleLb, Subset, TrafficPolicy,
};
use models::istio::retry::route_policy;
use models::istio::version::IstioVersion;
use models::mesh::config::Route;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::units::Duration;
use crate::yaml::locate::locate;
use crate::yaml::path::FieldPath;
use sim::SimDuration;

/// The resources read from one stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IstioResources {
    /// DestinationRules.
    pub destination_rules: Vec<DestinationRule>,
    /// HTTP routes from VirtualServices.
    pub routes: Vec<Route>,
    /// What was accepted but not modelled.
    pub warnings: Vec<String>,
}

/// `metadata`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: Option<IgnoredAny>,
    #[serde(default)]
    annotations: Option<IgnoredAny>,
}

/// A document header: just enough to know its kind.
#[derive(Deserialize)]
struct Header {
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Document<Spec> {
    api_version: String,
    /// Already read by [`Header`]; the document must carry it.
    #[serde(rename = "kind")]
    _kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DestinationRuleSpec {
    host: String,
    #[serde(default)]
    traffic_policy: Option<TrafficPolicyDoc>,
    #[serde(default)]
    subsets: Vec<SubsetDoc>,
    #[serde(default)]
    export_to: Option<IgnoredAny>,
    #[serde(default)]
    workload_selector: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SubsetDoc {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    traffic_policy: Option<TrafficPolicyDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TrafficPolicyDoc {
    #[serde(default)]
    load_balancer: Option<LoadBalancerDoc>,
    #[serde(default)]
    connection_pool: Option<ConnectionPoolDoc>,
    #[serde(default)]
    outlier_detection: Option<OutlierDetectionDoc>,
    #[serde(default)]
    tls: Option<IgnoredAny>,
    #[serde(default)]
    port_level_settings: Option<IgnoredAny>,
    #[serde(default)]
    tunnel: Option<IgnoredAny>,
    #[serde(default)]
    proxy_protocol: Option<IgnoredAny>,
    #[serde(default)]
    retry_budget: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LoadBalancerDoc {
    #[serde(default)]
    simple: Option<String>,
    #[serde(default)]
    consistent_hash: Option<IgnoredAny>,
    #[serde(default)]
    locality_lb_setting: Option<LocalityLbSettingDoc>,
    #[serde(default)]
    warmup_duration_secs: Option<IgnoredAny>,
    #[serde(default)]
    warmup: Option<IgnoredAny>,
}

/// `localityLbSetting` (DestinationRule or mesh config).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalityLbSettingDoc {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    distribute: Vec<DistributeDoc>,
    #[serde(default)]
    failover: Vec<FailoverDoc>,
    #[serde(default)]
    failover_priority: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DistributeDoc {
    from: String,
    to: OrderedWeights,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailoverDoc {
    from: String,
    to: String,
}

/// A `to:` map, kept in the order written.
struct OrderedWeights(Vec<(String, u32)>);

impl<'de> Deserialize<'de> for OrderedWeights {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Weights;
        impl<'de> Visitor<'de> for Weights {
            type Value = OrderedWeights;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a map of locality patterns to weights, e.g. {\"cn-hangzhou/*\": 90, \"cn-shanghai/*\": 10}",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedWeights, A::Error> {
                let mut weights = Vec::new();
                while let Some(entry) = map.next_entry::<String, u32>()? {
                    weights.push(entry);
                }
                Ok(OrderedWeights(weights))
            }
        }
        deserializer.deserialize_map(Weights)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConnectionPoolDoc {
    #[serde(default)]
    tcp: Option<TcpDoc>,
    #[serde(default)]
    http: Option<HttpDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TcpDoc {
    #[serde(default)]
    max_connections: i32,
    #[serde(default)]
    connect_timeout: Option<Duration>,
    #[serde(default)]
    tcp_keepalive: Option<IgnoredAny>,
    #[serde(default)]
    max_connection_duration: Option<IgnoredAny>,
    #[serde(default)]
    idle_timeout: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HttpDoc {
    #[serde(default)]
    http1_max_pending_requests: i32,
    #[serde(default)]
    http2_max_requests: i32,
    #[serde(default)]
    max_requests_per_connection: i32,
    #[serde(default)]
    max_retries: i32,
    #[serde(default)]
    idle_timeout: Option<IgnoredAny>,
    #[serde(default)]
    h2_upgrade_policy: Option<IgnoredAny>,
    #[serde(default)]
    use_client_protocol: Option<IgnoredAny>,
    #[serde(default)]
    max_concurrent_streams: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OutlierDetectionDoc {
    #[serde(default)]
    split_external_local_origin_errors: bool,
    #[serde(default)]
    consecutive_local_origin_failures: Option<u32>,
    #[serde(default)]
    consecutive_gateway_errors: Option<u32>,
    #[serde(default, rename = "consecutive5xxErrors")]
    consecutive_5xx_errors: Option<u32>,
    #[serde(default)]
    consecutive_errors: Option<IgnoredAny>,
    #[serde(default)]
    interval: Option<Duration>,
    #[serde(default)]
    base_ejection_time: Option<Duration>,
    #[serde(default)]
    max_ejection_percent: i32,
    #[serde(default)]
    min_health_percent: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VirtualServiceSpec {
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    gateways: Option<IgnoredAny>,
    #[serde(default)]
    http: Vec<HttpRouteDoc>,
    #[serde(default)]
    tcp: Option<IgnoredAny>,
    #[serde(default)]
    tls: Option<IgnoredAny>,
    #[serde(default)]
    export_to: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HttpRouteDoc {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "match")]
    match_: Option<IgnoredAny>,
    #[serde(default)]
    route: Vec<RouteDestinationDoc>,
    #[serde(default)]
    timeout: Option<Duration>,
    #[serde(default)]
    retries: Option<RetriesDoc>,
    #[serde(default)]
    fault: Option<IgnoredAny>,
    #[serde(default)]
    rewrite: Option<IgnoredAny>,
    #[serde(default)]
    headers: Option<IgnoredAny>,
    #[serde(default)]
    mirror: Option<IgnoredAny>,
    #[serde(default)]
    cors_policy: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteDestinationDoc {
    destination: DestinationDoc,
    #[serde(default)]
    weight: Option<u32>,
    #[serde(default)]
    headers: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationDoc {
    host: String,
    #[serde(default)]
    subset: Option<String>,
    /// One port per service is modelled; the port number is read and not needed.
    #[serde(default, rename = "port")]
    _port: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RetriesDoc {
    #[serde(default)]
    attempts: u32,
    #[serde(default)]
    per_try_timeout: Option<Duration>,
    #[serde(default)]
    retry_on: Option<String>,
    #[serde(default)]
    retry_remote_localities: Option<bool>,
    #[serde(default)]
    retry_ignore_previous_hosts: Option<bool>,
    #[serde(default)]
    backoff: Option<Duration>,
}

/// Records a warning for each field Istio defines but meshsim does not model, when present.
fn not_modelled(warnings: &mut Vec<String>, owner: &str, fields: &[(&str, bool)]) {
    for (field, present) in fields {
        if *present {
            warnings.push(format!("{owner}: {field} is accepted but not modelled"));
        }
    }
}

/// The short service name of a host: `reviews.default.svc.cluster.local` → `reviews`.
fn service_name(host: &str) -> String {
    host.split('.').next().unwrap_or(host).to_owned()
}

impl LocalityLbSettingDoc {
    /// Istio's own validation of a locality setting (`validation.go`,
    /// `validateLocalityLbSetting`): distribute and failover not together, every weight within
    /// 1–100 and each rule's weights summing to 100, failover between different regions.
    pub fn check(&self) -> Result<(), PolicyError> {
        if !self.distribute.is_empty() && !self.failover.is_empty() {
            return Err(PolicyError::new(
                "distribute",
                "distribute and failover cannot be set together (Istio rejects it); keep one",
            ));
        }
        for (i, rule) in self.distribute.iter().enumerate() {
            if let Some((to, weight)) = rule.to.0.iter().find(|(_, w)| !(1..=100).contains(w)) {
                return Err(PolicyError::new(
                    format!("distribute[{i}].to"),
                    format!("{to}: weight {weight} is outside 1 to 100, which Istio requires"),
                ));
            }
            let total: u32 = rule.to.0.iter().map(|(_, w)| w).sum();
            if total != 100 {
                return Err(PolicyError::new(
                    format!("distribute[{i}].to"),
                    format!("the weights sum to {total}, not 100 (Istio rejects it); make them add up to 100"),
                ));
            }
        }
        for (i, rule) in self.failover.iter().enumerate() {
            if rule.from == rule.to {
                return Err(PolicyError::new(
                    format!("failover[{i}]"),
                    format!("from and to are both {:?}; fail over to another region", rule.from),
                ));
            }
        }
        Ok(())
    }

    /// The model's setting.
    pub fn to_model(&self) -> LocalityLbSetting {
        LocalityLbSetting {
            enabled: self.enabled,
            distribute: self
                .distribute
                .iter()
                .map(|d| Distribute { from: d.from.clone(), to: d.to.0.clone() })
                .collect(),
            failover: self.failover.iter().map(|f| Failover { from: f.from.clone(), to: f.to.clone() }).collect(),
            failover_priority: self.failover_priority.clone(),
        }
    }
}

impl TrafficPolicyDoc {
    fn into_model(self, owner: &str, warnings: &mut Vec<String>) -> Result<TrafficPolicy, PolicyError> {
        not_modelled(
            warnings,
            owner,
            &[
                ("trafficPolicy.tls", self.tls.is_some()),
                (
                    "trafficPolicy.portLevelSettings (port-specific policies are not applied)",
                    self.port_level_settings.is_some(),
                ),
                ("trafficPolicy.tunnel", self.tunnel.is_some()),
                ("trafficPolicy.proxyProtocol", self.proxy_protocol.is_some()),
                ("trafficPolicy.retryBudget", self.retry_budget.is_some()),
            ],
        );
        let load_balancer = match self.load_balancer {
            None => None,
            Some(lb) => {
                not_modelled(
                    warnings,
                    owner,
                    &[
                        ("loadBalancer.warmupDurationSecs", lb.warmup_duration_secs.is_some()),
                        ("loadBalancer.warmup", lb.warmup.is_some()),
                    ],
                );
                if lb.consistent_hash.is_some() {
                    return Err(PolicyError::new(
                        "loadBalancer.consistentHash",
                        "is not modelled; use simple: LEAST_REQUEST, ROUND_ROBIN or RANDOM",
                    ));
                }
                let simple = match lb.simple.as_deref() {
                    None | Some("UNSPECIFIED") => SimpleLb::Unspecified,
                    Some("LEAST_REQUEST" | "LEAST_CONN") => SimpleLb::LeastRequest,
                    Some("ROUND_ROBIN") => SimpleLb::RoundRobin,
                    Some("RANDOM") => SimpleLb::Random,
                    Some("PASSTHROUGH") => SimpleLb::Passthrough,
                    Some(other) => {
                        return Err(PolicyError::new(
                            "loadBalancer.simple",
                            format!("unknown value {other:?}; use LEAST_REQUEST, ROUND_ROBIN, RANDOM or PASSTHROUGH"),
                        ));
                    }
                };
                Some(LoadBalancerSettings {
                    simple,
                    locality_lb_setting: match &lb.locality_lb_setting {
                        Some(setting) => {
                            setting.check().map_err(|e| e.within("loadBalancer.localityLbSetting"))?;
                            Some(setting.to_model())
                        }
                        None => None,
                    },
                })
            }
        };
        if let Some(pool) = &self.connection_pool {
            check_connection_pool(pool).map_err(|e| e.within("connectionPool"))?;
        }
        if let Some(od) = &self.outlier_detection {
            check_outlier_detection(od).map_err(|e| e.within("outlierDetection"))?;
        }
        let connection_pool = self.connection_pool.map(|pool| {
            let tcp = pool.tcp.unwrap_or(TcpDoc {
                max_connections: 0,
                connect_timeout: None,
                tcp_keepalive: None,
                max_connection_duration: None,
                idle_timeout: None,
            });
            let http = pool.http;
            not_modelled(
                warnings,
                owner,
                &[
                    ("connectionPool.tcp.tcpKeepalive", tcp.tcp_keepalive.is_some()),
                    ("connectionPool.tcp.maxConnectionDuration", tcp.max_connection_duration.is_some()),
                    ("connectionPool.tcp.idleTimeout", tcp.idle_timeout.is_some()),
                    ("connectionPool.http.idleTimeout", http.as_ref().is_some_and(|h| h.idle_timeout.is_some())),
                    (
                        "connectionPool.http.h2UpgradePolicy (sidecar traffic stays HTTP/1.1)",
                        http.as_ref().is_some_and(|h| h.h2_upgrade_policy.is_some()),
                    ),
                    (
                        "connectionPool.http.useClientProtocol",
                        http.as_ref().is_some_and(|h| h.use_client_protocol.is_some()),
                    ),
                    (
                        "connectionPool.http.maxConcurrentStreams",
                        http.as_ref().is_some_and(|h| h.max_concurrent_streams.is_some()),
                    ),
                ],
            );
            ConnectionPoolSettings {
                max_connections: tcp.max_connections,
                connect_timeout: tcp.connect_timeout.map(|d| d.0),
                http1_max_pending_requests: http.as_ref().map_or(0, |h| h.http1_max_pending_requests),
                http2_max_requests: http.as_ref().map_or(0, |h| h.http2_max_requests),
                max_requests_per_connection: http.as_ref().map_or(0, |h| h.max_requests_per_connection),
                max_retries: http.as_ref().map_or(0, |h| h.max_retries),
            }
        });
        let outlier_detection = match self.outlier_detection {
            None => None,
            Some(od) => {
                if od.consecutive_errors.is_some() {
                    return Err(PolicyError::new(
                        "outlierDetection.consecutiveErrors",
                        "was removed from Istio; use consecutiveGatewayErrors (502/503/504 only) or consecutive5xxErrors",
                    ));
                }
                Some(OutlierDetection {
                    consecutive_5xx_errors: od.consecutive_5xx_errors,
                    consecutive_gateway_errors: od.consecutive_gateway_errors,
                    consecutive_local_origin_failures: od.consecutive_local_origin_failures,
                    split_external_local_origin_errors: od.split_external_local_origin_errors,
                    interval: od.interval.map(|d| d.0),
                    base_ejection_time: od.base_ejection_time.map(|d| d.0),
                    max_ejection_percent: od.max_ejection_percent,
                    min_health_percent: od.min_health_percent,
                })
            }
        };
        Ok(TrafficPolicy { load_balancer, connection_pool, outlier_detection })
    }
}

/// Istio's own validation of a connection pool (`pkg/config/validation/validation.go`,
/// `validateConnectionPool`): counts are non-negative, the connect timeout at least 1 ms.
fn check_connection_pool(pool: &ConnectionPoolDoc) -> Result<(), PolicyError> {
    let fail = |field: &str, what: String| Err(PolicyError::new(field, what));
    if let Some(http) = &pool.http {
        for (field, value) in [
            ("http.http1MaxPendingRequests", http.http1_max_pending_requests),
            ("http.http2MaxRequests", http.http2_max_requests),
            ("http.maxRequestsPerConnection", http.max_requests_per_connection),
            ("http.maxRetries", http.max_retries),
        ] {
            if value < 0 {
                return fail(field, format!("{value} is negative; Istio requires 0 or more (0 means its default)"));
            }
        }
    }
    if let Some(tcp) = &pool.tcp {
        if tcp.max_connections < 0 {
            return fail(
                "tcp.maxConnections",
                format!("{} is negative; Istio requires 0 or more", tcp.max_connections),
            );
        }
        if let Some(timeout) = tcp.connect_timeout
            && timeout.0 < SimDuration::from_millis(1)
        {
            return fail("tcp.connectTimeout", format!("{} is below 1ms, which Istio requires at least", timeout.0));
        }
    }
    Ok(())
}

/// Istio's own validation of route retries (`validation.go`, `validateHTTPRetry`): every
/// `retryOn` entry a condition Envoy knows or an HTTP status, durations at least 1 ms.
fn check_retries(retries: &HttpRetry) -> Result<(), PolicyError> {
    for (field, value) in [("retries.perTryTimeout", retries.per_try_timeout), ("retries.backoff", retries.backoff)] {
        if let Some(d) = value
            && d < SimDuration::from_millis(1)
        {
            return Err(PolicyError::new(field, format!("{d} is below 1ms, which Istio requires at least")));
        }
    }
    route_policy(Some(retries), IstioVersion::DEFAULT)
        .map(drop)
        .map_err(|message| PolicyError::new("retries.retryOn", message))
}

/// Istio's own validation of outlier detection (`validation.go`, `validateOutlierDetection`):
/// interval and baseEjectionTime at least 1 ms, percentages within 0–100, local-origin failures
/// only when they are split from external errors.
fn check_outlier_detection(od: &OutlierDetectionDoc) -> Result<(), PolicyError> {
    let fail = |field: &str, what: String| Err(PolicyError::new(field, what));
    for (field, value) in [("interval", od.interval), ("baseEjectionTime", od.base_ejection_time)] {
        if let Some(d) = value
            && d.0 < SimDuration::from_millis(1)
        {
            return fail(field, format!("{} is below 1ms, which Istio requires at least (e.g. 1s)", d.0));
        }
    }
    for (field, value) in [("maxEjectionPercent", od.max_ejection_percent), ("minHealthPercent", od.min_health_percent)]
    {
        if !(0..=100).contains(&value) {
            return fail(field, format!("{value} is not a percentage; Istio requires 0 to 100"));
        }
    }
    if !od.split_external_local_origin_errors && od.consecutive_local_origin_failures.is_some_and(|n| n > 0) {
        return fail(
            "consecutiveLocalOriginFailures",
            "is set but splitExternalLocalOriginErrors is false, which Istio rejects; set splitExternalLocalOriginErrors: true".into(),
        );
    }
    Ok(())
}

/// An error in a traffic policy or locality setting: the field (relative to the policy, e.g.
/// `outlierDetection.interval`) and what is wrong, so the reader can point at its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The field, relative to the `trafficPolicy` (or the locality setting) it is in.
    pub field: String,
    /// What is wrong and the fix.
    pub message: String,
}

impl PolicyError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> PolicyError {
        PolicyError { field: field.into(), message: message.into() }
    }

    /// The same error, its field seen from one level up (`prefix.field`).
    fn within(self, prefix: &str) -> PolicyError {
        PolicyError { field: format!("{prefix}.{}", self.field), message: self.message }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Splits a YAML stream into its documents, with the line each starts on (1-based).
fn documents(stream: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in stream.lines().enumerate() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            if !current.trim().is_empty() {
                docs.push((start, std::mem::take(&mut current)));
            }
            current.clear();
            start = i + 2;
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    if !current.trim().is_empty() {
        docs.push((start, current));
    }
    docs
}

/// Reads a stream of Istio documents; `source` names where it came from in errors.
///
/// `first_line` is the line of `source` the stream's first line is on (1 for a file of its own;
/// the line after `resources: |` for resources embedded in a scenario), so every line an error
/// names is a line of `source`.
pub fn read_stream(stream: &str, source: &str, first_line: usize) -> Result<IstioResources, String> {
    let mut resources = IstioResources::default();
    for (line, text) in documents(stream) {
        let line = line + first_line - 1;
        let place = format!("{source}, document starting at line {line}");
        // An error at the line of its field (`spec.trafficPolicy.…`, `spec.http[0].route` within
        // this document).
        let at_field = |owner: &str, within: &str, e: PolicyError| {
            let path = format!("{within}.{}", e.field);
            match path.parse::<FieldPath>().ok().and_then(|p| locate(&text, &p)) {
                Some(at) => {
                    format!("{source}: line {}: {owner}: {}: {}", at.line + line as u64 - 1, e.field, e.message)
                }
                None => format!("{place}: {owner}: {e}"),
            }
        };
        let located = |e: serde_saphyr::Error| {
            let options = serde_saphyr::render_options! { line_offset: (line - 1) as u64 };
            format!("{place}: {}", crate::input::yaml_error_text(e.render_with_options(options)))
        };
        let header: Header =
            serde_saphyr::from_str_with_options(&text, crate::input::yaml_options()).map_err(located)?;
        match header.kind.as_deref() {
            Some("DestinationRule") => {
                let doc: Document<DestinationRuleSpec> =
                    serde_saphyr::from_str_with_options(&text, crate::input::yaml_options()).map_err(located)?;
                check_api_version(&doc.api_version, &place)?;
                let owner = format!("DestinationRule {}", doc.metadata.name);
                not_modelled(
                    &mut resources.warnings,
                    &owner,
                    &[
                        ("metadata.labels", doc.metadata.labels.is_some()),
                        ("metadata.annotations", doc.metadata.annotations.is_some()),
                        ("spec.exportTo (every rule applies to every proxy)", doc.spec.export_to.is_some()),
                        (
                            "spec.workloadSelector (every rule applies to every proxy)",
                            doc.spec.workload_selector.is_some(),
                        ),
                    ],
                );
                let traffic_policy = doc
                    .spec
                    .traffic_policy
                    .map(|p| p.into_model(&owner, &mut resources.warnings))
                    .transpose()
                    .map_err(|e| at_field(&owner, "spec.trafficPolicy", e))?;
                let mut subsets = Vec::new();
                for subset in doc.spec.subsets {
                    let within = format!("spec.subsets[{}].trafficPolicy", subset.name);
                    let owner = format!("{owner} subset {}", subset.name);
                    let traffic_policy = subset
                        .traffic_policy
                        .map(|p| p.into_model(&owner, &mut resources.warnings))
                        .transpose()
                        .map_err(|e| at_field(&owner, &within, e))?;
                    subsets.push(Subset { name: subset.name, labels: subset.labels, traffic_policy });
                }
                not_modelled(
                    &mut resources.warnings,
                    &owner,
                    &[(
                        "metadata.namespace (one namespace is modelled)",
                        doc.metadata.namespace.as_deref().is_some_and(|n| n != "default"),
                    )],
                );
                resources.destination_rules.push(DestinationRule {
                    name: doc.metadata.name,
                    host: service_name(&doc.spec.host),
                    traffic_policy,
                    subsets,
                });
            }
            Some("VirtualService") => {
                let doc: Document<VirtualServiceSpec> =
                    serde_saphyr::from_str_with_options(&text, crate::input::yaml_options()).map_err(located)?;
                check_api_version(&doc.api_version, &place)?;
                let name = doc.metadata.name;
                not_modelled(
                    &mut resources.warnings,
                    &format!("VirtualService {name}"),
                    &[
                        ("spec.gateways (gateway routes are taken as mesh routes)", doc.spec.gateways.is_some()),
                        ("spec.tcp", doc.spec.tcp.is_some()),
                        ("spec.tls", doc.spec.tls.is_some()),
                        ("spec.exportTo", doc.spec.export_to.is_some()),
                        ("metadata.labels", doc.metadata.labels.is_some()),
                        ("metadata.annotations", doc.metadata.annotations.is_some()),
                    ],
                );
                for (i, http) in doc.spec.http.into_iter().enumerate() {
                    let owner = match &http.name {
                        Some(route) => format!("VirtualService {name} http[{i}] ({route})"),
                        None => format!("VirtualService {name} http[{i}]"),
                    };
                    not_modelled(
                        &mut resources.warnings,
                        &owner,
                        &[
                            ("fault (use scenario faults)", http.fault.is_some()),
                            ("mirror", http.mirror.is_some()),
                            ("match (every request takes the first route to a host)", http.match_.is_some() && i > 0),
                            ("rewrite", http.rewrite.is_some()),
                            ("headers", http.headers.is_some() || http.route.iter().any(|r| r.headers.is_some())),
                            ("corsPolicy", http.cors_policy.is_some()),
                        ],
                    );
                    let hosts: Vec<String> = http.route.iter().map(|r| service_name(&r.destination.host)).collect();
                    let Some(host) = hosts.first().cloned() else { continue };
                    if hosts.iter().any(|h| *h != host) {
                        return Err(format!(
                            "{place}: {owner} routes to several hosts; meshsim models one destination service per route"
                        ));
                    }
                    if resources.routes.iter().any(|r| r.host == host) {
                        resources.warnings.push(format!(
                            "{owner}: a second route to {host} (matches are not modelled); the first one applies"
                        ));
                        continue;
                    }
                    let single = http.route.len() == 1;
                    // Istio's own validation (`validation.go`, `validateHTTPRouteDestinations`).
                    if let Some(weight) = http.route.iter().filter_map(|r| r.weight).find(|w| *w > 100) {
                        let message = format!("route weight {weight} is over 100, which Istio rejects");
                        return Err(at_field(&owner, &format!("spec.http[{i}]"), PolicyError::new("route", message)));
                    }
                    let total: u32 = http.route.iter().map(|r| r.weight.unwrap_or(0)).sum();
                    if !single && total != 100 {
                        let message = format!(
                            "the destination weights sum to {total}, not 100 (Istio rejects it); make them add up to 100"
                        );
                        return Err(at_field(&owner, &format!("spec.http[{i}]"), PolicyError::new("route", message)));
                    }
                    let destinations = http
                        .route
                        .into_iter()
                        .map(|r| (r.destination.subset, r.weight.unwrap_or(if single { 100 } else { 0 })))
                        .collect();
                    let retries = http.retries.map(|r| HttpRetry {
                        attempts: r.attempts,
                        per_try_timeout: r.per_try_timeout.map(|d| d.0),
                        retry_on: r.retry_on,
                        retry_remote_localities: r.retry_remote_localities.unwrap_or(false),
                        retry_ignore_previous_hosts: r.retry_ignore_previous_hosts,
                        backoff: r.backoff.map(|d| d.0),
                    });
                    if let Some(retries) = &retries {
                        check_retries(retries).map_err(|e| at_field(&owner, &format!("spec.http[{i}]"), e))?;
                    }
                    resources.routes.push(Route { host, destinations, timeout: http.timeout.map(|d| d.0), retries });
                }
                let _ = doc.spec.hosts;
            }
            Some("Gateway") => {}
            Some(other) => {
                return Err(format!(
                    "{place}: kind {other:?} is not modelled; meshsim reads DestinationRule, VirtualService and Gateway"
                ));
            }
            None => {
                return Err(format!(
                    "{place}: the document has no kind; every Istio resource needs apiVersion, kind, metadata and spec"
                ));
            }
        }
    }
    Ok(resources)
}

fn check_api_version(api_version: &str, place: &str) -> Result<(), String> {
    match api_version {
        "networking.istio.io/v1" | "networking.istio.io/v1beta1" | "networking.istio.io/v1alpha3" => Ok(()),
        other => {
            Err(format!("{place}: apiVersion {other:?} is not an Istio networking version; use networking.istio.io/v1"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::SimDuration;

    /// The seed document's reviews DestinationRule, as ASM users write it.
    const SEED_RULE: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: default
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    connectionPool:
      http:
        maxRequestsPerConnection: 1
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 1m
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 10
    timeout: 3s
"#;

    #[test]
    fn the_seed_rule_and_a_split_read_unchanged() {
        let r = read_stream(SEED_RULE, "test", 1).unwrap();
        let rule = &r.destination_rules[0];
        assert_eq!(rule.host, "reviews");
        let policy = rule.traffic_policy.as_ref().unwrap();
        let od = policy.outlier_detection.as_ref().unwrap();
        assert_eq!(od.consecutive_5xx_errors, Some(1));
        assert_eq!(od.base_ejection_time, Some(SimDuration::from_secs(60)));
        assert_eq!(policy.connection_pool.as_ref().unwrap().max_requests_per_connection, 1);
        assert_eq!(rule.subsets.len(), 2);
        let route = &r.routes[0];
        assert_eq!(route.destinations, vec![(Some("v1".into()), 90), (Some("v2".into()), 10)]);
        assert_eq!(route.timeout, Some(SimDuration::from_secs(3)));
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn mistakes_name_the_document_line_and_field() {
        let typo = SEED_RULE.replace("consecutive5xxErrors", "consecutive5xxError");
        let err = read_stream(&typo, "reviews.yaml", 1).unwrap_err();
        assert!(err.contains("reviews.yaml, document starting at line 1"), "{err}");
        assert!(err.contains("unknown field `consecutive5xxError`"), "{err}");
        let bad_time = SEED_RULE.replace("interval: 1s", "interval: 1 second");
        assert!(read_stream(&bad_time, "x", 1).unwrap_err().contains("e.g. 250ms"));
        let legacy = SEED_RULE.replace("consecutive5xxErrors: 1", "consecutiveErrors: 1");
        assert!(read_stream(&legacy, "x", 1).unwrap_err().contains("consecutiveGatewayErrors"));
        let odd = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: x}\nspec: {}\n";
        assert!(read_stream(odd, "x", 1).unwrap_err().contains("not modelled"));
    }

    #[test]
    fn locality_settings_keep_their_written_order() {
        let doc = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    loadBalancer:
      localityLbSetting:
        enabled: true
        distribute:
        - from: cn-hangzhou/*
          to:
            "cn-shanghai/*": 10
            "cn-hangzhou/*": 90
"#;
        let r = read_stream(doc, "x", 1).unwrap();
        let setting = r.destination_rules[0].traffic_policy.as_ref().unwrap().load_balancer.as_ref().unwrap();
        let distribute = &setting.locality_lb_setting.as_ref().unwrap().distribute[0];
        assert_eq!(distribute.to, vec![("cn-shanghai/*".to_string(), 10), ("cn-hangzhou/*".to_string(), 90)]);
        assert_eq!(r.warnings.len(), 1, "tls is accepted with a warning");
    }

    #[test]
    fn istio_validation_rules_refuse_what_istiod_would() {
        let weights = SEED_RULE.replace("weight: 10", "weight: 5");
        assert!(read_stream(&weights, "x", 1).unwrap_err().contains("weights sum to 95, not 100"));
        let over = SEED_RULE.replace("weight: 10", "weight: 110");
        assert!(read_stream(&over, "x", 1).unwrap_err().contains("over 100"));
        let retries =
            |block: &str| SEED_RULE.replace("    timeout: 3s", &format!("    timeout: 3s\n    retries: {block}"));
        let typo = read_stream(&retries("{attempts: 2, retryOn: \"5xx,conect-failure\"}"), "x", 1).unwrap_err();
        assert!(typo.contains("http[0]: retries.retryOn: \"conect-failure\" is not a valid retryOn policy"), "{typo}");
        let spaced = read_stream(&retries("{attempts: 2, retryOn: \"5xx, reset\"}"), "x", 1).unwrap_err();
        assert!(spaced.contains("without spaces"), "{spaced}");
        let backoff = read_stream(&retries("{attempts: 2, backoff: 0s}"), "x", 1).unwrap_err();
        assert!(backoff.contains("retries.backoff: 0s is below 1ms"), "{backoff}");
        let fine = retries("{attempts: 2, retryOn: \"reset,409\", backoff: 50ms, retryIgnorePreviousHosts: false}");
        let route = &read_stream(&fine, "x", 1).unwrap().routes[0];
        assert_eq!(route.retries.as_ref().unwrap().backoff, Some(SimDuration::from_millis(50)));
        let local = SEED_RULE.replace("interval: 1s", "interval: 1s\n      consecutiveLocalOriginFailures: 3");
        assert!(read_stream(&local, "x", 1).unwrap_err().contains("splitExternalLocalOriginErrors: true"));
        let locality = |body: &str| -> LocalityLbSettingDoc { serde_saphyr::from_str(body).unwrap() };
        let ninety = locality("distribute:\n- from: a/*\n  to: {\"a/*\": 80, \"b/*\": 10}\n");
        assert!(ninety.check().unwrap_err().to_string().contains("sum to 90, not 100"));
        let zero = locality("distribute:\n- from: a/*\n  to: {\"a/*\": 100, \"b/*\": 0}\n");
        assert!(zero.check().unwrap_err().to_string().contains("outside 1 to 100"));
        let both = locality("distribute:\n- from: a/*\n  to: {\"a/*\": 100}\nfailover:\n- {from: a, to: b}\n");
        assert!(both.check().unwrap_err().to_string().contains("cannot be set together"));
        let same = locality("failover:\n- {from: a, to: a}\n");
        assert!(same.check().unwrap_err().to_string().contains("another region"));
        assert!(locality("distribute:\n- from: a/*\n  to: {\"a/*\": 90, \"b/*\": 10}\n").check().is_ok());
    }
}
