//! Picking a host for a request: priority, then locality, then host — per worker thread.
//!
//! Follows `source/extensions/load_balancing_policies/common/load_balancer_impl.cc`
//! (`ZoneAwareLoadBalancerBase::chooseHost`, `hostSourceToUse`, `EdfLoadBalancerBase::refresh`
//! and `chooseHostOnce`), `round_robin/round_robin_lb.cc`, `least_request/least_request_lb.cc`
//! and `random/random_lb.cc`, with spec §3–4:
//! - every pick draws its priority afresh (`choosePriority`); a level in panic picks among all
//!   its hosts, ejected ones included;
//! - with locality-weighted balancing a locality is chosen by the worker's EDF schedule, rebuilt
//!   on each host-set change of the level;
//! - equal host weights (Istio's case) pick without EDF: ROUND_ROBIN keeps a per-source index that
//!   starts at a per-worker random seed and survives rebuilds; LEAST_REQUEST samples two hosts
//!   (with replacement) and keeps the one with fewer requests in flight, the first on a tie;
//!   RANDOM is uniform. Unequal weights use an EDF schedule per source, whose weight for
//!   LEAST_REQUEST is weight / (active + 1)^bias;
//! - a retry's picks reject hosts already tried (`previous_hosts`) up to the host-selection
//!   attempt limit, then keep the last pick.
//!
//! Each worker has its own schedules and indices, as each Envoy worker thread does; requests in
//! flight per host are shared by all workers.

use std::rc::{Rc, Weak};

use rand::Rng;
use smallvec::SmallVec;

use super::edf::EdfScheduler;
use super::host_set::{Host, HostSet, HostTable};
use super::locality_wrr::{LocalityScheduler, effective_locality_weight};
use super::priority_load::{Availability, LevelCounts, PerLevel, PriorityLoad};
use super::version::EnvoyVersion;

/// How a host is picked among the candidates (`Cluster.lb_policy`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LbPolicy {
    /// Weighted round robin.
    RoundRobin,
    /// Power of `choice_count` choices on requests in flight (Istio's default).
    LeastRequest {
        /// Hosts sampled per pick (Envoy's default 2).
        choice_count: u32,
        /// Exponent of (active + 1) dividing the weight when weights differ (default 1.0).
        active_request_bias: f64,
    },
    /// Uniformly at random.
    Random,
}

impl LbPolicy {
    /// LEAST_REQUEST with Envoy's defaults.
    pub const LEAST_REQUEST: LbPolicy = LbPolicy::LeastRequest { choice_count: 2, active_request_bias: 1.0 };
}

/// Load-balancer settings of one cluster on one proxy.
#[derive(Clone, Debug, PartialEq)]
pub struct LbSettings {
    /// Host picking policy.
    pub policy: LbPolicy,
    /// Whether `locality_weighted_lb_config` is set.
    pub locality_weighted: bool,
    /// `healthy_panic_threshold` in percent.
    pub panic_threshold: u32,
    /// Overprovisioning factor in percent (140 by default).
    pub overprovisioning_factor: u32,
    /// The Envoy release, for the behaviours that changed.
    pub version: EnvoyVersion,
}

/// Which list of hosts a pick draws from (`HostsSource`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Source {
    All(u32),
    Healthy(u32),
    Degraded(u32),
    LocalityHealthy(u32, u32),
    LocalityDegraded(u32, u32),
}

impl Source {
    /// Its level, and its position among that level's sources (all, healthy, degraded, then
    /// healthy and degraded per locality).
    fn slot(self) -> (usize, usize) {
        match self {
            Source::All(p) => (p as usize, 0),
            Source::Healthy(p) => (p as usize, 1),
            Source::Degraded(p) => (p as usize, 2),
            Source::LocalityHealthy(p, l) => (p as usize, 3 + 2 * l as usize),
            Source::LocalityDegraded(p, l) => (p as usize, 4 + 2 * l as usize),
        }
    }
}

/// A worker's state for one source: the round-robin index, and the EDF schedule when weights
/// differ (boxed: Istio's hosts weigh the same, and every proxy keeps these per source).
#[derive(Clone, Debug)]
struct SourceState {
    next_index: u64,
    edf: Option<Box<EdfScheduler>>,
}

