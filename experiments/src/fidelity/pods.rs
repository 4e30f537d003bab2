//! The fake pods: one per pod of the entry service, each on its own loopback address, with its
//! service time and the faults that hit it, in the order meshsim numbers the pods.

use models::mesh::app::Delay;
use models::mesh::config::{FaultKind, FaultTarget};

use crate::output::{json_number, json_string};
use crate::scenario::Scenario;

/// One fake pod.
#[derive(Clone, Debug, PartialEq)]
pub struct FakePod {
    /// `version-cluster-ordinal`, what it answers in `x-pod`.
    pub name: String,
    /// Its loopback address.
    pub address: String,
    /// Its port.
    pub port: u16,
    /// Region, zone (its locality) and version label.
    pub region: String,
    /// Zone.
    pub zone: String,
    /// Version label.
    pub version: String,
    /// Mean service time in seconds, and whether exponential (else constant).
    pub service_time: (f64, bool),
    /// Faults that hit it: start and end (seconds from the first request), and the behaviour.
    pub faults: Vec<(f64, Option<f64>, FaultKind)>,
}

/// The pods of the entry service, in meshsim's order (clusters, deployments, ordinals), on
/// 127.0.0.10, .11, …
pub fn plan(scenario: &Scenario, port: u16) -> Vec<FakePod> {
    let config = &scenario.config;
    let entry = &config.workload.entry_service;
    let service = config.app.services.iter().find(|s| &s.name == entry).expect("subset checked");
    let start = config.workload.start.as_secs_f64();
    let mut pods = Vec::new();
    for cluster in &config.clusters {
        for deployment in cluster.deployments.iter().filter(|d| &d.service == entry) {
            let version = service.versions.iter().find(|v| v.name == deployment.version).expect("checked at load");
            let service_time = match version.service_time {
                Delay::Constant(d) => (d.as_secs_f64(), false),
                Delay::Exponential(d) => (d.as_secs_f64(), true),
            };
            for ordinal in 0..deployment.replicas {
                let faults = config
                    .faults
                    .iter()
                    .filter(|f| match &f.target {
                        FaultTarget::Deployment { cluster: c, service: s, version: v } => {
                            *c == cluster.name && s == entry && *v == deployment.version
                        }
                        FaultTarget::Pod { cluster: c, service: s, version: v, index } => {
                            *c == cluster.name && s == entry && *v == deployment.version && *index == ordinal
                        }
                        _ => false,
                    })
                    .map(|f| {
                        let end = f.end.map(|e| e.as_secs_f64() - start);
                        (f.start.as_secs_f64() - start, end, f.kind.clone())
                    })
                    .collect();
                let index = pods.len();
                pods.push(FakePod {
                    name: format!("{}-{}-{ordinal}", deployment.version, cluster.name),
                    address: format!("127.0.0.{}", 10 + index),
                    port,
                    region: cluster.region.clone(),
                    zone: deployment.zone.clone(),
                    version: deployment.version.clone(),
                    service_time,
                    faults,
                });
            }
        }
    }
    pods
}

/// `pods.json`: the plan as the Python harness reads it.
pub fn json(pods: &[FakePod]) -> String {
    let entries: Vec<String> = pods
        .iter()
        .map(|p| {
            let faults: Vec<String> = p
                .faults
                .iter()
                .map(|(at, until, kind)| {
                    let (behaviour, value) = match kind {
                        FaultKind::Respond(status) => ("respond", f64::from(*status)),
                        FaultKind::Refuse => ("refuse", 0.0),
                        FaultKind::Hang => ("hang", 0.0),
                        FaultKind::Slow(d) => ("slow", d.as_secs_f64()),
                        FaultKind::FailFraction(f, _) => ("fail_fraction", *f),
                        _ => ("unsupported", 0.0),
                    };
                    let status = match kind {
                        FaultKind::FailFraction(_, status) => *status,
                        _ => 0,
                    };
                    format!(
                        "{{\"at\":{},\"until\":{},\"kind\":{},\"value\":{},\"status\":{status}}}",
                        json_number(Some(*at)),
                        json_number(*until),
                        json_string(behaviour),
                        json_number(Some(value))
                    )
                })
                .collect();
            format!(
                "{{\"name\":{},\"address\":{},\"port\":{},\"region\":{},\"zone\":{},\"version\":{},\"service_time_s\":{},\"exponential\":{},\"faults\":[{}]}}",
                json_string(&p.name),
                json_string(&p.address),
                p.port,
                json_string(&p.region),
                json_string(&p.zone),
                json_string(&p.version),
                json_number(Some(p.service_time.0)),
                p.service_time.1,
                faults.join(",")
            )
        })
        .collect();
    format!("[{}]\n", entries.join(",\n"))
}
