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
//! The exit keeps the time it was reaped at.

use super::Session;
use crate::supervisor::reaper::Reaped;

/// The longest a reaped leader's exit waits for its pipes and connections to close.
pub const EXIT_DRAIN_NS: u64 = 100_000_000;

/// A reaped leader whose exit is not recorded yet.
pub(super) struct HeldExit {
    pub reaped: Reaped,
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

    /// The reaper's report of a leader: recorded now, or held until the node has said all.
    pub(super) fn on_leader_reaped(&mut self, reaped: Reaped) {
        match &reaped.node {
            Some(node) if self.still_talking(node) => {
                let until = reaped.t + EXIT_DRAIN_NS;
                self.held_exits.push(HeldExit { reaped, until });
            }
            _ => self.on_reaped(reaped),
        }
    }

    /// Records the held exits whose nodes have nothing left open.
    pub(super) fn release_drained_exits(&mut self) {
        let (ready, held): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held_exits)
            .into_iter()
            .partition(|h| h.reaped.node.as_deref().is_none_or(|n| !self.still_talking(n)));
        self.held_exits = held;
        for h in ready {
            self.on_reaped(h.reaped);
        }
    }

    /// Records the held exits whose wait is over at `now`.
    pub(super) fn release_overdue_exits(&mut self, now: u64) {
        let (due, held): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.held_exits).into_iter().partition(|h| h.until <= now);
        self.held_exits = held;
        for h in due {
            self.on_reaped(h.reaped);
        }
    }

    /// When the next held exit is due.
    pub(super) fn next_held_exit(&self) -> Option<u64> {
        self.held_exits.iter().map(|h| h.until).min()
    }
}
