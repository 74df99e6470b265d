//! The live supervisor: everything that touches processes, sockets and the clock.
//!
//! - [`session`]: the loop that owns the hub, the stop engine and the node processes.
//! - [`hub`]: stamps, journals, folds and broadcasts every event.
//! - [`spawner`], [`reaper`], [`registry`]: starting nodes, reaping every descendant, and the
//!   lock that keeps pidfds and group signals safe from pid recycling.
//! - [`input`]: what the edges hand the session loop (a leaf the edges and the session share).
//! - [`output`]: node stdout/stderr as events.
//! - [`control_server`], [`link`]: `ps`/`stop`/`attach`, and the cockpit's link; [`dispatch`]:
//!   the one way every request (socket, attached or in-process cockpit) becomes a [`Command`].
//! - [`guardian`], [`survivors`]: nothing escapes, even when gracewatch is killed.

pub(crate) mod command;
pub(crate) mod control_server;
pub(crate) mod dispatch;
pub(crate) mod guardian;
pub(crate) mod headless;
pub(crate) mod hub;
pub(crate) mod input;
pub(crate) mod link;
pub(crate) mod node_server;
pub(crate) mod output;
pub(crate) mod permission;
pub(crate) mod python_client;
pub(crate) mod reaper;
pub(crate) mod registry;
pub(crate) mod session;
pub(crate) mod spawner;
pub(crate) mod survivors;

pub(crate) use command::Command;
pub(crate) use session::{Session, SessionConfig, SessionHandle, SessionOutcome, Targets};
