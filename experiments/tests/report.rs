//! `report.html`, a run's and a sweep's, rendered by a real headless Chromium (Debian's
//! `chromium`; `.ci/run` installs it and runs these tests): the figures that matter are in the
//! rendered DOM, and the screenshot is not blank. Ignored by default: they need the browser.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

fn chromium() -> String {
    std::env::var("MESHSIM_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

fn browse(report: &Path, args: &[&str]) -> std::process::Output {
    let url = format!("file://{}", report.display());
    let output = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,2400"])
        .args(args)
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
#[ignore = "needs Debian's chromium; .ci/run installs it and runs this"]
fn the_report_renders_in_a_headless_browser() {
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/pod-503-keep-endpoints.yaml");
    let (_folder, dir, dom) = render_report("report", &["run", scenario.to_str().unwrap(), "--replications", "2"]);
    for expected in [
        "meshsim: pod-503-keep-endpoints",
        "id=\"headline\"",
        "error_rate",
        "time_to_shift_s",
        "ejections refused",
        "set maxEjectionPercent to at least 50",
        "<svg",
        "id=\"events\"",
        "fault_started",
        "upstream_rq_total",
    ] {
        assert!(dom.contains(expected), "the rendered page lacks {expected:?}");
    }
    assert_screenshot_is_not_blank(&dir.join("report.html"), &dir.join("shot.png"));
}

#[test]
#[ignore = "needs Debian's chromium; .ci/run installs it and runs this"]
fn the_sweep_report_renders_in_a_headless_browser() {
    let sweep = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sweeps/ejection-503-pod.yaml");
    let (_folder, dir, dom) = render_report("sweep-report", &["sweep", sweep.to_str().unwrap()]);
    for expected in [
        "meshsim sweep: ejection-503-pod",
        "id=\"plan\"",
        "knob consecutive5xxErrors",
        "1s, 5s, 10s",
        "id=\"points\"",
        "time_to_first_ejection_s",
        "<svg",
    ] {
        assert!(dom.contains(expected), "the rendered page lacks {expected:?}");
    }
    assert_eq!(dom.matches("<svg").count(), 3, "the sweep's three plots");
    assert_screenshot_is_not_blank(&dir.join("report.html"), &dir.join("shot.png"));
}

/// Runs `meshsim ARGS --out DIR` into a fresh temporary folder named after `tag`; returns that
/// folder (removed when dropped), DIR within it, and its `report.html` as Chromium renders it.
fn render_report(tag: &str, args: &[&str]) -> (TempDir, PathBuf, String) {
    let folder = tempfile::Builder::new().prefix(&format!("meshsim-{tag}-")).tempdir().unwrap();
    let dir = folder.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_meshsim")).args(args).arg("--out").arg(&dir).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let dom = String::from_utf8(browse(&dir.join("report.html"), &["--dump-dom"]).stdout).unwrap();
    (folder, dir, dom)
}

/// Takes `report`'s screenshot into `shot` and checks that at least one pixel in fifty is ink.
fn assert_screenshot_is_not_blank(report: &Path, shot: &Path) {
    browse(report, &[&format!("--screenshot={}", shot.display())]);
    let decoder = png::Decoder::new(std::fs::File::open(shot).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let ink = pixels[..info.buffer_size()].chunks(channels).filter(|p| p.iter().take(3).any(|&c| c < 200)).count();
    let total = (info.width * info.height) as usize;
    assert!(ink * 50 > total, "the screenshot is nearly blank: {ink} of {total} pixels inked");
}
