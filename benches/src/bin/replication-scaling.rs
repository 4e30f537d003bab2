//! Prints how `meshsim run`'s replications scale for BENCHMARKS.md: 256 replications run on 1
//! and on 2 worker threads (median of 3 wall times each, the speed-up, the serial fraction it
//! implies and Amdahl's estimate for 16 threads), the serial part measured directly (gathering
//! is part of the parallel map; writing the CSVs, plots and report is not), and the per-
//! replication set-up cost (building the world: topology, Istio translation, every proxy's
//! clusters) against the whole of a short run.
//!
//!     cargo run --release -p benches --bin replication-scaling
//!
//! The workload is `seed-failover` at 200 requests/s for 60 simulated seconds per replication.

use std::path::PathBuf;
use std::time::Instant;

use experiments::output::write_outputs;
use experiments::run::run;
use experiments::scenario::load;
use models::mesh::config::Arrivals;
use models::mesh::world::World;
use sim::{SimDuration, Simulation};

const REPLICATIONS: u64 = 256;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../experiments/scenarios/seed-failover.yaml");
    let mut scenario = load(&path).expect("the built-in scenario loads");
    scenario.config.duration = SimDuration::from_secs(60);
    scenario.config.workload.start = SimDuration::from_secs(1);
    scenario.config.workload.arrivals = Arrivals::Poisson { rate: 200.0 };
    let seed = scenario.config.seed;

    let timed = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
        let start = Instant::now();
        let results = pool.install(|| run(&scenario, seed, REPLICATIONS)).expect("the replications run");
        (start.elapsed().as_secs_f64(), results)
    };
    timed(2); // warm-up
    let mut one = Vec::new();
    let mut two = Vec::new();
    let mut results = Vec::new();
    for _ in 0..3 {
        one.push(timed(1).0);
        let (wall, r) = timed(2);
        two.push(wall);
        results = r;
    }
    let (one, two) = (median(one), median(two));
    let speedup = one / two;
    // Amdahl with 2 threads: speed-up = 1 / (s + (1 - s) / 2), so s = 2 / speed-up - 1.
    let serial = (2.0 / speedup - 1.0).max(0.0);
    let at16 = 1.0 / (serial + (1.0 - serial) / 16.0);

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

    // Set-up: building the world alone, and a whole run of one simulated second.
    let builds: u32 = 200;
    let start = Instant::now();
    for _ in 0..builds {
        Simulation::try_new_with(|s| World::build(scenario.config.clone(), s)).expect("the world builds");
    }
    let build = start.elapsed().as_secs_f64() / f64::from(builds);
    let mut short = scenario.clone();
    short.config.duration = SimDuration::from_secs(2);
    let start = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a thread pool");
    pool.install(|| run(&short, seed, u64::from(builds))).expect("short runs");
    let short_run = start.elapsed().as_secs_f64() / f64::from(builds);

    println!(
        "{REPLICATIONS} replications of seed-failover (200 req/s, 60 s): 1 thread {one:.2} s, 2 threads {two:.2} s (median of 3): speed-up {speedup:.2}x"
    );
    println!(
        "serial fraction implied {:.2} %; Amdahl estimate for 16 threads {at16:.1}x; writing the outputs (CSVs, plots, report) after the runs: {writing:.3} s = {:.2} % of the 1-thread run",
        serial * 100.0,
        100.0 * writing / one
    );
    println!(
        "set-up per replication (building the world: topology, Istio translation, every proxy's clusters): {:.3} ms; a whole run of 1 s of traffic: {:.3} ms, so set-up is {:.0} % of it",
        build * 1000.0,
        short_run * 1000.0,
        100.0 * build / short_run
    );
}
