//! The Envoy bootstrap for the gateway of a fidelity case, built from meshsim's own translation
//! of the scenario's Istio configuration (`models::istio`): the cluster istiod would push
//! (endpoints with locality, priority and weight, outlier detection, panic threshold, locality
//! weighting, merge window, LB policy, circuit breakers, connect timeout, requests per
//! connection), and the route (timeout 0 unless the VirtualService sets one, as Istio writes it;
//! the retry policy). Static resources stand in for xDS: what is compared is Envoy's behaviour
//! under the configuration, not the delivery of it.

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use models::envoy::host_set::{EdsHealth, EndpointId};
use models::envoy::load_balancer::LbPolicy;
use models::envoy::outlier_detection::DetectorConfig;
use models::envoy::retry::RetryPolicy;
use models::istio::cluster::build;
use models::istio::envoy_filter::apply_all;
use models::istio::locality::{Client, Locality, ServiceEndpoint};
use models::istio::retry::{retry_on_text, route_policy};
use sim::SimDuration;

use super::Ports;
use super::pods::FakePod;
use crate::output::json_string;
use crate::scenario::Scenario;

/// Envoy's name for the cluster.
const CLUSTER: &str = "backend";

/// A protobuf `Duration` as JSON (`"1.5s"`).
fn duration(d: SimDuration) -> String {
    json_string(&format!("{}s", d.as_secs_f64()))
}

