//! The one event type: what attached clients receive, what the journal stores, and what replay
//! reads back. Every edge of gracewatch (spawner, reaper, probe, node sockets, stop engine)
//! only ever produces [`EventKind`]s; the hub stamps them with `seq` and `t`.
//!
//! On disk and on the wire an event is one JSON line:
//! `{"seq":7,"t":1520331,"ev":{"node_spawned":{"node":"camera","pid":4242,...}}}`.

mod types;

pub use crate::signal::{SigSet, Signal};
pub use types::*;

use serde::{Deserialize, Serialize};

/// Major version of the journal/event format. Bumped on any change an older reader cannot
/// skip: a reader refuses a journal of a newer major.
pub const FORMAT_VERSION: u32 = 1;

/// Minor version of the journal/event format, within [`FORMAT_VERSION`]. Bumped on additions
/// an older reader of the same major skips (it reads every minor of its major).
/// - 0: events only.
/// - 1: checkpoint records (see `journal::checkpoint`) may follow any event.
pub const FORMAT_MINOR: u32 = 1;

/// One event with its envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Gap-free sequence number within a session, starting at 0 (the header).
    pub seq: u64,
    /// Nanoseconds since the session started, on the monotonic clock.
    pub t: u64,
    pub ev: EventKind,
}

impl Event {
    /// The node an event is about, if any.
    pub fn node(&self) -> Option<&str> {
        self.ev.node()
    }
}

/// Everything that can happen in a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Always the first event (seq 0): who, where, when, and the resolved manifest.
    SessionStarted(Box<Header>),
    /// The supervisor is exiting.
    SessionEnded {
        reason: String,
    },

    // ---- lifecycle (spawner, reaper) ----
    NodeSpawned {
        node: String,
        pid: u32,
        pgid: u32,
        argv: Vec<String>,
    },
    SpawnFailed {
        node: String,
        error: String,
    },
    /// A process gracewatch did not start was taken under watch (`gracewatch watch`).
    ProcessAdopted {
        node: String,
        pid: u32,
        argv: Vec<String>,
        uid: u32,
    },
    /// One line a node wrote. Lines longer than the limit are cut; `truncated_from` is the
    /// original length in bytes.
    Output {
        node: String,
        stream: Stream,
        line: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        truncated_from: Option<u32>,
    },
    NodeExited {
        node: String,
        pid: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<Signal>,
        cause: ExitCause,
        /// Drop tokens still lent out when the node ended (kept for the post-mortem).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pending_tokens: Vec<PendingToken>,
    },
    /// Members of a node's process tree still alive after its leader ended; they were killed.
    Survivors {
        node: String,
        survivors: Vec<Survivor>,
    },

    // ---- /proc probe and kernel process events ----
    /// A process of a node's tree, sampled, when anything but CPU and memory changed.
    ProcSampled {
        node: String,
        sample: ProcSample,
    },
    /// A node's main process as read while it is still starting up, before its signal
    /// dispositions count (an interpreter catches SIGINT before the script sets its SIGTERM
    /// handler): shown, marked as settling, never judged for hazards. Its `ProcSampled` follows
    /// once the start-up is over. Older readers skip it as an unknown kind.
    ProcSettling {
        node: String,
        sample: ProcSample,
    },
    /// A process of a node's tree is gone.
    ProcGone {
        node: String,
        pid: u32,
    },
    /// CPU (per mille of one core) and resident memory of a node's whole tree.
    Usage {
        node: String,
        cpu_permille: u32,
        rss_kib: u64,
    },
    /// A process of a node's tree forked (seen by the client library, the kernel connector,
    /// or the /proc probe).
    Fork {
        node: String,
        fork: ForkSeen,
    },
    /// What became of a forked child: did it exec, and did the extra threads outlive the fork.
    ForkResolved {
        node: String,
        child_pid: u32,
        execd: bool,
        threaded: bool,
        /// `threaded` rests on sampling `/proc` (thread start times in 10 ms clock ticks), not on
        /// the kernel connector's ordered events: a thread started in the child's own tick may
        /// have come just after the fork.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        uncertain: bool,
    },
    /// A process of a node's tree exec'd (kernel connector).
    Exec {
        node: String,
        pid: u32,
    },
    /// How process events are collected: the kernel connector or /proc polling.
    ProbeMode {
        mode: ProbeMode,
        detail: String,
    },

    // ---- stop engine ----
    StopRequested {
        node: String,
        by: Requester,
        mode: StopMode,
        plan: StopPlan,
        /// When SIGKILL lands, as the stop engine set it (request + grace). Journals written
        /// before it was carried have none: the fold then takes the event's time + grace.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kill_at: Option<u64>,
    },
    /// Stop of every node in reverse dependency order. `waits`: the nodes each node waits for
    /// (those that depend on it) before its own stop starts; a node not listed starts at once.
    /// `tiers` is the same order in levels (journals before `waits` have only these: each tier
    /// then waited for the whole tier before it).
    StopAllRequested {
        by: Requester,
        force: bool,
        tiers: Vec<Vec<String>>,
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        waits: std::collections::BTreeMap<String, Vec<String>>,
    },
    /// The stop of a node moved to a new stage; `deadline` is when the next one starts.
    StageEntered {
        node: String,
        stage: StageAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<u64>,
    },
    SignalSent {
        node: String,
        pid: u32,
        target: SignalTarget,
        signal: Signal,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Who asked for it: the stop engine's `plan`, the `operator` (the cockpit's `x`), …
        /// (absent in journals written before it was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Requester>,
    },
    /// The kill deadline moved out because drop tokens are still draining.
    GraceExtended {
        node: String,
        deadline: u64,
        pending_tokens: u32,
    },

    // ---- node wire protocol ----
    NodeConnected {
        node: String,
        pid: u32,
        language: String,
        client_version: String,
    },
    NodeDisconnected {
        node: String,
        reason: String,
    },
    /// The node now listens for the cooperative stop message.
    StopListening {
        node: String,
    },
    /// A connection was refused (bad secret, unknown node); `node` is what it claimed to be.
    ConnectionRefused {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        reason: String,
    },
    /// A node broke the protocol; its connection was cut, the node keeps running.
    ProtocolError {
        node: String,
        error: String,
    },
    HandlerClaimed {
        node: String,
        claim: HandlerClaim,
    },
    TokenIssued {
        node: String,
        id: u64,
        receivers: Vec<String>,
    },
    TokenReleased {
        node: String,
        id: u64,
        receiver: String,
    },
    /// The cooperative stop message was sent to the node.
    StopMessageSent {
        node: String,
    },
    StopAcked {
        node: String,
    },
    /// The node's client library dropped this many events (its queue was full).
    ClientDropped {
        node: String,
        count: u64,
    },

    // ---- the supervisor itself ----
    SupervisorError {
        context: String,
        message: String,
    },
}

