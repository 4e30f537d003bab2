//! DestinationRule `connectionPool` → Envoy circuit breakers, connect timeout and
//! `max_requests_per_connection`.
//!
//! Follows `cluster_traffic_policy.go` (`applyConnectionPool`) and `cluster_builder.go`
//! (`getDefaultCircuitBreakerThresholds`), spec §7: every threshold defaults to 2³² − 1, values
//! are copied only when positive, the connect timeout defaults to 10 s.

use sim::SimDuration;

use super::api::ConnectionPoolSettings;
use crate::envoy::circuit_breaker::Thresholds;

/// The mesh's default `connectTimeout`.
pub const DEFAULT_CONNECT_TIMEOUT: SimDuration = SimDuration::from_secs(10);

/// What a `connectionPool` becomes on the Envoy cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolLimits {
    /// Circuit-breaker thresholds.
    pub thresholds: Thresholds,
    /// `max_requests_per_connection`, if set.
    pub max_requests_per_connection: Option<u32>,
    /// `connect_timeout`.
    pub connect_timeout: SimDuration,
}

/// Translates a `connectionPool` (or its absence).
pub fn pool_limits(settings: Option<&ConnectionPoolSettings>) -> PoolLimits {
    let mut limits = PoolLimits {
        thresholds: Thresholds::UNLIMITED,
        max_requests_per_connection: None,
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
    };
    let Some(s) = settings else { return limits };
    let positive = |v: i32| (v > 0).then_some(v as u32);
    if let Some(v) = positive(s.max_connections) {
        limits.thresholds.max_connections = v;
    }
    if let Some(v) = positive(s.http1_max_pending_requests) {
        limits.thresholds.max_pending_requests = v;
    }
    if let Some(v) = positive(s.http2_max_requests) {
        limits.thresholds.max_requests = v;
    }
    if let Some(v) = positive(s.max_retries) {
        limits.thresholds.max_retries = v;
    }
    limits.max_requests_per_connection = positive(s.max_requests_per_connection);
    if let Some(timeout) = s.connect_timeout {
        limits.connect_timeout = timeout;
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_values_are_copied() {
        assert_eq!(pool_limits(None).thresholds, Thresholds::UNLIMITED);
        assert_eq!(pool_limits(None).connect_timeout, SimDuration::from_secs(10));
        let seed = ConnectionPoolSettings { max_requests_per_connection: 1, ..ConnectionPoolSettings::default() };
        let limits = pool_limits(Some(&seed));
        assert_eq!(limits.max_requests_per_connection, Some(1));
        assert_eq!(limits.thresholds, Thresholds::UNLIMITED);
        let tight = ConnectionPoolSettings {
            max_connections: 1,
            http1_max_pending_requests: 1,
            http2_max_requests: 5,
            max_retries: -3,
            connect_timeout: Some(SimDuration::from_millis(250)),
            ..ConnectionPoolSettings::default()
        };
        let limits = pool_limits(Some(&tight));
        assert_eq!(
            limits.thresholds,
            Thresholds { max_connections: 1, max_pending_requests: 1, max_requests: 5, max_retries: u32::MAX }
        );
        assert_eq!(limits.connect_timeout, SimDuration::from_millis(250));
    }
}
