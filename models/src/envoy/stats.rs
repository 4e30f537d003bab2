//! Envoy's counters for one upstream cluster on one proxy, under Envoy's own names, so that a
//! prediction can be held against what `/stats` of a real sidecar shows.
//!
//! Follows where Envoy increments them: the router and retry state (`router.cc`,
//! `retry_state_impl.cc`: `upstream_rq_retry*`, `upstream_rq_timeout`,
//! `upstream_rq_per_try_timeout`), the connection pool (`conn_pool_base.cc`: `upstream_rq_total`
//! when a request is attached, `upstream_rq_pending_overflow`, `upstream_cx_*`), the outlier
//! detector (`outlier_detection_impl.cc`: `ejections_*`), the load balancer
//! (`lb_healthy_panic`, once per pick in panic) and the cluster manager (`update_merge_cancelled`,
//! `update_out_of_merge_window`, `membership_change`, here per cluster).

use sim::SimTime;

use super::host_set::EndpointId;
use super::outlier_detection::{Detection, EjectionKind, EjectionOutcome};

/// Something a cluster did that explains its behaviour, for the run's event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterEvent {
    /// The detector ejected a host.
    Ejected(EndpointId, EjectionKind),
    /// The detector fired but `max_ejection_percent` refused the ejection.
    EjectionRefused(EndpointId, EjectionKind),
    /// An ejected host returned at a sweep.
    Returned(EndpointId),
    /// A health update of a priority waits in the merge window until then.
    UpdateDelayed(u32, SimTime),
    /// A merged health update of a priority reached the load balancers.
    MergedUpdateApplied(u32),
    /// The traffic split across priorities changed (percent per priority, healthy hosts).
    PriorityLoad(Vec<u32>),
    /// A priority entered panic (picks among all its hosts).
    PanicEntered(u32),
    /// A priority left panic.
    PanicLeft(u32),
}

/// The counters of one cluster on one proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClusterStats {
    /// Requests attached to a connection (every attempt that went out).
    pub upstream_rq_total: u64,
    /// Attempts answered 2xx by the host.
    pub upstream_rq_2xx: u64,
    /// Attempts answered 5xx by the host, or aborted (503 for a failed connection or reset,
    /// 504 for a timeout, as the router charges them).
    pub upstream_rq_5xx: u64,
    /// Retries made.
    pub upstream_rq_retry: u64,
    /// Retries whose outcome needed no further retry.
    pub upstream_rq_retry_success: u64,
    /// Retries not made because of the `max_retries` circuit breaker.
    pub upstream_rq_retry_overflow: u64,
    /// Requests ended by the route timeout.
    pub upstream_rq_timeout: u64,
    /// Attempts ended by the per-try timeout.
    pub upstream_rq_per_try_timeout: u64,
    /// Requests refused by `max_pending_requests` or `max_requests` (local 503, UO).
    pub upstream_rq_pending_overflow: u64,
    /// Connections opened.
    pub upstream_cx_total: u64,
    /// Connections that failed to connect (timeouts included).
    pub upstream_cx_connect_fail: u64,
    /// Connections that timed out connecting.
    pub upstream_cx_connect_timeout: u64,
    /// Ejections carried out.
    pub ejections_enforced_total: u64,
    /// Of which by consecutive 5xx.
    pub ejections_enforced_consecutive_5xx: u64,
    /// Of which by consecutive gateway failures.
    pub ejections_enforced_consecutive_gateway_failure: u64,
    /// Of which by consecutive local-origin failures.
    pub ejections_enforced_consecutive_local_origin_failure: u64,
    /// Ejections refused by `max_ejection_percent`.
    pub ejections_overflow: u64,
    /// Hosts ejected at the end of the run (a gauge in Envoy).
    pub ejections_active: u64,
    /// Host picks made while the chosen priority was in panic.
    pub lb_healthy_panic: u64,
    /// Merged updates cancelled by one delivered at once.
    pub update_merge_cancelled: u64,
    /// Health updates delivered at once because the window had passed.
    pub update_out_of_merge_window: u64,
    /// Endpoint-set changes (hosts added or removed by EDS).
    pub membership_change: u64,
    /// meshsim's own, no Envoy counter: attempts sent to a host already ejected while the
    /// update saying so waited in the merge window.
    pub attempts_to_ejected_before_update: u64,
}

