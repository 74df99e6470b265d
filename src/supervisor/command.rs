//! What the control socket and an in-process cockpit ask of the running session.

use crate::control::protocol::StoppedNode;
use crate::event::{Event, Requester, Signal};
use crate::state::{PsSnapshot, State};
use crate::stop_engine::StopRequest;
use std::sync::Arc;
use tokio::sync::{broadcast, oneshot};

pub(crate) type Subscription = (Box<State>, broadcast::Receiver<Arc<Event>>);

pub(crate) enum Command {
    Ps(oneshot::Sender<PsSnapshot>),
    Stop {
        request: StopRequest,
        /// How the request was taken, or why nothing was stopped.
        reply: oneshot::Sender<Result<StopReply, CommandError>>,
        /// With `--wait`: answered once every accepted node has exited.
        wait: Option<oneshot::Sender<Vec<StoppedNode>>>,
    },
    /// One signal now, outside any stop plan (the cockpit's `x`).
    Signal {
        node: String,
        signal: Signal,
        by: Requester,
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
    Subscribe(oneshot::Sender<Subscription>),
    /// A cockpit attached (+1) or left (-1): the probe watches closer while anyone looks.
    Viewers(i32),
    /// End the session (stopping, by force, whatever still runs).
    End,
}

/// How a stop request was taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StopReply {
    /// Nodes whose stop started (or, in a stop-all, will start), each with its plan said.
    pub accepted: Vec<(String, String)>,
    /// Nodes that had already ended, each said in a line: `a already exited (stopped, status 0)`.
    pub exited: Vec<String>,
    /// Nodes that were not stopped, and why (already stopping, not started, not ours).
    pub refused: Vec<String>,
    /// Names the session does not have: when any, nothing was stopped.
    pub unknown: Vec<String>,
    /// The session's nodes (to say which names it has when one is unknown).
    pub known: Vec<String>,
}

/// Why the session did not do what a command asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommandError {
    /// A stop that stopped nothing: every node named was refused, each with why.
    Refused(Vec<String>),
    /// A signal for a node with no process (not started, or exited).
    NotRunning(String),
    /// A signal for a node the session does not have.
    UnknownNode(String),
    /// The session ended before it answered.
    SessionEnded,
}

impl CommandError {
    /// The exit status for the CLI: 2 for a name the session does not have (bad input), 1
    /// otherwise.
    #[allow(dead_code)] // to be read by the one print site (the errors part of issue 11)
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CommandError::UnknownNode(_) => 2,
            _ => 1,
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::Refused(why) => f.write_str(&why.join("; ")),
            CommandError::NotRunning(node) => write!(f, "{node} is not running"),
            CommandError::UnknownNode(node) => write!(f, "no node named {node:?}"),
            CommandError::SessionEnded => f.write_str("the session ended"),
        }
    }
}

impl std::error::Error for CommandError {}
