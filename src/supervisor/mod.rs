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

pub mod command;
pub mod control_server;
pub mod dispatch;
pub mod guardian;
pub mod headless;
pub mod hub;
pub mod input;
pub mod link;
pub mod node_server;
pub mod output;
pub mod permission;
pub mod python_client;
pub mod reaper;
pub mod registry;
pub mod session;
pub mod spawner;
pub mod survivors;

pub use command::Command;
pub use input::Input;
pub use session::{Session, SessionConfig, SessionHandle, SessionOutcome, Targets};
