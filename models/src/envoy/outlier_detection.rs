//! Outlier detection: one detector per client proxy and upstream cluster, one monitor per host.
//!
//! Follows `source/common/upstream/outlier_detection_impl.cc` (DetectorImpl and
//! DetectorHostMonitorImpl) and `../shared/spec/envoy-istio.md` §1:
//! - consecutive-error detectors (5xx, gateway failure, local-origin failure) fire the moment a
//!   counter becomes exactly equal to its threshold; the ejection is attempted at once (Envoy posts
//!   it to its main thread, which takes well under a millisecond) and the counter is reset whether
//!   or not the ejection was allowed or enforced; if the host is already ejected nothing happens
//!   and the counter is not reset;
//! - success-rate and failure-percentage detectors run only at interval sweeps, on the bucket of
//!   the interval that just ended;
//! - the max-ejection-percent gate counts every host of the cluster (all priorities), with the
//!   rule of the Envoy release in force (see [`EnvoyVersion`]);
//! - an ejection lasts min(base × multiplier, max) + jitter and ends only at a sweep; the
//!   multiplier grows on each ejection and decays one step per sweep the host stays un-ejected
//!   for at least an interval after its return.
//!
//! Envoy walks its hosts in hash-map order at a sweep; here they are walked in host order, which
//! only matters when a sweep's ejections compete for the max-ejection-percent budget.

use std::rc::Rc;

use rand::Rng;
use sim::{SimDuration, SimTime};

use super::version::EnvoyVersion;

/// Envoy's `OutlierDetection` cluster settings, with Envoy's defaults (`DetectorConfig`).
/// Percentages are whole percents; a consecutive threshold of 0 never fires.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectorConfig {
    /// Time between sweeps.
    pub interval: SimDuration,
    /// Ejection length before the multiplier.
    pub base_ejection_time: SimDuration,
    /// Cap on base × multiplier.
    pub max_ejection_time: SimDuration,
    /// Upper bound of the uniform random extra ejection time.
    pub max_ejection_time_jitter: SimDuration,
    /// Consecutive 5xx (including local-origin errors when not split) that eject.
    pub consecutive_5xx: u32,
    /// Chance (%) that a consecutive-5xx detection is enforced.
    pub enforcing_consecutive_5xx: u32,
    /// Consecutive 502/503/504 that eject.
    pub consecutive_gateway_failure: u32,
    /// Chance (%) that a consecutive-gateway detection is enforced.
    pub enforcing_consecutive_gateway_failure: u32,
    /// Whether connect failures and timeouts are counted apart from upstream HTTP codes.
    pub split_external_local_origin_errors: bool,
    /// Consecutive local-origin failures that eject (split mode only).
    pub consecutive_local_origin_failure: u32,
    /// Chance (%) that a consecutive-local-origin detection is enforced.
    pub enforcing_consecutive_local_origin_failure: u32,
    /// Most hosts of the cluster (%) that may be ejected at once.
    pub max_ejection_percent: u32,
    /// Always allow one ejection whatever max_ejection_percent says (Envoy ≥ 1.31).
    pub always_eject_one_host: bool,
    /// Hosts with enough volume needed before success-rate ejection runs.
    pub success_rate_minimum_hosts: u32,
    /// Requests in an interval for a host to count in the success-rate statistics.
    pub success_rate_request_volume: u32,
    /// Stdev factor in thousandths: threshold = mean − factor/1000 × stdev.
    pub success_rate_stdev_factor: u32,
    /// Chance (%) that a success-rate detection is enforced.
    pub enforcing_success_rate: u32,
    /// Chance (%) that a local-origin success-rate detection is enforced.
    pub enforcing_local_origin_success_rate: u32,
    /// Failure percentage at or above which a host is ejected.
    pub failure_percentage_threshold: u32,
    /// Hosts with enough volume needed before failure-percentage ejection runs.
    pub failure_percentage_minimum_hosts: u32,
    /// Requests in an interval for a host to count in the failure-percentage check.
    pub failure_percentage_request_volume: u32,
    /// Chance (%) that a failure-percentage detection is enforced.
    pub enforcing_failure_percentage: u32,
    /// Chance (%) that a local-origin failure-percentage detection is enforced.
    pub enforcing_failure_percentage_local_origin: u32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        let base = SimDuration::from_secs(30);
        DetectorConfig {
            interval: SimDuration::from_secs(10),
            base_ejection_time: base,
            max_ejection_time: SimDuration::from_secs(300).max(base),
            max_ejection_time_jitter: SimDuration::ZERO,
            consecutive_5xx: 5,
            enforcing_consecutive_5xx: 100,
            consecutive_gateway_failure: 5,
            enforcing_consecutive_gateway_failure: 0,
            split_external_local_origin_errors: false,
            consecutive_local_origin_failure: 5,
            enforcing_consecutive_local_origin_failure: 100,
            max_ejection_percent: 10,
            always_eject_one_host: false,
            success_rate_minimum_hosts: 5,
            success_rate_request_volume: 100,
            success_rate_stdev_factor: 1900,
            enforcing_success_rate: 100,
            enforcing_local_origin_success_rate: 100,
            failure_percentage_threshold: 85,
            failure_percentage_minimum_hosts: 5,
            failure_percentage_request_volume: 50,
            enforcing_failure_percentage: 0,
            enforcing_failure_percentage_local_origin: 0,
        }
    }
}

/// What one attempt to a host came to, as the router reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostResult {
    /// The upstream answered with this HTTP status.
    Http(u16),
    /// A new connection to the host was established (ignored unless errors are split).
    ConnectSuccess,
    /// The connection was refused, reset, or could not be made.
    ConnectFailed,
    /// The attempt timed out (connect, per-try or route timeout).
    Timeout,
}

/// Which detector decided an ejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EjectionKind {
    /// Consecutive 5xx (`consecutive_5xx`).
    Consecutive5xx,
    /// Consecutive 502/503/504 (`consecutive_gateway_failure`).
    ConsecutiveGatewayFailure,
    /// Consecutive connect failures and timeouts, split mode (`consecutive_local_origin_failure`).
    ConsecutiveLocalOriginFailure,
    /// Success rate below mean − factor × stdev, at a sweep.
    SuccessRate,
    /// The same on local-origin results.
    SuccessRateLocalOrigin,
    /// Failure percentage above the threshold, at a sweep.
    FailurePercentage,
    /// The same on local-origin results.
    FailurePercentageLocalOrigin,
}

