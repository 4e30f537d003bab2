//! `meshsim`: run a scenario of a multi-region service mesh and report what users would see.
//!
//!     meshsim run FILE [--seed N] [--replications R] [--out DIR] [--format table|json]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use experiments::{output, run, scenario};

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
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { file, seed, replications, out, format } => {
            match run_command(&file, seed, replications, out, format) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("error: {message}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn run_command(
    file: &Path,
    seed: Option<u64>,
    replications: u64,
    out: Option<PathBuf>,
    format: Format,
) -> Result<(), String> {
    let scenario = scenario::load(file)?;
    let seed = seed.unwrap_or(scenario.config.seed);
    let results = run::run(&scenario, seed, replications).map_err(|e| format!("{}: {e}", file.display()))?;
    let zones: Vec<String> = scenario.config.regions.iter().flat_map(|r| r.zones.iter().cloned()).collect();
    let links: Vec<String> =
        results.first().map(|r| r.summary.backbone.iter().map(|(name, ..)| name.clone()).collect()).unwrap_or_default();
    let dir = out.unwrap_or_else(|| PathBuf::from("outputs").join(&scenario.name));
    let written = output::write_outputs(&dir, &scenario, &results, &zones, &links)?;
    match format {
        Format::Table => {
            print!("{}", output::table(&scenario, &results));
            for path in written {
                println!("wrote {}", path.display());
            }
        }
        Format::Json => println!("{}", output::json(&scenario, &results)),
    }
    Ok(())
}
