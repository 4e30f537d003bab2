//! Fuzzes meshsim's input handling: mutated built-in scenarios are read, checked and briefly
//! run on every core until the time or execution budget is spent. Any panic, or an execution
//! slower than `--hang-seconds`, is written to `--crashes` and makes the exit status 1.
//!
//!     cargo run --release -p experiments --bin meshsim-fuzz -- --seconds 60
//!     cargo run --release -p experiments --bin meshsim-fuzz -- --executions 1000000

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use experiments::fuzz::{Outcome, execute, mutate};
use sim::RandomStreams;

#[derive(Parser)]
#[command(name = "meshsim-fuzz", about = "Fuzz meshsim's scenario reading, checks and runs")]
struct Args {
    /// Stop after this many seconds.
    #[arg(long)]
    seconds: Option<u64>,
    /// Stop after this many executions.
    #[arg(long)]
    executions: Option<u64>,
    /// Worker threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Seed of the mutations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder of scenario files to mutate (default: the built-in scenarios).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Where inputs that crash or hang are written.
    #[arg(long, default_value = "fuzz-crashes")]
    crashes: PathBuf,
    /// An execution slower than this counts as a hang.
    #[arg(long, default_value_t = 10)]
    hang_seconds: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let corpus_dir = args.corpus.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios"));
    let mut corpus: Vec<String> = match std::fs::read_dir(&corpus_dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect(),
        Err(e) => {
            eprintln!("error: {}: cannot read the corpus: {e}", corpus_dir.display());
            return ExitCode::from(2);
        }
    };
    corpus.sort();
    if corpus.is_empty() {
        eprintln!("error: {}: no .yaml files to mutate", corpus_dir.display());
        return ExitCode::from(2);
    }
    if args.seconds.is_none() && args.executions.is_none() {
        eprintln!("error: give --seconds or --executions");
        return ExitCode::from(2);
    }
    // Panics are counted and their inputs kept; their messages would only flood the terminal.
    std::panic::set_hook(Box::new(|_| {}));
    let deadline = args.seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let limit = args.executions.unwrap_or(u64::MAX);
    let (executed, ran, crashes) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let slowest = Mutex::new(Duration::ZERO);
    let stop = AtomicBool::new(false);
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for worker in 0..threads {
            let (corpus, corpus_dir) = (&corpus, &corpus_dir);
            let (executed, ran, crashes, slowest, stop) = (&executed, &ran, &crashes, &slowest, &stop);
            let crash_dir = &args.crashes;
            let hang = Duration::from_secs(args.hang_seconds);
            let mut rng = RandomStreams::new(args.seed).indexed_stream("fuzz", worker as u64);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = executed.fetch_add(1, Ordering::Relaxed);
                    if n >= limit || deadline.is_some_and(|d| Instant::now() >= d) {
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                    let input = mutate(&corpus[(n as usize) % corpus.len()], &mut rng);
                    let began = Instant::now();
                    let outcome = std::panic::catch_unwind(|| execute(&input, corpus_dir));
                    let took = began.elapsed();
                    {
                        let mut longest = slowest.lock().expect("no panic holds it");
                        *longest = (*longest).max(took);
                    }
                    if matches!(outcome, Ok(Outcome::Ran)) {
                        ran.fetch_add(1, Ordering::Relaxed);
                    }
                    // A slow execution is timed again before it counts as a hang: on a shared
                    // machine a busy moment can stall any one of them.
                    let slow = || {
                        let again = Instant::now();
                        let _ = std::panic::catch_unwind(|| execute(&input, corpus_dir));
                        again.elapsed() > hang
                    };
                    let kind = match outcome {
                        Err(_) => Some("panic"),
                        Ok(_) if took > hang && slow() => Some("hang"),
                        Ok(_) => None,
                    };
                    if let Some(kind) = kind {
                        let k = crashes.fetch_add(1, Ordering::Relaxed);
                        let _ = std::fs::create_dir_all(crash_dir);
                        let _ = std::fs::write(crash_dir.join(format!("{kind}-{worker}-{k}.yaml")), &input);
                    }
                }
            });
        }
    });
    let total = executed.load(Ordering::Relaxed).min(limit);
    let (ran, crashes) = (ran.load(Ordering::Relaxed), crashes.load(Ordering::Relaxed));
    println!(
        "{total} executions in {:.1} s on {threads} threads ({:.0}/s): {ran} ran, {} refused with an error, {crashes} panics or hangs; slowest {:.3} s",
        started.elapsed().as_secs_f64(),
        total as f64 / started.elapsed().as_secs_f64(),
        total - ran.min(total),
        slowest.lock().map_or(0.0, |d| d.as_secs_f64())
    );
    if crashes > 0 {
        eprintln!("inputs kept in {}", args.crashes.display());
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
