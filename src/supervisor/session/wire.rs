//! The session's side of the node wire protocol: turning node messages into events,
//! validating them against the folded state, cutting off a node that breaks the protocol.

use super::Session;
use crate::event::EventKind;
use crate::state::LedgerError;
use crate::supervisor::input::{ConnCommand, WireInput};
use crate::supervisor::node_server::Conn;

/// A node message that breaks the protocol (its connection is cut; the event says why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Violation {
    HelloTwice,
    /// A token issued twice, or released that was never lent to that receiver.
    Tokens(LedgerError),
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::HelloTwice => f.write_str("hello sent twice on one connection"),
            Violation::Tokens(e) => e.fmt(f),
        }
    }
}

impl Session {
    pub(super) fn send_stop_message(&mut self, node: &str, signal_in_ms: u64, kill_in_ms: u64) {
        let reason =
            self.hub.state.node(node).and_then(|n| n.stop.as_ref()).map_or("stop", |s| s.by.as_str()).to_string();
        let mut sent = false;
        for conn in self.conns.values().filter(|c| c.node == node && c.listening) {
            let msg = crate::wire::SupervisorMsg::Stop { reason: reason.clone(), signal_in_ms, kill_in_ms };
            sent |= conn.tx.try_send(ConnCommand::Send(msg)).is_ok();
        }
        if sent {
            self.emit(EventKind::StopMessageSent { node: node.to_string() });
        } else {
            let message = "the stop message could not be sent: the node is no longer connected".to_string();
            self.emit(EventKind::SupervisorError { context: node.to_string(), message });
        }
    }

    /// A message (or a connection change) from the node socket.
    pub(super) fn on_wire(&mut self, input: WireInput) {
        match input {
            WireInput::Connected { conn, node, pid, language, client_version, listens_stop, tx } => {
                self.emit(EventKind::NodeConnected { node: node.clone(), pid, language, client_version });
                if listens_stop {
                    self.emit(EventKind::StopListening { node: node.clone() });
                }
                self.conns.insert(conn, Conn { node, listening: listens_stop, tx });
            }
            WireInput::Refused { node, reason } => self.emit(EventKind::ConnectionRefused { node, reason }),
            WireInput::BadLine { conn, node, error } => self.cut(conn, &node, error),
            WireInput::Closed { conn, node, reason } => {
                if self.conns.remove(&conn).is_some() {
                    self.emit(EventKind::NodeDisconnected { node, reason });
                    self.release_drained_exits();
                }
            }
            WireInput::Message { conn, node, msg } => {
                // A cut connection's last lines are dropped.
                if self.conns.contains_key(&conn) {
                    match self.wire_event(conn, &node, msg) {
                        Ok(ev) => self.emit(ev),
                        Err(violation) => self.cut(conn, &node, violation.to_string()),
                    }
                }
            }
        }
    }

    /// The event a node message stands for, or why it breaks the protocol.
    fn wire_event(&mut self, conn: u64, node: &str, msg: crate::wire::NodeMsg) -> Result<EventKind, Violation> {
        use crate::wire::{NodeMsg, Outcome};
        let node_state = self.hub.state.node(node);
        let node = node.to_string();
        Ok(match msg {
            NodeMsg::Hello { .. } => return Err(Violation::HelloTwice),
            NodeMsg::ListenStop => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.listening = true;
                }
                EventKind::StopListening { node }
            }
            NodeMsg::Handler { signal, outcome, owner, thread, main_thread, error } => {
                let outcome = match outcome {
                    Outcome::Installed => crate::event::ClaimOutcome::Installed,
                    Outcome::Failed => crate::event::ClaimOutcome::Failed,
                    Outcome::Restored => crate::event::ClaimOutcome::Restored,
                };
                let claim = crate::event::HandlerClaim { signal, outcome, owner, thread, main_thread, error };
                EventKind::HandlerClaimed { node, claim }
            }
            NodeMsg::TokenIssued { id, receivers } => {
                if let Some(n) = node_state {
                    n.tokens.check_issue(id).map_err(Violation::Tokens)?;
                }
                EventKind::TokenIssued { node, id, receivers }
            }
            NodeMsg::TokenReleased { id, receiver } => {
                if let Some(n) = node_state {
                    n.tokens.check_release(id, &receiver).map_err(Violation::Tokens)?;
                }
                EventKind::TokenReleased { node, id, receiver }
            }
            NodeMsg::Fork { parent_pid, child_pid, threads, runtime, client_tids } => {
                let source = crate::event::ForkSource::Client;
                let fork = crate::event::ForkSeen {
                    parent_pid,
                    child_pid,
                    threads,
                    runtime: Some(runtime),
                    source,
                    client_tids,
                };
                self.probe.fork_seen(&node, fork.clone());
                EventKind::Fork { node, fork }
            }
            NodeMsg::StopAck => EventKind::StopAcked { node },
            NodeMsg::Dropped { count } => EventKind::ClientDropped { node, count },
        })
    }

    /// Cuts a connection that broke the protocol; the node keeps running.
    fn cut(&mut self, conn: u64, node: &str, error: String) {
        if let Some(c) = self.conns.remove(&conn) {
            let _ = c.tx.try_send(ConnCommand::Cut);
        }
        self.emit(EventKind::ProtocolError { node: node.to_string(), error });
        let reason = "cut: protocol error".to_string();
        self.emit(EventKind::NodeDisconnected { node: node.to_string(), reason });
        self.release_drained_exits();
    }
}