/// What every pick of a cluster reads of its levels: the settings, the hosts, each level's host
/// set, the priority load and how each level chooses a locality. While none of their hosts is
/// out of rotation, the clusters over one table with the same settings see the same, so they
/// share one: a large mesh's thousands of clusters hold a handful between them. A cluster makes
/// its own copy when an ejection reaches one of its levels, and shares again once none is out.
#[derive(Clone, Debug)]
pub(super) struct BalancedLevels {
    settings: LbSettings,
    table: Rc<HostTable>,
    /// Each level as last refreshed: the table's own while none of its hosts is out.
    sets: Vec<Rc<HostSet>>,
    load: PriorityLoad,
    /// Per level, with locality-weighted balancing, how a pick chooses the locality of the
    /// level's healthy and of its degraded hosts (indexed by [`Availability`]).
    localities: Vec<LevelLocalities>,
}

impl BalancedLevels {
    /// The levels of `table` with the hosts in `ejected` out of rotation: the shared ones when
    /// none is out.
    fn new(settings: &LbSettings, table: Rc<HostTable>, ejected: &[u32]) -> Rc<Self> {
        if ejected.is_empty() {
            return Self::unejected(settings, table);
        }
        let sets = (0..table.level_count() as u32).map(|level| level_set(&table, level, ejected)).collect();
        Rc::new(Self::from_sets(settings.clone(), table, sets))
    }

    /// The levels of `table` with no host out of rotation: the ones other clusters with the
    /// same settings hold, if one does.
    fn unejected(settings: &LbSettings, table: Rc<HostTable>) -> Rc<Self> {
        let mut shared = table.unejected_balanced().borrow_mut();
        if let Some(levels) = shared.iter().filter_map(Weak::upgrade).find(|levels| levels.settings == *settings) {
            return levels;
        }
        let sets = (0..table.level_count()).map(|p| Rc::clone(table.unejected_level(p))).collect();
        let levels = Rc::new(Self::from_sets(settings.clone(), Rc::clone(&table), sets));
        shared.retain(|levels| levels.strong_count() > 0);
        shared.push(Rc::downgrade(&levels));
        levels
    }

    /// The levels with these host sets, their load and locality choices computed.
    fn from_sets(settings: LbSettings, table: Rc<HostTable>, sets: Vec<Rc<HostSet>>) -> Self {
        let load = priority_load(&settings, &sets);
        let mut levels = BalancedLevels { settings, table, sets, load, localities: Vec::new() };
        if levels.settings.locality_weighted {
            levels.localities = (0..levels.sets.len()).map(|p| levels.level_localities(p)).collect();
        }
        levels
    }

    /// Level `p`'s effective locality weights for its healthy and its degraded hosts.
    fn effective_weights(&self, p: usize) -> [SmallVec<[f64; 4]>; 2] {
        let of = self.settings.overprovisioning_factor;
        let effective = |eligible: fn(&super::host_set::LocalityHosts) -> usize| {
            self.sets[p]
                .localities
                .iter()
                .map(|l| effective_locality_weight(l.weight, eligible(l), l.hosts.len(), of))
                .collect()
        };
        [effective(|l| l.healthy.len()), effective(|l| l.degraded.len())]
    }

    /// How level `p`'s picks choose a locality: fixed when each of its schedules would be.
    fn level_localities(&self, p: usize) -> LevelLocalities {
        match self.effective_weights(p).each_ref().map(|weights| LocalityScheduler::fixed_choice(weights)) {
            [Some(healthy), Some(degraded)] => LevelLocalities::Fixed([healthy, degraded]),
            _ => LevelLocalities::PerWorker,
        }
    }
}

/// The priority load of levels with these host sets.
fn priority_load(settings: &LbSettings, sets: &[Rc<HostSet>]) -> PriorityLoad {
    let counts: PerLevel<LevelCounts> = sets.iter().map(|l| l.counts()).collect();
    PriorityLoad::compute(&counts, settings.overprovisioning_factor, settings.panic_threshold)
}

/// Level `level` of `table` with the hosts in `ejected` out of rotation: the table's own when
/// none of them is in it.
fn level_set(table: &HostTable, level: u32, ejected: &[u32]) -> Rc<HostSet> {
    let hosts = table.hosts();
    if ejected.iter().any(|&h| hosts[h as usize].priority == level) {
        let weights = &table.locality_weights()[level as usize];
        Rc::new(HostSet::build(level, hosts, weights, |h| ejected.contains(&h)))
    } else {
        Rc::clone(table.unejected_level(level as usize))
    }
}

