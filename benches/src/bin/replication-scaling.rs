//! Prints how `meshsim run`'s replications scale for BENCHMARKS.md, and what one replication
//! costs besides its simulation:
//! - 256 replications on each thread count asked for (median of 3 wall times each; 1 and 2 by
//!   default), the speed-up over 1 thread and the serial fraction each speed-up implies
//!   (Karp–Flatt);
//! - the part that is serial by construction, measured: writing the CSVs, plots and report after
//!   the runs, and Amdahl's estimate for 16 threads from it;
//! - per replication: set-up (building the world: topology, Istio translation, every proxy's
//!   clusters), tear-down (dropping the finished world) and a whole run of one simulated second;
//! - peak memory per concurrently running replication: a child process runs one replication per
//!   thread at once and reports its peak resident memory over what it held before.
//!
//!     cargo run --release -p benches --bin replication-scaling [-- --threads 1,2,4,8,16]
//!
//! The workload is `seed-failover` at 200 requests/s for 60 simulated seconds per replication.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use benches::memory::{peak_rss_mib, rss_mib};
use experiments::output::write_outputs;
use experiments::run::{replication_seed, run, simulate};
use experiments::scenario::{Scenario, load};
use models::mesh::config::Arrivals;
use models::mesh::world::World;
use rayon::prelude::*;
use sim::{SimDuration, SimTime, Simulation};

const REPLICATIONS: u64 = 256;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn workload() -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../experiments/scenarios/seed-failover.yaml");
    let mut scenario = load(&path).expect("the built-in scenario loads");
    scenario.config.duration = SimDuration::from_secs(60);
    scenario.config.workload.start = SimDuration::from_secs(1);
    scenario.config.workload.arrivals = Arrivals::Poisson { rate: 200.0 };
    scenario
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool")
}

/// The child's side of the memory figure: `threads` replications at once, one per thread;
/// prints the peak resident memory over the memory held before, per replication, in MiB.
fn peak_memory_child(threads: usize) {
    let scenario = workload();
    let seed = scenario.config.seed;
    let before = rss_mib().expect("/proc/self/status");
    let pool = pool(threads);
    pool.install(|| {
        (0..threads as u64).into_par_iter().for_each(|r| {
            simulate(&scenario, replication_seed(seed, r)).expect("the replication runs");
        })
    });
    let peak = peak_rss_mib().expect("/proc/self/status");
    println!("{}", (peak - before) / threads as f64);
}

/// Peak memory per replication with `threads` running at once, measured in a child process.
fn peak_memory_per_replication(threads: usize) -> f64 {
    let output = Command::new(std::env::current_exe().expect("this program's path"))
        .args(["--peak-memory-child", &threads.to_string()])
        .output()
        .expect("the child runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("the child prints MiB")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: Vec<usize> = match args.as_slice() {
        [] => vec![1, 2],
        [flag, n] if flag == "--peak-memory-child" => return peak_memory_child(n.parse().expect("a thread count")),
        [flag, list] if flag == "--threads" => {
            let mut counts: Vec<usize> =
                list.split(',').map(|n| n.parse().expect("thread counts, e.g. 1,2,4")).collect();
            if !counts.contains(&1) {
                counts.insert(0, 1);
            }
            counts
        }
        _ => {
            eprintln!("usage: replication-scaling [--threads 1,2,4,...]");
            std::process::exit(2);
        }
    };
    let scenario = workload();
    let seed = scenario.config.seed;

    let timed = |threads: usize| {
        let pool = pool(threads);
        let start = Instant::now();
        let results = pool.install(|| run(&scenario, seed, REPLICATIONS)).expect("the replications run");
        (start.elapsed().as_secs_f64(), results)
    };
    timed(*threads.iter().max().expect("a thread count")); // warm-up
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); threads.len()];
    let mut results = Vec::new();
    for _ in 0..3 {
        for (i, &t) in threads.iter().enumerate() {
            let (wall, r) = timed(t);
            walls[i].push(wall);
            results = r;
        }
    }
    let walls: Vec<f64> = walls.into_iter().map(median).collect();
    let one = walls[threads.iter().position(|&t| t == 1).expect("1 thread is always measured")];

    let dir = std::env::temp_dir().join(format!("meshsim-replication-scaling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let zones: Vec<String> = scenario.config.regions.iter().flat_map(|r| r.zones.iter().cloned()).collect();
    let links = vec!["cn-hangzhou->cn-shanghai".to_string(), "cn-shanghai->cn-hangzhou".to_string()];
    let writing = median(
        (0..3)
            .map(|_| {
                let start = Instant::now();
                write_outputs(&dir, &scenario, &results, &zones, &links).expect("the outputs are written");
                start.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let serial = writing / (one + writing);
    let amdahl16 = 1.0 / (serial + (1.0 - serial) / 16.0);

    // Set-up and tear-down of one replication, and a whole run of one simulated second.
    let rounds: u32 = 200;
    let (mut build, mut teardown) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        let mut simulation =
            Simulation::try_new_with(|s| World::build(scenario.config.clone(), s)).expect("the world builds");
        build.push(start.elapsed().as_secs_f64());
        simulation.run_until(SimTime::ZERO + SimDuration::from_secs(2));
        let start = Instant::now();
        drop(simulation);
        teardown.push(start.elapsed().as_secs_f64());
    }
    let (build, teardown) = (median(build), median(teardown));
    let mut short = scenario.clone();
    short.config.duration = SimDuration::from_secs(2);
    let start = Instant::now();
    pool(1).install(|| run(&short, seed, u64::from(rounds))).expect("short runs");
    let short_run = start.elapsed().as_secs_f64() / f64::from(rounds);
    let widest = *threads.iter().max().expect("a thread count");
    let memory_one = peak_memory_per_replication(1);
    let memory_widest = peak_memory_per_replication(widest);

    println!("{REPLICATIONS} replications of seed-failover (200 req/s, 60 s), median of 3 wall times:");
    for (&t, &wall) in threads.iter().zip(&walls) {
        let speedup = one / wall;
        // Karp–Flatt: the serial fraction e with speed-up S on p threads, e = (1/S - 1/p) / (1 - 1/p).
        let implied = if t > 1 {
            let p = t as f64;
            format!("; serial fraction implied {:.2} %", 100.0 * (1.0 / speedup - 1.0 / p) / (1.0 - 1.0 / p))
        } else {
            String::new()
        };
        let plural = if t == 1 { "" } else { "s" };
        println!("  {t:>2} thread{plural}: {wall:.2} s, speed-up {speedup:.2}x{implied}");
    }
    println!(
        "serial part measured: writing the outputs (CSVs, plots, report) after the runs {writing:.3} s = {:.2} % of the 1-thread total; Amdahl estimate for 16 threads {amdahl16:.1}x",
        100.0 * serial
    );
    println!(
        "per replication: set-up (building the world: topology, Istio translation, every proxy's clusters) {:.3} ms, tear-down (dropping the finished world) {:.3} ms; a whole run of 1 s of traffic {:.3} ms, so set-up and tear-down are {:.0} % of it",
        build * 1000.0,
        teardown * 1000.0,
        short_run * 1000.0,
        100.0 * (build + teardown) / short_run
    );
    println!(
        "peak memory per running replication: {memory_one:.2} MiB alone, {memory_widest:.2} MiB each with {widest} running at once"
    );
}
