//! Large meshes load and run: what a user who models every region, or a thousand pods per
//! deployment, gets from a plain `meshsim run`.

use std::path::Path;

use benches::mesh::bookinfo_in_every_region;
use experiments::output::table;
use experiments::run::{run, simulate};
use experiments::scenario::parse;

#[test]
fn two_hundred_regions_with_every_connection_load_and_run() {
    // 19,900 CEN connections: over 250,000 YAML nodes, past the reader's default budget.
    let scenario = parse(&bookinfo_in_every_region(200, 1, 50, 3), "mesh.yaml", Path::new(".")).unwrap();
    assert_eq!(scenario.config.clusters.len(), 200);
    let results = run(&scenario, 1, 1).unwrap();
    let summary = &results[0].summary;
    assert!(summary.requests > 50, "{summary:?}");
    assert_eq!(summary.failed, 0);
    // The run's table names the links that carried traffic and folds the rest into one line.
    let printed = table(&scenario, &results);
    let carried = summary.backbone.iter().filter(|link| link.1 > 0 || link.4 > 0).count();
    let backbone_lines = printed.lines().filter(|l| l.starts_with("backbone")).count();
    assert_eq!(backbone_lines, carried + 1, "{}", &printed[..printed.len().min(2000)]);
    let idle = 200 * 199 - carried;
    assert!(printed.contains(&format!("backbone: {idle} other links carried nothing")));
}

#[test]
fn a_thousand_pods_per_deployment_load_and_run() {
    // Two regions of 4 × 1,000 pods (speed and memory against 10 pods: `mesh-size` in benches).
    let scenario = parse(&bookinfo_in_every_region(2, 1000, 200, 3), "mesh.yaml", Path::new(".")).unwrap();
    let summary = simulate(&scenario, 1).unwrap().summary;
    assert!(summary.requests > 200, "{summary:?}");
    assert_eq!(summary.failed, 0);
}
