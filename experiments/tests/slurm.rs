//! A sweep submitted to a real Slurm as an array job, merged, and compared byte for byte with
//! the same sweep run on this machine. Needs a running Slurm whose `SLURM_CONF` is set:
//! `.ci/run` starts one with `experiments/deploy/slurm/local-cluster.sh` and runs this test
//! with `cargo test --test slurm -- --ignored`.

use std::path::PathBuf;
use std::process::Command;

#[test]
#[ignore = "needs a running Slurm (experiments/deploy/slurm/local-cluster.sh start; .ci/run does it)"]
fn an_array_job_gives_the_bytes_of_a_local_run() {
    assert!(std::env::var_os("SLURM_CONF").is_some(), "SLURM_CONF is not set: start local-cluster.sh first");
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let folder = tempfile::Builder::new().prefix("meshsim-slurm-test-").tempdir().unwrap();
    let dir = folder.path();
    let sweep = dir.join("sweep.yaml");
    std::fs::write(
        &sweep,
        format!(
            "name: slurm\nbase: {}\nreplications: 2\nset:\n  duration: 30s\nvary:\n  \
             istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.maxEjectionPercent: [10, 50, 100]\n",
            manifest.join("scenarios/pod-503-keep-endpoints.yaml").display()
        ),
    )
    .unwrap();
    let meshsim = env!("CARGO_BIN_EXE_meshsim");
    let local = Command::new(meshsim).arg("sweep").arg(&sweep).arg("--out").arg(dir.join("local")).output().unwrap();
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));

    let submitted = Command::new("sbatch")
        .args(["--wait", "--array=0-2", "--chdir"])
        .arg(dir)
        .arg(manifest.join("deploy/slurm/sweep-array.sh"))
        .arg(&sweep)
        .arg(dir.join("slurm"))
        .env("MESHSIM", meshsim)
        .output()
        .expect("sbatch runs");
    assert!(
        submitted.status.success(),
        "sbatch: {}{}",
        String::from_utf8_lossy(&submitted.stdout),
        String::from_utf8_lossy(&submitted.stderr)
    );
    let shards: Vec<PathBuf> = (0..3).map(|k| dir.join(format!("slurm/shard-{k}"))).collect();
    for shard in &shards {
        assert!(shard.join("runs.csv").exists(), "{} did not finish", shard.display());
    }
    let merged = dir.join("merged");
    let output = Command::new(meshsim).arg("merge").args(&shards).arg("--out").arg(&merged).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for name in ["runs.csv", "points.csv", "sweep.yaml"] {
        assert_eq!(
            std::fs::read(dir.join("local").join(name)).unwrap(),
            std::fs::read(merged.join(name)).unwrap(),
            "{name}: Slurm array job vs one machine"
        );
    }
}
