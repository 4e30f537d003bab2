//! `meshsim run` from the outside: outputs on success; on bad input a clear error naming the
//! file and the place, exit code 2, and no output files.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

fn meshsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
}

fn builtin(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.yaml"))
}

/// A fresh folder of the system's temporary one, removed when the returned guard is dropped.
fn temp_dir(tag: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("meshsim-cli-{tag}-")).tempdir().unwrap()
}

/// Writes the seed-failover scenario with one substitution and runs it.
fn run_edited(tag: &str, from: &str, to: &str) -> (std::process::Output, Outputs) {
    run_with_edits(tag, &[(from, to)])
}

/// Where an edited scenario's run was told to write; the folder holding it goes when this drops.
struct Outputs {
    _folder: TempDir,
    path: PathBuf,
}

impl Outputs {
    fn exist(&self) -> bool {
        self.path.exists()
    }
}

/// Runs seed-failover with each `(from, to)` edit applied once.
fn run_with_edits(tag: &str, edits: &[(&str, &str)]) -> (std::process::Output, Outputs) {
    let folder = temp_dir(tag);
    let dir = folder.path();
    let mut text = std::fs::read_to_string(builtin("seed-failover")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "the edit {from:?} must apply");
        text = text.replacen(from, to, 1);
    }
    let file = dir.join("scenario.yaml");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out");
    let output = meshsim().arg("run").arg(&file).arg("--out").arg(&out).output().unwrap();
    (output, Outputs { _folder: folder, path: out })
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_run_writes_its_outputs_and_the_same_seed_writes_the_same_bytes() {
    let folder = temp_dir("ok");
    let dir = folder.path();
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
    for file in ["summary.csv", "timeseries.csv", "stats.csv", "events.csv", "scenario.yaml"] {
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
    assert!(!out.exist(), "no output folder on error");
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
    assert!(!out.exist());
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

#[test]
fn what_would_hang_crash_or_mislead_is_refused_with_the_field_and_the_fix() {
    let rule = "          baseEjectionTime: 1m";
    let cases: &[(&str, &str, &str, &str)] = &[
        // Simulated time that stops, or overflows.
        ("interval0", "interval: 1s", "interval: 0s", "outlierDetection.interval: 0s is below 1ms"),
        ("interval1us", "interval: 1s", "interval: 1us", "outlierDetection.interval: 1us is below 1ms"),
        ("intra", "intra_zone: 200us", "intra_zone: 5000000h", "over a year"),
        ("negative", "intra_zone: 200us", "intra_zone: -1s", "cannot be negative"),
        ("latency", "{min: 4ms, max: 6ms}", "{min: 4ms, max: 1h}", "cen.connections[0].latency.max: 1h is over 10s"),
        ("handshake", "handshake_round_trips: 2", "handshake_round_trips: 4294967295", "network.handshake_round_trips"),
        // Sizes that would run until memory is gone.
        ("workers", "proxy_concurrency: 2", "proxy_concurrency: 2147483648", "istio.proxy_concurrency"),
        ("workers0", "proxy_concurrency: 2", "proxy_concurrency: 0", "default is 2"),
        ("window", "window: 1s", "window: 1ns", "metrics.window: 1ns is below 1ms"),
        ("users", "count: 1,", "count: 2147483648,", "workload.arrivals.users.count"),
        (
            "replicas",
            "reviews, version: v2, zone: cn-shanghai-b, replicas: 1",
            "reviews, version: v2, zone: cn-shanghai-b, replicas: 20000",
            "replicas: 20000 is over 10000",
        ),
        // Values accepted silently before.
        ("duration", "duration: 30s", "duration: 0s", "duration: 0s is not between"),
        ("slo", "slo: 0.99", "slo: 2", "metrics.slo: 2"),
        ("late", "  - at: 0s", "  - at: 40s", "faults[0].at: 40s is not before the end of the run"),
        (
            "percent",
            rule,
            "          baseEjectionTime: 1m\n          maxEjectionPercent: 150",
            "maxEjectionPercent: 150 is not a percentage",
        ),
        ("base", rule, "          baseEjectionTime: 0s", "baseEjectionTime: 0s is below 1ms"),
        (
            "perconn",
            "maxRequestsPerConnection: 1",
            "maxRequestsPerConnection: -1",
            "maxRequestsPerConnection: -1 is negative",
        ),
        ("hostbits", "pod_cidr: 10.1.0.0/16", "pod_cidr: 10.1.0.1/16", "host bits set; the block is 10.1.0.0/16"),
        ("prefix", "pod_cidr: 10.1.0.0/16", "pod_cidr: 10.1.0.0/33", "prefix length must be a number from 0 to 32"),
        ("bandwidth", "bandwidth: 100Mbps", "bandwidth: 99999999999999999999999Gbps", "over 10Tbps"),
    ];
    for (tag, from, to, expected) in cases {
        let (output, out) = run_edited(tag, from, to);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{tag}: {err}");
        assert!(err.contains(expected) && err.contains("scenario.yaml"), "{tag}: {err}");
        assert!(!err.contains("panicked") && !out.exist(), "{tag}");
    }
    // Many callers times many hosts, and enough requests for each caller to reach most of them:
    // the memory estimate refuses it before anything is built...
    let many = (
        "- {service: productpage, version: v1, zone: cn-shanghai-b, replicas: 1}\n      - {service: details, version: v1, zone: cn-shanghai-b, replicas: 1}",
        "- {service: productpage, version: v1, zone: cn-shanghai-b, replicas: 9000}\n      - {service: details, version: v1, zone: cn-shanghai-b, replicas: 9000}",
    );
    let heavy = [
        many,
        ("duration: 30s", "duration: 2h"),
        ("users: {count: 1, think_time: 100ms, requests: 10}", "poisson: 100000"),
    ];
    let (output, _) = run_with_edits("quadratic", &heavy);
    assert!(stderr(&output).contains("GiB budget; use fewer replicas"), "{}", stderr(&output));
    // ...while the same mesh under a light load passes the estimate: a proxy keeps state only
    // for the hosts it sends to.
    let (output, _) = run_with_edits("wide-light", &[many, ("duration: 30s", "duration: 6s")]);
    assert!(output.status.success(), "{}", stderr(&output));
    // Inside the embedded Istio resources, the line is the file's: for a value Istio refuses...
    let (output, _) = run_edited("embedded0", "interval: 1s", "interval: 0s");
    assert!(
        stderr(&output).contains("line 106: DestinationRule reviews: outlierDetection.interval"),
        "{}",
        stderr(&output)
    );
    // ...and for one the reader cannot read.
    let (output, _) = run_edited("embedded", "interval: 1s", "interval: 1 second");
    let err = stderr(&output);
    assert!(err.contains("document starting at line 94") && err.contains("line 106 column 17"), "{err}");
}

#[test]
fn an_unwritable_output_folder_is_found_first_and_outputs_appear_whole() {
    let started = std::time::Instant::now();
    let output = meshsim()
        .args(["run", builtin("region-outage").to_str().unwrap(), "--replications", "50", "--out"])
        .arg("/proc/meshsim-no/out")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot"), "{}", stderr(&output));
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "refused before 50 replications ran");
    // A second run into the same folder replaces the files of the first, leaving nothing beside.
    let folder = temp_dir("whole");
    let dir = folder.path();
    for _ in 0..2 {
        let output =
            meshsim().arg("run").arg(builtin("seed-failover")).arg("--out").arg(dir.join("out")).output().unwrap();
        assert!(output.status.success());
    }
    let names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["out"], "no staging or previous folder left");
}

