//! One Envoy proxy's data-plane algorithms, split as Envoy splits them. Each module names the
//! Envoy source file it follows.

pub mod outlier_detection;
pub mod version;

pub use outlier_detection::{DetectorConfig, HostResult, OutlierDetector};
pub use version::EnvoyVersion;
