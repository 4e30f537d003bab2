//! Circuit breakers: the per-proxy, per-cluster caps on connections, pending and active requests
//! and retries.
//!
//! Follows `source/common/upstream/resource_manager_impl.h` and the router's use of it, with spec
//! §7: the limits count per client proxy and cluster, shared by its workers. Every request
//! waiting for a connection, a new one being set up included, counts against
//! `max_pending_requests` (`ConnPoolImplBase::newStreamImpl`); `max_requests` is checked when the
//! request gets its connection (`attachStreamToClient`); `max_connections` bounds new
//! connections, except that each worker's pool to a host may always open its first. A request
//! over a limit is refused with a local 503 (flag UO, `x-envoy-overloaded`), which is neither
//! charged to outlier detection nor retried; a retry over `max_retries` is simply not made. Istio
//! leaves every limit at 2³² − 1 unless a DestinationRule sets it.

/// The four limits (`CircuitBreakers.Thresholds`, default priority).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// Open connections to all hosts of the cluster.
    pub max_connections: u32,
    /// Requests waiting for a connection.
    pub max_pending_requests: u32,
    /// Requests in flight.
    pub max_requests: u32,
    /// Retries in flight.
    pub max_retries: u32,
}

impl Thresholds {
    /// Istio's defaults: effectively unlimited.
    pub const UNLIMITED: Thresholds = Thresholds {
        max_connections: u32::MAX,
        max_pending_requests: u32::MAX,
        max_requests: u32::MAX,
        max_retries: u32::MAX,
    };
}

/// What is open or waiting against the limits right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CircuitBreaker {
    connections: u32,
    pending: u32,
    requests: u32,
    retries: u32,
}

impl CircuitBreaker {
    /// Whether a new request may start (else: local 503, UO).
    pub fn request_admitted(&self, limits: &Thresholds) -> bool {
        self.requests < limits.max_requests
    }

    /// Whether a request may wait for a connection (else: local 503, UO).
    pub fn pending_admitted(&self, limits: &Thresholds) -> bool {
        self.pending < limits.max_pending_requests
    }

    /// Whether a new connection may be opened (else the request waits as pending).
    pub fn connection_admitted(&self, limits: &Thresholds) -> bool {
        self.connections < limits.max_connections
    }

    /// Whether a retry may be made (else it is skipped).
    pub fn retry_admitted(&self, limits: &Thresholds) -> bool {
        self.retries < limits.max_retries
    }

    /// Counts a request starting (`true`) or ending (`false`).
    pub fn track_request(&mut self, started: bool) {
        track(&mut self.requests, started);
    }

    /// Counts a request starting or ending a wait for a connection.
    pub fn track_pending(&mut self, started: bool) {
        track(&mut self.pending, started);
    }

    /// Counts a connection opening or closing.
    pub fn track_connection(&mut self, opened: bool) {
        track(&mut self.connections, opened);
    }

    /// Counts a retry starting or ending.
    pub fn track_retry(&mut self, started: bool) {
        track(&mut self.retries, started);
    }

    /// Requests in flight.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// Requests waiting for a connection.
    pub fn pending(&self) -> u32 {
        self.pending
    }

    /// Open connections.
    pub fn connections(&self) -> u32 {
        self.connections
    }
}

fn track(count: &mut u32, up: bool) {
    if up {
        *count += 1;
    } else {
        *count = count.checked_sub(1).expect("circuit-breaker count released more than taken");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_admit_up_to_their_value() {
        let limits = Thresholds { max_connections: 1, max_pending_requests: 1, max_requests: 2, max_retries: 0 };
        let mut breaker = CircuitBreaker::default();
        assert!(breaker.request_admitted(&limits));
        breaker.track_request(true);
        breaker.track_request(true);
        assert!(!breaker.request_admitted(&limits));
        breaker.track_connection(true);
        assert!(!breaker.connection_admitted(&limits));
        assert!(breaker.pending_admitted(&limits));
        breaker.track_pending(true);
        assert!(!breaker.pending_admitted(&limits));
        assert!(!breaker.retry_admitted(&limits));
        breaker.track_request(false);
        assert!(breaker.request_admitted(&limits));
        assert!(CircuitBreaker::default().request_admitted(&Thresholds::UNLIMITED));
    }
}
