//! One upstream cluster as one client proxy holds it: hosts, outlier detector, load balancers,
//! update merging, circuit breakers and connection pools, kept consistent with each other.
//!
//! This is the piece the mesh model talks to on every request: pick a host, charge the
//! attempt's result, start and finish requests. It owns its timing (outlier sweeps, merged
//! updates) and tells the caller when it next needs to be woken ([`UpstreamCluster::next_timer`]).
//! The split follows Envoy's: `ClusterImplBase` (priority set, outlier detector),
//! `ClusterManagerImpl` (update merging, thread-local load balancers), `ResourceManagerImpl`
//! (circuit breakers) and the per-host connection pools.

use std::rc::Rc;

use rand::Rng;
use sim::{SimDuration, SimTime};

use super::circuit_breaker::{CircuitBreaker, Thresholds};
use super::connection_pool::{HostPool, PendingStream};
use super::host_set::{EndpointId, Host, HostTable};
use super::in_flight::InFlight;
use super::load_balancer::{LbSettings, LoadBalancer};
use super::outlier_detection::{Detection, DetectorConfig, EjectionOutcome, HostResult, OutlierDetector, SweepReport};
use super::per_host::PerHost;
use super::priority_load::PriorityLoad;
use super::retry::HostSelection;
use super::stats::{ClusterCounters, ClusterEvent, ClusterStats};
use super::update_merge::{Delivery, LevelMergers, UpdateMerger};

/// Where in its interval the outlier detector's sweep falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepPhase {
    /// Uniformly random: the cluster was created at an arbitrary time before the failure.
    Random,
    /// The first sweep comes this long after the cluster is created (at most one interval).
    After(SimDuration),
}

/// Everything that configures one cluster on one proxy (what CDS and the bootstrap say).
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSettings {
    /// Load-balancer settings.
    pub lb: LbSettings,
    /// Outlier detection, if configured; shared by the detectors of every proxy translated alike.
    pub outlier_detection: Option<Rc<DetectorConfig>>,
    /// Phase of the outlier sweeps.
    pub sweep_phase: SweepPhase,
    /// `common_lb_config.update_merge_window` (1 s by default).
    pub update_merge_window: SimDuration,
    /// Circuit-breaker limits.
    pub circuit_breakers: Thresholds,
    /// `max_requests_per_connection`, if set.
    pub max_requests_per_connection: Option<u32>,
    /// Time allowed to establish a connection.
    pub connect_timeout: SimDuration,
    /// Worker threads (Envoy `--concurrency`; Istio sidecars usually 2).
    pub workers: usize,
}

/// A host chosen for an attempt, valid across endpoint-set changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    /// Index of the host in the cluster when it was picked.
    pub host: u32,
    /// The endpoint, which identifies the host after the endpoint set changes.
    pub endpoint: EndpointId,
    generation: u32,
}

/// The hosts out of rotation, as the load balancers were last told and as the main thread's
/// host sets hold them; nothing while none is (most of a large mesh's clusters never eject).
#[derive(Clone, Debug, Default)]
struct EjectedHosts(Option<Box<EjectedLists>>);

/// The two lists of [`EjectedHosts`], each sorted.
#[derive(Clone, Debug, Default)]
struct EjectedLists {
    /// As the load balancers were last told.
    delivered: Vec<u32>,
    /// As the main thread's host sets hold it, changed host by host: what an update delivered
    /// now carries (a merged one carries the state when its window closes).
    updated: Vec<u32>,
}

impl EjectedHosts {
    /// Both lists at `ejected` (sorted), as after a full update.
    fn delivered_as(ejected: Vec<u32>) -> Self {
        EjectedHosts(
            (!ejected.is_empty()).then(|| Box::new(EjectedLists { updated: ejected.clone(), delivered: ejected })),
        )
    }

    /// As the load balancers were last told.
    fn delivered(&self) -> &[u32] {
        self.0.as_ref().map_or(&[], |lists| &lists.delivered)
    }

    /// Marks `host` ejected or returned in the updated list.
    fn update(&mut self, host: u32, ejected: bool) {
        if !ejected && self.0.is_none() {
            return;
        }
        let updated = &mut self.0.get_or_insert_default().updated;
        match (updated.binary_search(&host), ejected) {
            (Err(at), true) => updated.insert(at, host),
            (Ok(at), false) => {
                updated.remove(at);
            }
            _ => {}
        }
    }

    /// Delivers the updated state of the hosts for which `in_level` holds.
    fn deliver(&mut self, in_level: impl Fn(&u32) -> bool) {
        if let Some(lists) = &mut self.0 {
            lists.delivered.retain(|h| !in_level(h));
            lists.delivered.extend(lists.updated.iter().filter(|h| in_level(h)));
            lists.delivered.sort_unstable();
        }
    }
}