#[test]
fn errors_name_the_real_cause() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "cp",
            "control_plane:\n  region: cn-hangzhou",
            "control_plane:\n  region: cn-hangzou",
            "control_plane.region: unknown region \"cn-hangzou\"",
        ),
        (
            "gw0",
            "{name: ingressgateway, zone: cn-hangzhou-k, replicas: 1}",
            "{name: ingressgateway, zone: cn-hangzhou-k, replicas: 0}",
            "has 0 replicas, so no user request can enter",
        ),
        ("dup", "seed: 1\n", "seed: 1\nseed: 2\n", "duplicate mapping key: seed; write each key once"),
        (
            "action",
            "    action:\n      scale_to: 0",
            "    action: cut",
            "action cut does not apply to a deployment; its actions are respond",
        ),
    ];
    for (tag, from, to, expected) in cases {
        let (output, _) = run_edited(tag, from, to);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{tag}: {err}");
        assert!(err.contains(expected) && !err.contains("Deployment {"), "{tag}: {err}");
    }
}

#[test]
fn a_locality_setting_naming_a_region_the_scenario_lacks_is_an_error() {
    let mesh = "  geolocation:\n    failover:\n      - {from: cn-hangzhou, to: cn-shanghai}\n      - {from: cn-shanghai, to: cn-hangzhou}\n";
    let typo =
        "  mesh_config:\n    localityLbSetting:\n      failover:\n        - {from: cn-hangzhou, to: cn-shangai}\n";
    let (output, _) = run_edited("meshregion", mesh, typo);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("istio.mesh_config.localityLbSetting") && err.contains("names region \"cn-shangai\""),
        "{err}"
    );
}

#[test]
fn a_rate_so_low_that_nothing_arrives_runs_to_the_end() {
    // Found by meshsim-fuzz: the first gap lay past the end of simulated time and overflowed it.
    let folder = temp_dir("tiny");
    let dir = folder.path();
    let text =
        std::fs::read_to_string(builtin("pod-503-keep-endpoints")).unwrap().replace("poisson: 20", "poisson: 1e-300");
    let file = dir.join("scenario.yaml");
    std::fs::write(&file, text).unwrap();
    let output = meshsim().arg("run").arg(&file).arg("--out").arg(dir.join("out")).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = std::fs::read_to_string(dir.join("out/summary.csv")).unwrap();
    assert_eq!(summary.lines().nth(1).unwrap().split(',').nth(2), Some("0"), "no request arrives: {summary}");
}

#[test]
fn virtual_service_weights_not_summing_to_100_point_at_the_route() {
    let folder = temp_dir("weights");
    let dir = folder.path();
    let text = std::fs::read_to_string(builtin("blackhole-region")).unwrap().replacen(
        "        - destination: {host: reviews}\n",
        "        - destination: {host: reviews, subset: v2}\n          weight: 80\n        - destination: {host: reviews, subset: v3}\n          weight: 15\n",
        1,
    );
    let file = dir.join("scenario.yaml");
    std::fs::write(&file, &text).unwrap();
    let output = meshsim().arg("run").arg(&file).arg("--out").arg(dir.join("out")).output().unwrap();
    let err = stderr(&output);
    let route_line = text.lines().position(|l| l.trim() == "- destination: {host: reviews, subset: v2}").unwrap() + 1;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        err.contains(&format!(
            "line {route_line}: VirtualService reviews http[0]: route: the destination weights sum to 95"
        )),
        "{err}"
    );
}