impl EjectionKind {
    /// The detector's name as Envoy's outlier event log writes it, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            EjectionKind::Consecutive5xx => "consecutive_5xx",
            EjectionKind::ConsecutiveGatewayFailure => "consecutive_gateway_failure",
            EjectionKind::ConsecutiveLocalOriginFailure => "consecutive_local_origin_failure",
            EjectionKind::SuccessRate => "success_rate",
            EjectionKind::SuccessRateLocalOrigin => "success_rate_local_origin",
            EjectionKind::FailurePercentage => "failure_percentage",
            EjectionKind::FailurePercentageLocalOrigin => "failure_percentage_local_origin",
        }
    }
}

/// What became of a detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EjectionOutcome {
    /// The host is out of rotation until a sweep returns it.
    Ejected,
    /// The enforcing percentage's coin said no.
    NotEnforced,
    /// max_ejection_percent would have been exceeded (`ejections_overflow`).
    OverMaxEjectionPercent,
}

/// A detection and its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detection {
    /// Which host, by index in the detector.
    pub host: usize,
    /// Which detector fired.
    pub kind: EjectionKind,
    /// Whether the host was ejected.
    pub outcome: EjectionOutcome,
}

/// Requests and successes in one interval (a host is not sent four billion in one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    successes: u32,
    total: u32,
}

/// Success-rate counts: the interval being written and the one that last ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SuccessRateMonitor {
    current: Bucket,
    previous: Bucket,
}

impl SuccessRateMonitor {
    fn record(&mut self, success: bool) {
        self.current.total += 1;
        self.current.successes += u32::from(success);
    }

    fn rotate(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }

    /// Success rate (%) and volume of the last ended interval, if it saw any request.
    fn last_interval(&self) -> Option<(f64, u64)> {
        let Bucket { successes, total } = self.previous;
        (total > 0).then(|| (f64::from(successes) * 100.0 / f64::from(total), u64::from(total)))
    }
}

/// Per-host state (`DetectorHostMonitorImpl`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct HostMonitor {
    consecutive_5xx: u32,
    consecutive_gateway_failure: u32,
    consecutive_local_origin_failure: u32,
    /// `None` until the host's first ejection: few hosts are ever ejected, and the monitors of
    /// every host charged in the last intervals stay small without it.
    ejections: Option<Box<Ejections>>,
    external: SuccessRateMonitor,
    local_origin: SuccessRateMonitor,
}

/// A host's ejections: the current one, how many there were, and what sets the next one's length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Ejections {
    /// When the current ejection began; `None` while in rotation.
    since: Option<SimTime>,
    count: u32,
    /// `ejectTimeBackoff`: the multiplier of the base ejection time.
    multiplier: u32,
    jitter: SimDuration,
    last_unejected: Option<SimTime>,
}

impl HostMonitor {
    fn reset_consecutive(&mut self) {
        self.consecutive_5xx = 0;
        self.consecutive_gateway_failure = 0;
        self.consecutive_local_origin_failure = 0;
    }

    fn is_ejected(&self) -> bool {
        self.ejections.as_ref().is_some_and(|e| e.since.is_some())
    }

    fn multiplier(&self) -> u32 {
        self.ejections.as_ref().map_or(0, |e| e.multiplier)
    }
}

/// The monitors of the hosts a detector watches, sorted by host. A detector of a large mesh
/// watches a few hosts at a time, for which a B-tree's leaf of eleven monitors was most of its
/// memory; a sorted vector holds them in one small allocation.
#[derive(Clone, Debug, Default)]
struct Monitors(Vec<(u32, HostMonitor)>);

impl Monitors {
    /// Builds from monitors in any order, each host at most once.
    fn from_unsorted(mut monitors: Vec<(u32, HostMonitor)>) -> Self {
        monitors.sort_unstable_by_key(|&(host, _)| host);
        Monitors(monitors)
    }

    fn get(&self, host: usize) -> Option<&HostMonitor> {
        let at = self.0.binary_search_by_key(&(host as u32), |&(h, _)| h).ok()?;
        Some(&self.0[at].1)
    }

    /// `host`'s monitor, a new one if it had none.
    fn entry(&mut self, host: usize) -> &mut HostMonitor {
        let at = match self.0.binary_search_by_key(&(host as u32), |&(h, _)| h) {
            Ok(at) => at,
            Err(at) => {
                if self.0.len() == self.0.capacity() {
                    // Grown by half rather than doubled, from one: most detectors of a large
                    // mesh hold one or two monitors at a time, which a vector's first
                    // allocation would otherwise give room for four.
                    self.0.reserve_exact(self.0.len() / 2 + 1);
                }
                self.0.insert(at, (host as u32, HostMonitor::default()));
                at
            }
        };
        &mut self.0[at].1
    }

    /// The hosts (as indices) and their monitors, in host order.
    fn iter(&self) -> impl Iterator<Item = (usize, &HostMonitor)> {
        self.0.iter().map(|(h, m)| (*h as usize, m))
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut HostMonitor)> {
        self.0.iter_mut().map(|(h, m)| (*h as usize, m))
    }

    /// Keeps the monitors `keep` accepts; an emptied list gives its memory back, as an idle
    /// detector holds none.
    fn retain(&mut self, keep: impl Fn(&HostMonitor) -> bool) {
        self.0.retain(|(_, m)| keep(m));
        if self.0.is_empty() {
            self.0 = Vec::new();
        }
    }
}

/// The outlier detector of one client proxy for one upstream cluster.
#[derive(Clone, Debug)]
pub struct OutlierDetector {
    /// Shared with the cluster's settings.
    config: Rc<DetectorConfig>,
    version: EnvoyVersion,
    /// Monitors of the hosts this proxy has sent to, in host order; a host never charged has a
    /// default monitor, which no sweep changes, so it is left out (a proxy of a large mesh
    /// sends to few of its hosts).
    monitors: Monitors,
    /// Hosts in the cluster, and of them out of rotation (the scenario limits keep both far
    /// below 2^32).
    host_count: u32,
    ejected: u32,
    /// Whether some monitor's multiplier may still decay at a sweep.
    multipliers_to_decay: bool,
    /// Whether some host's count in the interval now running reached the least volume the
    /// success-rate and failure-percentage detectors judge.
    volume_reached: bool,
    /// The next sweep on the grid the first one set; while no sweep matters (see
    /// [`next_sweep`](Self::next_sweep)) it may lie in the past, and the sweeps missed since are
    /// caught up with the next result.
    next_sweep: SimTime,
}

