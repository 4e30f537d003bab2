//! `meshsim run` from the outside: outputs on success; on bad input a clear error naming the
//! file and the place, exit code 2, and no output files.

use std::path::{Path, PathBuf};
use std::process::Command;

fn meshsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
}

fn builtin(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.yaml"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meshsim-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the seed-failover scenario with one substitution and runs it.
fn run_edited(tag: &str, from: &str, to: &str) -> (std::process::Output, PathBuf) {
    let dir = temp_dir(tag);
    let text = std::fs::read_to_string(builtin("seed-failover")).unwrap();
    assert!(text.contains(from), "the edit {from:?} must apply");
    let file = dir.join("scenario.yaml");
    std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
    let out = dir.join("out");
    let output = meshsim().arg("run").arg(&file).arg("--out").arg(&out).output().unwrap();
    (output, out)
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_run_writes_its_outputs_and_the_same_seed_writes_the_same_bytes() {
    let dir = temp_dir("ok");
    let run = |out: &Path| {
        let output = meshsim()
            .args([
                "run",
                builtin("seed-failover").to_str().unwrap(),
                "--replications",
                "3",
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let table = run(&dir.join("a"));
    assert!(table.contains("seed-failover"));
    run(&dir.join("b"));
    for file in ["summary.csv", "timeseries.csv", "scenario.yaml"] {
        let a = std::fs::read(dir.join("a").join(file)).unwrap();
        assert_eq!(a, std::fs::read(dir.join("b").join(file)).unwrap(), "{file} differs between runs");
    }
    let summary = std::fs::read_to_string(dir.join("a/summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 4, "a header and one row per replication");
    // 30 s of 1 s windows per replication, quiet ones included.
    let timeseries = std::fs::read_to_string(dir.join("a/timeseries.csv")).unwrap();
    assert_eq!(timeseries.lines().count(), 1 + 3 * 30);
    // The same answer whatever the thread count.
    let single = meshsim()
        .env("RAYON_NUM_THREADS", "1")
        .args(["run", builtin("seed-failover").to_str().unwrap(), "--replications", "3", "--out"])
        .arg(dir.join("c"))
        .output()
        .unwrap();
    assert!(single.status.success());
    assert_eq!(std::fs::read(dir.join("a/summary.csv")).unwrap(), std::fs::read(dir.join("c/summary.csv")).unwrap());
}

#[test]
fn an_unknown_field_names_the_file_and_line() {
    let (output, out) = run_edited("typo", "  intra_zone: 200us", "  intra_zonee: 200us");
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("scenario.yaml") && err.contains("unknown field `intra_zonee`"), "{err}");
    assert!(err.contains("line 21 column 3"), "{err}");
    assert!(!out.exists(), "no output folder on error");
}

#[test]
fn bad_units_and_cidrs_say_what_to_write() {
    let (output, _) = run_edited("unit", "duration: 30s", "duration: 30 seconds");
    assert!(stderr(&output).contains("e.g. 250ms"), "{}", stderr(&output));
    let (output, _) = run_edited("bw", "bandwidth: 100Mbps", "bandwidth: 100MB");
    assert!(stderr(&output).contains("e.g. 100Mbps"), "{}", stderr(&output));
    let (output, _) = run_edited("cidr", "pod_cidr: 10.1.0.0/16", "pod_cidr: 10.1.0.0/33");
    assert_eq!(output.status.code(), Some(2));
    let (output, _) = run_edited("overlap", "pod_cidr: 10.1.0.0/16", "pod_cidr: 10.0.0.0/16");
    assert!(stderr(&output).contains("overlaps"), "{}", stderr(&output));
}

#[test]
fn references_to_nothing_name_the_field_path() {
    let (output, _) = run_edited(
        "zone",
        "- {service: reviews, version: v2, zone: cn-shanghai-b",
        "- {service: reviews, version: v2, zone: cn-shanghai-x",
    );
    let err = stderr(&output);
    assert!(err.contains("clusters[ack-shanghai].deployments[2].zone") && err.contains("unknown zone"), "{err}");
    assert!(err.contains("line 77 column 47"), "the line of the bad zone: {err}");
    let (output, _) = run_edited(
        "fault",
        "deployment: {cluster: ack-hangzhou, service: reviews, version: v1}",
        "deployment: {cluster: ack-hangzhou, service: reviews, version: v7}",
    );
    let err = stderr(&output);
    assert!(err.contains("faults[0].target") && err.contains("matches nothing"), "{err}");
    assert!(err.contains("line "), "{err}");
}

#[test]
fn a_region_without_zones_is_refused_not_a_crash() {
    let (output, out) = run_edited("nozones", "zones: [cn-shanghai-b]", "zones: []");
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("cn-shanghai") && !err.contains("panicked"), "{err}");
    assert!(!out.exists());
}

#[test]
fn a_misspelt_geolocation_region_is_an_error() {
    let (output, _) =
        run_edited("geo", "- {from: cn-hangzhou, to: cn-shanghai}", "- {from: cn-hangzhou, to: cn-shangai}");
    assert!(stderr(&output).contains("unknown region \"cn-shangai\""), "{}", stderr(&output));
}

#[test]
fn a_cluster_whose_vpc_is_off_the_cen_cannot_join() {
    let (output, _) = run_edited(
        "cen",
        "{name: shanghai-router, region: cn-shanghai, vpcs: [vpc-shanghai]}",
        "{name: shanghai-router, region: cn-shanghai, vpcs: []}",
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        err.contains("clusters[ack-shanghai].vpc") && err.contains("not attached to a CEN transit router"),
        "{err}"
    );
}

#[test]
fn a_cluster_without_inter_region_bandwidth_cannot_join() {
    // The seed document's FAQ.
    let (output, _) = run_edited("join", "bandwidth: 100Mbps", "bandwidth: none");
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(err.contains("cannot join the mesh"), "{err}");
}