/// The bootstrap JSON; the access log and the outlier event log go under `work`.
pub fn bootstrap(scenario: &Scenario, pods: &[FakePod], ports: Ports, work: &Path) -> Result<String, String> {
    let config = &scenario.config;
    let entry = &config.workload.entry_service;
    let (gateway_cluster, gateway) = config
        .clusters
        .iter()
        .find_map(|c| c.gateways.iter().find(|g| g.name == config.workload.gateway).map(|g| (c, g)))
        .ok_or("the workload's gateway is in no cluster")?;
    let client = Client {
        locality: if gateway.locality_labels {
            Locality::new(&gateway_cluster.region, &gateway.zone, "")
        } else {
            Locality::default()
        },
        labels: BTreeMap::new(),
    };
    let endpoints: Vec<ServiceEndpoint> = pods
        .iter()
        .enumerate()
        .map(|(i, p)| ServiceEndpoint {
            endpoint: EndpointId(i as u32),
            locality: Rc::new(Locality::new(&p.region, &p.zone, "")),
            labels: Rc::new(BTreeMap::from([
                ("app".to_string(), entry.clone()),
                ("version".to_string(), p.version.clone()),
            ])),
            weight: 1,
            health: EdsHealth::Healthy,
        })
        .collect();
    let rule = config.istio.destination_rules.iter().find(|r| &r.host == entry);
    let route = config.istio.routes.iter().find(|r| &r.host == entry);
    if route.is_some_and(|r| r.destinations.len() > 1 || r.destinations.iter().any(|(subset, _)| subset.is_some())) {
        return Err(super::unsupported("a route split over subsets; route the entry service to the whole service"));
    }
    let mut built = build(&config.istio.mesh, &client, config.istio.proxy_concurrency, rule, None, &endpoints)
        .map_err(|e| e.to_string())?;
    apply_all(&config.istio.envoy_overrides, &gateway.name, entry, &mut built.settings);
    let retries = route.and_then(|r| r.retries.as_ref());
    let policy = route_policy(retries, config.istio.mesh.istio_version)?;
    let route_json = route_entry(route.and_then(|r| r.timeout), &policy, &retry_on_text(retries));
    let settings = &built.settings;
    let localities = &built.assignment.localities;
    let groups: Vec<String> = built
        .assignment
        .assignment
        .localities
        .iter()
        .map(|group| {
            let locality = &localities[group.locality as usize];
            let members: Vec<String> = group
                .endpoints
                .iter()
                .map(|e| {
                    let pod = &pods[e.endpoint.0 as usize];
                    format!(
                        "{{\"endpoint\":{{\"address\":{{\"socket_address\":{{\"address\":{},\"port_value\":{}}}}}}},\"load_balancing_weight\":{}}}",
                        json_string(&pod.address),
                        pod.port,
                        e.weight
                    )
                })
                .collect();
            format!(
                "{{\"locality\":{{\"region\":{},\"zone\":{},\"sub_zone\":{}}},\"priority\":{},\"load_balancing_weight\":{},\"lb_endpoints\":[{}]}}",
                json_string(&locality.region),
                json_string(&locality.zone),
                json_string(&locality.subzone),
                group.priority,
                group.weight.max(1),
                members.join(",")
            )
        })
        .collect();
    let lb_policy = match settings.lb.policy {
        LbPolicy::RoundRobin => "\"ROUND_ROBIN\"".to_string(),
        LbPolicy::Random => "\"RANDOM\"".to_string(),
        LbPolicy::LeastRequest { choice_count, .. } => {
            format!("\"LEAST_REQUEST\",\"least_request_lb_config\":{{\"choice_count\":{choice_count}}}")
        }
    };
    let mut common = vec![
        format!("\"healthy_panic_threshold\":{{\"value\":{}}}", settings.lb.panic_threshold),
        format!("\"update_merge_window\":{}", duration(settings.update_merge_window)),
    ];
    if settings.lb.locality_weighted {
        common.push("\"locality_weighted_lb_config\":{}".into());
    }
    let limits = &settings.circuit_breakers;
    let per_connection = settings
        .max_requests_per_connection
        .map(|n| format!("\"max_requests_per_connection\":{n}"))
        .unwrap_or_default();
    let outlier = settings
        .outlier_detection
        .as_ref()
        .map(|d| format!(",\"outlier_detection\":{}", detector(d)))
        .unwrap_or_default();
    let cluster = format!(
        "{{\"name\":\"{CLUSTER}\",\"type\":\"STATIC\",\"connect_timeout\":{},\"lb_policy\":{lb_policy},\
\"common_lb_config\":{{{}}},\
\"circuit_breakers\":{{\"thresholds\":[{{\"max_connections\":{},\"max_pending_requests\":{},\"max_requests\":{},\"max_retries\":{}}}]}},\
\"typed_extension_protocol_options\":{{\"envoy.extensions.upstreams.http.v3.HttpProtocolOptions\":{{\"@type\":\"type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\",\"common_http_protocol_options\":{{{per_connection}}},\"explicit_http_config\":{{\"http_protocol_options\":{{}}}}}}}},\
\"load_assignment\":{{\"cluster_name\":\"{CLUSTER}\",\"endpoints\":[{}]}}{outlier}}}",
        duration(settings.connect_timeout),
        common.join(","),
        limits.max_connections,
        limits.max_pending_requests,
        limits.max_requests,
        limits.max_retries,
        groups.join(",")
    );
    let access_log = work.join("access.log");
    let event_log = work.join("outlier.log");
    let log_format = "{\"start\":\"%START_TIME(%s.%3f)%\",\"status\":\"%RESPONSE_CODE%\",\"flags\":\"%RESPONSE_FLAGS%\",\"upstream\":\"%UPSTREAM_HOST%\",\"attempts\":\"%UPSTREAM_REQUEST_ATTEMPT_COUNT%\",\"duration_ms\":\"%DURATION%\"}\n";
    Ok(format!(
        "{{\"node\":{{\"id\":\"fidelity\",\"cluster\":\"fidelity\"}},\
\"admin\":{{\"address\":{{\"socket_address\":{{\"address\":\"127.0.0.1\",\"port_value\":{}}}}}}},\
\"cluster_manager\":{{\"outlier_detection\":{{\"event_log_path\":{}}}}},\
\"static_resources\":{{\"listeners\":[{{\"name\":\"ingress\",\"address\":{{\"socket_address\":{{\"address\":\"127.0.0.1\",\"port_value\":{}}}}},\
\"filter_chains\":[{{\"filters\":[{{\"name\":\"envoy.filters.network.http_connection_manager\",\"typed_config\":{{\
\"@type\":\"type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\",\
\"stat_prefix\":\"ingress\",\
\"access_log\":[{{\"name\":\"envoy.access_loggers.file\",\"typed_config\":{{\"@type\":\"type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog\",\"path\":{},\"log_format\":{{\"text_format_source\":{{\"inline_string\":{}}}}}}}}}],\
\"route_config\":{{\"virtual_hosts\":[{{\"name\":\"{CLUSTER}\",\"domains\":[\"*\"],\"routes\":[{route_json}]}}]}},\
\"http_filters\":[{{\"name\":\"envoy.filters.http.router\",\"typed_config\":{{\"@type\":\"type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\"}}}}]}}}}]}}]}}],\
\"clusters\":[{cluster}]}}}}\n",
        ports.admin,
        json_string(&event_log.display().to_string()),
        ports.listener,
        json_string(&access_log.display().to_string()),
        json_string(log_format),
    ))
}