impl ClusterStats {
    /// The counters' names as Envoy prints them under `cluster.<name>.`, in [`values`] order.
    ///
    /// [`values`]: ClusterStats::values
    pub const NAMES: [&'static str; 23] = [
        "upstream_rq_total",
        "upstream_rq_2xx",
        "upstream_rq_5xx",
        "upstream_rq_retry",
        "upstream_rq_retry_success",
        "upstream_rq_retry_overflow",
        "upstream_rq_timeout",
        "upstream_rq_per_try_timeout",
        "upstream_rq_pending_overflow",
        "upstream_cx_total",
        "upstream_cx_connect_fail",
        "upstream_cx_connect_timeout",
        "outlier_detection.ejections_enforced_total",
        "outlier_detection.ejections_enforced_consecutive_5xx",
        "outlier_detection.ejections_enforced_consecutive_gateway_failure",
        "outlier_detection.ejections_enforced_consecutive_local_origin_failure",
        "outlier_detection.ejections_overflow",
        "outlier_detection.ejections_active",
        "lb_healthy_panic",
        "update_merge_cancelled",
        "update_out_of_merge_window",
        "membership_change",
        "meshsim.attempts_to_ejected_before_update",
    ];

    /// The values, in [`NAMES`](ClusterStats::NAMES) order.
    pub fn values(&self) -> [u64; 23] {
        [
            self.upstream_rq_total,
            self.upstream_rq_2xx,
            self.upstream_rq_5xx,
            self.upstream_rq_retry,
            self.upstream_rq_retry_success,
            self.upstream_rq_retry_overflow,
            self.upstream_rq_timeout,
            self.upstream_rq_per_try_timeout,
            self.upstream_rq_pending_overflow,
            self.upstream_cx_total,
            self.upstream_cx_connect_fail,
            self.upstream_cx_connect_timeout,
            self.ejections_enforced_total,
            self.ejections_enforced_consecutive_5xx,
            self.ejections_enforced_consecutive_gateway_failure,
            self.ejections_enforced_consecutive_local_origin_failure,
            self.ejections_overflow,
            self.ejections_active,
            self.lb_healthy_panic,
            self.update_merge_cancelled,
            self.update_out_of_merge_window,
            self.membership_change,
            self.attempts_to_ejected_before_update,
        ]
    }

    /// Whether nothing was sent through the cluster.
    pub fn is_unused(&self) -> bool {
        self.upstream_rq_total == 0 && self.upstream_cx_total == 0 && self.upstream_rq_pending_overflow == 0
    }

    /// Counts what a detection came to (`ejections_enforced_*`, `ejections_overflow`).
    pub fn count_detection(&mut self, detection: &Detection) {
        match detection.outcome {
            EjectionOutcome::Ejected => {
                self.ejections_enforced_total += 1;
                match detection.kind {
                    EjectionKind::Consecutive5xx => self.ejections_enforced_consecutive_5xx += 1,
                    EjectionKind::ConsecutiveGatewayFailure => {
                        self.ejections_enforced_consecutive_gateway_failure += 1;
                    }
                    EjectionKind::ConsecutiveLocalOriginFailure => {
                        self.ejections_enforced_consecutive_local_origin_failure += 1;
                    }
                    _ => {}
                }
            }
            EjectionOutcome::OverMaxEjectionPercent => self.ejections_overflow += 1,
            EjectionOutcome::NotEnforced => {}
        }
    }
}

