//! Prints the sweep machinery's speed for BENCHMARKS.md: the same sweep run with each thread
//! count asked for (1 and 2 by default: wall time, speed-up, and the serial fraction each
//! implies), the serial phases measured directly with the Amdahl estimate for 16 threads they
//! give, and — with `--large` — the wall time of a 10,000-run sweep of 60 simulated seconds at
//! 200 requests/s on every core.
//!
//!     cargo run --release -p benches --bin sweep-scaling [-- --threads 1,2,4,8,16] [--large]
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let large = args.iter().any(|a| a == "--large");
    let mut threads: Vec<usize> = match args.iter().position(|a| a == "--threads") {
        Some(i) => args
            .get(i + 1)
            .map(|list| list.split(',').map(|n| n.parse().expect("thread counts, e.g. 1,2,4")).collect())
            .unwrap_or_else(|| {
                eprintln!("usage: sweep-scaling [--threads 1,2,4,...] [--large]");
                std::process::exit(2);
            }),
        None => vec![1, 2],
    };
    if !threads.contains(&1) {
        threads.insert(0, 1);
    }
    let dir = std::env::temp_dir().join(format!("meshsim-sweep-scaling-{}", std::process::id()));
    let text = sweep_text(10, 1, 20);
    timed_sweep(&text, &dir.join("warm-up"), *threads.iter().max().expect("a thread count"));
    let mut runs: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); threads.len()];
    for _ in 0..3 {
        for (i, &t) in threads.iter().enumerate() {
            runs[i].push(timed_sweep(&text, &dir.join(format!("threads-{t}")), t));
        }
    }
    let reference = std::fs::read(dir.join("threads-1/runs.csv")).ok();
    let same = threads.iter().all(|t| std::fs::read(dir.join(format!("threads-{t}/runs.csv"))).ok() == reference);
    let median = |mut runs: Vec<(f64, f64, f64)>| {
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        runs[runs.len() / 2]
    };
    let medians: Vec<(f64, f64, f64)> = runs.into_iter().map(median).collect();
    let (t1, prepared, finishing) = medians[threads.iter().position(|&t| t == 1).expect("1 thread is measured")];
    // Amdahl from the serial phases measured directly.
    let serial = (prepared + finishing) / t1;
    let amdahl = |p: f64| 1.0 / (serial + (1.0 - serial) / p);
    println!("sweep of 200 runs (10 points x 20 replications; seed-failover, 200 req/s, 60 s each), median of 3:");
    for (&t, &(wall, ..)) in threads.iter().zip(&medians) {
        let speedup = t1 / wall;
        // Karp-Flatt: the serial fraction implied by the speed-up on p threads (noisy: a
        // run-to-run wobble of 1 % moves it by points, and it can come out below zero).
        let implied = if t > 1 {
            let p = t as f64;
            format!(
                "; serial fraction implied (Karp-Flatt) {:.2} %",
                100.0 * (1.0 / speedup - 1.0 / p) / (1.0 - 1.0 / p)
            )
        } else {
            String::new()
        };
        let plural = if t == 1 { "" } else { "s" };
        println!("  {t:>2} thread{plural}: {wall:.2} s wall, speed-up {speedup:.2}x{implied}");
    }
    println!("  runs.csv identical across thread counts: {same}");
    println!(
        "  serial phases at 1 thread: reading and checking the sweep {:.3} s ({:.2} %), points.csv and plots {:.3} s ({:.2} %)",
        prepared,
        100.0 * prepared / t1,
        finishing,
        100.0 * finishing / t1
    );
    println!("  serial fraction measured {:.2} %: Amdahl {:.1}x on 16 threads", 100.0 * serial, amdahl(16.0));
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
