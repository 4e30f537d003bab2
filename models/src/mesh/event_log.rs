//! The run's event log: what the mesh did and when — faults, pods turning unready, istiod's
//! pushes and each proxy applying them, ejections (and the ones refused), returns, merged
//! updates, priority loads, panic, circuit-breaker overflows. Bounded: an event identical to the
//! one before it (but for its time) only raises that row's count, and past a cap the log keeps
//! counting what it leaves out.

use sim::SimTime;

use crate::envoy::host_set::EndpointId;

/// One row of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRow {
    /// When it happened (the first time, for a folded row).
    pub time: SimTime,
    /// The proxy it happened in, by index, if any (32 bits, as a proxy's clusters' indices are:
    /// a large mesh's log holds thousands of rows).
    pub proxy: Option<u32>,
    /// The proxy's upstream cluster, by its index among every proxy's clusters, if any.
    pub upstream: Option<u32>,
    /// The pod it concerns, if any.
    pub host: Option<EndpointId>,
    /// What happened (`ejected`, `ejection_refused`, …).
    pub event: &'static str,
    /// Particulars: the detector, the loads, the push.
    pub detail: Box<str>,
    /// How many times in a row it happened.
    pub count: u32,
}

/// A row with its names resolved, as `events.csv` writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedRow {
    /// Seconds into the run.
    pub time_s: f64,
    /// The proxy (`ingressgateway-ack-hangzhou-0`), or empty.
    pub proxy: String,
    /// Its upstream cluster (`outbound|9080||reviews.default.svc.cluster.local`), or empty.
    pub cluster: String,
    /// The pod concerned (`reviews-v1-ack-hangzhou-0`), or empty.
    pub pod: String,
    /// The pod's zone, or empty.
    pub zone: String,
    /// What happened.
    pub event: &'static str,
    /// Particulars.
    pub detail: String,
    /// How many times in a row.
    pub count: u32,
}

/// The log of one run.
#[derive(Clone, Debug, Default)]
pub struct EventLog {
    rows: Vec<LogRow>,
    cap: usize,
    left_out: u64,
}

impl EventLog {
    /// An empty log keeping at most `cap` rows.
    pub fn new(cap: usize) -> Self {
        EventLog { rows: Vec::new(), cap, left_out: 0 }
    }

    /// Logs an event, folding it into the last row when it repeats that row.
    pub fn push(
        &mut self,
        time: SimTime,
        proxy: Option<usize>,
        upstream: Option<usize>,
        host: Option<EndpointId>,
        event: &'static str,
        detail: String,
    ) {
        let (proxy, upstream) = (proxy.map(|p| p as u32), upstream.map(|u| u as u32));
        if let Some(last) = self.rows.last_mut()
            && (last.proxy, last.upstream, last.host, last.event) == (proxy, upstream, host, event)
            && *last.detail == *detail
        {
            last.count += 1;
            return;
        }
        if self.rows.len() >= self.cap {
            self.left_out += 1;
            return;
        }
        self.rows.push(LogRow { time, proxy, upstream, host, event, detail: detail.into_boxed_str(), count: 1 });
    }

    /// The rows, in time order.
    pub fn rows(&self) -> &[LogRow] {
        &self.rows
    }

    /// Events past the cap, not listed.
    pub fn left_out(&self) -> u64 {
        self.left_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::SimDuration;

    #[test]
    fn repeats_fold_and_the_cap_counts_the_rest() {
        let at = |ms| SimTime::ZERO + SimDuration::from_millis(ms);
        let mut log = EventLog::new(2);
        log.push(at(1), Some(0), Some(0), Some(EndpointId(3)), "ejection_refused", "consecutive_5xx".into());
        log.push(at(2), Some(0), Some(0), Some(EndpointId(3)), "ejection_refused", "consecutive_5xx".into());
        log.push(at(3), Some(1), Some(0), Some(EndpointId(3)), "ejection_refused", "consecutive_5xx".into());
        log.push(at(4), None, None, None, "istiod_push_sent", "push 1".into());
        assert_eq!(log.rows().len(), 2);
        assert_eq!((log.rows()[0].time, log.rows()[0].count), (at(1), 2));
        assert_eq!(log.left_out(), 1);
    }
}
