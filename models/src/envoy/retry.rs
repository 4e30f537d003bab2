//! The router's retry policy: which failures are retried, how long it waits, which hosts the
//! retry may pick.
//!
//! Follows `source/common/router/retry_state_impl.cc` (`wouldRetryFromReset`,
//! `wouldRetryFromHeaders`), `source/common/router/router.cc` and
//! `source/common/common/backoff_strategy.cc` (`JitteredExponentialBackOffStrategy`), with spec
//! §6: retry n waits a uniform draw in [0, (2ⁿ − 1) × base), capped at max (10 × base unless
//! set); circuit-breaker overflow is never retried; an upstream reset is retried under `reset`,
//! `5xx` or `gateway-error`, a connection failure also under `connect-failure`; a per-try timeout
//! only under `5xx` or `gateway-error`; "no healthy upstream" is a local reply the router sends
//! without retrying; a retry picks its host again from scratch (priority draw included),
//! rejecting hosts already tried when the `previous_hosts` predicate is on.

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
    /// `connect-failure`: the connection could not be made (includes connect timeout).
    pub connect_failure: bool,
    /// `refused-stream`: HTTP/2 REFUSED_STREAM.
    pub refused_stream: bool,
    /// `retriable-status-codes`: a status in the policy's list.
    pub retriable_status_codes: bool,
    /// `unavailable` / `cancelled`: gRPC statuses (carried as flags; the simulated apps speak HTTP).
    pub grpc_unavailable_or_cancelled: bool,
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
    /// The per-try timeout (or route timeout) expired.
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
            base_interval: SimDuration::from_millis(25),
            max_interval: SimDuration::from_millis(250),
            per_try_timeout: None,
        }
    }

    /// Whether a try that came to `outcome` is retried, given the retries already made.
    pub fn should_retry(&self, outcome: TryOutcome, retries_done: u32) -> bool {
        if retries_done >= self.num_retries {
            return false;
        }
        let on = self.retry_on;
        match outcome {
            TryOutcome::Overflow => false,
            TryOutcome::ConnectFailure => on.connect_failure || on.reset || on.server_errors || on.gateway_error,
            // An upstream reset counts as a 5xx (it will become one), so `5xx` and `gateway-error`
            // retry it too (`wouldRetryFromReset`).
            TryOutcome::Reset => on.reset || on.server_errors || on.gateway_error,
            TryOutcome::Timeout => on.server_errors || on.gateway_error,
            TryOutcome::NoHealthyUpstream => false,
            TryOutcome::Response(code) => self.retries_status(code),
        }
    }

    fn retries_status(&self, code: u16) -> bool {
        let on = self.retry_on;
        (on.server_errors && (500..600).contains(&code))
            || (on.gateway_error && matches!(code, 502..=504))
            || (on.retriable_status_codes && self.retriable_status_codes.contains(&code))
    }

    /// Picks allowed when choosing the host of a try (1 + `host_selection_max_attempts`).
    pub fn host_picks(&self) -> u32 {
        1 + self.host_selection_max_attempts
    }

    /// The wait before retry number `retry` (1 for the first retry).
    pub fn backoff<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> SimDuration {
        let base_ms = (self.base_interval.as_nanos() / 1_000_000).max(1);
        let max_ms = self.max_interval.as_nanos() / 1_000_000;
        // JitteredExponentialBackOffStrategy: the multiplier stops growing once past the cap.
        let multiplier = (1u64 << retry.min(32)) - 1;
        let ceiling = multiplier.saturating_mul(base_ms);
        SimDuration::from_millis((rng.next_u64() % ceiling).min(max_ms))
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
        // `reset` covers connection failures too, but not per-try timeouts.
        let reset = policy(RetryOn { reset: true, ..RetryOn::default() }, &[]);
        assert!(reset.should_retry(TryOutcome::ConnectFailure, 0));
        assert!(!reset.should_retry(TryOutcome::Timeout, 0));
    }

    #[test]
    fn backoff_is_jittered_exponential_and_capped() {
        let p = RetryPolicy::none();
        let mut rng = RandomStreams::new(1).stream("backoff");
        for (retry, ceiling_ms) in [(1, 25), (2, 75), (3, 175), (4, 250), (10, 250)] {
            let waits: Vec<u64> = (0..2000).map(|_| p.backoff(retry, &mut rng).as_nanos() / 1_000_000).collect();
            let max = *waits.iter().max().unwrap();
            assert!(max <= ceiling_ms && max + 10 >= ceiling_ms.min(250) - 1, "retry {retry}: max {max}");
        }
    }
}