impl EventKind {
    /// The node an event is about, if any.
    pub fn node(&self) -> Option<&str> {
        use EventKind as K;
        match self {
            K::SessionStarted(_)
            | K::SessionEnded { .. }
            | K::ProbeMode { .. }
            | K::StopAllRequested { .. }
            | K::SupervisorError { .. } => None,
            K::ConnectionRefused { node, .. } => node.as_deref(),
            K::NodeSpawned { node, .. }
            | K::SpawnFailed { node, .. }
            | K::ProcessAdopted { node, .. }
            | K::Output { node, .. }
            | K::NodeExited { node, .. }
            | K::Survivors { node, .. }
            | K::ProcSampled { node, .. }
            | K::ProcSettling { node, .. }
            | K::ProcGone { node, .. }
            | K::Usage { node, .. }
            | K::Fork { node, .. }
            | K::ForkResolved { node, .. }
            | K::Exec { node, .. }
            | K::StopRequested { node, .. }
            | K::StageEntered { node, .. }
            | K::SignalSent { node, .. }
            | K::GraceExtended { node, .. }
            | K::NodeConnected { node, .. }
            | K::NodeDisconnected { node, .. }
            | K::StopListening { node }
            | K::ProtocolError { node, .. }
            | K::HandlerClaimed { node, .. }
            | K::TokenIssued { node, .. }
            | K::TokenReleased { node, .. }
            | K::StopMessageSent { node }
            | K::StopAcked { node }
            | K::ClientDropped { node, .. } => Some(node),
        }
    }

    /// Events that mark the course of a stop: replay's `]`/`[` jump between these.
    pub fn is_stop_related(&self) -> bool {
        matches!(
            self,
            EventKind::StopRequested { .. }
                | EventKind::StopAllRequested { .. }
                | EventKind::StageEntered { .. }
                | EventKind::SignalSent { .. }
                | EventKind::GraceExtended { .. }
                | EventKind::NodeExited { .. }
                | EventKind::Survivors { .. }
        )
    }

    /// A short `snake_case` name of the kind, as in the journal.
    pub fn name(&self) -> &'static str {
        use EventKind as K;
        match self {
            K::SessionStarted(_) => "session_started",
            K::SessionEnded { .. } => "session_ended",
            K::NodeSpawned { .. } => "node_spawned",
            K::SpawnFailed { .. } => "spawn_failed",
            K::ProcessAdopted { .. } => "process_adopted",
            K::Output { .. } => "output",
            K::NodeExited { .. } => "node_exited",
            K::Survivors { .. } => "survivors",
            K::ProcSampled { .. } => "proc_sampled",
            K::ProcSettling { .. } => "proc_settling",
            K::ProcGone { .. } => "proc_gone",
            K::Usage { .. } => "usage",
            K::Fork { .. } => "fork",
            K::ForkResolved { .. } => "fork_resolved",
            K::Exec { .. } => "exec",
            K::ProbeMode { .. } => "probe_mode",
            K::StopRequested { .. } => "stop_requested",
            K::StopAllRequested { .. } => "stop_all_requested",
            K::StageEntered { .. } => "stage_entered",
            K::SignalSent { .. } => "signal_sent",
            K::GraceExtended { .. } => "grace_extended",
            K::NodeConnected { .. } => "node_connected",
            K::NodeDisconnected { .. } => "node_disconnected",
            K::StopListening { .. } => "stop_listening",
            K::ConnectionRefused { .. } => "connection_refused",
            K::ProtocolError { .. } => "protocol_error",
            K::HandlerClaimed { .. } => "handler_claimed",
            K::TokenIssued { .. } => "token_issued",
            K::TokenReleased { .. } => "token_released",
            K::StopMessageSent { .. } => "stop_message_sent",
            K::StopAcked { .. } => "stop_acked",
            K::ClientDropped { .. } => "client_dropped",
            K::SupervisorError { .. } => "supervisor_error",
        }
    }
}
