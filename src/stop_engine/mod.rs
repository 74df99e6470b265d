//! The stop engine: turns stop requests into a timed course of stages (stop message, stop
//! signal, escalations, SIGKILL) and decides how each node's stop ended.
//!
//! [`plan`] is pure (used by the cockpit's confirm line too).

pub mod engine;
pub mod plan;

pub use engine::{Effect, RequestError, StopEngine};
pub use plan::Overrides;