/// One upstream cluster on one client proxy.
///
/// Its hosts' layout is shared with every proxy that got the same assignment ([`HostTable`]);
/// what it keeps per host — requests in flight, connection pools, outlier monitors — exists only
/// for hosts it has sent to, so its size follows its traffic, not the size of the mesh.
#[derive(Clone, Debug)]
pub struct UpstreamCluster {
    /// Shared by every proxy's cluster that istiod translated alike and no EnvoyFilter patched.
    settings: Rc<ClusterSettings>,
    lb: LoadBalancer,
    detector: Option<OutlierDetector>,
    ejected: EjectedHosts,
    mergers: LevelMergers,
    /// Whether some level's update waits for its merge window to close: only then does the
    /// timer look at the mergers.
    merge_pending: bool,
    /// Requests in flight per host (`rq_active`), shared by the workers.
    in_flight: InFlight,
    breaker: CircuitBreaker,
    /// Per host, one pool per worker; absent is a host with no connection and no stream waiting.
    pools: PerHost<HostPool>,
    /// Bumped on every endpoint-set change, so older picks are re-resolved by endpoint.
    generation: u32,
    /// Envoy's counters (those the cluster itself sees; the router's are counted by its owner).
    stats: ClusterCounters,
    /// What happened since the owner last took the events.
    events: Vec<ClusterEvent>,
    /// Whether the next timer or the events may have changed since the owner last asked
    /// ([`take_changed`](Self::take_changed)).
    changed: bool,
}