/// How a cluster keeps its counters: the four that nearly every request moves and the
/// membership changes that every push of new endpoints moves inline, every other one
/// (retries, timeouts, overflows, ejections: all zero in most of a large mesh's clusters) in a
/// [`ClusterStats`] of its own, made when the first is counted.
/// A counter moved through either place counts: the totals add the two.
#[derive(Clone, Debug, Default)]
pub struct ClusterCounters {
    upstream_rq_total: u64,
    upstream_rq_2xx: u64,
    upstream_rq_5xx: u64,
    upstream_cx_total: u64,
    membership_change: u64,
    others: Option<Box<ClusterStats>>,
}

impl ClusterCounters {
    /// A request was attached to a connection (`upstream_rq_total`).
    pub fn count_request(&mut self) {
        self.upstream_rq_total += 1;
    }

    /// A connection was opened (`upstream_cx_total`).
    pub fn count_connection(&mut self) {
        self.upstream_cx_total += 1;
    }

    /// The hosts changed (`membership_change`).
    pub fn count_membership_change(&mut self) {
        self.membership_change += 1;
    }

    /// Counts an attempt's answer by its class (`upstream_rq_2xx`, `upstream_rq_5xx`).
    pub fn count_response(&mut self, status: u16) {
        match status {
            200..=299 => self.upstream_rq_2xx += 1,
            500..=599 => self.upstream_rq_5xx += 1,
            _ => {}
        }
    }

    /// The other counters, made zero on first use.
    pub fn others_mut(&mut self) -> &mut ClusterStats {
        self.others.get_or_insert_default()
    }

    /// Every counter.
    pub fn totals(&self) -> ClusterStats {
        let others = self.others.as_deref().copied().unwrap_or_default();
        ClusterStats {
            upstream_rq_total: others.upstream_rq_total + self.upstream_rq_total,
            upstream_rq_2xx: others.upstream_rq_2xx + self.upstream_rq_2xx,
            upstream_rq_5xx: others.upstream_rq_5xx + self.upstream_rq_5xx,
            upstream_cx_total: others.upstream_cx_total + self.upstream_cx_total,
            membership_change: others.membership_change + self.membership_change,
            ..others
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_wherever_they_were_moved() {
        let mut counters = ClusterCounters::default();
        assert_eq!(counters.totals(), ClusterStats::default());
        assert!(counters.others.is_none(), "nothing rare counted, nothing boxed");
        counters.count_request();
        counters.count_request();
        counters.count_connection();
        counters.count_response(200);
        counters.count_response(503);
        counters.count_response(404);
        counters.count_membership_change();
        assert!(counters.others.is_none());
        counters.others_mut().upstream_rq_retry += 1;
        counters.others_mut().upstream_rq_total += 1;
        counters.others_mut().upstream_rq_5xx += 1;
        let totals = counters.totals();
        assert_eq!(
            (totals.upstream_rq_total, totals.upstream_rq_2xx, totals.upstream_rq_5xx, totals.upstream_cx_total),
            (3, 1, 2, 1)
        );
        assert_eq!((totals.upstream_rq_retry, totals.membership_change), (1, 1));
    }

    #[test]
    fn detections_and_answers_land_in_their_counters() {
        let mut counters = ClusterCounters::default();
        assert!(counters.totals().is_unused());
        let ejected = Detection { host: 0, kind: EjectionKind::Consecutive5xx, outcome: EjectionOutcome::Ejected };
        counters.others_mut().count_detection(&ejected);
        counters
            .others_mut()
            .count_detection(&Detection { outcome: EjectionOutcome::OverMaxEjectionPercent, ..ejected });
        counters.count_response(503);
        counters.count_response(200);
        counters.count_response(404);
        let stats = counters.totals();
        let named: Vec<(&str, u64)> =
            ClusterStats::NAMES.into_iter().zip(stats.values()).filter(|(_, v)| *v > 0).collect();
        assert_eq!(
            named,
            vec![
                ("upstream_rq_2xx", 1),
                ("upstream_rq_5xx", 1),
                ("outlier_detection.ejections_enforced_total", 1),
                ("outlier_detection.ejections_enforced_consecutive_5xx", 1),
                ("outlier_detection.ejections_overflow", 1),
            ]
        );
    }
}
