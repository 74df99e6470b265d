//! What a cockpit reads: a state to start from, a stream of updates, and a way to ask for
//! things. `up` builds it in-process from the hub; `attach` builds it from the control socket.

use super::protocol::Request;
use crate::event::Event;
use crate::state::State;

/// One change a cockpit must fold in.
#[derive(Debug, Clone)]
pub enum Update {
    /// Apply this event to the state.
    Event(Box<Event>),
    /// Replace the state (after falling behind; `dropped` events were skipped).
    Resync(Box<State>, u64),
    /// Something to show the operator for a moment (an answer to a request, an error).
    Notice(String),
    /// The session is gone (supervisor exited or the connection broke).
    Closed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    /// The cockpit runs inside the supervisor (`up`, `demo`): quitting stops the session.
    InProcess,
    /// Attached over the control socket: quitting detaches.
    Attached { socket: std::path::PathBuf },
}

pub struct SessionLink {
    pub kind: LinkKind,
    pub state: State,
    pub updates: tokio::sync::mpsc::Receiver<Update>,
    pub requests: tokio::sync::mpsc::Sender<Request>,
}