/// The per-worker pickers of one cluster on one proxy, over its levels.
#[derive(Clone, Debug)]
pub struct LoadBalancer {
    /// Read by every pick; shared with the clusters that see the same.
    levels: Rc<BalancedLevels>,
    /// Picks made in panic (`lb_healthy_panic`).
    panic_picks: u64,
    /// Per worker, `seed_`: the start of every round-robin index and the pick count of
    /// weighted schedules. Inline for Istio's two workers (`concurrency: 2`), which every
    /// cluster of a large mesh would otherwise keep in an allocation of its own.
    seeds: SmallVec<[u64; 2]>,
    /// Per worker, then per level, per source slot ([`Source::slot`]); entries outlive
    /// rebuilds, like Envoy's `rr_indexes_`. Kept only while picks read them
    /// ([`LoadBalancer::keeps_source_state`]), so empty in most clusters of a large mesh.
    sources: Vec<Vec<Vec<SourceState>>>,
    /// Per worker, then per level, the schedules of the levels whose workers each keep their
    /// own; made when a level first needs them. One vector for every worker, so that a pick
    /// reaches its schedule in one step.
    localities: Vec<[LocalityScheduler; 2]>,
}

/// How the picks of one level choose a locality.
#[derive(Clone, Copy, Debug, Default)]
enum LevelLocalities {
    /// With at most one eligible locality for its healthy hosts and one for its degraded
    /// hosts (most levels of a large mesh), every worker's schedule returns the same: held
    /// once, read without reaching the workers' schedules.
    Fixed([Option<u32>; 2]),
    /// Each worker keeps its own EDF schedule, in `localities`.
    #[default]
    PerWorker,
}

impl LoadBalancer {
    /// A load balancer over the hosts of `table` with `workers` worker threads; `ejected` lists
    /// the hosts out of rotation to start from.
    pub fn new<R: Rng + ?Sized>(
        settings: LbSettings,
        table: Rc<HostTable>,
        workers: usize,
        ejected: &[u32],
        rng: &mut R,
    ) -> Self {
        let seeds = (0..workers.max(1)).map(|_| rng.next_u64()).collect();
        let mut lb = LoadBalancer {
            levels: BalancedLevels::new(&settings, table, ejected),
            panic_picks: 0,
            seeds,
            sources: Vec::new(),
            localities: Vec::new(),
        };
        lb.refresh_workers(rng);
        lb
    }

    /// Replaces the hosts after an EDS update and refreshes every level; round-robin indices
    /// and worker seeds carry over, as Envoy keeps its load balancer across membership changes.
    pub fn set_hosts<R: Rng + ?Sized>(&mut self, table: Rc<HostTable>, ejected: &[u32], rng: &mut R) {
        self.levels = BalancedLevels::new(&self.levels.settings, table, ejected);
        if self.levels.settings.locality_weighted {
            // The workers' schedules are made again below if a level needs them.
            self.localities = Vec::new();
        }
        self.refresh_workers(rng);
    }

