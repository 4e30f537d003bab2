//! Running a sweep's runs on every core of one machine, or one shard of them.
//!
//! Workers take runs in run order from a shared counter; each finished row goes to the writer
//! (the calling thread), which appends rows to `runs.csv.partial` strictly in run order, one
//! whole line per write, so a kill at any instant leaves only whole rows. Workers never run
//! more than a short window ahead of the last row written, so memory stays bounded however
//! slow one run is. When the shard's last row is written the file is renamed to `runs.csv`;
//! for a whole sweep `points.csv` and the plots follow. `--resume` keeps the rows already in
//! `runs.csv.partial` and runs the rest.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::plan::Plan;
use super::report;
use super::shard::Shard;
use super::table::{RunsTable, points_csv, run_of_line};
use crate::output::write_atomically;
use crate::plot::sweep::{PointsTable, plot_specs, write_sweep_plots};
use crate::run::simulate;
use crate::scenario::Scenario;

/// The file rows are appended to while a sweep runs.
pub const PARTIAL: &str = "runs.csv.partial";

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Worker threads.
    pub threads: usize,
    /// Which runs this process does.
    pub shard: Shard,
    /// Keep the rows of an interrupted run of the same sweep.
    pub resume: bool,
    /// Draw a progress bar (only ever on a terminal).
    pub progress: bool,
}

/// What a finished sweep (or shard) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepReport {
    /// Runs of this shard.
    pub selected: u64,
    /// Of which found done by `--resume`.
    pub resumed: u64,
    /// Files written.
    pub written: Vec<PathBuf>,
}

