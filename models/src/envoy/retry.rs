//! The router's retry policy: which failures are retried, how long it waits, which hosts the
//! retry may pick.
//!
//! Follows `source/common/router/retry_state_impl.cc` (`parseRetryOn`, `wouldRetryFromReset`,
//! `wouldRetryFromHeaders`), `source/common/router/router.cc` (`onPerTryTimeoutCommon` resets the
//! stream and asks `wouldRetryFromReset`) and `source/common/common/backoff_strategy.cc`
//! (`JitteredExponentialBackOffStrategy`): retry n waits `random % interval`, the interval
//! starting at the base (25 ms) and doubling up to the max (10 × base unless set), so uniform
//! below 25, 50, 100, 200, 250, 250 ms…; circuit-breaker overflow is never retried; a connection
//! failure is retried under `connect-failure`, `reset-before-request`, `reset`, `5xx` or
//! `gateway-error`; a reset after the request went out, and a per-try timeout (a local reset),
//! under `reset`, `5xx` or `gateway-error`; "no healthy upstream" is a local reply the router
//! sends without retrying; a retry picks its host again from scratch (priority draw included),
//! rejecting hosts already tried when the `previous_hosts` predicate is on, and leaving the
//! priorities already tried when the `previous_priorities` retry priority is on
//! (`source/extensions/retry/priority/previous_priorities/previous_priorities.cc`).

use rand::Rng;
use sim::SimDuration;

/// The `retry_on` conditions Istio and Envoy use, as flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryOn {
    /// `5xx`: any 5xx response, connect failure, reset or timeout of a try.
    pub server_errors: bool,
    /// `gateway-error`: 502, 503, 504, and connect failures.
    pub gateway_error: bool,
    /// `reset`: the upstream reset the stream (or the connection) after connecting.
    pub reset: bool,
    /// `reset-before-request`: a reset before any byte of the request went out (here: a
    /// connection failure).
    pub reset_before_request: bool,
    /// `connect-failure`: the connection could not be made (includes connect timeout).
    pub connect_failure: bool,
    /// `refused-stream`: HTTP/2 REFUSED_STREAM.
    pub refused_stream: bool,
    /// `retriable-status-codes`: a status in the policy's list.
    pub retriable_status_codes: bool,
    /// `retriable-4xx`: 409 Conflict.
    pub retriable_4xx: bool,
    /// Conditions whose trigger the simulated apps never produce: gRPC statuses (`cancelled`,
    /// `unavailable`, …), `envoy-ratelimited` (a header of Envoy's rate limiter),
    /// `retriable-headers` (Istio configures no header matchers) and
    /// `http3-post-connect-failure` (sidecars speak HTTP/1.1).
    pub never_triggered: bool,
}

/// Every `retryOn` condition Envoy knows (`parseRetryOn`, `parseRetryGrpcOn`).
pub const RETRY_ON_CONDITIONS: [&str; 16] = [
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

impl RetryOn {
    /// Sets the flag of one condition of [`RETRY_ON_CONDITIONS`]; `false` for any other word.
    pub fn set(&mut self, condition: &str) -> bool {
        match condition {
            "5xx" => self.server_errors = true,
            "gateway-error" => self.gateway_error = true,
            "reset" => self.reset = true,
            "reset-before-request" => self.reset_before_request = true,
            "connect-failure" => self.connect_failure = true,
            "retriable-4xx" => self.retriable_4xx = true,
            "refused-stream" => self.refused_stream = true,
            "retriable-status-codes" => self.retriable_status_codes = true,
            "retriable-headers"
            | "envoy-ratelimited"
            | "http3-post-connect-failure"
            | "cancelled"
            | "deadline-exceeded"
            | "internal"
            | "resource-exhausted"
            | "unavailable" => self.never_triggered = true,
            _ => return false,
        }
        true
    }
}

/// What one try came to, as the retry decision sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryOutcome {
    /// An upstream response with this status.
    Response(u16),
    /// The connection could not be made (refused, unreachable, connect timeout).
    ConnectFailure,
    /// The stream or connection was reset after connecting.
    Reset,
    /// The per-try timeout expired (Envoy resets the stream locally).
    Timeout,
    /// A circuit breaker rejected the try locally (503 with `x-envoy-overloaded`, flag UO).
    Overflow,
    /// No healthy upstream to pick (a local 503, flag UH, never retried).
    NoHealthyUpstream,
}

