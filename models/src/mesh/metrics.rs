//! What a run measures: every user request counted once, folded into time windows and run
//! totals with memory that does not grow with the number of requests.
//!
//! Definitions (the README repeats them for users):
//! - a user request *fails* when its final status is 5xx, when the user gave up waiting
//!   (`workload.timeout`), or when it has not been answered by the end of the run; Bookinfo's degraded 200 pages are successes, and their marker count shows
//!   what they lacked;
//! - *shares* count the answers of the share service (e.g. reviews) by the locality and version
//!   of the pod that gave them;
//! - *time to first ejection*: from the first fault's start to the first ejection by any proxy;
//! - *time to shift*: from the first fault's start to the last attempt sent to a pod in a
//!   locality the fault hit;
//! - *time to recover the SLO*: from the first fault's start to the end of the last window whose
//!   success ratio was below the SLO;
//! - *failback time*: from the first fault's end to the first successful answer from a pod it
//!   hit;
//! - backbone figures: bytes carried and messages dropped per link direction.

use sim::stats::{Histogram, TimeSeries};
use sim::{SimDuration, SimTime};

/// One time window's counts.
#[derive(Clone, Debug, Default)]
pub struct Window {
    /// User requests answered in the window (by answer time).
    pub requests: u64,
    /// Of which failed.
    pub failures: u64,
    /// Latency of the answered requests, nanoseconds, while the window is open; emptied when
    /// answers move on to a later window, once its p99 is kept.
    latency: Histogram,
    /// The p99 latency of a closed window, nanoseconds.
    closed_p99: Option<u64>,
    /// Answers of the share service, per locality index.
    pub share_by_locality: Vec<u64>,
    /// Ejections by any proxy.
    pub ejections: u64,
    /// Bytes entering each backbone link direction.
    pub backbone_bytes: Vec<u64>,
}

impl Window {
    /// The window's p99 latency in nanoseconds (None when no request was answered in it).
    pub fn p99_ns(&self) -> Option<u64> {
        self.closed_p99.or_else(|| self.latency.quantile(0.99))
    }

    /// Keeps the p99 and lets the histogram go: no later answer can land in this window.
    fn close(&mut self) {
        if self.closed_p99.is_none() {
            self.closed_p99 = self.latency.quantile(0.99);
            self.latency = Histogram::default();
        }
    }

    /// Success ratio (1 when empty).
    pub fn success_ratio(&self) -> f64 {
        if self.requests == 0 { 1.0 } else { 1.0 - self.failures as f64 / self.requests as f64 }
    }
}

/// Everything measured in one run.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// Per-window counts.
    pub windows: TimeSeries<Window>,
    /// User requests sent.
    pub sent: u64,
    /// User requests answered.
    pub answered: u64,
    /// Answered with 5xx.
    pub failed: u64,
    /// Marker lines (e.g. "full stars") in all answers.
    pub markers: u64,
    /// Latency of all answered requests, nanoseconds.
    pub latency: Histogram,
    /// Share-service answers per (locality index, index of the share service's version).
    pub shares: Vec<(usize, usize, u64)>,
    /// When the first ejection happened.
    pub first_ejection: Option<SimTime>,
    /// Ejections in all.
    pub ejections: u64,
    /// Retries made by all proxies (Envoy's `upstream_rq_retry`).
    pub retries: u64,
    /// When the last attempt went to a pod in a locality a fault hit.
    pub last_attempt_to_faulted: Option<SimTime>,
    /// When a pod the first fault hit first answered successfully after the fault ended.
    pub first_answer_after_fault: Option<SimTime>,
    /// Bytes carried per backbone link direction.
    pub backbone_bytes: Vec<u64>,
    /// Messages dropped per backbone link direction.
    pub backbone_drops: Vec<u64>,
    /// Start of the window answers currently land in; earlier ones are closed.
    open_window: Option<SimTime>,
}

impl Metrics {
    /// Empty metrics with windows of `window` over `links` backbone link directions.
    pub fn new(window: SimDuration, links: usize) -> Self {
        Metrics {
            windows: TimeSeries::new(window),
            sent: 0,
            answered: 0,
            failed: 0,
            markers: 0,
            latency: Histogram::default(),
            shares: Vec::new(),
            first_ejection: None,
            ejections: 0,
            retries: 0,
            last_attempt_to_faulted: None,
            first_answer_after_fault: None,
            backbone_bytes: vec![0; links],
            backbone_drops: vec![0; links],
            open_window: None,
        }
    }

    /// A user request was answered at `now` after `latency`, with `status` and `markers`
    /// ([`USER_GAVE_UP`](super::config::USER_GAVE_UP) when the user stopped waiting).
    pub fn answered(&mut self, now: SimTime, latency: SimDuration, status: u16, markers: u32) {
        let failed = status >= 500 || status == super::config::USER_GAVE_UP;
        self.answered += 1;
        self.failed += u64::from(failed);
        self.markers += u64::from(markers);
        self.latency.record(latency.as_nanos());
        // Answers come in time order: when they move to a later window, the previous one is done.
        let width = self.windows.width().as_nanos();
        let start = SimTime::from_nanos(now.as_nanos() - now.as_nanos() % width);
        if let Some(previous) = self.open_window.filter(|&p| p < start) {
            self.windows.at_mut(previous).close();
        }
        self.open_window = Some(start);
        let window = self.windows.at_mut(now);
        window.requests += 1;
        window.failures += u64::from(failed);
        window.latency.record(latency.as_nanos());
    }

