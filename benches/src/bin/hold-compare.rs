//! Prints the hold-model comparison for BENCHMARKS.md: the `sim` engine, a bare `BinaryHeap`
//! loop (the baseline), the `priority-queue` crate as the event list, nexosim, and SimPy (when
//! `python3 -c "import simpy"` works), all measured in this one run.
//!
//!     cargo run --release -p benches --bin hold-compare [-- --events N] [--pending 1000,100000]

use std::path::Path;
use std::process::Command;

use benches::hold::{paired_events_per_second, run_binary_heap, run_engine, run_nexosim, run_priority_queue};

/// Events per second of the SimPy peer, or why it could not run.
fn simpy_events_per_second(pending: usize, events: u64) -> Result<f64, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/hold_simpy.py");
    let output = Command::new("python3")
        .arg(&script)
        .args([pending.to_string(), events.to_string()])
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().lines().last().unwrap_or("failed").to_owned());
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().map_err(|e| format!("unreadable SimPy output: {e}"))
}

/// Timed runs per implementation; the median is reported.
const ROUNDS: usize = 5;

fn main() {
    let mut events: u64 = 5_000_000;
    let mut sizes = vec![1_000usize, 100_000];
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        match pair {
            [flag, n] if flag == "--events" && n.parse::<u64>().is_ok_and(|n| n >= 1000) => {
                events = n.parse().expect("checked")
            }
            [flag, list]
                if flag == "--pending" && list.split(',').all(|n| n.parse::<usize>().is_ok_and(|n| n >= 1)) =>
            {
                sizes = list.split(',').map(|n| n.parse().expect("checked")).collect();
            }
            _ => {
                eprintln!("usage: hold-compare [--events N (≥ 1000)] [--pending 1000,100000]");
                std::process::exit(2);
            }
        }
    }
    let simpy_events = (events / 20).max(1000);
    println!(
        "| pending | sim engine (ev/s) | BinaryHeap (ev/s) | priority-queue (ev/s) | nexosim (ev/s) | SimPy (ev/s) | engine / BinaryHeap | engine / priority-queue | engine / nexosim | engine / SimPy |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for pending in sizes {
        let (engine, heap) = paired_events_per_second(run_engine, run_binary_heap, pending, events, ROUNDS);
        let (engine_vs_indexed, indexed) =
            paired_events_per_second(run_engine, run_priority_queue, pending, events, ROUNDS);
        let (engine_vs_nexosim, nexosim) = paired_events_per_second(run_engine, run_nexosim, pending, events, ROUNDS);
        let simpy = simpy_events_per_second(pending, simpy_events);
        let (simpy_cell, simpy_ratio) = match &simpy {
            Ok(rate) => (format!("{:.2} M", rate / 1e6), format!("{:.1}×", engine / rate)),
            Err(why) => (format!("not run ({why})"), "–".to_owned()),
        };
        println!(
            "| {pending} | {:.2} M | {:.2} M | {:.2} M | {:.2} M | {simpy_cell} | {:.2}× | {:.2}× | {:.2}× | {simpy_ratio} |",
            engine / 1e6,
            heap / 1e6,
            indexed / 1e6,
            nexosim / 1e6,
            engine / heap,
            engine_vs_indexed / indexed,
            engine_vs_nexosim / nexosim
        );
    }
    println!(
        "\nRust: median of {ROUNDS} runs of {events} events each, the engine alternating with BinaryHeap, then with priority-queue, then with nexosim on one thread (each ratio from its own paired runs); SimPy: one run of {simpy_events} events; all after a warm-up run."
    );
}