/// A route's retry policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub num_retries: u32,
    /// Conditions that trigger a retry.
    pub retry_on: RetryOn,
    /// Statuses retried under `retriable-status-codes`.
    pub retriable_status_codes: Vec<u16>,
    /// Whether a retry avoids hosts already tried (`envoy.retry_host_predicates.previous_hosts`).
    pub previous_hosts: bool,
    /// `host_selection_retry_max_attempts`: extra picks allowed to find an untried host.
    pub host_selection_max_attempts: u32,
    /// `envoy.retry_priorities.previous_priorities` with this `update_frequency`: Istio's
    /// `retryRemoteLocalities`.
    pub previous_priorities: Option<u32>,
    /// Backoff base interval.
    pub base_interval: SimDuration,
    /// Backoff cap.
    pub max_interval: SimDuration,
    /// Timeout of each try, if any.
    pub per_try_timeout: Option<SimDuration>,
}

impl RetryPolicy {
    /// No retries at all (a route without a retry policy).
    pub fn none() -> Self {
        RetryPolicy {
            num_retries: 0,
            retry_on: RetryOn::default(),
            retriable_status_codes: Vec::new(),
            previous_hosts: false,
            host_selection_max_attempts: 0,
            previous_priorities: None,
            base_interval: SimDuration::from_millis(25),
            max_interval: SimDuration::from_millis(250),
            per_try_timeout: None,
        }
    }

    /// Whether a try that came to `outcome` is retried, given the retries already made.
    pub fn should_retry(&self, outcome: TryOutcome, retries_done: u32) -> bool {
        retries_done < self.num_retries && self.retriable(outcome)
    }

    /// Whether the policy's conditions cover `outcome`, whatever the retries left
    /// (`wouldRetryFromHeaders`, `wouldRetryFromReset`).
    pub fn retriable(&self, outcome: TryOutcome) -> bool {
        let on = self.retry_on;
        match outcome {
            TryOutcome::Overflow => false,
            // Nothing of the request went out: `reset-before-request` applies.
            TryOutcome::ConnectFailure => {
                on.connect_failure || on.reset_before_request || on.reset || on.server_errors || on.gateway_error
            }
            // An upstream reset counts as a 5xx (it will become one), so `5xx` and `gateway-error`
            // retry it too (`wouldRetryFromReset`); a per-try timeout is a local reset.
            TryOutcome::Reset | TryOutcome::Timeout => on.reset || on.server_errors || on.gateway_error,
            TryOutcome::NoHealthyUpstream => false,
            TryOutcome::Response(code) => self.retries_status(code),
        }
    }

    fn retries_status(&self, code: u16) -> bool {
        let on = self.retry_on;
        (on.server_errors && (500..600).contains(&code))
            || (on.gateway_error && matches!(code, 502..=504))
            || (on.retriable_4xx && code == 409)
            || (on.retriable_status_codes && self.retriable_status_codes.contains(&code))
    }

    /// Picks allowed when choosing the host of a try (1 + `host_selection_max_attempts`).
    pub fn host_picks(&self) -> u32 {
        1 + self.host_selection_max_attempts
    }

    /// How a try's host is chosen: the predicates and retry priority in force.
    pub fn host_selection(&self) -> HostSelection {
        HostSelection {
            avoid_previous_hosts: self.previous_hosts,
            picks: if self.previous_hosts { self.host_picks() } else { 1 },
            previous_priorities: self.previous_priorities,
        }
    }

    /// The wait before retry number `retry` (1 for the first retry): `random % interval` in
    /// whole milliseconds, the interval doubling from the base per retry until it would pass
    /// half the max, then the max (`JitteredExponentialBackOffStrategy::nextBackOffMs`).
    pub fn backoff<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> SimDuration {
        let max_ms = (self.max_interval.as_nanos() / 1_000_000).max(1);
        let mut interval = (self.base_interval.as_nanos() / 1_000_000).clamp(1, max_ms);
        for _ in 1..retry {
            interval = if interval < max_ms / 2 { interval * 2 } else { max_ms };
        }
        SimDuration::from_millis(rng.next_u64() % interval)
    }
}

/// How a try's host is chosen, from the route's retry policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostSelection {
    /// The `previous_hosts` predicate: reject hosts this request already tried.
    pub avoid_previous_hosts: bool,
    /// Picks allowed to find an acceptable host (1 + `host_selection_retry_max_attempts`).
    pub picks: u32,
    /// The `previous_priorities` retry priority's `update_frequency`, when on.
    pub previous_priorities: Option<u32>,
}

impl HostSelection {
    /// Any host will do: one pick, no predicate, no retry priority (a route without retries).
    pub const ANY: HostSelection = HostSelection { avoid_previous_hosts: false, picks: 1, previous_priorities: None };

