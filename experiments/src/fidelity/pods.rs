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
    /// Faults that hit it, in the scenario's order.
    pub faults: Vec<PodFault>,
}

/// A fault as one fake pod follows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PodFault {
    /// Start, seconds from the first request.
    pub at: f64,
    /// End, if it ends.
    pub until: Option<f64>,
    /// What the pod does meanwhile.
    pub kind: FaultKind,
    /// Whether it is the run's first fault, the one time to first ejection and failback are
    /// measured from (the earliest to start; the first listed among equals).
    pub first: bool,
}

/// The pods of the entry service, in meshsim's order (clusters, deployments, ordinals), on
/// 127.0.0.10, .11, …
pub fn plan(scenario: &Scenario, port: u16) -> Vec<FakePod> {
    let config = &scenario.config;
    let entry = &config.workload.entry_service;
    let service = config.app.services.iter().find(|s| &s.name == entry).expect("subset checked");
    let start = config.workload.start.as_secs_f64();
    let first = (0..config.faults.len()).min_by_key(|&i| config.faults[i].start);
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
                    .enumerate()
                    .filter(|(_, f)| match &f.target {
                        FaultTarget::Deployment { cluster: c, service: s, version: v } => {
                            *c == cluster.name && s == entry && *v == deployment.version
                        }
                        FaultTarget::Pod { cluster: c, service: s, version: v, index } => {
                            *c == cluster.name && s == entry && *v == deployment.version && *index == ordinal
                        }
                        _ => false,
                    })
                    .map(|(i, f)| PodFault {
                        at: f.start.as_secs_f64() - start,
                        until: f.end.map(|e| e.as_secs_f64() - start),
                        kind: f.kind.clone(),
                        first: Some(i) == first,
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
                .map(|f| {
                    let (behaviour, value) = match &f.kind {
                        FaultKind::Respond(status) => ("respond", f64::from(*status)),
                        FaultKind::Refuse => ("refuse", 0.0),
                        FaultKind::Hang => ("hang", 0.0),
                        FaultKind::Slow(d) => ("slow", d.as_secs_f64()),
                        FaultKind::FailFraction(f, _) => ("fail_fraction", *f),
                        _ => ("unsupported", 0.0),
                    };
                    let status = match &f.kind {
                        FaultKind::FailFraction(_, status) => *status,
                        _ => 0,
                    };
                    format!(
                        "{{\"at\":{},\"until\":{},\"kind\":{},\"value\":{},\"status\":{status},\"first\":{}}}",
                        json_number(Some(f.at)),
                        json_number(f.until),
                        json_string(behaviour),
                        json_number(Some(value)),
                        f.first
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
