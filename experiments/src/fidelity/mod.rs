//! The fidelity harness's Rust half: for a scenario of the supported subset (one gateway
//! calling one service's pods across localities), the Envoy bootstrap that meshsim's Istio
//! translation gives the gateway, and the plan of the fake pods that stand in for the service on
//! loopback. `experiments/fidelity/harness.py` runs real Envoy against them and compares with
//! `meshsim run`; `FIDELITY.md` holds the verdicts.

pub mod envoy_config;
pub mod pods;

use std::path::Path;

use models::mesh::config::{Arrivals, FaultKind, FaultTarget};

use crate::output::{json_number, json_string};
use crate::scenario::Scenario;

/// Loopback ports the exported set-up listens on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    /// Envoy's listener, where the load driver sends requests.
    pub listener: u16,
    /// Envoy's admin interface.
    pub admin: u16,
    /// Every fake pod's port (each pod has its own 127.0.0.x address).
    pub pods: u16,
}

/// Why a scenario is outside the subset the harness can reproduce.
fn unsupported(what: &str) -> String {
    format!("outside the fidelity harness's subset: {what}")
}

/// Checks the subset: open-loop constant arrivals, one gateway replica calling an entry service
/// that calls nothing, faults only on that service's pods.
pub fn check_subset(scenario: &Scenario) -> Result<(), String> {
    let config = &scenario.config;
    let entry = &config.workload.entry_service;
    let service =
        config.app.services.iter().find(|s| &s.name == entry).ok_or_else(|| unsupported("no entry service"))?;
    if service.versions.iter().any(|v| !v.calls.is_empty()) {
        return Err(unsupported("the entry service calls other services; give it none"));
    }
    if !matches!(config.workload.arrivals, Arrivals::Constant { .. }) {
        return Err(unsupported("arrivals other than constant"));
    }
    let gateways: u32 = config
        .clusters
        .iter()
        .flat_map(|c| c.gateways.iter())
        .filter(|g| g.name == config.workload.gateway)
        .map(|g| g.replicas)
        .sum();
    if gateways != 1 {
        return Err(unsupported("the workload's gateway must have exactly one replica"));
    }
    for fault in &config.faults {
        if !matches!(
            fault.kind,
            FaultKind::Respond(_)
                | FaultKind::Refuse
                | FaultKind::Hang
                | FaultKind::Slow(_)
                | FaultKind::FailFraction(..)
        ) {
            return Err(unsupported("faults other than respond, refuse, hang, slow and fail_fraction"));
        }
        let on_entry = match &fault.target {
            FaultTarget::Deployment { service, .. } | FaultTarget::Pod { service, .. } => service == entry,
            _ => false,
        };
        if !on_entry {
            return Err(unsupported("faults other than on the entry service's pods or deployments"));
        }
    }
    Ok(())
}

/// `case.json`: what the load driver needs — the run's length, the open-loop rate and request
/// count, the user's timeout, Envoy's worker count, and when the first fault starts and ends
/// (seconds from the first request).
fn case_json(scenario: &Scenario, pods: &[pods::FakePod]) -> String {
    let config = &scenario.config;
    let rate = match config.workload.arrivals {
        Arrivals::Constant { rate } => rate,
        _ => unreachable!("subset checked"),
    };
    let start = config.workload.start;
    let first = pods.iter().flat_map(|p| p.faults.iter()).find(|f| f.first);
    let requests = config
        .workload
        .requests
        .unwrap_or(u64::MAX)
        .min(((config.duration.as_secs_f64() - start.as_secs_f64()).max(0.0) * rate).ceil() as u64);
    format!(
        "{{\"name\":{},\"duration_s\":{},\"rate\":{},\"requests\":{requests},\"user_timeout_s\":{},\"workers\":{},\"first_fault_s\":{},\"first_fault_end_s\":{}}}\n",
        json_string(&scenario.name),
        json_number(Some(config.duration.as_secs_f64() - start.as_secs_f64())),
        json_number(Some(rate)),
        json_number(config.workload.user_timeout.map(|t| t.as_secs_f64())),
        config.istio.proxy_concurrency,
        json_number(first.map(|f| f.at)),
        json_number(first.and_then(|f| f.until))
    )
}

/// Writes `envoy.json` (the bootstrap), `pods.json` (the fake pods' plan) and `case.json` (the
/// workload) into `dir`.
pub fn export(scenario: &Scenario, ports: Ports, work: &Path, dir: &Path) -> Result<(), String> {
    check_subset(scenario)?;
    let pods = pods::plan(scenario, ports.pods);
    let bootstrap = envoy_config::bootstrap(scenario, &pods, ports, work)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let files =
        [("envoy.json", bootstrap), ("pods.json", pods::json(&pods)), ("case.json", case_json(scenario, &pods))];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
