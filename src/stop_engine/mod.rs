//! The stop engine: turns stop requests into a timed course of stages (stop message, stop
//! signal, escalations, SIGKILL) and decides how each node's stop ended.
//!
//! `request` is the one shape of a stop request, from every way in; [`plan`] is pure (used by
//! the cockpit's confirm line too).

pub(crate) mod engine;
pub mod plan;
pub(crate) mod request;

pub(crate) use engine::{Effect, StopEngine};
pub use plan::Overrides;
pub use request::{StopRequest, StopTargets};
