//! `istio.envoy_overrides`: cluster settings patched outside Istio's API, read and checked
//! against what the patches select.

use models::istio::api::DestinationRule;
use models::istio::envoy_filter::EnvoyOverride;
use models::istio::outlier::detector_config;
use models::mesh::app::App;

use super::file::{EnvoyOverrideDoc, ScenarioFile};

/// The patches, in order; an error is `(field path, message)`.
pub fn read(
    docs: &[EnvoyOverrideDoc],
    file: &ScenarioFile,
    app: &App,
    rules: &[DestinationRule],
) -> Result<Vec<EnvoyOverride>, (String, String)> {
    let services: Vec<&str> = app.services.iter().map(|s| s.name.as_str()).collect();
    let gateways: Vec<&str> = file.clusters.iter().flat_map(|c| c.gateways.iter().map(|g| g.name.as_str())).collect();
    let mut patches = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let field = |name: &str| format!("istio.envoy_overrides[{i}].{name}");
        if let Some(service) = &doc.service
            && !services.contains(&service.value.as_str())
        {
            let message = format!("unknown service {:?}; services are {}", service.value, services.join(", "));
            return Err((field("service"), message));
        }
        if let Some(proxies) = &doc.proxies
            && !services.contains(&proxies.value.as_str())
            && !gateways.contains(&proxies.value.as_str())
        {
            let message = format!(
                "{:?} is neither a service nor a gateway; name the service whose sidecars, or the gateway, to patch ({})",
                proxies.value,
                services.iter().chain(&gateways).copied().collect::<Vec<_>>().join(", ")
            );
            return Err((field("proxies"), message));
        }
        if let Some(threshold) = doc.healthy_panic_threshold.filter(|&t| t > 100) {
            return Err((field("healthy_panic_threshold"), format!("{threshold} is not a percentage (0 to 100)")));
        }
        let patch = EnvoyOverride {
            service: doc.service.as_ref().map(|s| s.value.clone()),
            proxies: doc.proxies.as_ref().map(|p| p.value.clone()),
            always_eject_one_host: doc.always_eject_one_host,
            max_ejection_time: doc.max_ejection_time.map(|d| d.0),
            update_merge_window: doc.update_merge_window.map(|d| d.0),
            healthy_panic_threshold: doc.healthy_panic_threshold,
        };
        // Envoy refuses a detector whose max_ejection_time is below its base_ejection_time
        // (`DetectorImpl::create`).
        if let Some(max) = patch.max_ejection_time {
            let selected = rules.iter().filter(|r| patch.service.as_deref().is_none_or(|s| s == r.host));
            for rule in selected {
                let Some(outlier) = rule.traffic_policy.as_ref().and_then(|p| p.outlier_detection.as_ref()) else {
                    continue;
                };
                let base = detector_config(outlier).base_ejection_time;
                if max < base {
                    let message = format!(
                        "{max} is below the baseEjectionTime {base} of DestinationRule {}, which Envoy refuses (max_ejection_time cannot be smaller than base_ejection_time)",
                        rule.name
                    );
                    return Err((field("max_ejection_time"), message));
                }
            }
        }
        patches.push(patch);
    }
    Ok(patches)
}
