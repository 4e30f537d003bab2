//! The mesh benchmark workload: the built-in `seed-failover` scenario under open-loop Poisson
//! load, so that speed is measured on the model planners run (gateway, sidecars, retries,
//! outlier detection, backbone), not on a toy.

use std::path::PathBuf;

use experiments::run::run;
use experiments::scenario::{Scenario, load};
use models::mesh::config::Arrivals;
use sim::SimDuration;

/// `seed-failover` at `rate` requests per second for `seconds` simulated seconds, with every
/// deployment given 8 pods of concurrency 32 so that the mesh keeps up (an overloaded pod would
/// queue requests without end, and the benchmark would measure queueing, not simulation).
pub fn seed_failover_under_load(rate: f64, seconds: u64) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../experiments/scenarios/seed-failover.yaml");
    let mut scenario = load(&path).expect("the built-in scenario loads");
    for deployment in scenario.config.clusters.iter_mut().flat_map(|c| c.deployments.iter_mut()) {
        deployment.replicas = 8;
        deployment.concurrency = 32;
    }
    scenario.config.workload.arrivals = Arrivals::Poisson { rate };
    scenario.config.workload.start = SimDuration::from_secs(1);
    scenario.config.duration = SimDuration::from_secs(seconds);
    scenario
}

/// Runs one replication; returns the user requests simulated and how many were answered.
pub fn simulate(scenario: &Scenario) -> (u64, u64) {
    let summary = &run(scenario, scenario.config.seed, 1).expect("the scenario runs")[0].summary;
    (summary.requests, summary.requests - summary.unanswered)
}