    /// Refreshes every level on every worker, in level order.
    fn refresh_workers<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        for level in 0..self.levels.sets.len() as u32 {
            self.refresh_level_workers(level, rng);
        }
    }

    /// The cluster's hosts.
    pub fn hosts(&self) -> &[Host] {
        self.levels.table.hosts()
    }

    /// The shared layout of the cluster's hosts.
    pub fn table(&self) -> &Rc<HostTable> {
        &self.levels.table
    }

    /// Number of priority levels.
    pub fn level_count(&self) -> usize {
        self.levels.sets.len()
    }

    /// The traffic split across levels and their panic state.
    pub fn priority_load(&self) -> &PriorityLoad {
        &self.levels.load
    }

    /// Picks made while their priority was in panic.
    pub fn panic_picks(&self) -> u64 {
        self.panic_picks
    }

    /// Number of worker threads.
    pub fn worker_count(&self) -> usize {
        self.seeds.len()
    }

    /// Whether picks read per-source state: round robin's indices, or the weighted schedules of
    /// hosts whose weights differ. Least-request and random picks over Istio's equal weights
    /// read none, so a large mesh's thousands of balancers keep none.
    fn keeps_source_state(&self) -> bool {
        self.levels.settings.policy == LbPolicy::RoundRobin || !self.levels.table.uniform_weights()
    }

    /// Applies a host-set change of level `level` on every worker (Envoy's priority update
    /// callbacks), `ejected` listing the hosts out of rotation: rebuilds the level (or takes the
    /// shared one when none of its hosts is out), the priority load, the locality schedules and
    /// weighted host schedules; round-robin indices carry over.
    pub fn refresh_level<R: Rng + ?Sized>(&mut self, level: u32, ejected: &[u32], rng: &mut R) {
        if ejected.is_empty() {
            // Each level was last refreshed with the hosts then out in it, so with none out every
            // level is the table's own again.
            self.levels = BalancedLevels::unejected(&self.levels.settings, Rc::clone(&self.levels.table));
        } else {
            let levels = Rc::make_mut(&mut self.levels);
            let p = level as usize;
            levels.sets[p] = level_set(&levels.table, level, ejected);
            levels.load = priority_load(&levels.settings, &levels.sets);
            if levels.settings.locality_weighted {
                levels.localities[p] = levels.level_localities(p);
            }
        }
        self.refresh_level_workers(level, rng);
    }

    /// Level `level`'s change on every worker: its locality schedules (each worker draws its
    /// starts, as each Envoy worker does, fixed schedule or not) and its sources' weighted
    /// schedules.
    fn refresh_level_workers<R: Rng + ?Sized>(&mut self, level: u32, rng: &mut R) {
        let p = level as usize;
        let levels = &*self.levels;
        let set = &levels.sets[p];
        let random_start = levels.settings.version.edf_starts_at_random_pick();
        let weights = if levels.settings.locality_weighted { Some(levels.effective_weights(p)) } else { None };
        let keeps_sources = self.keeps_source_state();
        let mut sources = Vec::new();
        if keeps_sources {
            sources.extend([
                (Source::All(level), &set.hosts),
                (Source::Healthy(level), &set.healthy),
                (Source::Degraded(level), &set.degraded),
            ]);
            for (slot, locality) in set.localities.iter().enumerate() {
                sources.push((Source::LocalityHealthy(level, slot as u32), &locality.healthy));
                sources.push((Source::LocalityDegraded(level, slot as u32), &locality.degraded));
            }
        }
        let (level_count, worker_count) = (levels.sets.len(), self.seeds.len());
        if !keeps_sources {
            self.sources = Vec::new();
        } else if self.sources.len() < worker_count {
            self.sources.resize_with(worker_count, Vec::new);
        }
        for (w, &seed) in self.seeds.iter().enumerate() {
            if let Some([healthy, degraded]) = &weights {
                let mut start = || random_start.then(|| rng.next_u32());
                let starts = [start(), start()];
                if let LevelLocalities::PerWorker = levels.localities[p] {
                    if self.localities.is_empty() {
                        self.localities = vec![Default::default(); worker_count * level_count];
                    }
                    self.localities[w * level_count + p] =
                        [LocalityScheduler::new(healthy, starts[0]), LocalityScheduler::new(degraded, starts[1])];
                }
            }
            if !keeps_sources {
                continue;
            }
            let worker_sources = &mut self.sources[w];
            if worker_sources.len() <= p {
                worker_sources.resize_with(p + 1, Vec::new);
            }
            let states = &mut worker_sources[p];
            if states.len() < sources.len() {
                states.resize_with(sources.len(), || SourceState { next_index: seed, edf: None });
            }
            for &(source, hosts) in &sources {
                states[source.slot().1].edf = if levels.table.uniform_weights() {
                    None
                } else {
                    weighted_schedule(levels.table.hosts(), hosts, seed as u32).map(Box::new)
                };
            }
        }
    }

    /// The priority load a retry sees after trying the levels marked in `tried_levels`, under
    /// the `previous_priorities` retry priority; `None`: the original load applies.
    pub fn retry_load(&self, tried_levels: &[bool]) -> Option<PriorityLoad> {
        let levels = &*self.levels;
        let counts: PerLevel<LevelCounts> = levels.sets.iter().map(|l| l.counts()).collect();
        levels.load.excluding(&counts, levels.settings.overprovisioning_factor, tried_levels)
    }

    /// Picks a host for one attempt on `worker`: up to `max_attempts` picks, skipping hosts in
    /// `previous` (the retry's `previous_hosts` predicate), keeping the last pick if all were
    /// tried before; the level is drawn from `retry_load` when given (see [`Self::retry_load`]).
    /// `active(host)` is the number of requests in flight to a host. `None` means no healthy
    /// upstream.
    pub fn choose_host<R: Rng + ?Sized>(
        &mut self,
        worker: usize,
        active: impl Fn(u32) -> u32,
        previous: &[u32],
        max_attempts: u32,
        retry_load: Option<&PriorityLoad>,
        rng: &mut R,
    ) -> Option<u32> {
        let mut host = None;
        for _ in 0..max_attempts.max(1) {
            host = self.choose_once(worker, &active, retry_load, rng);
            match host {
                Some(h) if previous.contains(&h) => continue,
                _ => return host,
            }
        }
        host
    }

    /// `chooseHostOnce`.
    #[inline]
    fn choose_once<R: Rng + ?Sized>(
        &mut self,
        worker: usize,
        active: &impl Fn(u32) -> u32,
        retry_load: Option<&PriorityLoad>,
        rng: &mut R,
    ) -> Option<u32> {
        // RANDOM uses this one number for the priority and the host (`random_lb.cc`,
        // `peekOrChoose`); the other policies draw afresh for the host.
        let random = rng.next_u64();
        let levels = &*self.levels;
        let (level, availability) = retry_load.unwrap_or(&levels.load).choose(random);
        let p = level as u32;
        let source = if levels.load.panic[level] {
            self.panic_picks += 1;
            Source::All(p)
        } else {
            let locality = if !levels.settings.locality_weighted {
                None
            } else {
                match levels.localities[level] {
                    LevelLocalities::Fixed(choices) => choices[availability as usize].map(|l| l as usize),
                    LevelLocalities::PerWorker => {
                        self.localities[worker * levels.sets.len() + level][availability as usize].choose()
                    }
                }
            };
            match (locality, availability) {
                (Some(l), Availability::Healthy) => Source::LocalityHealthy(p, l as u32),
                (Some(l), Availability::Degraded) => Source::LocalityDegraded(p, l as u32),
                (None, Availability::Healthy) => Source::Healthy(p),
                (None, Availability::Degraded) => Source::Degraded(p),
            }
        };
        let set = &levels.sets[level];
        let candidates = match source {
            Source::All(_) => &set.hosts,
            Source::Healthy(_) => &set.healthy,
            Source::Degraded(_) => &set.degraded,
            Source::LocalityHealthy(_, l) => &set.localities[l as usize].healthy,
            Source::LocalityDegraded(_, l) => &set.localities[l as usize].degraded,
        };
        if candidates.is_empty() {
            return None;
        }
        let mut state = None;
        if self.keeps_source_state() {
            let (level_slot, source_slot) = source.slot();
            let kept = &mut self.sources[worker][level_slot][source_slot];
            if let Some(edf) = &mut kept.edf {
                let hosts = levels.table.hosts();
                let policy = levels.settings.policy;
                return edf.pick_and_add(|h| host_weight(policy, hosts[h as usize].weight, active(h)));
            }
            state = Some(kept);
        }
        let n = candidates.len() as u64;
        Some(match levels.settings.policy {
            LbPolicy::RoundRobin => {
                let state = state.expect("round robin keeps its indices");
                let index = state.next_index;
                state.next_index = state.next_index.wrapping_add(1);
                candidates[(index % n) as usize]
            }
            LbPolicy::Random => candidates[(random % n) as usize],
            LbPolicy::LeastRequest { choice_count, .. } => {
                let mut chosen = candidates[(rng.next_u64() % n) as usize];
                for _ in 1..choice_count {
                    let sampled = candidates[(rng.next_u64() % n) as usize];
                    if active(sampled) < active(chosen) {
                        chosen = sampled;
                    }
                }
                chosen
            }
        })
    }
}

