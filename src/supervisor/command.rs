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
        /// Accepted nodes with their plans, or why nothing was stopped.
        reply: oneshot::Sender<Result<Vec<(String, String)>, String>>,
        /// With `--wait`: answered once every accepted node has exited.
        wait: Option<oneshot::Sender<Vec<StoppedNode>>>,
    },
    Signal {
        node: String,
        signal: Signal,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Subscribe(oneshot::Sender<Subscription>),
    /// A cockpit attached (+1) or left (-1): the probe watches closer while anyone looks.
    Viewers(i32),
    /// End the session (stopping, by force, whatever still runs).
    End,
}
