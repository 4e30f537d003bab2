//! Prints the sweep machinery's speed for BENCHMARKS.md: the same sweep run with 1 and with 2
//! worker threads (wall time, speed-up, and the serial fraction that implies, with the Amdahl
//! estimate for 16 threads), the serial phases measured directly, and — with `--large` — the
//! wall time of a 10,000-run sweep of 60 simulated seconds at 200 requests/s on every core.
//!
//!     cargo run --release -p benches --bin sweep-scaling [-- --large]
//!
//! The sweep is `seed-failover` (its single pods) at 200 requests/s for 60 s, varying the CEN
//! bandwidth (log-spaced) and consecutive5xxErrors; the small one has 10 points x 20
//! replications = 200 runs. Outputs go to a temporary folder and are compared byte for byte.

use std::path::{Path, PathBuf};
use std::time::Instant;

use experiments::columns::MetricColumns;
use experiments::sweep::plan::Plan;
use experiments::sweep::runner::{SweepOptions, finish, run_sweep};
use experiments::sweep::shard::Shard;
use experiments::sweep::table::RunsTable;

fn sweep_text(bandwidths: usize, errors: usize, replications: u64) -> String {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../experiments/scenarios/seed-failover.yaml");
    format!(
        "name: scaling\nbase: {}\nreplications: {replications}\nset:\n  duration: 60s\n  workload.start: 1s\n  \
         workload.arrivals: {{poisson: 200}}\nvary:\n  cen.connections[0].bandwidth: {{name: bandwidth, from: 10Mbps, to: 1Gbps, count: {bandwidths}, scale: log}}\n  \
         istio.resources[DestinationRule/reviews].spec.trafficPolicy.outlierDetection.consecutive5xxErrors: {{name: consecutive5xx, from: 1, to: {errors}, step: 1}}\n",
        base.display()
    )
}

/// Runs the sweep in `out` with `threads`; returns (wall seconds in all, of which reading and
/// checking the sweep, of which points.csv and plots).
fn timed_sweep(text: &str, out: &Path, threads: usize) -> (f64, f64, f64) {
    let _ = std::fs::remove_dir_all(out);
    let start = Instant::now();
    let plan = Plan::parse(text, "scaling.yaml", Path::new(".")).expect("the sweep reads");
    let scenarios = plan.scenarios().expect("every point is valid");
    let table = RunsTable::new(&plan, MetricColumns::of_scenarios(scenarios.iter()));
    let prepared = start.elapsed().as_secs_f64();
    let options = SweepOptions { out: out.to_path_buf(), threads, shard: Shard::WHOLE, resume: false, progress: false };
    run_sweep(&plan, &scenarios, &table, &options).expect("the sweep runs");
    let total = start.elapsed().as_secs_f64();
    let finishing = Instant::now();
    finish(out, &out.join("runs.csv"), &plan).expect("points and plots");
    (total, prepared, finishing.elapsed().as_secs_f64())
}

fn main() {
    let large = std::env::args().any(|a| a == "--large");
    let dir = std::env::temp_dir().join(format!("meshsim-sweep-scaling-{}", std::process::id()));
    let text = sweep_text(10, 1, 20);
    timed_sweep(&text, &dir.join("warm-up"), 2);
    let mut one = Vec::new();
    let mut two = Vec::new();
    for _ in 0..3 {
        one.push(timed_sweep(&text, &dir.join("one"), 1));
        two.push(timed_sweep(&text, &dir.join("two"), 2));
    }
    let same = std::fs::read(dir.join("one/runs.csv")).ok() == std::fs::read(dir.join("two/runs.csv")).ok();
    let median = |runs: &mut Vec<(f64, f64, f64)>| {
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        runs[runs.len() / 2]
    };
    let (t1, prepared, finishing) = median(&mut one);
    let (t2, ..) = median(&mut two);
    let speedup = t1 / t2;
    // Karp-Flatt: the serial fraction implied by the measured speed-up on 2 threads (noisy:
    // a run-to-run wobble of 1 % moves it by 2 points, and it can come out below zero).
    let implied = (1.0 / speedup - 0.5) / 0.5;
    // Amdahl from the serial phases measured directly.
    let serial = (prepared + finishing) / t1;
    let amdahl = |p: f64| 1.0 / (serial + (1.0 - serial) / p);
    println!("sweep of 200 runs (10 points x 20 replications; seed-failover, 200 req/s, 60 s each), median of 3:");
    println!(
        "  1 thread: {t1:.2} s wall; 2 threads: {t2:.2} s wall; speed-up {speedup:.2}x; runs.csv identical: {same}"
    );
    println!(
        "  serial phases at 1 thread: reading and checking the sweep {:.3} s ({:.2} %), points.csv and plots {:.3} s ({:.2} %)",
        prepared,
        100.0 * prepared / t1,
        finishing,
        100.0 * finishing / t1
    );
    println!(
        "  serial fraction measured {:.2} %: Amdahl {:.1}x on 16 threads; implied by the 2-thread speed-up (Karp-Flatt): {:.2} %",
        100.0 * serial,
        amdahl(16.0),
        100.0 * implied
    );
    if large {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let text = sweep_text(10, 10, 100);
        let (total, prepared, _) = timed_sweep(&text, &dir.join("large"), threads);
        let rows = std::fs::read_to_string(dir.join("large/runs.csv")).map_or(0, |t| t.lines().count() - 1);
        println!(
            "sweep of {rows} runs (100 points x 100 replications; 60 s at 200 req/s each) on {threads} threads: {total:.1} s wall (reading and checking {prepared:.2} s)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
