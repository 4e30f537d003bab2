//! Prints how a replication's cost grows with the size of the mesh, for BENCHMARKS.md:
//! `seed-failover` at 1,000 requests/s for 60 simulated seconds with 10, 100 and 1,000 pods per
//! deployment — set-up, simulation, tear-down, time per user request and peak memory, each size
//! in a child process of its own (peak memory is per process) — and a mesh of 200 regions with
//! every CEN connection read from its YAML and run.
//!
//! A shared machine's load moves a single run's time by a third, so each size runs in
//! [`ROUNDS`] rounds, the sizes taking turns within each round, and the table gives each size's
//! fastest round (and that round's numbers); the spread across rounds is printed beneath it.
//!
//!     cargo run --release -p benches --bin mesh-size

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use benches::memory::peak_rss_mib;
use benches::mesh::{bookinfo_in_every_region, seed_failover_sized};
use experiments::run::simulate;
use experiments::scenario::parse;
use models::mesh::world::World;
use sim::{SimDuration, SimTime, Simulation};

const SIZES: [u32; 3] = [10, 100, 1000];
const RATE: f64 = 1000.0;
const SECONDS: u64 = 60;
/// Runs of each size, taking turns.
const ROUNDS: usize = 5;

/// One size, in this (child) process: prints `build run teardown requests events peak_mib`.
fn measure_size(replicas: u32) {
    let config = seed_failover_sized(RATE, SECONDS, replicas).config;
    let start = Instant::now();
    let mut simulation = Simulation::try_new_with(|s| World::build(config, s)).expect("the world builds");
    let build = start.elapsed().as_secs_f64();
    let start = Instant::now();
    simulation.run_until(SimTime::ZERO + SimDuration::from_secs(SECONDS));
    let run = start.elapsed().as_secs_f64();
    let events = simulation.scheduler().events_handled();
    let requests = simulation.model().metrics().sent;
    let start = Instant::now();
    drop(simulation);
    let teardown = start.elapsed().as_secs_f64();
    let peak = peak_rss_mib().expect("/proc/self/status");
    println!("{build} {run} {teardown} {requests} {events} {peak}");
}

/// The 200-region mesh, in this (child) process: prints `read run requests peak_mib`.
fn measure_regions() {
    let text = bookinfo_in_every_region(200, 1, 100, 20);
    let start = Instant::now();
    let scenario = parse(&text, "regions-200.yaml", Path::new(".")).expect("the scenario reads");
    let read = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let summary = simulate(&scenario, 1).expect("the scenario runs").summary;
    let run = start.elapsed().as_secs_f64();
    let peak = peak_rss_mib().expect("/proc/self/status");
    println!("{read} {run} {} {peak} {}", summary.requests, text.len());
}

/// Runs this program with `args` and returns the numbers it printed.
fn child(args: &[&str]) -> Vec<f64> {
    let output = Command::new(std::env::current_exe().expect("this program's path"))
        .args(args)
        .output()
        .expect("the child runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).split_whitespace().map(|n| n.parse().expect("a number")).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, n] if flag == "--size" => return measure_size(n.parse().expect("pods per deployment")),
        [flag] if flag == "--regions" => return measure_regions(),
        _ => {
            eprintln!("usage: mesh-size");
            std::process::exit(2);
        }
    }
    println!(
        "seed-failover at {RATE} requests/s for {SECONDS} s, pods of concurrency 32, one replication per process, the fastest of {ROUNDS} rounds:"
    );
    println!(
        "| pods per deployment | set-up | simulation | tear-down | events | µs per user request (all three) | peak memory | per request vs 10 pods | memory vs 10 pods |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // Per size, every round's `build run teardown requests events peak_mib`.
    let mut rounds: Vec<Vec<Vec<f64>>> = vec![Vec::new(); SIZES.len()];
    for _ in 0..ROUNDS {
        for (runs, replicas) in rounds.iter_mut().zip(SIZES) {
            runs.push(child(&["--size", &replicas.to_string()]));
        }
    }
    let per_request = |m: &[f64]| (m[0] + m[1] + m[2]) / m[3] * 1e6;
    let mut base = None;
    for (runs, replicas) in rounds.iter().zip(SIZES) {
        let m = runs.iter().min_by(|a, b| per_request(a).total_cmp(&per_request(b))).expect("ROUNDS > 0");
        let (build, run, teardown, events, peak) = (m[0], m[1], m[2], m[4], m[5]);
        let per_request = per_request(m);
        let (base_per_request, base_peak) = *base.get_or_insert((per_request, peak));
        println!(
            "| {replicas} | {:.1} ms | {run:.2} s | {:.1} ms | {events:.0} | {per_request:.2} | {peak:.1} MiB | {:.2}× | {:.2}× |",
            build * 1e3,
            teardown * 1e3,
            per_request / base_per_request,
            peak / base_peak
        );
    }
    println!();
    for (runs, replicas) in rounds.iter().zip(SIZES) {
        let times: Vec<String> = runs.iter().map(|m| format!("{:.2}", per_request(m))).collect();
        let peaks: Vec<String> = runs.iter().map(|m| format!("{:.1}", m[5])).collect();
        println!("{replicas} pods, every round: {} µs per request; {} MiB", times.join(", "), peaks.join(", "));
    }
    let m = child(&["--regions"]);
    println!(
        "200 regions, 1 pod per deployment, every pair of regions connected (19,900 CEN connections, {:.1} MiB of YAML), 100 requests/s for 20 s: read and checked in {:.2} s, simulated in {:.2} s ({:.0} requests), peak memory {:.0} MiB",
        m[4] / (1u64 << 20) as f64,
        m[0],
        m[1],
        m[2],
        m[3]
    );
}
