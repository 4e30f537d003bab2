//! Running a scenario: one simulation per replication, in parallel across replications (never
//! inside one), results gathered in replication order so the output is the same whatever the
//! thread count.

use models::envoy::stats::ClusterStats;
use models::mesh::event_log::NamedRow;
use models::mesh::summary::{RunSummary, WindowRow, window_rows};
use models::mesh::world::World;
use rayon::prelude::*;
use sim::{RandomStreams, SimTime, Simulation};

use crate::scenario::Scenario;

/// One replication's results.
#[derive(Clone, Debug)]
pub struct Replication {
    /// Headline figures.
    pub summary: RunSummary,
    /// Per-window figures.
    pub windows: Vec<WindowRow>,
    /// Envoy's counters per proxy and upstream cluster that carried anything:
    /// `(proxy, cluster, counters)`.
    pub stats: Vec<(String, String, ClusterStats)>,
    /// The event log, and how many events its cap left out.
    pub events: (Vec<NamedRow>, u64),
}

/// The seed of replication `r` of a run seeded `seed`: the seed itself for the first, a seed
/// derived from it for the others (so `--seed N` alone reproduces replication 0 of any run).
pub fn replication_seed(seed: u64, r: u64) -> u64 {
    if r == 0 { seed } else { RandomStreams::new(seed).replication(r).seed() }
}

/// Runs `replications` replications of the scenario from `seed`.
pub fn run(scenario: &Scenario, seed: u64, replications: u64) -> Result<Vec<Replication>, String> {
    (0..replications).into_par_iter().map(|r| simulate(scenario, replication_seed(seed, r))).collect()
}

/// Runs the scenario once with `seed`.
pub fn simulate(scenario: &Scenario, seed: u64) -> Result<Replication, String> {
    let (duration, slo) = (scenario.config.duration, scenario.config.metrics.slo_success);
    simulate_with(scenario, seed, |world| Replication {
        summary: RunSummary::of(world, seed, duration, slo),
        windows: window_rows(world),
        stats: world.cluster_stats(),
        events: world.event_rows(),
    })
}

/// Runs the scenario once with `seed` and reads what `read` wants from the finished world.
pub fn simulate_with<T>(scenario: &Scenario, seed: u64, read: impl FnOnce(&World) -> T) -> Result<T, String> {
    scenario.check_simulable()?;
    let mut config = scenario.config.clone();
    config.seed = seed;
    let duration = config.duration;
    let mut simulation = Simulation::try_new_with(|s| World::build(config, s)).map_err(|e| e.to_string())?;
    let end = SimTime::ZERO + duration;
    simulation.run_until(end);
    simulation.model_mut().close(end);
    Ok(read(simulation.model()))
}
