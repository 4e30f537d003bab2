//! The retry policy istiod puts on every HTTP route, by default or from a VirtualService.
//!
//! Follows `pilot/pkg/networking/core/route/retry/retry.go` (`DefaultPolicy`, `ConvertPolicy`,
//! `parseRetryOn`), spec §6: by default 2 retries on
//! `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`, with 503 as the
//! retriable status up to Istio 1.23 and none from 1.24; the `previous_hosts` predicate with 5
//! host-selection attempts; no per-try timeout. A VirtualService `retries` block replaces it
//! (`ConvertPolicy`): `attempts: 0` disables retries; numeric `retryOn` entries become retriable
//! status codes; `retryRemoteLocalities: true` adds the `previous_priorities` retry priority
//! with `update_frequency: 2`; `retryIgnorePreviousHosts` keeps or drops the `previous_hosts`
//! predicate; `backoff` sets the base interval (Envoy's max stays 10 × base).

use super::api::HttpRetry;
use super::version::IstioVersion;
use sim::SimDuration;

use crate::envoy::retry::{RetryOn, RetryPolicy};

/// `update_frequency` of the `previous_priorities` retry priority Istio configures.
const REMOTE_LOCALITIES_UPDATE_FREQUENCY: u32 = 2;

/// Istio's default `retryOn`.
const DEFAULT_RETRY_ON: &str = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/// The default route retry policy of this Istio release.
pub fn default_policy(version: IstioVersion) -> RetryPolicy {
    let mut policy =
        RetryPolicy { num_retries: 2, previous_hosts: true, host_selection_max_attempts: 5, ..RetryPolicy::none() };
    apply_retry_on(&mut policy, DEFAULT_RETRY_ON).expect("Istio's default conditions are Envoy's");
    if version.default_retries_retry_503() {
        policy.retriable_status_codes.push(503);
    }
    policy
}

/// The policy a route gets: the VirtualService's `retries` if given, else the default. An
/// error names a `retryOn` entry Istio's validation rejects.
pub fn route_policy(retries: Option<&HttpRetry>, version: IstioVersion) -> Result<RetryPolicy, String> {
    let Some(retries) = retries else { return Ok(default_policy(version)) };
    if retries.attempts == 0 {
        return Ok(RetryPolicy::none());
    }
    let mut policy = default_policy(version);
    policy.num_retries = retries.attempts;
    policy.per_try_timeout = retries.per_try_timeout;
    if let Some(retry_on) = &retries.retry_on {
        policy.retry_on = RetryOn::default();
        policy.retriable_status_codes.clear();
        apply_retry_on(&mut policy, retry_on)?;
    }
    if retries.retry_remote_localities {
        policy.previous_priorities = Some(REMOTE_LOCALITIES_UPDATE_FREQUENCY);
    }
    if let Some(ignore) = retries.retry_ignore_previous_hosts {
        policy.previous_hosts = ignore;
    }
    if let Some(base) = retries.backoff {
        policy.base_interval = base;
        policy.max_interval = SimDuration::from_nanos(base.as_nanos().saturating_mul(10));
    }
    Ok(policy)
}

/// The `retry_on` string Istio writes into the route (`parseRetryOn`, `ConvertPolicy`): the
/// conditions without the status codes, plus `retriable-status-codes` when codes were given.
pub fn retry_on_text(retries: Option<&HttpRetry>) -> String {
    let Some(text) = retries.and_then(|r| r.retry_on.as_deref()) else { return DEFAULT_RETRY_ON.to_owned() };
    let conditions: Vec<&str> = text.split(',').filter(|t| t.parse::<u16>().is_err()).collect();
    let mut out = conditions.join(",");
    if conditions.len() < text.split(',').count() && !conditions.contains(&"retriable-status-codes") {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str("retriable-status-codes");
    }
    out
}

