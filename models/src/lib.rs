//! The mesh meshsim simulates. Pure logic on `sim` time: no I/O, no file formats, no threads.
//!
//! - [`envoy`]: the data-plane algorithms of one Envoy proxy, one module per algorithm as Envoy
//!   splits them (outlier detection, priority load, locality and host picking, retries,
//!   circuit breakers, update merging).
//! - [`istio`]: how Istio turns DestinationRules and locality settings into each proxy's Envoy
//!   configuration.
//! - [`mesh`]: the world they run in: network, control plane, application, workload, faults.

pub mod envoy;
pub mod istio;
pub mod mesh;
