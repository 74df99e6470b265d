//! The control socket protocol: `gracewatch ps`, `stop`, `attach` talking to a running
//! supervisor. JSON lines; a request per line, answered by one or more lines.

use crate::event::{Event, Signal};
use crate::state::{PsSnapshot, State};
use serde::{Deserialize, Serialize};

/// Client → supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// One `ps` snapshot.
    Ps,
    /// Stop nodes (or all). With `wait`, a `stopped` answer follows once they have exited.
    Stop {
        #[serde(default)]
        nodes: Vec<String>,
        #[serde(default)]
        all: bool,
        #[serde(default)]
        force: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<Signal>,
        #[serde(default)]
        wait: bool,
        /// Who is asking: `ctl` for the CLI, `operator` for a cockpit.
        #[serde(default = "default_by")]
        by: crate::event::Requester,
    },
    /// Send one signal to a node now (the cockpit's `x`).
    Signal { node: String, signal: Signal },
    /// Stream: a `state` answer, then every event as it happens.
    Attach,
}

fn default_by() -> crate::event::Requester {
    crate::event::Requester::Ctl
}

/// Supervisor → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    Ps {
        snapshot: PsSnapshot,
    },
    /// The stop was accepted for these nodes (others were already exited or unknown).
    Accepted {
        nodes: Vec<String>,
        plan: Vec<String>,
    },
    /// With `wait`: every node asked for has exited.
    Stopped {
        nodes: Vec<StoppedNode>,
    },
    /// The attach snapshot (also sent again after a client fell behind: `dropped` events
    /// were skipped and the state replaced).
    State {
        state: Box<State>,
        dropped: u64,
    },
    Event {
        event: Event,
    },
    /// A line to show the operator (the outcome of a request made while attached).
    Notice {
        message: String,
    },
    Error {
        message: String,
    },
    Ok,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoppedNode {
    pub node: String,
    pub cause: crate::event::ExitCause,
    pub status: String,
    /// From the stop request to the exit.
    pub took_ms: Option<u64>,
}
