//! What the control socket and an in-process cockpit ask of the running session.

use crate::control::protocol::StoppedNode;
use crate::event::{Event, Requester, Signal};
use crate::state::{PsSnapshot, State};
use crate::stop_engine::Overrides;
use std::sync::Arc;
use tokio::sync::{broadcast, oneshot};

pub type Subscription = (Box<State>, broadcast::Receiver<Arc<Event>>);

pub enum Command {
    Ps(oneshot::Sender<PsSnapshot>),
    Stop {
        nodes: Vec<String>,
        all: bool,
        force: bool,
        overrides: Overrides,
        by: Requester,
        /// How the request was taken, or why nothing was stopped.
        reply: oneshot::Sender<Result<StopReply, String>>,
        /// With `--wait`: answered once every accepted node has exited.
        wait: Option<oneshot::Sender<Vec<StoppedNode>>>,
    },
    /// One signal now, outside any stop plan (the cockpit's `x`).
    Signal {
        node: String,
        signal: Signal,
        by: Requester,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Subscribe(oneshot::Sender<Subscription>),
    /// A cockpit attached (+1) or left (-1): the probe watches closer while anyone looks.
    Viewers(i32),
    /// End the session (stopping, by force, whatever still runs).
    End,
}

/// How a stop request was taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopReply {
    /// Nodes whose stop started, each with its plan.
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
