//! `meshsim compare` from the outside: paired verdicts under common random numbers, the same
//! twice, and an override file as B.

use std::path::PathBuf;
use std::process::Command;

fn builtin(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.yaml"))
}

fn compare(b: &std::path::Path, format: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .arg("compare")
        .arg(builtin("pod-503-keep-endpoints"))
        .arg(b)
        .args(["--replications", "8", "--format", format])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn letting_outlier_detection_eject_fails_over_sooner_every_time() {
    let folder = tempfile::Builder::new().prefix("meshsim-compare-").tempdir().unwrap();
    let dir = folder.path();
    let overrides = dir.join("eject-all.yaml");
    std::fs::write(
        &overrides,
        "name: eject-all\noverrides:\n  istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.maxEjectionPercent: 100\n",
    )
    .unwrap();
    let table = compare(&overrides, "table");
    // The default maxEjectionPercent (10 %) can never eject one host of two; 100 can.
    assert!(table.contains("compare pod-503-keep-endpoints (A) with eject-all (B): 8 replications"), "{table}");
    let shift = table.lines().find(|l| l.trim_start().starts_with("B fails over")).expect("a failover verdict");
    assert!(shift.contains("sooner, 95% CI"), "{shift}");
    // The same arrivals on both sides: not one request more or less.
    assert!(table.contains("requests: no difference in any replication"), "{table}");
    assert!(table.contains("time_to_first_ejection_s: only B has a value"), "{table}");
    // The same verdicts twice, in JSON too.
    assert_eq!(compare(&overrides, "json"), compare(&overrides, "json"));
    let json = compare(&overrides, "json");
    assert!(json.starts_with("{\"a\":\"pod-503-keep-endpoints\",\"b\":\"eject-all\""), "{json}");
    assert!(json.contains("\"metric\":\"time_to_shift_s\""));
}

#[test]
fn a_scenario_compared_with_itself_shows_no_difference() {
    let table = compare(&builtin("pod-503-keep-endpoints"), "table");
    let verdicts: Vec<&str> = table.lines().skip_while(|l| *l != "verdicts:").skip(1).collect();
    assert!(!verdicts.is_empty());
    for v in verdicts {
        assert!(v.contains("no difference in any replication") || v.contains("has a value"), "{v}");
    }
}
