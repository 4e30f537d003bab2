//! DestinationRule `outlierDetection` → Envoy's outlier detector and panic threshold.
//!
//! Follows `pilot/pkg/networking/core/cluster_traffic_policy.go` (`applyOutlierDetection`,
//! `applyLoadBalancer`), spec §2: only what the rule sets is copied; an absent
//! `consecutive5xxErrors` leaves Envoy's 5 (enforcing 100 %) on; `maxEjectionPercent` is copied
//! only if positive (else Envoy's 10 %); success-rate enforcement is always 0; and the panic
//! threshold becomes `minHealthPercent` (0 unless set) whenever the rule has outlier detection,
//! Envoy's 50 % otherwise.

use super::api::OutlierDetection;
use crate::envoy::outlier_detection::DetectorConfig;

/// Envoy's default `healthy_panic_threshold` (percent), kept when there is no outlier detection.
pub const ENVOY_DEFAULT_PANIC_THRESHOLD: u32 = 50;

/// The detector a cluster gets for this `outlierDetection`.
pub fn detector_config(outlier: &OutlierDetection) -> DetectorConfig {
    let mut config = DetectorConfig { enforcing_success_rate: 0, ..DetectorConfig::default() };
    if let Some(n) = outlier.consecutive_5xx_errors {
        config.consecutive_5xx = n;
        config.enforcing_consecutive_5xx = if n > 0 { 100 } else { 0 };
    }
    if let Some(n) = outlier.consecutive_gateway_errors {
        config.consecutive_gateway_failure = n;
        config.enforcing_consecutive_gateway_failure = if n > 0 { 100 } else { 0 };
    }
    if let Some(interval) = outlier.interval {
        config.interval = interval;
    }
    if let Some(base) = outlier.base_ejection_time {
        config.base_ejection_time = base;
        // Envoy's own default for max_ejection_time is max(300 s, base).
        config.max_ejection_time = config.max_ejection_time.max(base);
    }
    if outlier.max_ejection_percent > 0 {
        config.max_ejection_percent = outlier.max_ejection_percent as u32;
    }
    if outlier.split_external_local_origin_errors {
        config.split_external_local_origin_errors = true;
        if let Some(n) = outlier.consecutive_local_origin_failures.filter(|&n| n > 0) {
            config.consecutive_local_origin_failure = n;
            config.enforcing_consecutive_local_origin_failure = 100;
        }
        config.enforcing_local_origin_success_rate = 0;
    }
    config
}

/// The cluster's `healthy_panic_threshold` in percent.
pub fn panic_threshold(outlier: Option<&OutlierDetection>) -> u32 {
    match outlier {
        Some(o) => o.min_health_percent.clamp(0, 100) as u32,
        None => ENVOY_DEFAULT_PANIC_THRESHOLD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::SimDuration;

    #[test]
    fn the_seed_rule_translates_field_by_field() {
        // consecutive5xxErrors 1, interval 1s, baseEjectionTime 1m; nothing else.
        let rule = OutlierDetection {
            consecutive_5xx_errors: Some(1),
            interval: Some(SimDuration::from_secs(1)),
            base_ejection_time: Some(SimDuration::from_secs(60)),
            ..OutlierDetection::default()
        };
        let config = detector_config(&rule);
        assert_eq!(config.consecutive_5xx, 1);
        assert_eq!(config.enforcing_consecutive_5xx, 100);
        assert_eq!(config.interval, SimDuration::from_secs(1));
        assert_eq!(config.base_ejection_time, SimDuration::from_secs(60));
        assert_eq!(config.max_ejection_percent, 10, "unset maxEjectionPercent keeps Envoy's 10 %");
        assert_eq!(config.enforcing_success_rate, 0);
        assert_eq!(config.enforcing_consecutive_gateway_failure, 0, "gateway detector stays inert");
        assert_eq!(panic_threshold(Some(&rule)), 0, "outlier detection turns panic off");
        assert_eq!(panic_threshold(None), 50);
    }

    #[test]
    fn absent_fields_keep_envoy_defaults_and_zero_disables() {
        let config = detector_config(&OutlierDetection::default());
        assert_eq!((config.consecutive_5xx, config.enforcing_consecutive_5xx), (5, 100));
        let off = detector_config(&OutlierDetection { consecutive_5xx_errors: Some(0), ..OutlierDetection::default() });
        assert_eq!((off.consecutive_5xx, off.enforcing_consecutive_5xx), (0, 0));
        let pct = detector_config(&OutlierDetection { max_ejection_percent: 100, ..OutlierDetection::default() });
        assert_eq!(pct.max_ejection_percent, 100);
        let long = detector_config(&OutlierDetection {
            base_ejection_time: Some(SimDuration::from_secs(600)),
            ..OutlierDetection::default()
        });
        assert_eq!(long.max_ejection_time, SimDuration::from_secs(600));
        let split = detector_config(&OutlierDetection {
            split_external_local_origin_errors: true,
            consecutive_local_origin_failures: Some(2),
            ..OutlierDetection::default()
        });
        assert!(split.split_external_local_origin_errors);
        assert_eq!(split.consecutive_local_origin_failure, 2);
        assert_eq!(
            panic_threshold(Some(&OutlierDetection { min_health_percent: 50, ..OutlierDetection::default() })),
            50
        );
    }
}