    /// The share service answered from a pod of `locality` and its version `version`.
    pub fn share(&mut self, now: SimTime, locality: usize, version: usize) {
        match self.shares.iter_mut().find(|(l, v, _)| *l == locality && *v == version) {
            Some((_, _, count)) => *count += 1,
            None => self.shares.push((locality, version, 1)),
        }
        let window = self.windows.at_mut(now);
        if window.share_by_locality.len() <= locality {
            window.share_by_locality.resize(locality + 1, 0);
        }
        window.share_by_locality[locality] += 1;
    }

    /// A proxy ejected a host.
    pub fn ejection(&mut self, now: SimTime) {
        self.ejections += 1;
        self.first_ejection.get_or_insert(now);
        self.windows.at_mut(now).ejections += 1;
    }

    /// `bytes` entered backbone link direction `link` (or were dropped there).
    pub fn backbone(&mut self, now: SimTime, link: usize, bytes: u64, dropped: bool) {
        if dropped {
            self.backbone_drops[link] += 1;
            return;
        }
        self.backbone_bytes[link] += bytes;
        let window = self.windows.at_mut(now);
        if window.backbone_bytes.len() <= link {
            window.backbone_bytes.resize(link + 1, 0);
        }
        window.backbone_bytes[link] += bytes;
    }

    /// Time from `fault_start` to the end of the last window, at or after it, below `slo`.
    pub fn time_to_recover_slo(&self, fault_start: SimTime, slo: f64) -> Option<SimDuration> {
        let width = self.windows.width();
        self.windows
            .iter()
            .filter(|(start, w)| *start + width > fault_start && w.success_ratio() < slo)
            .map(|(start, _)| (start + width).checked_since(fault_start).unwrap_or(SimDuration::ZERO))
            .last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    #[test]
    fn every_answer_is_counted_once_in_totals_and_its_window() {
        let mut m = Metrics::new(SimDuration::from_secs(1), 2);
        m.answered(at(100), SimDuration::from_millis(20), 200, 2);
        m.answered(at(1_500), SimDuration::from_millis(30), 503, 0);
        m.share(at(100), 1, 1);
        m.share(at(200), 1, 1);
        m.ejection(at(1_200));
        m.backbone(at(100), 1, 1_000, false);
        m.backbone(at(100), 1, 1_000, true);
        assert_eq!((m.answered, m.failed, m.markers), (2, 1, 2));
        assert_eq!(m.shares, vec![(1, 1, 2)]);
        assert_eq!(m.first_ejection, Some(at(1_200)));
        assert_eq!((m.backbone_bytes[1], m.backbone_drops[1]), (1_000, 1));
        let windows: Vec<(u64, u64)> = m.windows.iter().map(|(_, w)| (w.requests, w.failures)).collect();
        assert_eq!(windows, vec![(1, 0), (1, 1)]);
    }

    #[test]
    fn closed_windows_keep_their_p99_and_drop_their_histogram() {
        let mut m = Metrics::new(SimDuration::from_secs(1), 0);
        for i in 0..100 {
            m.answered(at(i), SimDuration::from_millis(i + 1), 200, 0);
        }
        m.answered(at(1_500), SimDuration::from_millis(7), 200, 0);
        let windows: Vec<&Window> = m.windows.iter().map(|(_, w)| w).collect();
        let p99 = windows[0].p99_ns().unwrap() as f64;
        assert!((p99 - 99e6).abs() / 99e6 < 0.01, "p99 {p99} ns within the histogram's 1 %");
        assert_eq!(windows[0].latency.count(), 0, "the closed window's histogram is gone");
        let open = windows[1].p99_ns().unwrap() as f64;
        assert!((open - 7e6).abs() / 7e6 < 0.01, "the open window answers from its histogram: {open}");
    }

    #[test]
    fn slo_recovery_is_the_end_of_the_last_bad_window() {
        let mut m = Metrics::new(SimDuration::from_secs(1), 0);
        for (ms, status) in [(500, 200), (1_500, 503), (2_500, 503), (3_500, 200), (4_500, 200)] {
            m.answered(at(ms), SimDuration::from_millis(1), status, 0);
        }
        assert_eq!(m.time_to_recover_slo(at(1_200), 0.99), Some(SimDuration::from_millis(1_800)));
        let mut fine = Metrics::new(SimDuration::from_secs(1), 0);
        fine.answered(at(500), SimDuration::from_millis(1), 200, 0);
        assert_eq!(fine.time_to_recover_slo(at(0), 0.99), None);
    }
}