/// Runs the runs of `options.shard` and writes the outputs into `options.out`.
pub fn run_sweep(
    plan: &Plan,
    scenarios: &[Scenario],
    table: &RunsTable,
    options: &SweepOptions,
) -> Result<SweepReport, String> {
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: cannot create the output folder: {e}", out.display()))?;
    let sweep_file = out.join("sweep.yaml");
    let partial = out.join(PARTIAL);
    let selected: Vec<u64> = options.shard.runs(plan.runs()).collect();
    let runs_csv = out.join("runs.csv");
    if options.resume && !partial.exists() && runs_csv.exists() {
        // A finished sweep resumes as one with every row written.
        std::fs::rename(&runs_csv, &partial).map_err(|e| format!("{}: cannot reopen: {e}", runs_csv.display()))?;
    }
    let done = if options.resume { resume_point(&partial, &sweep_file, plan, table, &selected)? } else { 0 };
    if done == 0 {
        write_atomically(&sweep_file, plan.text.as_bytes())?;
        write_atomically(&partial, table.header().as_bytes())?;
    }
    let mut file = OpenOptions::new()
        .append(true)
        .open(&partial)
        .map_err(|e| format!("{}: cannot append: {e}", partial.display()))?;
    let bar = progress_bar(options.progress, selected.len() as u64, done as u64);
    execute(plan, scenarios, table, &selected[done..], options.threads, |line| {
        file.write_all(line.as_bytes()).map_err(|e| format!("{}: cannot write: {e}", partial.display()))?;
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    drop(file);
    std::fs::rename(&partial, &runs_csv)
        .map_err(|e| format!("{}: cannot rename into place: {e}", runs_csv.display()))?;
    let mut written = vec![sweep_file, runs_csv.clone()];
    if options.shard.is_whole() {
        written.extend(finish(out, &runs_csv, plan)?);
    }
    Ok(SweepReport { selected: selected.len() as u64, resumed: done as u64, written })
}

/// Writes what a complete `runs.csv` gives: `points.csv`, the plots and `report.html`.
pub fn finish(out: &Path, runs_csv: &Path, plan: &Plan) -> Result<Vec<PathBuf>, String> {
    let runs = std::fs::File::open(runs_csv).map_err(|e| format!("{}: cannot read: {e}", runs_csv.display()))?;
    let points = points_csv(std::io::BufReader::new(runs), plan.knobs.len())?;
    let points_path = out.join("points.csv");
    write_atomically(&points_path, &points)?;
    let table = PointsTable::read(out)?;
    let specs = plot_specs(plan, &table);
    let plots = write_sweep_plots(out, &table, &specs)?;
    let mut svgs = Vec::new();
    for path in plots.iter().filter(|p| p.extension().is_some_and(|e| e == "svg")) {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let file = path.file_name().map_or(String::new(), |f| f.to_string_lossy().into_owned());
        svgs.push((file, text));
    }
    let report_path = out.join("report.html");
    write_atomically(&report_path, report::html(plan, &table, &specs, &svgs).as_bytes())?;
    let mut written = vec![points_path];
    written.extend(plots);
    written.push(report_path);
    Ok(written)
}

/// How many of `selected` an interrupted run already wrote, after checking its rows belong to
/// this sweep and shard and cutting any partial last line.
fn resume_point(
    partial: &Path,
    sweep_file: &Path,
    plan: &Plan,
    table: &RunsTable,
    selected: &[u64],
) -> Result<usize, String> {
    let Ok(text) = std::fs::read_to_string(partial) else { return Ok(0) };
    let previous = std::fs::read_to_string(sweep_file).unwrap_or_default();
    if previous != plan.text {
        return Err(format!(
            "{}: the sweep changed since the interrupted run (sweep.yaml differs); run without --resume to start again",
            partial.display()
        ));
    }
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    let mut lines = whole.lines();
    if lines.next().map(|h| format!("{h}\n")) != Some(table.header()) {
        return Err(format!("{}: its header is not this sweep's; run without --resume", partial.display()));
    }
    let mut done = 0;
    for line in lines {
        if run_of_line(line) != selected.get(done).copied() {
            return Err(format!(
                "{}: row {line:?} is not the next run of this shard; resume with the same --shard, or run without --resume",
                partial.display()
            ));
        }
        done += 1;
    }
    if whole.len() < text.len() {
        let file = OpenOptions::new().write(true).open(partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        file.set_len(whole.len() as u64)
            .map_err(|e| format!("{}: cannot cut the partial row: {e}", partial.display()))?;
    }
    Ok(done)
}

fn progress_bar(wanted: bool, total: u64, done: u64) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {per_sec}  ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_position(done);
    bar.reset_eta();
    bar
}

/// Runs `runs` (run numbers, ascending) on `threads` workers and hands each row to `write` in
/// the order of `runs`.
pub fn execute(
    plan: &Plan,
    scenarios: &[Scenario],
    table: &RunsTable,
    runs: &[u64],
    threads: usize,
    mut write: impl FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    let threads = threads.max(1);
    let window = 64 * threads as u64;
    let next = AtomicU64::new(0);
    let written = Mutex::new(0u64);
    let advanced = Condvar::new();
    let stop = AtomicBool::new(false);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("cannot start {threads} threads: {e}"))?;
    let (sender, receiver) = mpsc::channel::<(u64, Result<String, String>)>();
    let worker = |sender: mpsc::Sender<(u64, Result<String, String>)>| {
        loop {
            let position = next.fetch_add(1, Ordering::Relaxed);
            if position >= runs.len() as u64 || stop.load(Ordering::Relaxed) {
                return;
            }
            // Stay within the window of the writer.
            let mut guard = written.lock().expect("writer alive");
            while position >= *guard + window && !stop.load(Ordering::Relaxed) {
                guard = advanced.wait(guard).expect("writer alive");
            }
            drop(guard);
            let id = plan.run_id(runs[position as usize]);
            let row = simulate(&scenarios[id.point as usize], id.seed)
                .map(|r| table.row(plan, id, &r.summary))
                .map_err(|e| format!("run {} (point {}, {}): {e}", id.run, id.point, plan.describe_point(id.point)));
            if sender.send((position, row)).is_err() {
                return;
            }
        }
    };
    let mut outcome = Ok(());
    pool.in_place_scope(|scope| {
        for _ in 0..threads {
            let (worker, sender) = (&worker, sender.clone());
            scope.spawn(move |_| worker(sender));
        }
        // Only workers hold senders now: if they all stop, the loop below ends.
        drop(sender);
        let mut pending: BTreeMap<u64, String> = BTreeMap::new();
        let mut flushed = 0u64;
        while flushed < runs.len() as u64 {
            let Ok((position, row)) = receiver.recv() else { break };
            match row {
                Ok(line) => {
                    pending.insert(position, line);
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
            while let Some(line) = pending.remove(&flushed) {
                if let Err(e) = write(&line) {
                    outcome = Err(e);
                    break;
                }
                flushed += 1;
            }
            if outcome.is_err() {
                break;
            }
            *written.lock().expect("workers alive") = flushed;
            advanced.notify_all();
        }
        if outcome.is_err() {
            stop.store(true, Ordering::Relaxed);
            advanced.notify_all();
        }
    });
    outcome
}
