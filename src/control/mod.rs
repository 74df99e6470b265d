//! Talking to a running supervisor: the control socket protocol, where sockets live, and the
//! `SessionLink` a cockpit reads (in-process under `up`, over the socket under `attach`).

pub(crate) mod client;
mod error;
pub mod link;
pub mod protocol;
pub mod remote_link;
pub(crate) mod session;

pub use error::Error;
