//! `meshsim sweep`, `merge` and `--run` from the outside: the same sweep gives the same bytes
//! whatever the thread count, sharding or interruption, and a bad point stops it before any run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

fn meshsim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
}

/// A fresh folder of the system's temporary one, removed when the returned guard is dropped.
fn temp_dir(tag: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("meshsim-sweep-{tag}-")).tempdir().unwrap()
}

/// A small sweep of the 503-pod scenario: 2 × 2 points × 3 replications, 30 s each.
fn small_sweep(dir: &Path) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/pod-503-keep-endpoints.yaml");
    let file = dir.join("sweep.yaml");
    std::fs::write(
        &file,
        format!(
            "name: small\nbase: {}\nreplications: 3\nset:\n  duration: 30s\nvary:\n  \
             istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.maxEjectionPercent: \
             {{name: maxEjectionPercent, values: [10, 100]}}\n  \
             istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.consecutive5xxErrors: \
             {{name: consecutive5xx, values: [1, 5]}}\n",
            base.display()
        ),
    )
    .unwrap();
    file
}

fn sweep(file: &Path, out: &Path, extra: &[&str]) -> Output {
    let output = meshsim().arg("sweep").arg(file).arg("--out").arg(out).args(extra).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn threads_shards_and_resumption_give_the_same_bytes() {
    let folder = temp_dir("same");
    let dir = folder.path();
    let file = small_sweep(dir);
    sweep(&file, &dir.join("one"), &["--threads", "1"]);
    sweep(&file, &dir.join("two"), &["--threads", "2"]);
    let runs = read(dir.join("one/runs.csv"));
    assert_eq!(runs.lines().count(), 1 + 12, "a header and 12 runs");
    for name in ["runs.csv", "points.csv", "sweep.yaml", "report.html"] {
        assert_eq!(read(dir.join("one").join(name)), read(dir.join("two").join(name)), "{name}: 1 vs 2 threads");
    }
    // Three shards, each as its own process, merged.
    let shards: Vec<PathBuf> = (0..3).map(|k| dir.join(format!("shard-{k}"))).collect();
    for (k, shard) in shards.iter().enumerate() {
        sweep(&file, shard, &["--shard", &format!("{k}/3")]);
        assert!(!shard.join("points.csv").exists(), "a shard has no points of its own");
        assert!(!shard.join("report.html").exists(), "nor a report");
    }
    let merged = dir.join("merged");
    let output = meshsim().arg("merge").args(&shards).arg("--out").arg(&merged).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for name in ["runs.csv", "points.csv", "sweep.yaml", "report.html"] {
        assert_eq!(read(dir.join("one").join(name)), read(merged.join(name)), "{name}: merged shards");
    }
    // The shard index can come from a Slurm array task.
    let slurm = dir.join("slurm-1");
    let output = meshsim()
        .arg("sweep")
        .arg(&file)
        .arg("--out")
        .arg(&slurm)
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(read(slurm.join("runs.csv")), read(shards[1].join("runs.csv")));
    // Merging a shard twice, or too few, is refused.
    let output =
        meshsim().arg("merge").arg(&shards[0]).arg(&shards[0]).arg("--out").arg(dir.join("bad")).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("appears twice"));

    // An interrupted sweep: five whole rows and half of the sixth on disk.
    let interrupted = dir.join("interrupted");
    std::fs::create_dir_all(&interrupted).unwrap();
    std::fs::copy(dir.join("one/sweep.yaml"), interrupted.join("sweep.yaml")).unwrap();
    let lines: Vec<&str> = runs.lines().collect();
    let mut partial = lines[..6].join("\n") + "\n";
    partial.push_str(&lines[6][..lines[6].len() / 2]);
    std::fs::write(interrupted.join("runs.csv.partial"), partial).unwrap();
    let output = sweep(&file, &interrupted, &["--resume"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("5 kept from the interrupted run"));
    assert_eq!(read(interrupted.join("runs.csv")), runs, "resumed = uninterrupted");
    assert!(!interrupted.join("runs.csv.partial").exists());
}

#[test]
fn the_report_shows_the_plan_every_point_and_the_plots_with_the_files_text_escaped() {
    let folder = temp_dir("report");
    let dir = folder.path();
    let file = small_sweep(dir);
    let text = read(file.clone()).replace("name: small", "name: small\ndescription: \"<b>bold</b> & more\"");
    let text = text.replace("name: consecutive5xx", "name: \"c<5xx>\"");
    std::fs::write(&file, text).unwrap();
    sweep(&file, &dir.join("out"), &[]);
    let page = read(dir.join("out/report.html"));
    assert!(page.contains("<h1>meshsim sweep: small</h1>"));
    assert!(
        page.contains("&lt;b&gt;bold&lt;/b&gt; &amp; more") && !page.contains("<b>bold"),
        "the description is escaped"
    );
    assert!(page.contains("<th>knob c&lt;5xx&gt;</th><td>1, 5</td>"), "a knob's name is escaped, its values listed");
    assert!(page.contains("c&lt;5xx&gt; = 1"), "a plot's legend names it, escaped");
    assert!(!page.contains("c<5xx>"), "nowhere raw, in the plots' titles and legends either");
    assert!(page.contains("<th>points</th><td>4 (grid (every combination))</td>"));
    assert!(page.contains("<th>runs</th><td>12</td>"));
    assert!(page.contains("<th>set duration</th><td>30s</td>"), "the settings fixed at every point");
    // One row per point, its knob values and the figures of points.csv.
    let points = read(dir.join("out/points.csv"));
    let header: Vec<&str> = points.lines().next().unwrap().split(',').collect();
    let mean = header.iter().position(|h| *h == "error_rate:mean").unwrap();
    let table = &page[page.find("id=\"points\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr>").count(), 1 + 4, "a header and 4 points");
    for line in points.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let rate: f64 = cells[mean].parse().unwrap();
        let row = format!(
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\">3</td>",
            cells[0], cells[1], cells[2]
        );
        let at = table.find(&row).unwrap_or_else(|| panic!("{row} in the table"));
        // The next cell is the error rate's mean, to four significant digits.
        let shown = table[at + row.len()..].trim_start_matches("<td class=\"n\">");
        let shown: f64 = shown[..shown.find('<').unwrap()].parse().unwrap();
        assert!(
            (shown - rate).abs() <= rate.abs() * 1e-3,
            "point {}: error rate {shown} shown, {rate} in points.csv",
            cells[0]
        );
    }
    // Every SVG plot the sweep drew is on the page, without its XML declaration.
    let plots: Vec<_> = std::fs::read_dir(dir.join("out/plots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .collect();
    assert!(!plots.is_empty());
    assert_eq!(page.matches("<svg").count(), plots.len());
    assert!(!page.contains("<?xml"));
}

#[test]
fn one_run_is_reproduced_alone_and_points_share_random_numbers() {
    let folder = temp_dir("one");
    let dir = folder.path();
    let file = small_sweep(dir);
    sweep(&file, &dir.join("all"), &[]);
    let runs = read(dir.join("all/runs.csv"));
    let lines: Vec<&str> = runs.lines().collect();
    let output =
        meshsim().arg("sweep").arg(&file).arg("--out").arg(dir.join("all")).args(["--run", "7"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert_eq!(printed, format!("{}\n{}\n", lines[0], lines[8]), "--run 7 prints row 7");
    assert!(dir.join("all/run-7/summary.csv").exists() && dir.join("all/run-7/scenario.yaml").exists());
    // Common random numbers: replication r of every point has the same seed and, the arrivals
    // being their own stream, the same number of user requests.
    let column = |line: &str, c: usize| line.split(',').nth(c).unwrap().to_owned();
    let requests = lines[0].split(',').position(|h| h == "requests").unwrap();
    for replication in 0..3 {
        let rows: Vec<&&str> = lines[1..].iter().filter(|l| column(l, 2) == replication.to_string()).collect();
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| column(r, 3) == column(rows[0], 3)), "same seed");
        assert!(rows.iter().all(|r| column(r, requests) == column(rows[0], requests)), "same arrivals");
    }
}

#[test]
fn a_bad_point_is_named_before_anything_runs() {
    let folder = temp_dir("bad");
    let dir = folder.path();
    let file = small_sweep(dir);
    let text = read(file.clone()).replace("values: [1, 5]", "values: [1, -5]");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out");
    let output = meshsim().arg("sweep").arg(&file).arg("--out").arg(&out).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("point 1 (maxEjectionPercent=10, consecutive5xx=-5)"), "{stderr}");
    assert!(!out.exists(), "nothing written");
    let listing = meshsim().arg("sweep").arg(small_sweep(dir)).arg("--dry-run").output().unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    assert!(listing.starts_with("# sweep small: 4 points x 3 replications = 12 runs"), "{listing}");
    assert_eq!(listing.lines().count(), 2 + 12);
}
