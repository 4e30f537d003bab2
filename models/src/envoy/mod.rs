//! One Envoy proxy's data-plane algorithms, split as Envoy splits them. Each module names the
//! Envoy source file it follows.

pub mod circuit_breaker;
pub mod cluster;
pub mod connection_pool;
pub mod edf;
pub mod host_set;
pub mod in_flight;
pub mod load_balancer;
pub mod locality_wrr;
pub mod outlier_detection;
pub mod per_host;
pub mod priority_load;
pub mod retry;
pub mod route;
pub mod stats;
pub mod update_merge;
pub mod version;

pub use outlier_detection::{DetectorConfig, HostResult, OutlierDetector};
pub use version::EnvoyVersion;