impl UpstreamCluster {
    /// The cluster as CDS and EDS (laid out as `table`) first deliver it at `now`.
    pub fn new<R: Rng + ?Sized>(
        settings: impl Into<Rc<ClusterSettings>>,
        table: Rc<HostTable>,
        now: SimTime,
        rng: &mut R,
    ) -> Self {
        let settings = settings.into();
        let detector = settings.outlier_detection.clone().map(|config| {
            let interval = config.interval;
            let first_sweep = match settings.sweep_phase {
                SweepPhase::After(delay) => now + delay.min(interval),
                SweepPhase::Random => now + SimDuration::from_nanos(1 + rng.next_u64() % interval.as_nanos().max(1)),
            };
            OutlierDetector::new(config, settings.lb.version, table.hosts().len(), first_sweep)
        });
        let (levels, hosts) = (table.level_count(), table.hosts().len());
        let pools = PerHost::new(hosts, settings.workers);
        let lb = LoadBalancer::new(settings.lb.clone(), table, settings.workers, &[], rng);
        UpstreamCluster {
            mergers: LevelMergers::new(levels),
            merge_pending: false,
            settings,
            lb,
            detector,
            ejected: EjectedHosts::default(),
            in_flight: InFlight::new(hosts),
            breaker: CircuitBreaker::default(),
            pools,
            generation: 0,
            stats: ClusterCounters::default(),
            events: Vec::new(),
            changed: true,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &ClusterSettings {
        &self.settings
    }

    /// The cluster's hosts.
    pub fn hosts(&self) -> &[Host] {
        self.lb.hosts()
    }

    /// The traffic split across priority levels as the load balancers see it.
    pub fn priority_load(&self) -> &PriorityLoad {
        self.lb.priority_load()
    }

    /// The outlier detector, if configured.
    pub fn detector(&self) -> Option<&OutlierDetector> {
        self.detector.as_ref()
    }

    /// Whether the host is ejected (by the detector's own state, which may be ahead of what the
    /// load balancers know while an update is being merged).
    pub fn is_ejected(&self, host: u32) -> bool {
        self.detector.as_ref().is_some_and(|d| d.is_ejected(host as usize))
    }

    /// Circuit-breaker counts and limits.
    pub fn breaker(&mut self) -> (&mut CircuitBreaker, &Thresholds) {
        (&mut self.breaker, &self.settings.circuit_breakers)
    }

    /// Worker `worker`'s pool of connections to a picked host, if the host is still in the
    /// cluster.
    pub fn pool(&mut self, pick: Pick, worker: usize) -> Option<&mut HostPool> {
        let host = self.resolve(pick)?;
        Some(self.pools.entry(host, worker))
    }

    /// Drains every worker's pool to `host` (an ejection: `drainAllConnPoolsWorker`), closing
    /// what can close now.
    fn drain_pools(&mut self, host: u32) {
        for worker in 0..self.pools.workers() {
            let Some(pool) = self.pools.existing(host, worker) else { continue };
            for _ in 0..pool.drain() {
                self.breaker.track_connection(false);
            }
        }
    }

    /// Picks a host for an attempt on `worker`, given the endpoints this request `tried` before
    /// (the first eight: enough for any retry budget Istio configures by default) and how the
    /// route's retry policy selects hosts. `None`: no healthy upstream (503 UH).
    pub fn choose_host<R: Rng + ?Sized>(
        &mut self,
        worker: usize,
        tried: &[EndpointId],
        selection: HostSelection,
        rng: &mut R,
    ) -> Option<Pick> {
        let mut previous_hosts = [0u32; 8];
        let mut known = 0;
        if selection.avoid_previous_hosts {
            for &endpoint in tried {
                if let (Some(host), true) = (self.lb.table().index_of(endpoint), known < previous_hosts.len()) {
                    previous_hosts[known] = host;
                    known += 1;
                }
            }
        }
        // previous_priorities maps each try's host to its priority now (`priority_mapping_func`);
        // a host that has left the cluster maps to none.
        let excluded_tries = selection.excluded_tries(tried.len());
        let retry_load = if excluded_tries == 0 {
            None
        } else {
            let mut tried_levels = vec![false; self.lb.level_count()];
            for &endpoint in &tried[..excluded_tries] {
                if let Some(host) = self.lb.table().index_of(endpoint) {
                    tried_levels[self.lb.hosts()[host as usize].priority as usize] = true;
                }
            }
            self.lb.retry_load(&tried_levels)
        };
        let worker = worker % self.lb.worker_count();
        let in_flight = &self.in_flight;
        let host = self.lb.choose_host(
            worker,
            |h| in_flight.of(h),
            &previous_hosts[..known],
            selection.picks,
            retry_load.as_ref(),
            rng,
        )?;
        if self.is_ejected(host) && !self.ejected.delivered().contains(&host) {
            self.stats.others_mut().attempts_to_ejected_before_update += 1;
        }
        Some(Pick { host, endpoint: self.lb.hosts()[host as usize].endpoint, generation: self.generation })
    }

    /// The host's current index, or `None` if it has left the cluster.
    fn resolve(&self, pick: Pick) -> Option<u32> {
        if pick.generation == self.generation { Some(pick.host) } else { self.lb.table().index_of(pick.endpoint) }
    }

    /// Whether connection successes matter to the outlier detector: only when local-origin
    /// errors are split from external ones (`putResultNoLocalExternalSplit` ignores them).
    pub fn reports_connect_success(&self) -> bool {
        self.detector.as_ref().is_some_and(|d| d.config().split_external_local_origin_errors)
    }

    /// The counters so far, with the gauges and the load balancers' and mergers' counts read
    /// now.
    pub fn stats(&self) -> ClusterStats {
        ClusterStats {
            ejections_active: self.detector.as_ref().map_or(0, |d| d.ejected_count() as u64),
            lb_healthy_panic: self.lb.panic_picks(),
            update_merge_cancelled: self.mergers.each().iter().map(|m| m.cancelled).sum(),
            update_out_of_merge_window: self.mergers.each().iter().map(|m| m.out_of_window).sum(),
            ..self.stats.totals()
        }
    }

    /// The events since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<ClusterEvent> {
        std::mem::take(&mut self.events)
    }

    /// Records a detection as an event.
    fn detection_event(&mut self, detection: &Detection) {
        let endpoint = self.lb.hosts()[detection.host].endpoint;
        match detection.outcome {
            EjectionOutcome::Ejected => self.events.push(ClusterEvent::Ejected(endpoint, detection.kind)),
            EjectionOutcome::OverMaxEjectionPercent => {
                self.events.push(ClusterEvent::EjectionRefused(endpoint, detection.kind));
            }
            EjectionOutcome::NotEnforced => {}
        }
    }

    /// The counters, for what the router and connection handling count.
    pub fn stats_mut(&mut self) -> &mut ClusterCounters {
        &mut self.stats
    }

    /// A request to the picked host was attached to a connection: it counts for LEAST_REQUEST
    /// and in `upstream_rq_total`.
    pub fn request_started(&mut self, pick: Pick) {
        self.stats.count_request();
        if let Some(host) = self.resolve(pick) {
            self.in_flight.started(host);
        }
    }

    /// A request to the picked host finished, whatever its outcome.
    pub fn request_finished(&mut self, pick: Pick) {
        if let Some(host) = self.resolve(pick) {
            self.in_flight.finished(host);
        }
    }

    /// Charges an attempt's result to the picked host's outlier monitor. An ejection reaches the
    /// load balancers now or when the merge window closes (see [`next_timer`](Self::next_timer)).
    pub fn record<R: Rng + ?Sized>(
        &mut self,
        pick: Pick,
        result: HostResult,
        now: SimTime,
        rng: &mut R,
    ) -> Option<Detection> {
        let host = self.resolve(pick)?;
        let detector = self.detector.as_mut()?;
        // A result that makes the next sweep matter arms it; a detection moves merge windows.
        let was_quiet = detector.next_sweep().is_none();
        let detection = detector.record(host as usize, result, now, rng);
        self.changed |= detection.is_some() || (was_quiet && detector.next_sweep().is_some());
        let detection = detection?;
        self.stats.others_mut().count_detection(&detection);
        self.detection_event(&detection);
        if detection.outcome == EjectionOutcome::Ejected {
            self.drain_pools(host);
            self.health_changed(host, true, now, rng);
        }
        Some(detection)
    }

    /// `host` was ejected or returned: like `ClusterImplBase::reloadHealthyHostsHelper`, every
    /// priority level gets a health-only update (`upstream_impl.cc`), which each level's merger
    /// delivers now or when its window closes. So an ejection in P0 also opens P1's window, and
    /// a P1 ejection soon after waits for it.
    fn health_changed<R: Rng + ?Sized>(&mut self, host: u32, ejected: bool, now: SimTime, rng: &mut R) {
        self.ejected.update(host, ejected);
        let window = self.settings.update_merge_window;
        for level in 0..self.mergers.levels() {
            match self.mergers.apart(window)[level].on_update(now, false) {
                Delivery::Now => self.deliver(level as u32, rng),
                Delivery::At(until) => self.events.push(ClusterEvent::UpdateDelayed(level as u32, until)),
            }
        }
        self.note_merges();
    }

    /// Notes whether some level's update now waits for its merge window.
    fn note_merges(&mut self) {
        self.merge_pending = self.mergers.each().iter().any(|merger| merger.pending_until().is_some());
    }

    /// Tells the load balancers of `level` the state of its hosts as updated so far.
    fn deliver<R: Rng + ?Sized>(&mut self, level: u32, rng: &mut R) {
        let table = Rc::clone(self.lb.table());
        let in_level = |h: &u32| table.hosts()[*h as usize].priority == level;
        self.ejected.deliver(in_level);
        let before = self.lb.priority_load().clone();
        self.lb.refresh_level(level, self.ejected.delivered(), rng);
        let after = self.lb.priority_load();
        if after.healthy != before.healthy {
            self.events.push(ClusterEvent::PriorityLoad(after.healthy.to_vec()));
        }
        for (p, (&was, &is)) in before.panic.iter().zip(&after.panic).enumerate() {
            if is != was {
                self.events.push(if is {
                    ClusterEvent::PanicEntered(p as u32)
                } else {
                    ClusterEvent::PanicLeft(p as u32)
                });
            }
        }
    }

    /// Whether [`next_timer`](Self::next_timer) or the events may have changed since the last
    /// call: a result that makes the next sweep matter, a detection, a timer, an EDS update. The
    /// owner need not look again until they have.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// When the cluster next needs [`on_timer`](Self::on_timer): the next outlier sweep or the
    /// end of a merge window, whichever is first.
    pub fn next_timer(&self) -> Option<SimTime> {
        let sweep = self.detector.as_ref().and_then(OutlierDetector::next_sweep);
        if !self.merge_pending {
            return sweep;
        }
        self.mergers.each().iter().filter_map(UpdateMerger::pending_until).chain(sweep).min()
    }

    /// Runs what is due at `now`: the outlier sweep (returning its report) and merged updates.
    pub fn on_timer<R: Rng + ?Sized>(&mut self, now: SimTime, rng: &mut R) -> Option<SweepReport> {
        self.changed = true;
        let report = match &mut self.detector {
            Some(detector) if detector.next_sweep().is_some_and(|t| t <= now) => Some(detector.sweep(now, rng)),
            _ => None,
        };
        if let Some(report) = &report {
            for detection in &report.detections {
                self.stats.others_mut().count_detection(detection);
                self.detection_event(detection);
            }
            for &host in &report.unejected {
                self.events.push(ClusterEvent::Returned(self.lb.hosts()[host].endpoint));
            }
            // Each host that changed state is its own update: the first of a sweep goes out at
            // once (if the window allows), the rest are merged.
            let ejected: Vec<usize> =
                report.detections.iter().filter(|d| d.outcome == EjectionOutcome::Ejected).map(|d| d.host).collect();
            for &host in &ejected {
                self.drain_pools(host as u32);
            }
            let returned = report.unejected.iter().map(|&h| (h, false));
            let changes: Vec<(usize, bool)> = returned.chain(ejected.iter().map(|&h| (h, true))).collect();
            for (host, state) in changes {
                self.health_changed(host as u32, state, now, rng);
            }
        }
        if self.merge_pending {
            let window = self.settings.update_merge_window;
            for level in 0..self.mergers.levels() {
                let merger = &mut self.mergers.apart(window)[level];
                if merger.pending_until().is_some_and(|t| t <= now) {
                    merger.deliver_pending(now);
                    self.events.push(ClusterEvent::MergedUpdateApplied(level as u32));
                    self.deliver(level as u32, rng);
                }
            }
            self.note_merges();
        }
        report
    }

    /// Applies an EDS update at `now`: hosts that stay keep their outlier state, requests in
    /// flight and connections; hosts that left lose them; the load balancers learn at once (a
    /// membership change is never merged). Returns the streams that were waiting for a
    /// connection to a host that left: they fail as the refused connect that follows would
    /// fail them.
    pub fn update_assignment<R: Rng + ?Sized>(
        &mut self,
        table: Rc<HostTable>,
        now: SimTime,
        rng: &mut R,
    ) -> Vec<PendingStream> {
        self.changed = true;
        let old = Rc::clone(self.lb.table());
        let new_index = |host: u32| table.index_of(old.hosts()[host as usize].endpoint);
        let same_members = Rc::ptr_eq(&old, &table)
            || (old.hosts().len() == table.hosts().len()
                && table.hosts().iter().all(|h| old.index_of(h.endpoint).is_some()));
        if !same_members {
            self.stats.count_membership_change();
        }
        if let Some(detector) = &mut self.detector {
            detector.remap_hosts(table.hosts().len(), |host| new_index(host as u32).map(|h| h as usize));
        }
        self.in_flight.remap(table.hosts().len(), new_index);
        // Idle and connecting connections to departed hosts close now; busy ones close when
        // their request ends. Departed hosts are closed in host order, so the streams they
        // orphan fail in a reproducible order.
        let mut orphaned = Vec::new();
        for (host, worker, mut pool) in self.pools.take_for(table.hosts().len()) {
            if let Some(kept) = new_index(host) {
                *self.pools.entry(kept, worker) = pool;
                continue;
            }
            let (closed, waiting) = pool.close();
            for _ in 0..closed {
                self.breaker.track_connection(false);
            }
            orphaned.extend(waiting);
        }
        self.ejected =
            EjectedHosts::delivered_as(self.detector.as_ref().map_or_else(Vec::new, OutlierDetector::ejected_hosts));
        self.mergers.on_membership_update(now, table.level_count(), self.settings.update_merge_window);
        self.note_merges();
        self.lb.set_hosts(table, self.ejected.delivered(), rng);
        self.generation += 1;
        orphaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::host_set::{EdsHealth, LbEndpoint, LoadAssignment, LocalityEndpoints};
    use crate::envoy::load_balancer::LbPolicy;
    use crate::envoy::priority_load::DEFAULT_OVERPROVISIONING_FACTOR;
    use crate::envoy::version::EnvoyVersion;
    use sim::RandomStreams;

    #[test]
    fn ejected_hosts_reach_the_load_balancers_level_by_level() {
        let mut ejected = EjectedHosts::default();
        ejected.update(4, false);
        assert!(ejected.0.is_none(), "a return with nothing ejected keeps nothing");
        for host in [7, 2, 4] {
            ejected.update(host, true);
        }
        assert_eq!(ejected.delivered(), &[] as &[u32], "nothing delivered before an update");
        // Hosts below 5 are level 0: only they are delivered.
        ejected.deliver(|&h| h < 5);
        assert_eq!(ejected.delivered(), &[2, 4]);
        ejected.update(2, false);
        ejected.deliver(|&h| h >= 5);
        assert_eq!(ejected.delivered(), &[2, 4, 7], "level 0 keeps what it was last told");
        ejected.deliver(|&h| h < 5);
        assert_eq!(ejected.delivered(), &[4, 7]);
        assert!(EjectedHosts::delivered_as(Vec::new()).0.is_none());
        assert_eq!(EjectedHosts::delivered_as(vec![1, 3]).delivered(), &[1, 3]);
    }

    fn ms(n: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(n)
    }

    /// Priority groups of endpoint ids.
    fn assignment(levels: &[&[u32]]) -> LoadAssignment {
        LoadAssignment {
            localities: levels
                .iter()
                .enumerate()
                .map(|(p, ids)| LocalityEndpoints {
                    locality: p as u32,
                    priority: p as u32,
                    weight: ids.len() as u32,
                    endpoints: ids
                        .iter()
                        .map(|&id| LbEndpoint { endpoint: EndpointId(id), weight: 1, health: EdsHealth::Healthy })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The seed document's reviews DestinationRule (consecutive 5xx 1, interval 1 s, base 60 s,
    /// max_ejection_percent 100), sweeps at 0.5 s past each second.
    fn settings(merge_window_ms: u64) -> ClusterSettings {
        ClusterSettings {
            lb: LbSettings {
                policy: LbPolicy::LEAST_REQUEST,
                locality_weighted: false,
                panic_threshold: 0,
                overprovisioning_factor: DEFAULT_OVERPROVISIONING_FACTOR,
                version: EnvoyVersion::DEFAULT,
            },
            outlier_detection: Some(Rc::new(DetectorConfig {
                interval: SimDuration::from_secs(1),
                base_ejection_time: SimDuration::from_secs(60),
                consecutive_5xx: 1,
                max_ejection_percent: 100,
                enforcing_success_rate: 0,
                ..DetectorConfig::default()
            })),
            sweep_phase: SweepPhase::After(SimDuration::from_millis(500)),
            update_merge_window: SimDuration::from_millis(merge_window_ms),
            circuit_breakers: Thresholds::UNLIMITED,
            max_requests_per_connection: Some(1),
            connect_timeout: SimDuration::from_secs(10),
            workers: 2,
        }
    }

    fn share_of_level(cluster: &mut UpstreamCluster, level: u32, rng: &mut sim::StreamRng) -> usize {
        (0..1000)
            .filter(|i| {
                let pick = cluster.choose_host(i % 2, &[], HostSelection::ANY, rng).unwrap();
                cluster.hosts()[pick.host as usize].priority == level
            })
            .count()
    }

    #[test]
    fn an_ejection_moves_traffic_to_the_next_priority_at_once() {
        let mut rng = RandomStreams::new(1).stream("cluster");
        let mut cluster =
            UpstreamCluster::new(settings(1000), HostTable::new(&assignment(&[&[1], &[2]])), ms(0), &mut rng);
        assert_eq!(share_of_level(&mut cluster, 0, &mut rng), 1000);
        let pick = cluster.choose_host(0, &[], HostSelection::ANY, &mut rng).unwrap();
        let detection = cluster.record(pick, HostResult::Http(503), ms(100), &mut rng).unwrap();
        assert_eq!(detection.outcome, EjectionOutcome::Ejected);
        // The first update in a long while is delivered at once.
        assert_eq!(share_of_level(&mut cluster, 1, &mut rng), 1000);
        assert_eq!(cluster.next_timer(), Some(ms(500)));
    }

    #[test]
    fn a_result_calls_for_a_new_look_at_the_timer_only_when_it_can_move_it() {
        let mut rng = RandomStreams::new(3).stream("cluster");
        let mut settings = settings(1000);
        let config = Rc::make_mut(settings.outlier_detection.as_mut().unwrap());
        config.consecutive_5xx = 2;
        config.failure_percentage_request_volume = 3;
        let mut cluster = UpstreamCluster::new(settings, HostTable::new(&assignment(&[&[1, 2]])), ms(0), &mut rng);
        cluster.take_changed();
        let pick = cluster.choose_host(0, &[], HostSelection::ANY, &mut rng).unwrap();
        // Below the judged volume, with nothing ejected, no sweep matters: no timer.
        cluster.record(pick, HostResult::Http(200), ms(100), &mut rng);
        cluster.record(pick, HostResult::Http(200), ms(200), &mut rng);
        assert!(!cluster.take_changed());
        assert_eq!(cluster.next_timer(), None);
        // The third result of the interval reaches the volume: the sweep at 0.5 s will judge it.
        cluster.record(pick, HostResult::Http(200), ms(300), &mut rng);
        assert!(cluster.take_changed());
        assert_eq!(cluster.next_timer(), Some(ms(500)));
        // Results that neither arm the sweep nor detect leave the timer where it was.
        cluster.record(pick, HostResult::Http(503), ms(400), &mut rng);
        assert!(!cluster.take_changed());
        // The sweep judges the interval; the next one has seen nothing yet.
        cluster.on_timer(ms(500), &mut rng);
        assert!(cluster.take_changed());
        assert_eq!(cluster.next_timer(), None);
        // The second 503 in a row ejects, and the ejection's end needs the sweeps.
        let detection = cluster.record(pick, HostResult::Http(503), ms(600), &mut rng).unwrap();
        assert_eq!(detection.outcome, EjectionOutcome::Ejected);
        assert!(cluster.take_changed());
        assert_eq!(cluster.next_timer(), Some(ms(1_500)));
    }

    #[test]
    fn a_quick_re_ejection_waits_for_the_merge_window() {
        let mut rng = RandomStreams::new(2).stream("cluster");
        let mut settings = settings(1000);
        Rc::make_mut(settings.outlier_detection.as_mut().unwrap()).base_ejection_time = SimDuration::from_secs(2);
        let mut cluster = UpstreamCluster::new(settings, HostTable::new(&assignment(&[&[1], &[2]])), ms(0), &mut rng);
        let pick = cluster.choose_host(0, &[], HostSelection::ANY, &mut rng).unwrap();
        cluster.record(pick, HostResult::Http(503), ms(100), &mut rng);
        // Sweeps at 0.5, 1.5, 2.5 s: the uneject at 2.5 s is delivered at once (last update 2.4 s ago).
        while let Some(t) = cluster.next_timer().filter(|&t| t <= ms(2_500)) {
            cluster.on_timer(t, &mut rng);
        }
        assert!(!cluster.is_ejected(0));
        assert_eq!(share_of_level(&mut cluster, 0, &mut rng), 1000);
        // It fails again 200 ms later and is re-ejected, but the load balancers hear of it only
        // when the window opened at 2.5 s closes, at 3.7 s (timer armed at 2.7 s for 1 s).
        let pick = cluster.choose_host(0, &[], HostSelection::ANY, &mut rng).unwrap();
        cluster.record(pick, HostResult::Http(503), ms(2_700), &mut rng);
        assert!(cluster.is_ejected(0));
        assert_eq!(share_of_level(&mut cluster, 0, &mut rng), 1000, "traffic still reaches the broken host");
        assert_eq!(cluster.next_timer(), Some(ms(3_500)));
        cluster.on_timer(ms(3_500), &mut rng);
        assert_eq!(cluster.next_timer(), Some(ms(3_700)));
        cluster.on_timer(ms(3_700), &mut rng);
        assert_eq!(share_of_level(&mut cluster, 1, &mut rng), 1000);
    }

    #[test]
    fn an_ejection_opens_the_merge_window_of_every_priority() {
        // reloadHealthyHostsHelper updates every priority: ejecting P0's host at 100 ms delivers
        // P0 and P1 at once and opens both windows, so P1's host, ejected 300 ms later, still
        // takes P1's traffic until 1.4 s. With a zero window it leaves at once.
        for (window_ms, delivered_at) in [(1000, ms(1_400)), (0, ms(400))] {
            let mut rng = RandomStreams::new(6).stream("cluster");
            let assignment = assignment(&[&[1], &[2, 3], &[4]]);
            let mut cluster = UpstreamCluster::new(settings(window_ms), HostTable::new(&assignment), ms(0), &mut rng);
            let p0 = cluster.choose_host(0, &[], HostSelection::ANY, &mut rng).unwrap();
            cluster.record(p0, HostResult::Http(503), ms(100), &mut rng);
            let p1 = cluster.choose_host(0, &[], HostSelection::ANY, &mut rng).unwrap();
            assert_eq!(cluster.hosts()[p1.host as usize].priority, 1);
            cluster.record(p1, HostResult::Http(503), ms(400), &mut rng);
            while let Some(t) = cluster.next_timer().filter(|&t| t < delivered_at) {
                cluster.on_timer(t, &mut rng);
                assert_eq!(share_of_level(&mut cluster, 1, &mut rng), 1000, "P1 still at 100 % (half healthy: 70)");
            }
            assert!(cluster.next_timer().unwrap() >= delivered_at);
            if window_ms > 0 {
                cluster.on_timer(delivered_at, &mut rng);
            }
            // P1 at 1 of 2 healthy: ⌊140 × 1/2⌋ = 70 % stays, 30 % spills to P2.
            let p1_share = share_of_level(&mut cluster, 1, &mut rng);
            assert!((640..760).contains(&p1_share), "{p1_share}");
        }
    }

    #[test]
    fn hosts_returning_in_one_sweep_reach_the_load_balancers_one_window_apart() {
        // Each host whose state changes is its own update: of two hosts unejected by the same
        // sweep, the first goes out at once (the window has long passed) and the second waits
        // for the window that update opened (cluster_manager_impl.cc, scheduleUpdate).
        let mut rng = RandomStreams::new(8).stream("cluster");
        let mut settings = settings(1000);
        Rc::make_mut(settings.outlier_detection.as_mut().unwrap()).base_ejection_time = SimDuration::from_secs(2);
        let mut cluster =
            UpstreamCluster::new(settings, HostTable::new(&assignment(&[&[1, 2], &[3]])), ms(0), &mut rng);
        let (a, b) = (
            Pick { host: 0, endpoint: EndpointId(1), generation: 0 },
            Pick { host: 1, endpoint: EndpointId(2), generation: 0 },
        );
        cluster.record(a, HostResult::Http(503), ms(100), &mut rng);
        cluster.record(b, HostResult::Http(503), ms(100), &mut rng);
        // Both were ejected at 100 ms: the second ejection waited for the window, to 1.1 s.
        while let Some(t) = cluster.next_timer().filter(|&t| t <= ms(2_400)) {
            cluster.on_timer(t, &mut rng);
        }
        assert_eq!(share_of_level(&mut cluster, 1, &mut rng), 1000);
        // The sweep at 2.5 s returns both: one host is back in P0 at once, the other at 3.5 s.
        cluster.on_timer(ms(2_500), &mut rng);
        assert!(!cluster.is_ejected(0) && !cluster.is_ejected(1));
        let p0 = share_of_level(&mut cluster, 0, &mut rng);
        assert!((650..750).contains(&p0), "one of two healthy: 70 %, got {p0}");
        assert_eq!(cluster.next_timer(), Some(ms(3_500)));
        cluster.on_timer(ms(3_500), &mut rng);
        assert_eq!(share_of_level(&mut cluster, 0, &mut rng), 1000);
    }

    #[test]
    fn an_ejection_drains_the_hosts_pools_on_every_worker() {
        // cluster_manager_impl.cc: an ejection posts a health failure to the workers, which
        // drain the host's pools (`drainConnPools(DrainExistingConnections)`): idle connections
        // close at once, so the first requests after its return pay a new handshake.
        let mut rng = RandomStreams::new(7).stream("cluster");
        let mut settings = settings(0);
        settings.max_requests_per_connection = None;
        let mut cluster = UpstreamCluster::new(settings, HostTable::new(&assignment(&[&[1], &[2]])), ms(0), &mut rng);
        let pick = cluster.choose_host(0, &[], HostSelection::ANY, &mut rng).unwrap();
        for (worker, id) in [(0, 1), (1, 2)] {
            let pool = cluster.pool(pick, worker).unwrap();
            pool.wait(PendingStream(id, 0));
            pool.start_connecting(id);
            pool.connected(id);
            pool.release(1, None, false);
            cluster.breaker().0.track_connection(true);
        }
        assert_eq!(cluster.breaker().0.connections(), 2);
        cluster.record(pick, HostResult::Http(503), ms(100), &mut rng);
        assert_eq!(cluster.breaker().0.connections(), 0);
        assert_eq!(cluster.pool(pick, 0).unwrap().take_idle(), None);
        assert_eq!(cluster.pool(pick, 1).unwrap().take_idle(), None);
    }

    #[test]
    fn requests_in_flight_steer_least_request_picks_across_an_update_until_they_end() {
        let mut rng = RandomStreams::new(5).stream("cluster");
        let mut cluster = UpstreamCluster::new(settings(0), HostTable::new(&assignment(&[&[1, 2]])), ms(0), &mut rng);
        // Share of 4,000 picks that go to endpoint 1.
        let share_of_1 = |cluster: &mut UpstreamCluster, rng: &mut sim::StreamRng| {
            let picks = (0..4000).filter(|_| {
                let pick = cluster.choose_host(0, &[], HostSelection::ANY, rng).unwrap();
                pick.endpoint == EndpointId(1)
            });
            picks.count() as f64 / 4000.0
        };
        let busy = Pick { host: 0, endpoint: EndpointId(1), generation: 0 };
        cluster.request_started(busy);
        // Two choices: the busy host wins only when both draws fall on it (1/4).
        assert!((share_of_1(&mut cluster, &mut rng) - 0.25).abs() < 0.03);
        // Endpoint 4 joins; the busy host keeps its request: now 1/9.
        cluster.update_assignment(HostTable::new(&assignment(&[&[1, 2, 4]])), ms(10), &mut rng);
        assert!((share_of_1(&mut cluster, &mut rng) - 1.0 / 9.0).abs() < 0.03);
        // Its request ends (a second end finds nothing to end): a third, like every host.
        cluster.request_finished(busy);
        cluster.request_finished(busy);
        assert!((share_of_1(&mut cluster, &mut rng) - 1.0 / 3.0).abs() < 0.03);
    }

    #[test]
    fn endpoints_that_stay_keep_their_state_and_old_picks_still_resolve() {
        let mut rng = RandomStreams::new(3).stream("cluster");
        let mut cluster =
            UpstreamCluster::new(settings(0), HostTable::new(&assignment(&[&[1, 2], &[3]])), ms(0), &mut rng);
        let pick = cluster.choose_host(0, &[], HostSelection::ANY, &mut rng).unwrap();
        cluster.request_started(pick);
        let ejected_pick = Pick { host: 1, endpoint: EndpointId(2), generation: 0 };
        cluster.record(ejected_pick, HostResult::Http(503), ms(10), &mut rng);
        // Endpoint 1 leaves (scaled down); 2 stays, ejected; 4 joins.
        cluster.update_assignment(HostTable::new(&assignment(&[&[2, 4], &[3]])), ms(20), &mut rng);
        assert!(cluster.is_ejected(0), "endpoint 2 kept its ejection at its new index");
        assert!(!cluster.is_ejected(1));
        cluster.request_finished(pick);
        // P0 is now endpoints 2 (ejected) and 4: 70 % to 4, 30 % spills to 3, none to 2.
        let to_4 = (0..1000)
            .filter(|_| {
                let p = cluster.choose_host(0, &[], HostSelection::ANY, &mut rng).unwrap();
                assert_ne!(p.endpoint, EndpointId(2));
                p.endpoint == EndpointId(4)
            })
            .count();
        assert!((660..740).contains(&to_4), "{to_4}");
        // An attempt to a host that left is not charged anywhere.
        let gone = Pick { host: 0, endpoint: EndpointId(1), generation: 0 };
        assert_eq!(cluster.record(gone, HostResult::Http(503), ms(30), &mut rng), None);
    }

    #[test]
    fn retries_skip_previous_endpoints() {
        let mut rng = RandomStreams::new(4).stream("cluster");
        let mut cluster = UpstreamCluster::new(settings(0), HostTable::new(&assignment(&[&[1, 2]])), ms(0), &mut rng);
        // Six picks all landing on the tried host has probability 1/64: then it is kept.
        let avoided = (0..1000)
            .filter(|_| {
                cluster.choose_host(0, &[EndpointId(1)], AVOID_PREVIOUS, &mut rng).unwrap().endpoint == EndpointId(2)
            })
            .count();
        assert!((970..998).contains(&avoided), "{avoided}");
    }

    const AVOID_PREVIOUS: HostSelection =
        HostSelection { avoid_previous_hosts: true, picks: 6, previous_priorities: None };

    #[test]
    fn remote_localities_send_the_second_retry_to_the_next_priority() {
        // retryRemoteLocalities (previous_priorities, update_frequency 2): after two tries in
        // P0 the retry's load leaves P0, so it lands in P1 though P0 is healthy; after one try
        // it does not.
        let mut rng = RandomStreams::new(5).stream("cluster");
        let mut cluster =
            UpstreamCluster::new(settings(0), HostTable::new(&assignment(&[&[1, 2, 3], &[4, 5]])), ms(0), &mut rng);
        let remote = HostSelection { previous_priorities: Some(2), ..AVOID_PREVIOUS };
        let tried = [EndpointId(1), EndpointId(2)];
        for _ in 0..200 {
            let pick = cluster.choose_host(0, &tried, remote, &mut rng).unwrap();
            assert!(matches!(pick.endpoint, EndpointId(4 | 5)), "{pick:?}");
            let pick = cluster.choose_host(0, &tried[..1], remote, &mut rng).unwrap();
            assert!(matches!(pick.endpoint, EndpointId(1..=3)), "{pick:?}");
            let pick = cluster.choose_host(0, &tried, AVOID_PREVIOUS, &mut rng).unwrap();
            assert!(matches!(pick.endpoint, EndpointId(1..=3)), "without the retry priority it stays in P0");
        }
    }
}
