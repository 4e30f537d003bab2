//! How Istio turns DestinationRules, VirtualService retries and locality settings into each
//! proxy's Envoy configuration. Each module names the istiod source file it follows.

pub mod api;
pub mod cluster;
pub mod connection_pool;
pub mod envoy_filter;
pub mod locality;
pub mod outlier;
pub mod retry;
pub mod version;

pub use version::IstioVersion;
