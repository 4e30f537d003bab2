//! What `deploy/` ships works as shipped: the Kubernetes ConfigMap's sweep and base scenario are a
//! valid sweep, the Indexed Job tells meshsim as many shards as it has completions (`.ci/run`
//! also validates every manifest against the Kubernetes schemas), and the profile-guided build
//! trains on the load its comments promise (`.ci/run` runs the build itself).

use std::path::PathBuf;
use std::process::Command;

use experiments::yaml::tree::{self, Node};

fn manifest(name: &str) -> Node {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes").join(name);
    tree::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_config_map_holds_a_sweep_that_runs() {
    let Some(Node::Map(data)) = manifest("sweep-configmap.yaml").get("data").cloned() else { panic!("no data") };
    let folder = tempfile::Builder::new().prefix("meshsim-deploy-").tempdir().unwrap();
    let dir = folder.path();
    for (name, value) in &data {
        std::fs::write(dir.join(name), value.scalar_text().unwrap()).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .arg("sweep")
        .arg(dir.join("sweep.yaml"))
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listing = String::from_utf8(output.stdout).unwrap();
    assert!(listing.starts_with("# sweep bandwidth: 7 points x 10 replications = 70 runs"), "{listing}");
}

#[test]
fn the_indexed_job_names_its_shard_count() {
    let job = manifest("sweep-job.yaml");
    let spec = job.get("spec").unwrap();
    assert_eq!(spec.get("completionMode"), Some(&Node::Text("Indexed".into())));
    let completions = spec.get("completions").unwrap().scalar_text().unwrap();
    let Some(Node::Seq(containers)) =
        spec.get("template").and_then(|t| t.get("spec")).and_then(|s| s.get("containers")).cloned()
    else {
        panic!("no containers")
    };
    let Some(Node::Seq(env)) = containers[0].get("env").cloned() else { panic!("no env") };
    let shards = env.iter().find(|e| e.get("name") == Some(&Node::Text("MESHSIM_SHARDS".into()))).unwrap();
    assert_eq!(shards.get("value").unwrap().scalar_text().unwrap(), completions);
}

#[test]
fn the_profile_guided_build_trains_on_the_benchmark_load_at_three_sizes() {
    use experiments::sweep::plan::Plan;
    use models::mesh::config::Arrivals;

    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/pgo/training-sweep.yaml");
    let plan = Plan::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let scenarios = plan.scenarios().unwrap_or_else(|e| panic!("{e}"));
    let sizes: Vec<u32> = scenarios
        .iter()
        .map(|scenario| {
            let config = &scenario.config;
            assert_eq!(config.workload.arrivals, Arrivals::Poisson { rate: 1000.0 });
            let deployments: Vec<_> = config.clusters.iter().flat_map(|c| &c.deployments).collect();
            assert_eq!(deployments.len(), 8, "every deployment of seed-failover");
            assert!(deployments.iter().all(|d| d.concurrency == 32 && d.replicas == deployments[0].replicas));
            deployments[0].replicas
        })
        .collect();
    assert_eq!(sizes, [1, 8, 100]);
}
