//! gracewatch: a process supervisor with a live terminal cockpit for the moment most tools leave
//! dark, stopping.
//!
//! Where things are:
//! - [`event`]: the one `Event` type (wire to attached clients, journal, replay input).
//! - [`state`]: the pure fold over events; [`hazards`]: the lints given to it; `hazard_id`:
//!   the hazards' names.
//! - [`manifest`]: `gracewatch.toml` and `Procfile`.
//! - `supervisor`: the live edges: spawner, reaper, sockets, the hub.
//! - [`stop_engine`]: stop plans and the timed course of every stop.
//! - [`probe`]: reading `/proc` (and the kernel's process events).
//! - [`journal`]: writing and reading JSON-lines journals.
//! - [`Error`]: the one error of the commands, with its exit status; printed once by [`cli`].
//! - [`control`]: the control socket protocol and session discovery (`ps`, `stop`, `attach`).
//! - [`node`]: the client library a Rust node uses to talk to gracewatch; [`wire`]: its protocol;
//!   [`signal`]: signals by name. All three are the `gracewatch-node` crate (`crates/`), re-exported.
//! - `sys`: the only module with `unsafe`: the syscalls std and rustix do not cover.
//!
//! The public modules are what the binary, the integration tests and the benches use; the rest
//! (`supervisor`, `sys`, `hazard_id` (its `HazardId` is [`hazards::HazardId`]), `clock`, `demo`,
//! `error` (its [`Error`] is re-exported) and `util`) is `pub(crate)`, and `unreachable_pub`
//! keeps every item as narrow as its module.

// Every `unsafe` block lives in `sys`, where each says why it is sound; the compiler holds the
// rest of the crate to that.
#![deny(unsafe_code)]
// Built without the cockpit (`--no-default-features --features supervisor`), the internals only
// the cockpit reads go unused: that build checks that the supervisor stands alone, not that
// everything is reached.
#![cfg_attr(not(feature = "tui"), allow(dead_code))]
#![warn(unreachable_pub)]

pub use gracewatch_node as node;
pub use gracewatch_node::{signal, wire};
#[allow(unsafe_code)]
pub(crate) mod sys;

#[cfg(feature = "supervisor")]
pub mod cli;
#[cfg(feature = "supervisor")]
pub(crate) mod clock;
#[cfg(feature = "supervisor")]
pub mod control;
#[cfg(feature = "supervisor")]
pub(crate) mod demo;
#[cfg(feature = "supervisor")]
pub(crate) mod error;
#[cfg(feature = "supervisor")]
pub mod event;
#[cfg(feature = "supervisor")]
pub(crate) mod hazard_id;
#[cfg(feature = "supervisor")]
pub(crate) use error::Error;
#[cfg(feature = "supervisor")]
pub mod hazards;
#[cfg(feature = "supervisor")]
pub mod journal;
#[cfg(feature = "supervisor")]
pub mod manifest;
#[cfg(feature = "supervisor")]
pub mod probe;
#[cfg(feature = "supervisor")]
pub mod replay;
#[cfg(feature = "supervisor")]
pub mod report;
#[cfg(feature = "supervisor")]
pub mod state;
#[cfg(feature = "supervisor")]
pub mod stop_engine;
#[cfg(feature = "supervisor")]
pub(crate) mod supervisor;
#[cfg(feature = "tui")]
pub mod tui;
#[cfg(feature = "supervisor")]
pub(crate) mod util;