/// The EDF weight of a host: its weight, divided by (active + 1)^bias for LEAST_REQUEST.
fn host_weight(policy: LbPolicy, weight: u32, active: u32) -> f64 {
    match policy {
        LbPolicy::LeastRequest { active_request_bias, .. } if active_request_bias != 0.0 => {
            f64::from(weight) / (f64::from(active) + 1.0).powf(active_request_bias)
        }
        _ => f64::from(weight),
    }
}

/// The weighted schedule of a source: only when its hosts' weights differ and there are two or
/// more (Envoy skips EDF otherwise), started `seed` picks in.
fn weighted_schedule(all: &[Host], hosts: &[u32], seed: u32) -> Option<EdfScheduler> {
    let first = hosts.first().map(|&h| all[h as usize].weight)?;
    if hosts.len() < 2 || hosts.iter().all(|&h| all[h as usize].weight == first) {
        return None;
    }
    let entries: Vec<(u32, f64)> = hosts.iter().map(|&h| (h, f64::from(all[h as usize].weight))).collect();
    Some(EdfScheduler::with_picks(&entries, seed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::host_set::{EdsHealth, EndpointId, LbEndpoint, LoadAssignment, LocalityEndpoints};
    use crate::envoy::priority_load::DEFAULT_OVERPROVISIONING_FACTOR;
    use proptest::prelude::*;
    use sim::RandomStreams;

    fn settings(policy: LbPolicy, locality_weighted: bool, panic_threshold: u32) -> LbSettings {
        LbSettings {
            policy,
            locality_weighted,
            panic_threshold,
            overprovisioning_factor: DEFAULT_OVERPROVISIONING_FACTOR,
            version: EnvoyVersion::DEFAULT,
        }
    }

    /// Localities as (priority, weight, host count); endpoints numbered in order.
    fn assignment(groups: &[(u32, u32, u32)]) -> LoadAssignment {
        let mut next = 0;
        let localities = groups
            .iter()
            .enumerate()
            .map(|(i, &(priority, weight, count))| LocalityEndpoints {
                locality: i as u32,
                priority,
                weight,
                endpoints: (0..count)
                    .map(|_| {
                        next += 1;
                        LbEndpoint { endpoint: EndpointId(next - 1), weight: 1, health: EdsHealth::Healthy }
                    })
                    .collect(),
            })
            .collect();
        LoadAssignment { localities }
    }

    fn balancer(s: LbSettings, groups: &[(u32, u32, u32)], ejected: &[u32], seed: u64) -> LoadBalancer {
        let mut rng = RandomStreams::new(seed).stream("lb");
        LoadBalancer::new(s, HostTable::new(&assignment(groups)), 2, ejected, &mut rng)
    }

    fn counts(lb: &mut LoadBalancer, picks: usize, seed: u64) -> Vec<usize> {
        let mut rng = RandomStreams::new(seed).stream("picks");
        let active = vec![0; lb.hosts().len()];
        let mut seen = vec![0; lb.hosts().len() + 1];
        for i in 0..picks {
            match lb.choose_host(i % 2, |h| active[h as usize], &[], 1, None, &mut rng) {
                Some(h) => seen[h as usize] += 1,
                None => *seen.last_mut().unwrap() += 1,
            }
        }
        seen
    }

    #[test]
    fn round_robin_cycles_each_worker_through_the_healthy_hosts() {
        let mut lb = balancer(settings(LbPolicy::RoundRobin, false, 0), &[(0, 1, 4)], &[2], 1);
        let mut rng = RandomStreams::new(1).stream("picks");
        let picks: Vec<u32> = (0..6).map(|_| lb.choose_host(0, |_| 0, &[], 1, None, &mut rng).unwrap()).collect();
        // Healthy hosts are 0, 1, 3; the cycle starts at the worker's random seed.
        assert_eq!(picks[..3].iter().copied().collect::<std::collections::BTreeSet<_>>().len(), 3);
        assert_eq!(picks[..3], picks[3..]);
        assert!(!picks.contains(&2));
    }

    #[test]
    fn least_request_prefers_the_host_with_fewer_requests_in_flight() {
        let mut lb = balancer(settings(LbPolicy::LEAST_REQUEST, false, 0), &[(0, 1, 2)], &[], 1);
        let mut rng = RandomStreams::new(3).stream("picks");
        let active = [5, 0];
        let busy = (0..10_000)
            .filter(|_| lb.choose_host(0, |h| active[h as usize], &[], 1, None, &mut rng) == Some(0))
            .count();
        // The busy host wins only when both samples land on it: 1/4 of the time.
        assert!((2300..2700).contains(&busy), "busy host picked {busy} times");
    }

    #[test]
    fn failover_spills_seven_percent_when_one_of_three_is_ejected() {
        // Priority levels as Istio builds them for a hangzhou client: P0 hangzhou (3 pods), P1 shanghai.
        let mut lb = balancer(settings(LbPolicy::LEAST_REQUEST, false, 0), &[(0, 3, 3), (1, 3, 3)], &[0], 5);
        let seen = counts(&mut lb, 100_000, 2);
        let p1: usize = seen[3..6].iter().sum();
        assert!((6_500..7_500).contains(&p1), "P1 got {p1} of 100,000");
        assert_eq!(seen[0], 0, "the ejected host is never picked outside panic");
    }

    #[test]
    fn random_picks_priority_and_host_with_one_number() {
        // random_lb.cc (`peekOrChoose`): the draw r that chose P1 (r % 100 in 93..=99 at a 93/7
        // split) also indexes P1's four hosts, r % 4 being (r % 100) % 4: 1, 2, 3, 0, 1, 2, 3, so
        // the first of them gets 1/7 of P1's picks and each other 2/7, not 1/4 each.
        let mut lb = balancer(settings(LbPolicy::Random, false, 0), &[(0, 3, 3), (1, 4, 4)], &[0], 5);
        let seen = counts(&mut lb, 140_000, 2);
        let p1: usize = seen[3..7].iter().sum();
        assert!((9_300..10_300).contains(&p1), "P1 got {p1} of 140,000");
        assert!((1_200..1_650).contains(&seen[3]), "{seen:?}");
        for &n in &seen[4..7] {
            assert!((2_600..3_100).contains(&n), "{seen:?}");
        }
    }

    #[test]
    fn everything_ejected_without_panic_means_no_healthy_upstream() {
        let mut lb = balancer(settings(LbPolicy::LEAST_REQUEST, false, 0), &[(0, 1, 2), (1, 1, 1)], &[0, 1, 2], 5);
        assert_eq!(counts(&mut lb, 100, 1)[3], 100);
    }

    #[test]
    fn panic_sends_traffic_to_ejected_hosts() {
        // minHealthPercent 50 → panic threshold 50; both hosts of the only level ejected.
        let mut lb = balancer(settings(LbPolicy::LEAST_REQUEST, false, 50), &[(0, 1, 2)], &[0, 1], 5);
        let seen = counts(&mut lb, 1000, 1);
        assert_eq!(seen[2], 0);
        assert!(seen[0] > 400 && seen[1] > 400);
    }

    #[test]
    fn locality_weighted_picks_follow_the_schedule_within_a_level() {
        // Sandbox: P0 (1 of 5 healthy) takes 28 %; P1's two equal localities split the 72 %.
        let s = settings(LbPolicy::RoundRobin, true, 0);
        let mut lb = balancer(s.clone(), &[(0, 1, 5), (1, 1, 1), (1, 1, 1)], &[1, 2, 3, 4], 9);
        let seen = counts(&mut lb, 100_000, 3);
        let share = |n: usize| n as f64 / 1000.0;
        assert!((share(seen[0]) - 28.0).abs() < 0.6, "P0 {}", share(seen[0]));
        assert!((share(seen[5]) - 36.0).abs() < 0.6, "remote-1 {}", share(seen[5]));
        assert!((share(seen[6]) - 36.0).abs() < 0.6, "remote-2 {}", share(seen[6]));
        // With every local host down, the two remote localities split everything 50/50.
        let mut lb = balancer(s.clone(), &[(0, 1, 5), (1, 1, 1), (1, 1, 1)], &[0, 1, 2, 3, 4], 9);
        let seen = counts(&mut lb, 10_000, 3);
        assert_eq!((seen[5], seen[6]), (5_000, 5_000), "an EDF schedule, not a coin: exactly half each");
    }

    #[test]
    fn retries_avoid_previous_hosts_until_the_attempts_run_out() {
        let mut lb = balancer(settings(LbPolicy::Random, false, 0), &[(0, 1, 3)], &[], 1);
        let mut rng = RandomStreams::new(4).stream("picks");
        // With 6 picks the chance of never drawing host 2 is (2/3)^6 ≈ 9 %.
        let avoided = (0..1000).filter(|_| lb.choose_host(0, |_| 0, &[0, 1], 6, None, &mut rng) == Some(2)).count();
        assert!((880..950).contains(&avoided), "host 2 picked {avoided} of 1000 (expected ≈ 912)");
        // A single healthy host that was already tried is picked again after the attempts.
        let mut single = balancer(settings(LbPolicy::Random, false, 0), &[(0, 1, 1)], &[], 1);
        assert_eq!(single.choose_host(0, |_| 0, &[0], 6, None, &mut rng), Some(0));
    }

    #[test]
    fn unequal_weights_use_a_weighted_schedule() {
        let mut weighted = assignment(&[(0, 1, 2)]);
        weighted.localities[0].endpoints[1].weight = 3;
        let mut rng = RandomStreams::new(1).stream("lb");
        let table = HostTable::new(&weighted);
        let mut lb = LoadBalancer::new(settings(LbPolicy::RoundRobin, false, 0), table, 1, &[], &mut rng);
        let heavy = (0..400).filter(|_| lb.choose_host(0, |_| 0, &[], 1, None, &mut rng) == Some(1)).count();
        assert_eq!(heavy, 300);
    }

    #[test]
    fn clusters_over_one_table_share_their_levels_until_an_ejection_reaches_one() {
        let table = HostTable::new(&assignment(&[(0, 3, 3), (1, 3, 3)]));
        let s = settings(LbPolicy::LEAST_REQUEST, true, 0);
        let mut rng = RandomStreams::new(1).stream("lb");
        let mut a = LoadBalancer::new(s.clone(), Rc::clone(&table), 2, &[], &mut rng);
        let b = LoadBalancer::new(s.clone(), Rc::clone(&table), 2, &[], &mut rng);
        assert!(Rc::ptr_eq(&a.levels, &b.levels));
        let other = LoadBalancer::new(settings(LbPolicy::LEAST_REQUEST, true, 50), Rc::clone(&table), 2, &[], &mut rng);
        assert!(!Rc::ptr_eq(&a.levels, &other.levels), "other settings see their own levels");
        a.refresh_level(0, &[0], &mut rng);
        assert!(!Rc::ptr_eq(&a.levels, &b.levels));
        assert_eq!(a.priority_load().healthy.as_slice(), &[93, 7]);
        assert_eq!(b.priority_load().healthy.as_slice(), &[100, 0], "the others' levels stay as they were");
        a.refresh_level(0, &[], &mut rng);
        assert!(Rc::ptr_eq(&a.levels, &b.levels), "shared again once no host is out");
    }

    /// What a balancer's levels are, to compare: each level's hosts, healthy and degraded hosts,
    /// the load, and how each level chooses its locality.
    fn levels_seen(levels: &BalancedLevels) -> String {
        let sets: Vec<_> = levels.sets.iter().map(|set| (&set.hosts, &set.healthy, &set.degraded)).collect();
        format!("{sets:?} {:?} {:?}", levels.load, levels.localities)
    }

    proptest! {
        /// However ejections and returns reach a balancer level by level, its levels are those
        /// of a balancer built with the same hosts out, shared or not.
        #[test]
        fn levels_refreshed_level_by_level_are_those_built_at_once(
            sizes in prop::collection::vec(1u32..4, 1..4),
            changes in prop::collection::vec(0u32..12, 1..20),
            locality_weighted: bool,
        ) {
            let groups: Vec<(u32, u32, u32)> =
                sizes.iter().enumerate().flat_map(|(p, &n)| [(p as u32, 1, n), (p as u32, 2, 1)]).collect();
            let table = HostTable::new(&assignment(&groups));
            let s = settings(LbPolicy::LEAST_REQUEST, locality_weighted, 0);
            let mut rng = RandomStreams::new(3).stream("lb");
            let mut lb = LoadBalancer::new(s.clone(), Rc::clone(&table), 2, &[], &mut rng);
            let mut ejected: Vec<u32> = Vec::new();
            for host in changes.into_iter().filter(|&h| (h as usize) < table.hosts().len()) {
                match ejected.iter().position(|&h| h == host) {
                    Some(at) => { ejected.remove(at); }
                    None => ejected.push(host),
                }
                lb.refresh_level(table.hosts()[host as usize].priority, &ejected, &mut rng);
                let built = BalancedLevels::new(&s, Rc::clone(&table), &ejected);
                prop_assert_eq!(levels_seen(&lb.levels), levels_seen(&built));
                prop_assert_eq!(ejected.is_empty(), Rc::ptr_eq(&lb.levels, &built), "shared exactly when no host is out");
            }
        }

        /// No host is chosen outside its drawn level's healthy hosts unless that level panics.
        #[test]
        fn picks_stay_healthy_unless_in_panic(
            sizes in prop::collection::vec(1u32..5, 1..4),
            ejected_mask in 0u32..4096,
            threshold in prop::sample::select(vec![0u32, 50]),
            seed in 0u64..1000,
        ) {
            let groups: Vec<(u32, u32, u32)> = sizes.iter().enumerate().map(|(p, &n)| (p as u32, 1, n)).collect();
            let total: u32 = sizes.iter().sum();
            let ejected: Vec<u32> = (0..total).filter(|h| ejected_mask & (1 << h) != 0).collect();
            let mut lb = balancer(settings(LbPolicy::LEAST_REQUEST, false, threshold), &groups, &ejected, seed);
            let mut rng = RandomStreams::new(seed).stream("picks");
            let active = vec![0; total as usize];
            for _ in 0..50 {
                if let Some(h) = lb.choose_host(0, |h| active[h as usize], &[], 1, None, &mut rng) {
                    let level = lb.hosts()[h as usize].priority as usize;
                    let load = lb.priority_load();
                    prop_assert!(!ejected.contains(&h) || load.panic[level]);
                    prop_assert!(load.healthy[level] + load.degraded[level] > 0, "host from a level with no load");
                }
            }
        }
    }
}