/// The route to the cluster, with Istio's timeout (0: none) and retry policy.
fn route_entry(timeout: Option<SimDuration>, policy: &RetryPolicy, retry_on: &str) -> String {
    let timeout = duration(timeout.unwrap_or(SimDuration::ZERO));
    if policy.num_retries == 0 {
        return format!(
            "{{\"match\":{{\"prefix\":\"/\"}},\"route\":{{\"cluster\":\"{CLUSTER}\",\"timeout\":{timeout}}}}}"
        );
    }
    let mut fields = vec![
        format!("\"retry_on\":{}", json_string(retry_on)),
        format!("\"num_retries\":{}", policy.num_retries),
        format!(
            "\"retry_back_off\":{{\"base_interval\":{},\"max_interval\":{}}}",
            duration(policy.base_interval),
            duration(policy.max_interval)
        ),
    ];
    if !policy.retriable_status_codes.is_empty() {
        let codes: Vec<String> = policy.retriable_status_codes.iter().map(u16::to_string).collect();
        fields.push(format!("\"retriable_status_codes\":[{}]", codes.join(",")));
    }
    if policy.previous_hosts {
        fields.push("\"retry_host_predicate\":[{\"name\":\"envoy.retry_host_predicates.previous_hosts\",\"typed_config\":{\"@type\":\"type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate\"}}]".into());
        fields.push(format!("\"host_selection_retry_max_attempts\":{}", policy.host_selection_max_attempts));
    }
    if let Some(frequency) = policy.previous_priorities {
        fields.push(format!("\"retry_priority\":{{\"name\":\"envoy.retry_priorities.previous_priorities\",\"typed_config\":{{\"@type\":\"type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig\",\"update_frequency\":{frequency}}}}}"));
    }
    if let Some(per_try) = policy.per_try_timeout {
        fields.push(format!("\"per_try_timeout\":{}", duration(per_try)));
    }
    format!(
        "{{\"match\":{{\"prefix\":\"/\"}},\"route\":{{\"cluster\":\"{CLUSTER}\",\"timeout\":{timeout},\"retry_policy\":{{{}}}}}}}",
        fields.join(",")
    )
}

/// The cluster's `outlier_detection`, every field meshsim models.
fn detector(d: &DetectorConfig) -> String {
    format!(
        "{{\"interval\":{},\"base_ejection_time\":{},\"max_ejection_time\":{},\"max_ejection_percent\":{},\
\"consecutive_5xx\":{},\"enforcing_consecutive_5xx\":{},\"consecutive_gateway_failure\":{},\"enforcing_consecutive_gateway_failure\":{},\
\"split_external_local_origin_errors\":{},\"consecutive_local_origin_failure\":{},\"enforcing_consecutive_local_origin_failure\":{},\
\"enforcing_success_rate\":{},\"enforcing_local_origin_success_rate\":{},\"enforcing_failure_percentage\":{},\"enforcing_failure_percentage_local_origin\":{},\
\"always_eject_one_host\":{}}}",
        duration(d.interval),
        duration(d.base_ejection_time),
        duration(d.max_ejection_time),
        d.max_ejection_percent,
        d.consecutive_5xx,
        d.enforcing_consecutive_5xx,
        d.consecutive_gateway_failure,
        d.enforcing_consecutive_gateway_failure,
        d.split_external_local_origin_errors,
        d.consecutive_local_origin_failure,
        d.enforcing_consecutive_local_origin_failure,
        d.enforcing_success_rate,
        d.enforcing_local_origin_success_rate,
        d.enforcing_failure_percentage,
        d.enforcing_failure_percentage_local_origin,
        d.always_eject_one_host
    )
}
