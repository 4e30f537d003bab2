//! Prints the mesh model's speed and memory for BENCHMARKS.md: simulated user requests per wall
//! second on `seed-failover` at 1,000 requests/s for 60 s (median of 5 runs), against the bare
//! `BinaryHeap` hold loop measured in the same run as a machine-speed baseline, and the process's
//! peak resident memory after one simulated hour at the same rate.
//!
//!     cargo run --release -p benches --bin mesh-throughput

use std::time::Instant;

use benches::hold::{paired_events_per_second, run_binary_heap, run_engine};
use benches::memory::peak_rss_mib;
use benches::mesh::{seed_failover_under_load, simulate};

fn main() {
    let minute = seed_failover_under_load(1000.0, 60);
    simulate(&minute);
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let (requests, _) = simulate(&minute);
            requests as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "seed-failover, 1000 req/s, 60 s simulated: {:.0} user requests per wall second (median of 5; one core)",
        rates[2]
    );
    let (_, heap) = paired_events_per_second(run_engine, run_binary_heap, 1_000, 5_000_000, 5);
    println!(
        "baseline, same run: bare BinaryHeap hold loop at 1,000 pending: {:.2} M events/s; user requests per baseline event: {:.4}",
        heap / 1e6,
        rates[2] / heap
    );
    let hour = seed_failover_under_load(1000.0, 3600);
    let before = peak_rss_mib();
    let start = Instant::now();
    let (requests, answered) = simulate(&hour);
    println!(
        "seed-failover, 1000 req/s, 1 h simulated: {requests} requests ({answered} answered) in {:.1} s wall; peak RSS {:.1} MiB (before the hour: {:.1} MiB)",
        start.elapsed().as_secs_f64(),
        peak_rss_mib().unwrap_or(f64::NAN),
        before.unwrap_or(f64::NAN)
    );
}
