//! The discrete-event engine under meshsim.
//!
//! It knows nothing of meshes and does no I/O: integer simulated [`time`], a deterministic
//! event loop ([`Simulation`], [`Model`], [`Scheduler`]), named [`random`] streams derived from
//! one seed, and streaming [`stats`]. Same seed, same model: the same events in the same order,
//! on any machine.

mod engine;
mod queue;
pub mod random;
pub mod stats;
pub mod time;

pub use engine::{EventHandle, Model, Scheduler, Simulation, StopReason};
pub use random::{KeyedDraws, KeyedRng, RandomStreams, StreamRng};
pub use time::{ParseDurationError, SimDuration, SimTime};
