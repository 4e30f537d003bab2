//! Large meshes load and run: what a user who models every region, or a thousand pods per
//! deployment, gets from a plain `meshsim run`.

use std::path::Path;

use benches::mesh::bookinfo_in_every_region;
use experiments::run::simulate;
use experiments::scenario::parse;

#[test]
fn two_hundred_regions_with_every_connection_load_and_run() {
    // 19,900 CEN connections: over 250,000 YAML nodes, past the reader's default budget.
    let scenario = parse(&bookinfo_in_every_region(200, 1, 50, 3), "mesh.yaml", Path::new(".")).unwrap();
    assert_eq!(scenario.config.clusters.len(), 200);
    let summary = simulate(&scenario, 1).unwrap().summary;
    assert!(summary.requests > 50, "{summary:?}");
    assert_eq!(summary.failed, 0);
}

#[test]
fn a_thousand_pods_per_deployment_load_and_run() {
    // Two regions of 4 × 1,000 pods (speed and memory against 10 pods: `mesh-size` in benches).
    let scenario = parse(&bookinfo_in_every_region(2, 1000, 200, 3), "mesh.yaml", Path::new(".")).unwrap();
    let summary = simulate(&scenario, 1).unwrap().summary;
    assert!(summary.requests > 200, "{summary:?}");
    assert_eq!(summary.failed, 0);
}
