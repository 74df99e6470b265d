//! The fold: a [`State`] and the lints it judges nodes by, fed one event at a time.
//!
//! [`Fold::apply`] matches every kind of event once, with no catch-all, and hands each one's
//! fields to the handler of its domain (`lifecycle`, `probe`, `stop`, `wire`): an event cannot
//! reach a handler that does not expect it, and a new kind does not compile until it is routed.
//! Each arm also says whether the event may have changed its node's hazards; the fold then
//! judges that node again with its lints. It does no I/O, reads no clock and owns no channel:
//! feed it the same events and it reaches the same state, live or from a journal.

mod lifecycle;
mod probe;
mod stop;
mod wire;

use super::lint::Lints;
use super::{LogLine, LogSource, State};
use crate::event::{Event, EventKind};

/// A state being folded, with the lints it is judged by. The lints are code, not data: a
/// stored or received [`State`] carries none, and folding goes on from it only through
/// `Fold::resume`, which takes them again.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    state: State,
    lints: Lints,
}

/// When an event happened, for the lines and records its handler writes.
#[derive(Debug, Clone, Copy)]
pub(super) struct At {
    pub(super) t: u64,
    pub(super) seq: u64,
}

impl Fold {
    /// An empty state, to be judged by `lints` (everywhere but in tests: `hazards::lints()`).
    pub fn new(lints: Lints) -> Self {
        Fold { state: State::default(), lints }
    }

    /// Goes on folding from a state that was stored (a replay checkpoint) or received (the
    /// attach snapshot), judged by `lints` from here on.
    pub fn resume(state: State, lints: Lints) -> Self {
        Fold { state, lints }
    }

    /// Replaces the state (a resync after falling behind), keeping the lints.
    pub(crate) fn replace(&mut self, state: State) {
        self.state = state;
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn into_state(self) -> State {
        self.state
    }

    /// Applies one event. Total: any event, in any order, leaves a consistent state.
    pub fn apply(&mut self, ev: &Event) {
        let s = &mut self.state;
        s.now = s.now.max(ev.t);
        s.last_seq = Some(ev.seq);
        s.events_applied += 1;
        let at = At { t: ev.t, seq: ev.seq };
        // Each arm says whether the event may have changed its node's hazards.
        let judge: Option<&str> = match &ev.ev {
            EventKind::SessionStarted(header) => {
                lifecycle::session_started(s, at, header);
                None
            }
            EventKind::SessionEnded { reason } => {
                lifecycle::session_ended(s, at, reason);
                None
            }
            EventKind::NodeSpawned { node, pid, pgid, argv } => {
                lifecycle::spawned(s, at, node, *pid, *pgid, argv);
                None
            }
            EventKind::SpawnFailed { node, error } => {
                lifecycle::spawn_failed(s, at, node, error);
                None
            }
            EventKind::ProcessAdopted { node, pid, argv, uid } => {
                lifecycle::adopted(s, at, node, *pid, argv, *uid);
                None
            }
            EventKind::Output { node, stream, line, truncated_from } => {
                lifecycle::output(s, at, node, *stream, line, *truncated_from);
                None
            }
            EventKind::NodeExited { node, pid, code, signal, cause, pending_tokens } => {
                lifecycle::exited(s, at, node, *pid, *code, *signal, *cause, pending_tokens);
                Some(node)
            }
            EventKind::Survivors { node, survivors } => {
                lifecycle::survivors(s, at, node, survivors);
                Some(node)
            }
            EventKind::SupervisorError { context, message } => {
                lifecycle::supervisor_error(s, at, context, message);
                None
            }
            EventKind::ProcSampled { node, sample } => {
                probe::sampled(s, at, node, sample);
                Some(node)
            }
            EventKind::ProcSettling { node, sample } => {
                probe::settling(s, node, sample);
                None
            }
            EventKind::ProcGone { node, pid } => probe::gone(s, node, *pid).then_some(node),
            EventKind::Usage { node, cpu_permille, rss_kib } => {
                probe::usage(s, at, node, *cpu_permille, *rss_kib);
                None
            }
            EventKind::Fork { node, fork } => {
                probe::fork(s, at, node, fork);
                None
            }
            EventKind::ForkResolved { node, child_pid, execd, threaded, uncertain } => {
                probe::fork_resolved(s, at, node, *child_pid, *execd, *threaded, *uncertain);
                Some(node)
            }
            EventKind::Exec { node, pid } => {
                probe::exec(s, node, *pid);
                None
            }
            EventKind::ProbeMode { mode, detail } => {
                probe::mode(s, at, *mode, detail);
                None
            }
            EventKind::StopRequested { node, by, mode, plan, kill_at } => {
                stop::requested(s, at, node, *by, *mode, plan, *kill_at);
                None
            }
            EventKind::StopAllRequested { by, force, tiers, waits } => {
                stop::all_requested(s, at, *by, *force, tiers, waits);
                None
            }
            EventKind::StageEntered { node, stage, deadline } => {
                stop::stage_entered(s, at, node, *stage, *deadline);
                Some(node)
            }
            EventKind::SignalSent { node, pid, target, signal, error, by } => {
                stop::signal_sent(s, at, node, *pid, *target, *signal, error.as_deref(), *by);
                Some(node)
            }
            EventKind::GraceExtended { node, deadline, pending_tokens } => {
                stop::grace_extended(s, at, node, *deadline, *pending_tokens);
                None
            }
            EventKind::StopMessageSent { node } => {
                stop::message_sent(s, at, node);
                None
            }
            EventKind::StopAcked { node } => {
                stop::acked(s, at, node);
                Some(node)
            }
            EventKind::NodeConnected { node, pid, language, client_version } => {
                wire::connected(s, at, node, *pid, language, client_version);
                Some(node)
            }
            EventKind::NodeDisconnected { node, reason } => {
                wire::disconnected(s, at, node, reason);
                Some(node)
            }
            EventKind::StopListening { node } => {
                wire::stop_listening(s, node);
                Some(node)
            }
            EventKind::ConnectionRefused { node, reason } => {
                wire::refused(s, at, node.as_deref(), reason);
                None
            }
            EventKind::ProtocolError { node, error } => {
                wire::protocol_error(s, at, node, error);
                None
            }
            EventKind::HandlerClaimed { node, claim } => {
                wire::handler_claimed(s, at, node, claim);
                Some(node)
            }
            EventKind::TokenIssued { node, id, receivers } => {
                wire::token_issued(s, at, node, *id, receivers).then_some(node)
            }
            EventKind::TokenReleased { node, id, receiver } => {
                wire::token_released(s, at, node, *id, receiver).then_some(node)
            }
            EventKind::ClientDropped { node, count } => {
                wire::client_dropped(s, node, *count);
                None
            }
        };
        if let Some(node) = judge {
            self.lints.recheck(&mut self.state, node, at);
        }
    }
}

impl std::ops::Deref for Fold {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

impl std::ops::DerefMut for Fold {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
    }
}

impl State {
    pub(super) fn say(&mut self, at: At, node: Option<&str>, source: LogSource, text: String) {
        self.log.push(LogLine { t: at.t, seq: at.seq, node: node.map(str::to_string), source, text });
    }
}
