//! A node's exit is recorded after everything it said before it.
//!
//! A node's last output lines, and its last wire messages (a stop acknowledgement), are written
//! before it exits, but they reach the session through tasks that read its pipes and socket,
//! while its exit comes from the reaper thread: either can be first. Recording the exit at once
//! put "exited" before "stop acknowledged" in a journal, and a headless session that ends when
//! its nodes have could end before it had read their last lines, which were then lost.
//!
//! So a reaped leader's exit is held until its output pipes and its wire connections have
//! closed (they close when the last process holding them does), for at most [`EXIT_DRAIN`]:
//! a descendant that keeps the pipe open (a daemon, a forked child) must not hold the exit up.
//! The exit keeps the time it was reaped at, and its cause is decided then: the stop engine
//! forgets the node at once, so a deadline that falls while the exit is held kills nothing.

use super::Session;
use crate::event::{EventKind, ExitCause, Requester, Signal};
use crate::supervisor::reaper::Reaped;

/// The longest a reaped leader's exit waits for its pipes and connections to close.
pub(super) const EXIT_DRAIN_NS: u64 = 100_000_000;
/// An exit this soon after a signal someone sent by hand (the cockpit's `x`) is put down to
/// that signal ("signalled by the operator (SIGINT)"); later, the node ended on its own. A
/// node that dies *of* that signal is put down to it whenever it dies.
const SIGNALLED_WINDOW_NS: u64 = 30_000_000_000;

/// A reaped leader whose exit is not recorded yet.
pub(super) struct HeldExit {
    pub reaped: Reaped,
    pub node: String,
    /// Decided when it was reaped.
    pub cause: ExitCause,
    /// Session time after which it is recorded whatever is still open.
    pub until: u64,
}

impl Session {
    /// A node's output stream was opened (its pump started).
    pub(super) fn stream_opened(&mut self, node: &str) {
        *self.open_streams.entry(node.to_string()).or_default() += 1;
    }

    /// A node's output stream reached its end.
    pub(super) fn stream_closed(&mut self, node: &str) {
        if let Some(n) = self.open_streams.get_mut(node) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.open_streams.remove(node);
            }
        }
        self.release_drained_exits();
    }

    /// Whether anything the node may still say is open: an output pipe or a wire connection.
    fn still_talking(&self, node: &str) -> bool {
        self.open_streams.contains_key(node) || self.conns.values().any(|c| c.node == node)
    }

    /// The reaper's report of a leader: its cause decided now, its exit recorded now or once
    /// the node has said all.
    pub(super) fn on_leader_reaped(&mut self, reaped: Reaped) {
        let Some(node) = reaped.node.clone() else {
            tracing::debug!("reaped descendant {} ({:?}/{:?})", reaped.pid, reaped.code, reaped.signal);
            return;
        };
        let cause = self.exit_cause(&reaped, &node);
        if self.still_talking(&node) {
            let until = reaped.t + EXIT_DRAIN_NS;
            self.held_exits.push(HeldExit { reaped, node, cause, until });
        } else {
            self.record_exit(&reaped, node, cause);
        }
    }

    /// Records the held exits whose nodes have nothing left open.
    pub(super) fn release_drained_exits(&mut self) {
        let (ready, held): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.held_exits).into_iter().partition(|h| !self.still_talking(&h.node));
        self.held_exits = held;
        for h in ready {
            self.record_exit(&h.reaped, h.node, h.cause);
        }
    }

    /// Records the held exits whose wait is over at `now`.
    pub(super) fn release_overdue_exits(&mut self, now: u64) {
        let (due, held): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.held_exits).into_iter().partition(|h| h.until <= now);
        self.held_exits = held;
        for h in due {
            self.record_exit(&h.reaped, h.node, h.cause);
        }
    }

    /// When the next held exit is due.
    pub(super) fn next_held_exit(&self) -> Option<u64> {
        self.held_exits.iter().map(|h| h.until).min()
    }

    /// A node's leader was reaped: its cause is decided now, at the instant it ended (the stop
    /// engine forgets it, so no later stage is entered for it, and nothing is signalled); the
    /// exit is recorded by [`Session::record_exit`], at once or once it has said all
    /// ([`exits`]).
    pub(super) fn exit_cause(&mut self, r: &Reaped, node: &str) -> ExitCause {
        let sent = self.signalled_by_hand(node, r.t, r.signal);
        self.procs.remove(node);
        self.engine.on_exit(node, r.code, r.signal, sent)
    }

    pub(super) fn record_exit(&mut self, r: &Reaped, node: String, cause: ExitCause) {
        // A stop requested while the exit was held (the state still said running) ends here.
        let _ = self.engine.on_exit(&node, r.code, r.signal, None);
        let pending_tokens = self
            .hub
            .state
            .node(&node)
            .map(|n| if n.tokens.pending() > 0 { n.tokens.pending_tokens(r.t, 1000) } else { Vec::new() })
            .unwrap_or_default();
        self.hub.push(
            r.t,
            EventKind::NodeExited {
                node: node.clone(),
                pid: r.pid,
                code: r.code,
                signal: r.signal,
                cause,
                pending_tokens,
            },
        );
        self.probe.unwatch(&node);
        self.sweep_later(node, r.t);
        let now = self.now();
        let effects = self.engine.tick(&self.hub.state, now);
        self.execute(effects);
        self.answer_waiters();
    }

    /// The signal sent to `node` by hand (not by a stop plan) that its exit at `t` is put down
    /// to, if any: the one it died of, or one it handled by exiting (with a status, or with no
    /// status known) shortly after. A death by another signal is not the sender's: a node sent
    /// SIGHUP to reload that dies of SIGSEGV later crashed.
    pub(super) fn signalled_by_hand(&self, node: &str, t: u64, died_of: Option<Signal>) -> Option<(Signal, Requester)> {
        let sent = self.hub.state.node(node)?.signalled?;
        let credited = match died_of {
            Some(signal) => signal == sent.signal,
            None => t.saturating_sub(sent.t) <= SIGNALLED_WINDOW_NS,
        };
        credited.then_some((sent.signal, sent.by))
    }
}
