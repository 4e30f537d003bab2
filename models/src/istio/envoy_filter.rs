//! Cluster settings users change outside Istio's API, with an EnvoyFilter `CLUSTER` patch
//! (`applyTo: CLUSTER`, `operation: MERGE`) on some workloads' sidecars or gateways: the outlier
//! detector's `always_eject_one_host` and `max_ejection_time`, `common_lb_config`'s
//! `update_merge_window` and `healthy_panic_threshold`. Istio merges the patch into the cluster
//! it generated (`pilot/pkg/networking/core/envoyfilter/cluster_patch.go`), so a patch wins
//! over what the DestinationRule implied, and patches apply in the order written.

use std::rc::Rc;

use sim::SimDuration;

use crate::envoy::cluster::ClusterSettings;

/// One cluster patch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvoyOverride {
    /// The upstream service whose clusters (every subset) it patches; `None`: every cluster.
    pub service: Option<String>,
    /// The workload whose proxies it patches: a service (its pods' sidecars) or a gateway;
    /// `None`: every proxy.
    pub proxies: Option<String>,
    /// `outlier_detection.always_eject_one_host`.
    pub always_eject_one_host: Option<bool>,
    /// `outlier_detection.max_ejection_time`.
    pub max_ejection_time: Option<SimDuration>,
    /// `common_lb_config.update_merge_window`.
    pub update_merge_window: Option<SimDuration>,
    /// `common_lb_config.healthy_panic_threshold`, percent.
    pub healthy_panic_threshold: Option<u32>,
}

impl EnvoyOverride {
    /// Whether the patch selects the cluster of `service` on the proxies of `workload`.
    pub fn selects(&self, workload: &str, service: &str) -> bool {
        self.proxies.as_deref().is_none_or(|p| p == workload) && self.service.as_deref().is_none_or(|s| s == service)
    }

    /// Merges the patch into a cluster's settings. The detector's fields change only where the
    /// cluster has outlier detection (a patch cannot create a detector from these fields).
    pub fn apply(&self, settings: &mut ClusterSettings) {
        if let Some(detector) = settings.outlier_detection.as_mut().map(Rc::make_mut) {
            if let Some(always) = self.always_eject_one_host {
                detector.always_eject_one_host = always;
            }
            if let Some(max) = self.max_ejection_time {
                detector.max_ejection_time = max;
            }
        }
        if let Some(window) = self.update_merge_window {
            settings.update_merge_window = window;
        }
        if let Some(threshold) = self.healthy_panic_threshold {
            settings.lb.panic_threshold = threshold;
        }
    }
}

/// `settings` with every patch that selects `service`'s cluster on `workload`'s proxies applied
/// in order: the same shared settings when none selects it, a copy of their own otherwise.
pub fn patched(
    overrides: &[EnvoyOverride],
    workload: &str,
    service: &str,
    mut settings: Rc<ClusterSettings>,
) -> Rc<ClusterSettings> {
    if overrides.iter().any(|o| o.selects(workload, service)) {
        apply_all(overrides, workload, service, Rc::make_mut(&mut settings));
    }
    settings
}

/// Applies, in order, every patch that selects `service`'s cluster on `workload`'s proxies.
pub fn apply_all(overrides: &[EnvoyOverride], workload: &str, service: &str, settings: &mut ClusterSettings) {
    for patch in overrides.iter().filter(|o| o.selects(workload, service)) {
        patch.apply(settings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::istio::api::{DestinationRule, OutlierDetection, TrafficPolicy};
    use crate::istio::cluster::{MeshSettings, build};
    use crate::istio::locality::Client;

    fn reviews(outlier: bool) -> ClusterSettings {
        let rule = DestinationRule {
            name: "reviews".into(),
            host: "reviews".into(),
            traffic_policy: Some(TrafficPolicy {
                outlier_detection: outlier.then(OutlierDetection::default),
                ..TrafficPolicy::default()
            }),
            subsets: Vec::new(),
        };
        build(&MeshSettings::default(), &Client::default(), 2, Some(&rule), None, &[]).unwrap().settings
    }

    #[test]
    fn patches_select_by_workload_and_service_and_apply_in_order() {
        let patches = [
            EnvoyOverride {
                always_eject_one_host: Some(true),
                max_ejection_time: Some(SimDuration::from_secs(60)),
                healthy_panic_threshold: Some(30),
                ..EnvoyOverride::default()
            },
            EnvoyOverride {
                service: Some("reviews".into()),
                proxies: Some("productpage".into()),
                update_merge_window: Some(SimDuration::ZERO),
                healthy_panic_threshold: Some(0),
                ..EnvoyOverride::default()
            },
        ];
        let mut settings = reviews(true);
        assert_eq!(settings.lb.panic_threshold, 0, "Istio's outlier detection turns panic off");
        apply_all(&patches, "productpage", "reviews", &mut settings);
        let detector = settings.outlier_detection.unwrap();
        assert!(detector.always_eject_one_host);
        assert_eq!(detector.max_ejection_time, SimDuration::from_secs(60));
        assert_eq!((settings.update_merge_window, settings.lb.panic_threshold), (SimDuration::ZERO, 0));
        // The ingress gateway's clusters get the first patch only.
        let mut gateway = reviews(true);
        apply_all(&patches, "ingressgateway", "reviews", &mut gateway);
        assert_eq!((gateway.update_merge_window, gateway.lb.panic_threshold), (SimDuration::from_secs(1), 30));
        // Without outlier detection there is no detector to patch.
        let mut plain = reviews(false);
        apply_all(&patches, "productpage", "reviews", &mut plain);
        assert_eq!(plain.outlier_detection, None);
    }

    #[test]
    fn unpatched_settings_stay_shared_and_patched_ones_are_copied() {
        let patch = EnvoyOverride {
            proxies: Some("productpage".into()),
            healthy_panic_threshold: Some(30),
            ..EnvoyOverride::default()
        };
        let shared = Rc::new(reviews(true));
        let gateway = patched(std::slice::from_ref(&patch), "ingressgateway", "reviews", Rc::clone(&shared));
        assert!(Rc::ptr_eq(&gateway, &shared), "nothing selects the gateway: no copy");
        let productpage = patched(&[patch], "productpage", "reviews", Rc::clone(&shared));
        assert!(!Rc::ptr_eq(&productpage, &shared));
        assert_eq!((productpage.lb.panic_threshold, shared.lb.panic_threshold), (30, 0));
    }
}