/// What a sweep changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Hosts returned to rotation.
    pub unejected: Vec<usize>,
    /// Success-rate and failure-percentage detections.
    pub detections: Vec<Detection>,
}

impl SweepReport {
    /// Whether any host changed state (the load balancers need an update).
    pub fn changed_health(&self) -> bool {
        !self.unejected.is_empty() || self.detections.iter().any(|d| d.outcome == EjectionOutcome::Ejected)
    }
}

/// Envoy's `featureEnabled(percent)`: true with probability `percent`%.
fn coin<R: Rng + ?Sized>(percent: u32, rng: &mut R) -> bool {
    match percent {
        0 => false,
        100.. => true,
        p => rng.next_u64() % 100 < u64::from(p),
    }
}

impl OutlierDetector {
    /// A detector over `hosts` hosts whose first sweep is at `first_sweep` (Envoy arms the sweep
    /// timer one interval after the cluster is created, so its phase is a property of the
    /// scenario, random unless set).
    pub fn new(
        config: impl Into<Rc<DetectorConfig>>,
        version: EnvoyVersion,
        hosts: usize,
        first_sweep: SimTime,
    ) -> Self {
        OutlierDetector {
            config: config.into(),
            version,
            monitors: Monitors::default(),
            host_count: hosts as u32,
            ejected: 0,
            multipliers_to_decay: false,
            volume_reached: false,
            next_sweep: first_sweep,
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// When the next sweep is due, if it can change more than the success-rate buckets: return
    /// an ejected host, decay a multiplier, or judge an interval in which some host reached the
    /// request volume. Envoy's interval timer runs every interval, but its other sweeps only
    /// rotate the buckets and forget quiet hosts, which the next result catches up with: a
    /// proxy of a large mesh, which sends each host a few requests a second, then needs no timer.
    /// Sweeps stay on the grid the first sweep set.
    pub fn next_sweep(&self) -> Option<SimTime> {
        (self.ejected > 0 || self.multipliers_to_decay || self.volume_reached).then_some(self.next_sweep)
    }

    /// The fewest requests in an interval for which a host is judged by the success-rate or
    /// failure-percentage detector.
    fn judged_volume(&self) -> u32 {
        self.config.success_rate_request_volume.min(self.config.failure_percentage_request_volume).max(1)
    }

    /// `host`'s monitor (made on the host's first result) after one result counted at `now` in
    /// its external or local-origin bucket. The sweeps missed since the last one that mattered
    /// are caught up with first.
    #[inline]
    fn count(&mut self, host: usize, local_origin: bool, success: bool, now: SimTime) -> &mut HostMonitor {
        if self.next_sweep <= now && self.next_sweep().is_none() {
            self.catch_up(now);
        }
        let judged = self.judged_volume();
        let monitor = self.monitors.entry(host);
        let counts = if local_origin { &mut monitor.local_origin } else { &mut monitor.external };
        counts.record(success);
        self.volume_reached |= counts.current.total >= judged;
        monitor
    }

    /// Runs the sweeps due at or before `now` while none matters: each rotates the buckets and
    /// forgets the hosts back at a new monitor's state, as a full sweep would with nothing to
    /// return, judge or decay.
    fn catch_up(&mut self, now: SimTime) {
        let interval = self.config.interval.as_nanos().max(1);
        let missed = (now - self.next_sweep).as_nanos() / interval + 1;
        for _ in 0..missed.min(2) {
            for (_, monitor) in self.monitors.iter_mut() {
                monitor.external.rotate();
                monitor.local_origin.rotate();
            }
        }
        self.monitors.retain(|monitor| *monitor != HostMonitor::default());
        self.next_sweep += SimDuration::from_nanos(missed * interval);
    }

    /// Number of hosts watched.
    pub fn host_count(&self) -> usize {
        self.host_count as usize
    }

    /// Whether `host` is out of rotation.
    #[inline]
    pub fn is_ejected(&self, host: usize) -> bool {
        self.ejected > 0 && self.monitors.get(host).is_some_and(HostMonitor::is_ejected)
    }

    /// The hosts out of rotation, in host order.
    pub fn ejected_hosts(&self) -> Vec<u32> {
        self.monitors.iter().filter(|(_, m)| m.is_ejected()).map(|(h, _)| h as u32).collect()
    }

    /// Number of hosts out of rotation.
    pub fn ejected_count(&self) -> usize {
        self.ejected as usize
    }

    /// How many times `host` has been ejected since it joined.
    pub fn ejections_of(&self, host: usize) -> u32 {
        self.monitors.get(host).and_then(|m| m.ejections.as_ref()).map_or(0, |e| e.count)
    }

    /// Follows a change of the endpoint set to `hosts` hosts: `new_index_of(old)` names where a
    /// host now sits, or `None` if it left. Hosts that left lose their state, ejection included.
    pub fn remap_hosts(&mut self, hosts: usize, new_index_of: impl Fn(usize) -> Option<usize>) {
        let old = std::mem::take(&mut self.monitors).0;
        let kept = old.into_iter().filter_map(|(host, m)| Some((new_index_of(host as usize)? as u32, m))).collect();
        self.monitors = Monitors::from_unsorted(kept);
        self.host_count = hosts as u32;
        self.ejected = self.monitors.iter().filter(|(_, m)| m.is_ejected()).count() as u32;
        self.note_multipliers();
    }

    /// Notes whether some monitor's multiplier may still decay.
    fn note_multipliers(&mut self) {
        self.multipliers_to_decay =
            self.version.ejection_multiplier_decays() && self.monitors.iter().any(|(_, m)| m.multiplier() > 0);
    }

    /// Charges one attempt's result to `host`; returns the detection it triggered, if any
    /// (`DetectorHostMonitorImpl::putResult`).
    pub fn record<R: Rng + ?Sized>(
        &mut self,
        host: usize,
        result: HostResult,
        now: SimTime,
        rng: &mut R,
    ) -> Option<Detection> {
        match (result, self.config.split_external_local_origin_errors) {
            (HostResult::Http(code), _) => self.put_http_code(host, code, now, rng),
            (HostResult::ConnectSuccess, false) => None,
            (HostResult::ConnectFailed, false) => self.put_http_code(host, 503, now, rng),
            (HostResult::Timeout, false) => self.put_http_code(host, 504, now, rng),
            (HostResult::ConnectSuccess, true) => {
                self.count(host, true, true, now).consecutive_local_origin_failure = 0;
                None
            }
            (HostResult::ConnectFailed | HostResult::Timeout, true) => {
                let monitor = self.count(host, true, false, now);
                monitor.consecutive_local_origin_failure += 1;
                (monitor.consecutive_local_origin_failure == self.config.consecutive_local_origin_failure)
                    .then(|| self.on_consecutive_error(host, EjectionKind::ConsecutiveLocalOriginFailure, now, rng))
                    .flatten()
            }
        }
    }

    /// `putHttpResponseCode`.
    fn put_http_code<R: Rng + ?Sized>(
        &mut self,
        host: usize,
        code: u16,
        now: SimTime,
        rng: &mut R,
    ) -> Option<Detection> {
        let (gateway_threshold, five_threshold) =
            (self.config.consecutive_gateway_failure, self.config.consecutive_5xx);
        let is_5xx = (500..600).contains(&code);
        let monitor = self.count(host, false, !is_5xx, now);
        if !is_5xx {
            monitor.consecutive_5xx = 0;
            monitor.consecutive_gateway_failure = 0;
            return None;
        }
        let mut gateway_fired = false;
        if matches!(code, 502..=504) {
            monitor.consecutive_gateway_failure += 1;
            gateway_fired = monitor.consecutive_gateway_failure == gateway_threshold;
        } else {
            monitor.consecutive_gateway_failure = 0;
        }
        monitor.consecutive_5xx += 1;
        let fived_fired = monitor.consecutive_5xx == five_threshold;
        // Both detectors may fire on one response; Envoy posts them in this order.
        let gateway =
            gateway_fired.then(|| self.on_consecutive_error(host, EjectionKind::ConsecutiveGatewayFailure, now, rng));
        let five = fived_fired.then(|| self.on_consecutive_error(host, EjectionKind::Consecutive5xx, now, rng));
        match (gateway.flatten(), five.flatten()) {
            (Some(g), Some(f)) if g.outcome != EjectionOutcome::Ejected => Some(f),
            (Some(g), _) => Some(g),
            (None, f) => f,
        }
    }

    /// `onConsecutiveErrorWorker`: nothing if already ejected (and the counter stays); else try to
    /// eject, then reset that detector's counter whatever came of it.
    fn on_consecutive_error<R: Rng + ?Sized>(
        &mut self,
        host: usize,
        kind: EjectionKind,
        now: SimTime,
        rng: &mut R,
    ) -> Option<Detection> {
        if self.is_ejected(host) {
            return None;
        }
        let outcome = self.eject(host, kind, now, rng);
        let monitor = self.monitors.entry(host);
        match kind {
            EjectionKind::Consecutive5xx => monitor.consecutive_5xx = 0,
            EjectionKind::ConsecutiveGatewayFailure => monitor.consecutive_gateway_failure = 0,
            EjectionKind::ConsecutiveLocalOriginFailure => monitor.consecutive_local_origin_failure = 0,
            _ => unreachable!("only consecutive detectors fire between sweeps"),
        }
        Some(Detection { host, kind, outcome })
    }

    /// Whether one more ejection fits under max_ejection_percent, by the rule of this release.
    fn gate_allows_another(&self) -> bool {
        gate_allows(&self.config, self.version, self.ejected as usize, self.host_count as usize)
    }

    /// `DetectorImpl::ejectHost`.
    fn eject<R: Rng + ?Sized>(
        &mut self,
        host: usize,
        kind: EjectionKind,
        now: SimTime,
        rng: &mut R,
    ) -> EjectionOutcome {
        if !self.gate_allows_another() {
            return EjectionOutcome::OverMaxEjectionPercent;
        }
        let enforcing = match kind {
            EjectionKind::Consecutive5xx => self.config.enforcing_consecutive_5xx,
            EjectionKind::ConsecutiveGatewayFailure => self.config.enforcing_consecutive_gateway_failure,
            EjectionKind::ConsecutiveLocalOriginFailure => self.config.enforcing_consecutive_local_origin_failure,
            EjectionKind::SuccessRate => self.config.enforcing_success_rate,
            EjectionKind::SuccessRateLocalOrigin => self.config.enforcing_local_origin_success_rate,
            EjectionKind::FailurePercentage => self.config.enforcing_failure_percentage,
            EjectionKind::FailurePercentageLocalOrigin => self.config.enforcing_failure_percentage_local_origin,
        };
        if !coin(enforcing, rng) {
            return EjectionOutcome::NotEnforced;
        }
        self.ejected += 1;
        let max_jitter_ms = self.config.max_ejection_time_jitter.as_nanos() / 1_000_000;
        let jitter = if max_jitter_ms == 0 { 0 } else { rng.next_u64() % (max_jitter_ms + 1) };
        let (base, max) = (self.config.base_ejection_time, self.config.max_ejection_time);
        let decays = self.version.ejection_multiplier_decays();
        let record = self.monitors.entry(host).ejections.get_or_insert_default();
        record.since = Some(now);
        record.count += 1;
        record.jitter = SimDuration::from_millis(jitter);
        let below_cap = base.checked_mul(u64::from(record.multiplier)).is_some_and(|t| t < max + base);
        if below_cap || !decays {
            record.multiplier += 1;
        }
        self.multipliers_to_decay |= decays;
        EjectionOutcome::Ejected
    }

    /// How long the current ejection of `host` lasts at least (it ends at the first sweep after).
    pub fn ejection_length(&self, host: usize) -> SimDuration {
        self.monitors
            .get(host)
            .and_then(|m| m.ejections.as_deref())
            .map_or(SimDuration::ZERO, |e| ejection_length(&self.config, self.version, e))
    }

    /// Runs the interval sweep due at `now` (`DetectorImpl::onIntervalTimer`): returns ejected
    /// hosts whose time is up, rotates the success-rate buckets, runs the success-rate and
    /// failure-percentage detectors, decays multipliers, and arms the next sweep.
    pub fn sweep<R: Rng + ?Sized>(&mut self, now: SimTime, rng: &mut R) -> SweepReport {
        let mut report = SweepReport::default();
        for (host, monitor) in self.monitors.iter_mut() {
            if let Some(record) = monitor.ejections.as_deref_mut()
                && let Some(since) = record.since
                && now
                    .checked_since(since)
                    .is_some_and(|served| served >= ejection_length(&self.config, self.version, record))
            {
                record.since = None;
                record.last_unejected = Some(now);
                monitor.reset_consecutive();
                self.ejected -= 1;
                report.unejected.push(host);
            }
            monitor.external.rotate();
            monitor.local_origin.rotate();
        }
        self.success_rate_ejections(false, now, rng, &mut report.detections);
        self.success_rate_ejections(true, now, rng, &mut report.detections);
        if self.version.ejection_multiplier_decays() {
            let interval = self.config.interval;
            for (_, monitor) in self.monitors.iter_mut() {
                if let Some(record) = monitor.ejections.as_deref_mut()
                    && record.since.is_none()
                    && record.last_unejected.is_some_and(|t| now.checked_since(t).is_some_and(|d| d >= interval))
                {
                    record.multiplier = record.multiplier.saturating_sub(1);
                }
            }
        }
        // A host whose monitor is back to a new one's state (nothing counted in the last two
        // intervals, never ejected) is forgotten until its next result: sweeps cost what the
        // proxy sent recently, not every host it ever sent to.
        self.monitors.retain(|monitor| *monitor != HostMonitor::default());
        self.note_multipliers();
        self.volume_reached = false;
        self.next_sweep = now + self.config.interval;
        report
    }

    /// `processSuccessRateEjections` for external (`local_origin == false`) or local-origin results.
    fn success_rate_ejections<R: Rng + ?Sized>(
        &mut self,
        local_origin: bool,
        now: SimTime,
        rng: &mut R,
        detections: &mut Vec<Detection>,
    ) {
        let c = &self.config;
        let hosts = u64::from(self.host_count);
        if hosts < u64::from(c.success_rate_minimum_hosts) && hosts < u64::from(c.failure_percentage_minimum_hosts) {
            return;
        }
        let mut success_rate_hosts = Vec::new();
        let mut failure_percentage_hosts = Vec::new();
        for (host, monitor) in self.monitors.iter().filter(|(_, m)| !m.is_ejected()) {
            let counts = if local_origin { &monitor.local_origin } else { &monitor.external };
            let Some((rate, volume)) = counts.last_interval() else { continue };
            if volume >= u64::from(c.success_rate_request_volume) {
                success_rate_hosts.push((host, rate));
            }
            if volume >= u64::from(c.failure_percentage_request_volume) {
                failure_percentage_hosts.push((host, rate));
            }
        }
        let (sr_kind, fp_kind) = if local_origin {
            (EjectionKind::SuccessRateLocalOrigin, EjectionKind::FailurePercentageLocalOrigin)
        } else {
            (EjectionKind::SuccessRate, EjectionKind::FailurePercentage)
        };
        let mut outliers = Vec::new();
        if !success_rate_hosts.is_empty() && success_rate_hosts.len() >= c.success_rate_minimum_hosts as usize {
            let n = success_rate_hosts.len() as f64;
            let mean = success_rate_hosts.iter().map(|(_, r)| r).sum::<f64>() / n;
            let variance = success_rate_hosts.iter().map(|(_, r)| (r - mean).powi(2)).sum::<f64>() / n;
            let threshold = mean - f64::from(c.success_rate_stdev_factor) / 1000.0 * variance.sqrt();
            outliers.extend(success_rate_hosts.iter().filter(|(_, r)| *r < threshold).map(|&(h, _)| (h, sr_kind)));
        }
        if !failure_percentage_hosts.is_empty()
            && failure_percentage_hosts.len() >= c.failure_percentage_minimum_hosts as usize
        {
            let threshold = f64::from(c.failure_percentage_threshold);
            outliers.extend(
                failure_percentage_hosts.iter().filter(|(_, r)| 100.0 - r >= threshold).map(|&(h, _)| (h, fp_kind)),
            );
        }
        for (host, kind) in outliers {
            if !self.is_ejected(host) {
                let outcome = self.eject(host, kind, now, rng);
                detections.push(Detection { host, kind, outcome });
            }
        }
    }
}

/// How long a host's current ejection lasts at least: the base ejection time times its
/// multiplier (capped at `max_ejection_time` where the multiplier decays), plus its jitter.
fn ejection_length(config: &DetectorConfig, version: EnvoyVersion, ejections: &Ejections) -> SimDuration {
    let scaled = config
        .base_ejection_time
        .checked_mul(u64::from(ejections.multiplier))
        .unwrap_or(SimDuration::from_nanos(u64::MAX));
    let capped = if version.ejection_multiplier_decays() { scaled.min(config.max_ejection_time) } else { scaled };
    capped + ejections.jitter
}

/// Whether one more ejection fits under max_ejection_percent with `ejected` of `hosts` hosts
/// already out, by the rule of `version` (`DetectorImpl::ejectHost`; spec §1).
fn gate_allows(config: &DetectorConfig, version: EnvoyVersion, ejected: usize, hosts: usize) -> bool {
    let max = f64::from(config.max_ejection_percent.min(100));
    let (out, all) = (ejected as f64, hosts as f64);
    let within = if version.gate_counts_host_being_ejected() {
        100.0 * (out + 1.0) / all <= max
    } else {
        100.0 * out / all < max
    };
    let first_is_free = version.first_ejection_always_allowed()
        || (config.always_eject_one_host && version.has_always_eject_one_host());
    within || (first_is_free && ejected == 0)
}

/// How many of a cluster's `hosts` can be ejected at once under `config`'s
/// max_ejection_percent, by the rule of `version`.
pub fn max_ejectable_hosts(config: &DetectorConfig, version: EnvoyVersion, hosts: usize) -> usize {
    (0..hosts).take_while(|&ejected| gate_allows(config, version, ejected, hosts)).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::RandomStreams;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    /// The seed document's DestinationRule as Istio translates it: consecutive 5xx 1, interval
    /// 1 s, base ejection 1 min, the given max_ejection_percent.
    fn seed_config(max_ejection_percent: u32) -> DetectorConfig {
        DetectorConfig {
            interval: SimDuration::from_secs(1),
            base_ejection_time: SimDuration::from_secs(60),
            max_ejection_time: SimDuration::from_secs(300),
            consecutive_5xx: 1,
            max_ejection_percent,
            enforcing_success_rate: 0,
            ..DetectorConfig::default()
        }
    }

    /// Fails every host once with a 503 and counts how many end up ejected.
    fn eject_all(config: DetectorConfig, version: EnvoyVersion, hosts: usize) -> usize {
        let mut rng = RandomStreams::new(1).stream("test");
        let mut detector = OutlierDetector::new(config, version, hosts, secs(1));
        for host in 0..hosts {
            detector.record(host, HostResult::Http(503), secs(0), &mut rng);
        }
        detector.ejected_count()
    }

    #[test]
    fn default_ten_percent_never_ejects_below_ten_hosts_from_1_28() {
        // spec §1 "a cluster under 10 hosts never ejects"; envoy#27909.
        let config = DetectorConfig { consecutive_5xx: 1, ..DetectorConfig::default() };
        for hosts in 1..10 {
            assert_eq!(eject_all(config.clone(), EnvoyVersion::new(28), hosts), 0, "{hosts} hosts");
        }
        assert_eq!(eject_all(config.clone(), EnvoyVersion::new(28), 10), 1);
        // Before 1.28 the first ejection always goes through.
        assert_eq!(eject_all(config.clone(), EnvoyVersion::new(27), 2), 1);
        assert_eq!(eject_all(config.clone(), EnvoyVersion::new(26), 2), 1);
        // always_eject_one_host brings it back from 1.31 only.
        let always = DetectorConfig { always_eject_one_host: true, ..config };
        assert_eq!(eject_all(always.clone(), EnvoyVersion::new(30), 2), 0);
        assert_eq!(eject_all(always, EnvoyVersion::new(31), 2), 1);
    }

    #[test]
    fn the_gate_counts_the_host_about_to_be_ejected_from_1_27() {
        // envoy#26877: 3 hosts at 50 % ejected 2 before the "+1" fix (PR #27624), 1 after.
        assert_eq!(eject_all(seed_config(50), EnvoyVersion::new(26), 3), 2);
        assert_eq!(eject_all(seed_config(50), EnvoyVersion::new(27), 3), 1);
        assert_eq!(eject_all(seed_config(50), EnvoyVersion::new(40), 6), 3);
        assert_eq!(eject_all(seed_config(40), EnvoyVersion::new(40), 6), 2);
        assert_eq!(eject_all(seed_config(100), EnvoyVersion::new(40), 2), 2);
    }

    #[test]
    fn counters_reset_after_a_refused_ejection_and_connect_success_does_not_reset_them() {
        let mut rng = RandomStreams::new(1).stream("test");
        let config = DetectorConfig { consecutive_5xx: 3, max_ejection_percent: 10, ..DetectorConfig::default() };
        let mut detector = OutlierDetector::new(config, EnvoyVersion::new(40), 2, secs(10));
        let mut detections = Vec::new();
        for _ in 0..6 {
            detector.record(0, HostResult::ConnectSuccess, secs(0), &mut rng);
            detections.extend(detector.record(0, HostResult::Http(500), secs(0), &mut rng));
        }
        // Refused twice (10 % of 2 hosts), each time after exactly 3 errors: the counter restarted.
        assert_eq!(detections.len(), 2);
        assert!(detections.iter().all(|d| d.outcome == EjectionOutcome::OverMaxEjectionPercent));
        // A refused connection counts as a 503 when errors are not split.
        let mut detector = OutlierDetector::new(seed_config(100), EnvoyVersion::new(40), 2, secs(10));
        let d = detector.record(1, HostResult::ConnectFailed, secs(0), &mut rng).unwrap();
        assert_eq!((d.kind, d.outcome), (EjectionKind::Consecutive5xx, EjectionOutcome::Ejected));
        // Already ejected: further errors do nothing.
        assert_eq!(detector.record(1, HostResult::Timeout, secs(0), &mut rng), None);
    }

    #[test]
    fn split_mode_counts_local_origin_failures_apart() {
        let mut rng = RandomStreams::new(1).stream("test");
        let config = DetectorConfig {
            split_external_local_origin_errors: true,
            consecutive_local_origin_failure: 2,
            max_ejection_percent: 100,
            ..DetectorConfig::default()
        };
        let mut detector = OutlierDetector::new(config, EnvoyVersion::new(40), 1, secs(10));
        assert_eq!(detector.record(0, HostResult::ConnectFailed, secs(0), &mut rng), None);
        // A connect success resets the local-origin counter in split mode.
        detector.record(0, HostResult::ConnectSuccess, secs(0), &mut rng);
        assert_eq!(detector.record(0, HostResult::Timeout, secs(0), &mut rng), None);
        let d = detector.record(0, HostResult::ConnectFailed, secs(0), &mut rng).unwrap();
        assert_eq!(d.kind, EjectionKind::ConsecutiveLocalOriginFailure);
    }

    #[test]
    fn ejections_end_at_the_first_sweep_after_their_length_and_grow_when_repeated() {
        let mut rng = RandomStreams::new(1).stream("test");
        // Sweeps at 0.5 s, 1.5 s, 2.5 s...; ejected at 0.2 s for 60 s.
        let mut detector =
            OutlierDetector::new(seed_config(100), EnvoyVersion::new(40), 2, SimTime::from_nanos(500_000_000));
        let at = |ms: u64| SimTime::from_nanos(ms * 1_000_000);
        detector.record(0, HostResult::Http(503), at(200), &mut rng);
        let mut unejected_at = None;
        while unejected_at.is_none() {
            let now = detector.next_sweep().expect("a charged detector sweeps");
            if !detector.sweep(now, &mut rng).unejected.is_empty() {
                unejected_at = Some(now);
            }
        }
        // 60.2 s rounded up to the next sweep: 60.5 s.
        assert_eq!(unejected_at, Some(at(60_500)));
        // Re-ejected within an interval of its return: the second ejection lasts 2 × base.
        detector.record(0, HostResult::Http(503), at(60_700), &mut rng);
        assert_eq!(detector.ejection_length(0), SimDuration::from_secs(120));
        let mut now = detector.next_sweep().expect("a charged detector sweeps");
        while detector.is_ejected(0) {
            detector.sweep(now, &mut rng);
            now = detector.next_sweep().expect("a charged detector sweeps");
        }
        // Out at 180.5 s; then quiet sweeps decay the multiplier one step each, and are needed
        // until it is back to zero: two of them, after which a new ejection is back to base.
        let mut decaying_sweeps = 0;
        while let Some(t) = detector.next_sweep() {
            detector.sweep(t, &mut rng);
            decaying_sweeps += 1;
        }
        assert_eq!(decaying_sweeps, 2);
        detector.record(0, HostResult::Http(503), at(183_500), &mut rng);
        assert_eq!(detector.ejection_length(0), SimDuration::from_secs(60));
        assert_eq!(detector.ejections_of(0), 3);
    }

    #[test]
    fn before_1_17_the_multiplier_never_decays() {
        let mut rng = RandomStreams::new(1).stream("test");
        let mut detector = OutlierDetector::new(seed_config(100), EnvoyVersion::new(16), 1, secs(1));
        let mut now = secs(0);
        for round in 1..=3u64 {
            detector.record(0, HostResult::Http(503), now, &mut rng);
            assert_eq!(detector.ejection_length(0), SimDuration::from_secs(60 * round));
            while detector.is_ejected(0) {
                now = detector.next_sweep().expect("an ejection needs its sweeps");
                detector.sweep(now, &mut rng);
            }
            // No multiplier to decay: nothing is left for a sweep, and long quiet spells change
            // nothing.
            assert_eq!(detector.next_sweep(), None);
            now += SimDuration::from_secs(100);
        }
    }

    #[test]
    fn success_rate_ejects_the_outlier_at_a_sweep() {
        let mut rng = RandomStreams::new(1).stream("test");
        let config = DetectorConfig { consecutive_5xx: 0, max_ejection_percent: 100, ..DetectorConfig::default() };
        let mut detector = OutlierDetector::new(config, EnvoyVersion::new(40), 6, secs(10));
        for host in 0..6 {
            for i in 0..200 {
                // Host 5 fails half its requests; the others 1 %.
                let fail = if host == 5 { i % 2 == 0 } else { i % 100 == 0 };
                detector.record(host, HostResult::Http(if fail { 503 } else { 200 }), secs(1), &mut rng);
            }
        }
        // The sweep closes the interval and judges it: mean 90.8 %, stdev 18.3 %, threshold
        // 90.8 − 1.9 × 18.3 = 56.1 %: only host 5 (50 %) is below.
        let report = detector.sweep(secs(10), &mut rng);
        assert_eq!(
            report.detections,
            vec![Detection { host: 5, kind: EjectionKind::SuccessRate, outcome: EjectionOutcome::Ejected }]
        );
        // The next interval saw no traffic: nothing more is judged.
        assert!(detector.sweep(secs(20), &mut rng).detections.is_empty());
        assert_eq!(detector.ejected_count(), 1);
    }

    #[test]
    fn a_detector_sweeps_only_when_a_sweep_can_matter_and_keeps_its_grid() {
        // A proxy of a large mesh sends each host a few requests a second: its sweeps would only
        // rotate the buckets, so they wait for the next result. A host reaching the judged
        // volume (here 3) or an ejection calls for the sweep, on the grid the first sweep set
        // (here 1 s, 2 s, 3 s, ...).
        let mut rng = RandomStreams::new(1).stream("test");
        let config = DetectorConfig { failure_percentage_request_volume: 3, ..seed_config(100) };
        let mut detector = OutlierDetector::new(config, EnvoyVersion::new(40), 1000, secs(1));
        let at = |ms: u64| SimTime::from_nanos(ms * 1_000_000);
        let mut successes = RandomStreams::new(1).stream("successes");
        let mut ok = |detector: &mut OutlierDetector, ms: u64| {
            detector.record(7, HostResult::Http(200), at(ms), &mut successes);
        };
        assert_eq!(detector.next_sweep(), None);
        ok(&mut detector, 100);
        ok(&mut detector, 200);
        assert_eq!(detector.next_sweep(), None, "below the judged volume");
        ok(&mut detector, 300);
        assert_eq!(detector.next_sweep(), Some(secs(1)));
        detector.sweep(secs(1), &mut rng);
        assert_eq!(detector.next_sweep(), None, "the interval now running has seen nothing");
        // Two results in [1 s, 2 s), one in [2 s, 3 s): the sweep at 2 s, not run, is caught
        // up with, so no interval reaches the volume.
        ok(&mut detector, 1_500);
        ok(&mut detector, 1_600);
        ok(&mut detector, 2_100);
        assert_eq!(detector.next_sweep(), None);
        ok(&mut detector, 2_200);
        assert_eq!(detector.next_sweep(), None);
        ok(&mut detector, 2_300);
        assert_eq!(detector.next_sweep(), Some(secs(3)));
        detector.sweep(secs(3), &mut rng);
        // Host 7, charged once in [3 s, 4 s), is forgotten at the first result after the two
        // sweeps that would have rotated that count out.
        ok(&mut detector, 3_400);
        detector.record(9, HostResult::Http(503), at(5_300), &mut rng);
        assert!(detector.monitors.get(7).is_none());
        assert!(detector.is_ejected(9));
        assert_eq!(detector.next_sweep(), Some(secs(6)));
        assert_eq!(detector.host_count(), 1000);
    }

    #[test]
    fn hosts_that_leave_lose_their_ejection() {
        let mut rng = RandomStreams::new(1).stream("test");
        let mut detector = OutlierDetector::new(seed_config(100), EnvoyVersion::new(40), 3, secs(1));
        detector.record(1, HostResult::Http(503), secs(0), &mut rng);
        // Host 1 leaves; host 2 moves to 1; a newcomer takes 2.
        detector.remap_hosts(3, |old| [Some(0), None, Some(1)][old]);
        assert_eq!(detector.ejected_count(), 0);
        detector.remap_hosts(2, |old| [Some(0), Some(1), None][old]);
        detector.record(1, HostResult::Http(503), secs(0), &mut rng);
        // Host 1, ejected, moves to 0 and keeps its ejection.
        detector.remap_hosts(1, |old| [None, Some(0)][old]);
        assert!(detector.is_ejected(0));
        assert_eq!(detector.host_count(), 1);
    }

    #[test]
    fn an_update_that_reorders_hosts_keeps_their_states_in_host_order() {
        let mut rng = RandomStreams::new(1).stream("test");
        let mut detector = OutlierDetector::new(seed_config(100), EnvoyVersion::new(40), 4, secs(1));
        // Charged out of host order; hosts 3 and 0 ejected, host 1 only counted.
        for host in [3, 1, 0] {
            let status = if host == 1 { 200 } else { 503 };
            detector.record(host, HostResult::Http(status), secs(0), &mut rng);
        }
        assert_eq!(detector.ejected_hosts(), vec![0, 3]);
        // The update reverses the order: 0 → 3, 1 → 2, 3 → 0; host 2 leaves.
        detector.remap_hosts(4, |old| [Some(3), Some(2), None, Some(0)][old]);
        assert_eq!(detector.ejected_hosts(), vec![0, 3]);
        assert_eq!((detector.ejections_of(0), detector.ejections_of(2), detector.ejections_of(3)), (1, 0, 1));
        // A newcomer at 1 slots in between and is judged on its own.
        detector.record(1, HostResult::Http(503), secs(0), &mut rng);
        assert_eq!(detector.ejected_hosts(), vec![0, 1, 3]);
        let report = detector.sweep(secs(61), &mut rng);
        assert_eq!(report.unejected, vec![0, 1, 3], "returned in host order");
    }

    #[test]
    fn the_most_hosts_that_can_be_out_at_once_follows_the_gate() {
        let config = |max| DetectorConfig { max_ejection_percent: max, ..DetectorConfig::default() };
        let current = EnvoyVersion::DEFAULT;
        // 10 % never ejects one host of fewer than 10 (>= 1.28: (0 + 1) / n <= 10 %).
        assert_eq!(max_ejectable_hosts(&config(10), current, 2), 0);
        assert_eq!(max_ejectable_hosts(&config(10), current, 10), 1);
        assert_eq!(max_ejectable_hosts(&config(50), current, 2), 1);
        assert_eq!(max_ejectable_hosts(&config(100), current, 4), 4);
        assert_eq!(max_ejectable_hosts(&config(25), current, 4), 1);
    }

    #[test]
    fn a_charged_hosts_monitor_fits_one_cache_line() {
        // Every host a proxy charged in the last intervals has one; a large mesh holds hundreds
        // of thousands. The ejection history, which few hosts ever get, is kept apart.
        assert!(std::mem::size_of::<(u32, HostMonitor)>() <= 64, "{} bytes", std::mem::size_of::<(u32, HostMonitor)>());
    }

    /// Every change of the detectors' state that a sweep or result reports, with its time.
    #[derive(Debug, PartialEq)]
    enum Change {
        Detected(SimTime, Detection),
        Returned(SimTime, usize),
    }

    fn sweep_changes(detector: &mut OutlierDetector, now: SimTime, changes: &mut Vec<Change>) {
        let mut rng = RandomStreams::new(1).stream("unused");
        let report = detector.sweep(now, &mut rng);
        changes.extend(report.unejected.into_iter().map(|host| Change::Returned(now, host)));
        changes.extend(report.detections.into_iter().map(|d| Change::Detected(now, d)));
    }

    proptest::proptest! {
        #[test]
        fn sweeping_only_when_asked_changes_what_sweeping_every_interval_changes(
            version in proptest::sample::select(vec![16u32, 40]),
            consecutive_5xx in 1u32..4,
            results in proptest::collection::vec((0u64..1_500, 0usize..6, 0u8..4), 1..400),
        ) {
            // Small volumes, so the success-rate and failure-percentage detectors judge often;
            // every detection enforced, so no draw depends on how many sweeps ran.
            let config = DetectorConfig {
                interval: SimDuration::from_secs(1),
                base_ejection_time: SimDuration::from_secs(2),
                max_ejection_time: SimDuration::from_secs(5),
                consecutive_5xx,
                max_ejection_percent: 50,
                success_rate_minimum_hosts: 2,
                success_rate_request_volume: 3,
                failure_percentage_minimum_hosts: 2,
                failure_percentage_request_volume: 2,
                failure_percentage_threshold: 60,
                enforcing_failure_percentage: 100,
                ..DetectorConfig::default()
            };
            let first = SimTime::from_nanos(300_000_000);
            let version = EnvoyVersion::new(version);
            let mut every = OutlierDetector::new(config.clone(), version, 6, first);
            let mut asked = OutlierDetector::new(config, version, 6, first);
            let (mut every_changes, mut asked_changes) = (Vec::new(), Vec::new());
            let mut rng = RandomStreams::new(1).stream("unused");
            let (mut now, mut grid) = (SimTime::ZERO, first);
            for (gap_ms, host, kind) in results {
                now += SimDuration::from_millis(gap_ms);
                while grid <= now {
                    sweep_changes(&mut every, grid, &mut every_changes);
                    grid += SimDuration::from_secs(1);
                }
                while let Some(due) = asked.next_sweep().filter(|&due| due <= now) {
                    sweep_changes(&mut asked, due, &mut asked_changes);
                }
                let result = match kind {
                    0 | 1 => HostResult::Http(200),
                    2 => HostResult::Http(503),
                    _ => HostResult::Timeout,
                };
                every_changes.extend(every.record(host, result, now, &mut rng).map(|d| Change::Detected(now, d)));
                asked_changes.extend(asked.record(host, result, now, &mut rng).map(|d| Change::Detected(now, d)));
                proptest::prop_assert_eq!(&every_changes, &asked_changes);
                proptest::prop_assert_eq!(every.ejected_hosts(), asked.ejected_hosts());
            }
        }
    }
}