    /// How many of the first tries' hosts (`tried` so far) `previous_priorities` excludes the
    /// priorities of: none before `update_frequency` tries, then all tries as of the last
    /// multiple of it — the load recomputed then stays until the next multiple
    /// (`PreviousPrioritiesRetryPriority::determinePriorityLoad`).
    pub fn excluded_tries(&self, tried: usize) -> usize {
        match self.previous_priorities {
            Some(frequency) if frequency > 0 && tried >= frequency as usize => {
                tried / frequency as usize * frequency as usize
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::RandomStreams;

    fn policy(retry_on: RetryOn, codes: &[u16]) -> RetryPolicy {
        RetryPolicy { num_retries: 2, retry_on, retriable_status_codes: codes.to_vec(), ..RetryPolicy::none() }
    }

    #[test]
    fn conditions_decide_what_is_retried() {
        let connect = policy(RetryOn { connect_failure: true, ..RetryOn::default() }, &[]);
        assert!(connect.should_retry(TryOutcome::ConnectFailure, 0));
        assert!(!connect.should_retry(TryOutcome::Reset, 0));
        assert!(!connect.should_retry(TryOutcome::Response(503), 0));
        assert!(!connect.should_retry(TryOutcome::ConnectFailure, 2), "only two retries");
        let with_503 = policy(RetryOn { retriable_status_codes: true, ..RetryOn::default() }, &[503]);
        assert!(with_503.should_retry(TryOutcome::Response(503), 1));
        assert!(!with_503.should_retry(TryOutcome::Response(500), 1));
        // Overflow and "no healthy upstream" are never retried, whatever the conditions.
        let all =
            policy(RetryOn { server_errors: true, connect_failure: true, reset: true, ..RetryOn::default() }, &[503]);
        assert!(!all.should_retry(TryOutcome::Overflow, 0));
        assert!(!all.should_retry(TryOutcome::NoHealthyUpstream, 0));
        assert!(all.should_retry(TryOutcome::Timeout, 0));
        // `reset` covers connection failures and per-try timeouts (a local reset:
        // `onPerTryTimeoutCommon` → `wouldRetryFromReset`).
        let reset = policy(RetryOn { reset: true, ..RetryOn::default() }, &[]);
        assert!(reset.should_retry(TryOutcome::ConnectFailure, 0));
        assert!(reset.should_retry(TryOutcome::Timeout, 0));
        // `reset-before-request` only what failed before the request went out.
        let before = policy(RetryOn { reset_before_request: true, ..RetryOn::default() }, &[]);
        assert!(before.should_retry(TryOutcome::ConnectFailure, 0));
        assert!(!before.should_retry(TryOutcome::Reset, 0));
        assert!(!before.should_retry(TryOutcome::Timeout, 0));
        // `retriable-4xx` is 409 alone (`wouldRetryFromHeaders`).
        let conflict = policy(RetryOn { retriable_4xx: true, ..RetryOn::default() }, &[]);
        assert!(conflict.should_retry(TryOutcome::Response(409), 0));
        assert!(!conflict.should_retry(TryOutcome::Response(404), 0));
    }

    #[test]
    fn every_condition_envoy_parses_is_known_and_nothing_else() {
        for condition in RETRY_ON_CONDITIONS {
            assert!(RetryOn::default().set(condition), "{condition}");
        }
        for unknown in ["5XX", "retriable_4xx", " reset", "timeout", ""] {
            assert!(!RetryOn::default().set(unknown), "{unknown:?}");
        }
    }

    #[test]
    fn backoff_doubles_from_the_base_to_the_max() {
        // JitteredExponentialBackOffStrategy (backoff_strategy.cc): uniform below 25, 50, 100,
        // 200, 250, 250 ms with Envoy's defaults (base 25 ms, max 10 × base).
        let p = RetryPolicy::none();
        let mut rng = RandomStreams::new(1).stream("backoff");
        for (retry, interval_ms) in [(1, 25), (2, 50), (3, 100), (4, 200), (5, 250), (10, 250)] {
            let waits: Vec<u64> = (0..4000).map(|_| p.backoff(retry, &mut rng).as_nanos() / 1_000_000).collect();
            let max = *waits.iter().max().unwrap();
            let mean = waits.iter().sum::<u64>() as f64 / waits.len() as f64;
            assert_eq!(max, interval_ms - 1, "retry {retry}");
            let expected_mean = (interval_ms - 1) as f64 / 2.0;
            assert!((mean - expected_mean).abs() < expected_mean * 0.06 + 0.2, "retry {retry}: mean {mean}");
        }
    }

    #[test]
    fn previous_priorities_excludes_by_update_frequency() {
        // update_frequency 2 (what Istio sets): the first retry keeps the original load, the
        // second leaves both tries' priorities, the third keeps that load.
        let selection = HostSelection { avoid_previous_hosts: true, picks: 6, previous_priorities: Some(2) };
        assert_eq!([0, 1, 2, 3, 4, 5].map(|tried| selection.excluded_tries(tried)), [0, 0, 2, 2, 4, 4]);
        let off = HostSelection { previous_priorities: None, ..selection };
        assert_eq!(off.excluded_tries(5), 0);
    }
}
