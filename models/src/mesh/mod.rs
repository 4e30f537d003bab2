//! The simulated world: regions joined by a backbone, clusters of pods running the application,
//! istiod pushing endpoints, users sending requests, faults striking — and the proxies of
//! [`crate::envoy`] in every request path.

pub mod app;
pub mod config;
pub mod control_plane;
pub mod event_log;
pub mod metrics;
pub mod network;
pub mod summary;
pub mod topology;
pub mod world;
