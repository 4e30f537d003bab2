//! The retry policy istiod puts on every HTTP route, by default or from a VirtualService.
//!
//! Follows `pilot/pkg/networking/core/route/retry/retry.go` (`DefaultPolicy`, `ConvertPolicy`,
//! `parseRetryOn`), spec §6: by default 2 retries on
//! `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`, with 503 as the
//! retriable status up to Istio 1.23 and none from 1.24; the `previous_hosts` predicate with 5
//! host-selection attempts; no per-try timeout. A VirtualService `retries` block replaces it:
//! `attempts: 0` disables retries; numeric `retryOn` entries become retriable status codes.

use super::api::HttpRetry;
use super::version::IstioVersion;
use crate::envoy::retry::{RetryOn, RetryPolicy};

/// Istio's default `retryOn`.
const DEFAULT_RETRY_ON: &str = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/// The default route retry policy of this Istio release.
pub fn default_policy(version: IstioVersion) -> RetryPolicy {
    let mut policy =
        RetryPolicy { num_retries: 2, previous_hosts: true, host_selection_max_attempts: 5, ..RetryPolicy::none() };
    apply_retry_on(&mut policy, DEFAULT_RETRY_ON);
    if version.default_retries_retry_503() {
        policy.retriable_status_codes.push(503);
    }
    policy
}

/// The policy a route gets: the VirtualService's `retries` if given, else the default.
pub fn route_policy(retries: Option<&HttpRetry>, version: IstioVersion) -> RetryPolicy {
    let Some(retries) = retries else { return default_policy(version) };
    if retries.attempts == 0 {
        return RetryPolicy::none();
    }
    let mut policy = default_policy(version);
    policy.num_retries = retries.attempts;
    policy.per_try_timeout = retries.per_try_timeout;
    if let Some(retry_on) = &retries.retry_on {
        policy.retry_on = RetryOn::default();
        policy.retriable_status_codes.clear();
        apply_retry_on(&mut policy, retry_on);
    }
    policy
}

/// `parseRetryOn`: Envoy condition names set flags; numbers become retriable status codes.
fn apply_retry_on(policy: &mut RetryPolicy, retry_on: &str) {
    for token in retry_on.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let on = &mut policy.retry_on;
        match token {
            "5xx" => on.server_errors = true,
            "gateway-error" => on.gateway_error = true,
            "reset" => on.reset = true,
            "connect-failure" => on.connect_failure = true,
            "refused-stream" => on.refused_stream = true,
            "retriable-status-codes" => on.retriable_status_codes = true,
            "unavailable" | "cancelled" => on.grpc_unavailable_or_cancelled = true,
            code => {
                if let Ok(code) = code.parse::<u16>() {
                    on.retriable_status_codes = true;
                    policy.retriable_status_codes.push(code);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::retry::TryOutcome;
    use sim::SimDuration;

    #[test]
    fn upstream_503_is_retried_by_default_only_up_to_1_23() {
        let old = default_policy(IstioVersion::new(23));
        let new = default_policy(IstioVersion::new(24));
        assert!(old.should_retry(TryOutcome::Response(503), 0));
        assert!(!new.should_retry(TryOutcome::Response(503), 0));
        for policy in [&old, &new] {
            assert!(policy.should_retry(TryOutcome::ConnectFailure, 1));
            assert!(!policy.should_retry(TryOutcome::ConnectFailure, 2));
            assert!(!policy.should_retry(TryOutcome::Reset, 0), "reset is not in Istio's list");
            assert!(policy.previous_hosts);
            assert_eq!(policy.host_picks(), 6);
            assert_eq!(policy.per_try_timeout, None);
        }
    }

    #[test]
    fn virtual_service_retries_replace_the_default() {
        let vs = HttpRetry {
            attempts: 3,
            per_try_timeout: Some(SimDuration::from_secs(2)),
            retry_on: Some("gateway-error,connect-failure,429".into()),
            retry_remote_localities: false,
        };
        let policy = route_policy(Some(&vs), IstioVersion::DEFAULT);
        assert_eq!(policy.num_retries, 3);
        assert!(policy.should_retry(TryOutcome::Response(503), 2));
        assert!(policy.should_retry(TryOutcome::Response(429), 0));
        assert!(!policy.should_retry(TryOutcome::Response(500), 0));
        let off = route_policy(Some(&HttpRetry { attempts: 0, ..HttpRetry::default() }), IstioVersion::DEFAULT);
        assert!(!off.should_retry(TryOutcome::ConnectFailure, 0));
    }
}
