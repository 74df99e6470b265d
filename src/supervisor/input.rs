//! What the edges hand the session loop: events from the probe and the output pumps, reaped
//! children, node messages, exits seen through pidfds or the kernel connector, finished
//! sweeps; and what the session hands back down a node connection. A leaf: the session, the
//! node socket and the output pumps all depend on it, none on each other.

use super::reaper::Reaped;
use crate::event::EventKind;
use crate::wire::{NodeMsg, SupervisorMsg};
use tokio::sync::mpsc;

/// Inputs from the edges.
pub(crate) enum Input {
    Event(u64, EventKind),
    Reaped(Reaped),
    Wire(WireInput),
    /// A watched process's pidfd says it has exited.
    PidfdExited {
        node: String,
        pid: u32,
        t: u64,
    },
    /// An exit status from the kernel connector.
    ProcExit(crate::probe::ProcExit),
    /// One of a node's output streams reached its end.
    StreamClosed {
        node: String,
    },
    /// A survivor sweep (run off the session loop) is done.
    Swept {
        node: String,
        /// The survivors killed, or why the sweep failed.
        survivors: Result<Vec<crate::event::Survivor>, super::survivors::SweepFailed>,
    },
}

/// What a connection task tells the session.
#[derive(Debug)]
pub(crate) enum WireInput {
    /// A connection presented a valid hello.
    Connected {
        conn: u64,
        node: String,
        pid: u32,
        language: String,
        client_version: String,
        listens_stop: bool,
        tx: mpsc::Sender<ConnCommand>,
    },
    Refused {
        node: Option<String>,
        reason: String,
    },
    Message {
        conn: u64,
        node: String,
        msg: NodeMsg,
    },
    /// The line could not be decoded: cut the connection.
    BadLine {
        conn: u64,
        node: String,
        error: String,
    },
    Closed {
        conn: u64,
        node: String,
        reason: String,
    },
}

/// What the session tells a connection.
#[derive(Debug)]
pub(crate) enum ConnCommand {
    Send(SupervisorMsg),
    /// Cut the connection (after a protocol error).
    Cut,
}
