//! The built-in sweeps answer their planners' questions: each test runs the points that carry
//! the answer (a few replications, through the library) and checks what the README says of them.

use std::path::PathBuf;

use experiments::run::simulate;
use experiments::sweep::plan::Plan;
use models::mesh::summary::RunSummary;

fn plan(name: &str) -> Plan {
    Plan::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sweeps").join(format!("{name}.yaml"))).unwrap()
}

/// The summaries of the first `replications` runs of the point whose knobs take `values`.
fn point(plan: &Plan, values: &[&str], replications: u64) -> Vec<RunSummary> {
    let p =
        (0..plan.points()).find(|&p| plan.point_values(p) == values).unwrap_or_else(|| panic!("no point {values:?}"));
    let scenario = plan.scenario(p).unwrap();
    (0..replications.min(plan.replications))
        .map(|r| simulate(&scenario, plan.run_id(p * plan.replications + r).seed).unwrap().summary)
        .collect()
}

fn mean(runs: &[RunSummary], metric: impl Fn(&RunSummary) -> Option<f64>) -> f64 {
    let values: Vec<f64> = runs.iter().filter_map(metric).collect();
    assert!(!values.is_empty(), "no run has the metric");
    values.iter().sum::<f64>() / values.len() as f64
}

fn share(s: &RunSummary, zone: &str) -> Option<f64> {
    Some(s.shares.iter().filter(|(z, ..)| z == zone).map(|(.., f)| f).sum())
}

#[test]
fn every_built_in_sweep_is_valid_in_every_point() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sweeps");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let plan = Plan::load(&path).unwrap_or_else(|e| panic!("{e}"));
        plan.scenarios().unwrap_or_else(|e| panic!("{e}"));
        count += 1;
    }
    assert_eq!(count, 5);
}

#[test]
fn max_ejection_percent_decides_whether_failover_happens() {
    let p = plan("max-ejection-replicas");
    // Istio's default 10 % never ejects one pod of two: no failover.
    assert_eq!(mean(&point(&p, &["10", "1"], 2), |s| share(s, "cn-shanghai-b")), 0.0);
    // 50 % ejects the failing pod: most answers come from shanghai.
    assert!(mean(&point(&p, &["50", "1"], 2), |s| share(s, "cn-shanghai-b")) > 0.8);
    // 25 % of 4 hosts ejects one of hangzhou's two: priority health 50 % x 1.4 keeps 70 % local.
    let partial = mean(&point(&p, &["25", "2"], 2), |s| share(s, "cn-shanghai-b"));
    assert!((0.5..0.8).contains(&partial), "{partial}");
}

#[test]
fn the_split_converges_with_requests() {
    let p = plan("distribute-split");
    let few = mean(&point(&p, &["50", "10"], 6), |s| s.split.as_ref().map(|x| x.5.abs()));
    let many = mean(&point(&p, &["50", "1000"], 6), |s| s.split.as_ref().map(|x| x.5.abs()));
    assert!(many < few / 5.0, "after 1000 requests {many}, after 10 {few}");
}

#[test]
fn too_little_bandwidth_drops_and_delays_after_failover() {
    let p = plan("cen-bandwidth");
    let drops = |s: &RunSummary| Some(s.backbone.iter().map(|b| b.4 as f64).sum());
    let thin = point(&p, &["1Mbps"], 2);
    let wide = point(&p, &["100Mbps"], 2);
    assert!(mean(&thin, drops) > 0.0 && mean(&wide, drops) == 0.0);
    assert!(mean(&thin, |s| Some(s.latency_ms[2])) > 10.0 * mean(&wide, |s| Some(s.latency_ms[2])));
}

#[test]
fn ejection_settings_trade_speed_for_returns() {
    let p = plan("ejection-503-pod");
    let first = |values: &[&str]| mean(&point(&p, values, 2), |s| s.time_to_first_ejection);
    // More consecutive errors needed, later first ejection.
    assert!(first(&["10", "1s", "30s"]) > first(&["1", "1s", "30s"]));
    // A short baseEjectionTime brings the failing pod back sooner, to be ejected again.
    let ejections = |values: &[&str]| mean(&point(&p, values, 2), |s| Some(s.ejections as f64));
    assert!(ejections(&["1", "1s", "5s"]) > ejections(&["1", "1s", "30s"]));
    let dead = plan("ejection-dead-region");
    // A dead region: every attempt waits the 10 s connect timeout before it counts as an error.
    let to_eject = mean(&point(&dead, &["1", "1s", "30s"], 2), |s| s.time_to_first_ejection);
    assert!((10.0..12.0).contains(&to_eject), "{to_eject}");
}
