//! `meshsim`: run a scenario of a multi-region service mesh and report what users would see.
//!
//!     meshsim run FILE [--seed N] [--replications R] [--out DIR] [--format table|json]
//!     meshsim sweep FILE [--threads N] [--out DIR] [--shard K/N | --shards N] [--resume]
//!                        [--dry-run | --run K]
//!     meshsim check FILE [--format table|json]
//!     meshsim compare A B [--replications R] [--seed N] [--format table|json]
//!     meshsim merge DIR... --out DIR
//!     meshsim plot DIR --x KNOB [--y METRIC] [--by KNOB | --heatmap KNOB]
//!     meshsim plot DIR --cdf POINT[,POINT...]
//!     meshsim envoy-config FILE --out DIR [--listener-port P] [--admin-port P] [--pod-port P]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use experiments::scenario::Scenario;
use experiments::staging::Staging;
use experiments::sweep::plan::Plan;
use experiments::sweep::runner::{SweepOptions, run_sweep};
use experiments::sweep::shard::Shard;
use experiments::sweep::table::RunsTable;
use experiments::{check, columns::MetricColumns, compare, fidelity, findings, output, plot, run, scenario, sweep};

#[derive(Parser)]
#[command(name = "meshsim", version, about = "Predict failover and traffic splits of a multi-region Istio mesh")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario and write its results.
    Run {
        /// The scenario file (YAML).
        file: PathBuf,
        /// Seed of replication 0 (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Independent replications (seeds derived from the first).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
        replications: u64,
        /// Output folder (default: outputs/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// How to print the summary.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run a sweep: a base scenario with fields varied over a grid or zipped lists.
    Sweep {
        /// The sweep file (YAML; see experiments/SWEEPS.md).
        file: PathBuf,
        /// Worker threads (default: every core).
        #[arg(long)]
        threads: Option<usize>,
        /// Output folder (default: outputs/<sweep name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run only shard K of N (0-based); default from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX.
        #[arg(long, conflicts_with_all = ["dry_run", "run"])]
        shard: Option<String>,
        /// Number of shards when the batch scheduler does not say (Kubernetes Indexed Jobs).
        #[arg(long)]
        shards: Option<u64>,
        /// Keep the rows of an interrupted run of this sweep in --out and run the rest.
        #[arg(long)]
        resume: bool,
        /// Check every point and list the runs without running them.
        #[arg(long)]
        dry_run: bool,
        /// Re-run run K alone: print its row and write its full outputs to --out/run-K.
        #[arg(long, conflicts_with = "dry_run")]
        run: Option<u64>,
    },
    /// Look for the traps in a scenario's configuration; exit 1 if any is an error.
    Check {
        /// The scenario file (YAML).
        file: PathBuf,
        /// How to print the findings.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Compare two scenarios (or a scenario and an override file) under the same random numbers.
    Compare {
        /// Scenario A.
        a: PathBuf,
        /// Scenario B, or an override file (`overrides:` field paths of A and their values).
        b: PathBuf,
        /// Paired replications.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..))]
        replications: u64,
        /// Seed of replication 0 (default: A's).
        #[arg(long)]
        seed: Option<u64>,
        /// How to print the comparison.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Join the output folders of a sweep's shards into one, as if run on one machine.
    Merge {
        /// Shard output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged files go.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the Envoy bootstrap meshsim's Istio translation gives the scenario's gateway, and
    /// the fake pods' plan, for the fidelity harness (experiments/fidelity).
    EnvoyConfig {
        /// The scenario file (YAML), of the harness's subset.
        file: PathBuf,
        /// Where envoy.json, pods.json and Envoy's logs go.
        #[arg(long)]
        out: PathBuf,
        /// Envoy's listener port on 127.0.0.1.
        #[arg(long, default_value_t = 18000)]
        listener_port: u16,
        /// Envoy's admin port on 127.0.0.1.
        #[arg(long, default_value_t = 18001)]
        admin_port: u16,
        /// The fake pods' port (each on its own 127.0.0.x).
        #[arg(long, default_value_t = 18080)]
        pod_port: u16,
    },
    /// Redraw a sweep's plots from its points.csv.
    Plot {
        /// The sweep's output folder.
        dir: PathBuf,
        /// Knob on the x axis (its name, or the last part of its path).
        #[arg(long, required_unless_present = "cdf")]
        x: Option<String>,
        /// Metric on the y axis (a column of summary.csv).
        #[arg(long, default_value = "error_rate")]
        y: String,
        /// One line per value of this knob.
        #[arg(long, conflicts_with = "heatmap")]
        by: Option<String>,
        /// Draw a heatmap of the metric over --x and this knob instead.
        #[arg(long)]
        heatmap: Option<String>,
        /// Draw the latency CDFs of these points instead (re-runs their replications).
        #[arg(long, value_delimiter = ',', conflicts_with_all = ["x", "by", "heatmap"])]
        cdf: Vec<u64>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Check { file, format } = &cli.command {
        return check_command(file, *format);
    }
    let outcome = match cli.command {
        Command::Run { file, seed, replications, out, format } => run_command(&file, seed, replications, out, format),
        Command::Sweep { file, threads, out, shard, shards, resume, dry_run, run } => {
            sweep_command(&file, threads, out, shard, shards, resume, dry_run, run)
        }
        Command::Check { .. } => unreachable!("handled above"),
        Command::Compare { a, b, replications, seed, format } => compare_command(&a, &b, replications, seed, format),
        Command::Merge { dirs, out } => sweep::merge::merge(&dirs, &out).map(|written| print_written(&written)),
        Command::EnvoyConfig { file, out, listener_port, admin_port, pod_port } => {
            let ports = fidelity::Ports { listener: listener_port, admin: admin_port, pods: pod_port };
            scenario::load(&file).and_then(|s| {
                let work = std::path::absolute(&out).map_err(|e| format!("{}: {e}", out.display()))?;
                fidelity::export(&s, ports, &work, &out)
            })
        }
        Command::Plot { dir, x, y, by, heatmap, cdf } => match x {
            Some(x) => plot_command(&dir, &x, &y, by, heatmap),
            None => cdf_command(&dir, &cdf),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Writes a run's files into `staging` and puts the folder in place; returns the files as
/// they are named once in place.
fn write_run_outputs(
    staging: Staging,
    scenario: &Scenario,
    results: &[run::Replication],
) -> Result<Vec<PathBuf>, String> {
    let zones: Vec<String> = scenario.config.regions.iter().flat_map(|r| r.zones.iter().cloned()).collect();
    let links: Vec<String> =
        results.first().map(|r| r.summary.backbone.iter().map(|(name, ..)| name.clone()).collect()).unwrap_or_default();
    let written = output::write_outputs(staging.path(), scenario, results, &zones, &links)?;
    let staged = staging.path().to_path_buf();
    let target = staging.commit()?;
    Ok(written.iter().map(|p| target.join(p.strip_prefix(&staged).unwrap_or(p))).collect())
}

/// Writes to standard output; a reader that has gone (`| head`) is not an error.
fn say(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn print_written(written: &[PathBuf]) {
    for path in written {
        say(&format!("wrote {}\n", path.display()));
    }
}

#[allow(clippy::too_many_arguments)]
fn sweep_command(
    file: &Path,
    threads: Option<usize>,
    out: Option<PathBuf>,
    shard: Option<String>,
    shards: Option<u64>,
    resume: bool,
    dry_run: bool,
    run_only: Option<u64>,
) -> Result<(), String> {
    let plan = Plan::load(file)?;
    let scenarios = plan.scenarios()?;
    note_findings(&check::check(&scenarios[0], &format!("{}, point 0", file.display())));
    let out = out.unwrap_or_else(|| PathBuf::from("outputs").join(&plan.name));
    let table = RunsTable::new(&plan, MetricColumns::of_scenarios(scenarios.iter()));
    if dry_run {
        // A closed pipe (`| head`) simply ends the listing.
        let _ = list_runs(&plan, &mut std::io::BufWriter::new(std::io::stdout().lock()));
        return Ok(());
    }
    if let Some(k) = run_only {
        if k >= plan.runs() {
            return Err(format!("--run {k}: the sweep has runs 0 to {}", plan.runs() - 1));
        }
        let id = plan.run_id(k);
        let scenario = &scenarios[id.point as usize];
        let staging = Staging::prepare(&out.join(format!("run-{k}")))?;
        let result = run::simulate(scenario, id.seed).map_err(|e| format!("run {k}: {e}"))?;
        say(&format!("{}{}", table.header(), table.row(&plan, id, &result.summary)));
        let written = write_run_outputs(staging, scenario, std::slice::from_ref(&result))?;
        for path in written {
            eprintln!("wrote {}", path.display());
        }
        return Ok(());
    }
    let shard = match shard {
        Some(text) => Shard::parse(&text)?,
        None => Shard::from_env(|name| std::env::var(name).ok(), shards)?.unwrap_or(Shard::WHOLE),
    };
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let options = SweepOptions { out, threads, shard, resume, progress: true };
    let report = run_sweep(&plan, &scenarios, &table, &options)?;
    say(&format!(
        "sweep {}: {} runs{}{}\n",
        plan.name,
        report.selected,
        if shard.is_whole() { String::new() } else { format!(" (shard {shard})") },
        if report.resumed > 0 { format!(", {} kept from the interrupted run", report.resumed) } else { String::new() }
    ));
    print_written(&report.written);
    Ok(())
}

/// `--dry-run`: the runs, numbered, with their seeds and knob values.
fn list_runs(plan: &Plan, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "# sweep {}: {} points x {} replications = {} runs; every point checked",
        plan.name,
        plan.points(),
        plan.replications,
        plan.runs()
    )?;
    if !plan.description.is_empty() {
        writeln!(out, "# {}", plan.description.replace('\n', " "))?;
    }
    let mut header = vec!["run".to_string(), "point".into(), "replication".into(), "seed".into()];
    header.extend(plan.knobs.iter().map(|k| k.name.clone()));
    out.write_all(sweep::table::csv_line(&header).as_bytes())?;
    for run in 0..plan.runs() {
        let id = plan.run_id(run);
        let mut cells = vec![id.run.to_string(), id.point.to_string(), id.replication.to_string(), id.seed.to_string()];
        cells.extend(plan.point_values(id.point));
        out.write_all(sweep::table::csv_line(&cells).as_bytes())?;
    }
    out.flush()
}

/// `plot --cdf`: the latency distributions of chosen points, every replication pooled.
fn cdf_command(dir: &Path, points: &[u64]) -> Result<(), String> {
    use rayon::prelude::*;
    let plan = Plan::load(&dir.join("sweep.yaml"))?;
    let mut curves = Vec::new();
    for &point in points {
        if point >= plan.points() {
            return Err(format!("--cdf {point}: the sweep has points 0 to {}", plan.points() - 1));
        }
        let scenario = plan.scenario(point)?;
        let histograms = (0..plan.replications)
            .into_par_iter()
            .map(|r| {
                run::simulate_with(&scenario, run::replication_seed(plan.seed, r), |w| w.metrics().latency.clone())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut pooled = histograms[0].clone();
        histograms[1..].iter().for_each(|h| pooled.merge(h));
        let values = plan.point_values(point);
        let knobs =
            plan.knobs.iter().zip(values).map(|(k, v)| format!("{}={v}", k.name.rsplit('.').next().unwrap_or(&k.name)));
        curves.push((format!("{point}: {}", knobs.collect::<Vec<_>>().join(", ")), pooled));
    }
    print_written(&plot::sweep::draw_latency_cdf(&dir.join("plots"), &curves)?);
    Ok(())
}

/// Before a run: one line on stderr when `check` finds traps, so they are not missed.
fn note_findings(report: &check::Report) {
    let count = |s: check::Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings) = (count(check::Severity::Error), count(check::Severity::Warning));
    if errors + warnings > 0 {
        eprintln!(
            "check: {errors} errors, {warnings} warnings in {}; `meshsim check` says what and why",
            report.source
        );
    }
}

/// `check`: exit 0 without errors (warnings allowed), 1 with errors, 2 when the scenario
/// cannot be read.
fn check_command(file: &Path, format: Format) -> ExitCode {
    let scenario = match scenario::load(file) {
        Ok(scenario) => scenario,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let report = check::check(&scenario, &file.display().to_string());
    match format {
        Format::Table => say(&report.text()),
        Format::Json => say(&format!("{}\n", report.json())),
    }
    if report.has_errors() { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn compare_command(a: &Path, b: &Path, replications: u64, seed: Option<u64>, format: Format) -> Result<(), String> {
    let scenario_a = scenario::load(a)?;
    let scenario_b = compare::load_b(a, b)?;
    let seed = seed.unwrap_or(scenario_a.config.seed);
    let comparison = compare::compare(&scenario_a, &scenario_b, seed, replications)?;
    match format {
        Format::Table => say(&comparison.table()),
        Format::Json => say(&format!("{}\n", comparison.json())),
    }
    Ok(())
}

fn plot_command(dir: &Path, x: &str, y: &str, by: Option<String>, heatmap: Option<String>) -> Result<(), String> {
    let table = plot::sweep::PointsTable::read(dir)?;
    let plots = dir.join("plots");
    let written = match heatmap {
        Some(other) => plot::sweep::draw_heatmap(&plots, &table, x, &other, y)?,
        None => plot::sweep::draw_metric(&plots, &table, x, y, by.as_deref())?,
    };
    print_written(&written);
    Ok(())
}

fn run_command(
    file: &Path,
    seed: Option<u64>,
    replications: u64,
    out: Option<PathBuf>,
    format: Format,
) -> Result<(), String> {
    let scenario = scenario::load(file)?;
    note_findings(&check::check(&scenario, &file.display().to_string()));
    let seed = seed.unwrap_or(scenario.config.seed);
    let staging = Staging::prepare(&out.unwrap_or_else(|| PathBuf::from("outputs").join(&scenario.name)))?;
    let results = run::run(&scenario, seed, replications).map_err(|e| format!("{}: {e}", file.display()))?;
    let written = write_run_outputs(staging, &scenario, &results)?;
    match format {
        Format::Table => {
            say(&output::table(&scenario, &results));
            say(&findings::text(&findings::of(&scenario, &results)));
            print_written(&written);
        }
        Format::Json => say(&format!("{}\n", output::json(&scenario, &results))),
    }
    Ok(())
}