/// The `retryOn` conditions Istio's validation accepts besides HTTP status codes
/// (`supportedRetryOnPolicies`, `pkg/config/validation/validation.go`): Envoy's
/// `reset-before-request` and `http3-post-connect-failure` are not among them.
const ISTIO_RETRY_ON: [&str; 14] = [
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// `parseRetryOn`: Envoy condition names set flags; numbers become retriable status codes (and
/// switch `retriable-status-codes` on). Entries are split at commas and not trimmed, as Istio's
/// validation (`validateHTTPRetry`) rejects anything that is neither a condition nor a status.
fn apply_retry_on(policy: &mut RetryPolicy, retry_on: &str) -> Result<(), String> {
    for token in retry_on.split(',') {
        if ISTIO_RETRY_ON.contains(&token) && policy.retry_on.set(token) {
            continue;
        }
        match token.parse::<u16>() {
            Ok(code @ 100..=599) => {
                policy.retry_on.retriable_status_codes = true;
                policy.retriable_status_codes.push(code);
            }
            Ok(code) => return Err(format!("{code} is not a valid HTTP status code")),
            Err(_) => {
                return Err(format!(
                    "{token:?} is not a valid retryOn policy; write comma-separated entries without spaces, each an HTTP status code or one of {}",
                    ISTIO_RETRY_ON.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envoy::retry::TryOutcome;

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
            retry_ignore_previous_hosts: None,
            backoff: None,
        };
        let policy = route_policy(Some(&vs), IstioVersion::DEFAULT).unwrap();
        assert_eq!(policy.num_retries, 3);
        assert!(policy.should_retry(TryOutcome::Response(503), 2));
        assert!(policy.should_retry(TryOutcome::Response(429), 0));
        assert!(!policy.should_retry(TryOutcome::Response(500), 0));
        let off =
            route_policy(Some(&HttpRetry { attempts: 0, ..HttpRetry::default() }), IstioVersion::DEFAULT).unwrap();
        assert!(!off.should_retry(TryOutcome::ConnectFailure, 0));
    }

    #[test]
    fn remote_localities_previous_hosts_and_backoff_follow_convert_policy() {
        let vs = HttpRetry {
            attempts: 2,
            retry_remote_localities: true,
            retry_ignore_previous_hosts: Some(false),
            backoff: Some(SimDuration::from_millis(100)),
            ..HttpRetry::default()
        };
        let policy = route_policy(Some(&vs), IstioVersion::DEFAULT).unwrap();
        assert_eq!(policy.previous_priorities, Some(2));
        assert!(!policy.previous_hosts);
        assert_eq!(policy.host_selection().picks, 1);
        assert_eq!(
            (policy.base_interval, policy.max_interval),
            (SimDuration::from_millis(100), SimDuration::from_secs(1))
        );
        let default =
            route_policy(Some(&HttpRetry { attempts: 2, ..HttpRetry::default() }), IstioVersion::DEFAULT).unwrap();
        assert_eq!(default.previous_priorities, None);
        assert!(default.previous_hosts);
    }

    #[test]
    fn the_retry_on_string_leaves_status_codes_to_their_own_field() {
        let with = |text: &str| HttpRetry { attempts: 2, retry_on: Some(text.into()), ..HttpRetry::default() };
        assert_eq!(retry_on_text(None), DEFAULT_RETRY_ON);
        assert_eq!(retry_on_text(Some(&with("gateway-error,503"))), "gateway-error,retriable-status-codes");
        assert_eq!(retry_on_text(Some(&with("5xx"))), "5xx");
    }

    #[test]
    fn retry_on_entries_istio_rejects_are_errors() {
        let with = |retry_on: &str| {
            let vs = HttpRetry { attempts: 2, retry_on: Some(retry_on.into()), ..HttpRetry::default() };
            route_policy(Some(&vs), IstioVersion::DEFAULT)
        };
        assert!(with("reset,retriable-4xx,503").is_ok());
        // Envoy knows it; Istio's validation does not take it.
        assert!(with("reset-before-request").unwrap_err().contains("is not a valid retryOn policy"));
        assert!(with("5xx, reset").unwrap_err().contains("\" reset\" is not a valid retryOn policy"));
        assert!(with("timeout").unwrap_err().contains("one of 5xx, gateway-error"));
        assert!(with("999").unwrap_err().contains("999 is not a valid HTTP status code"));
    }
}
