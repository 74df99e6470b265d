//! Survivor sweeps (a node's leftovers, killed a moment after its main process ended) and the
//! end of the session: the last sweep, the `SessionEnded` record, the last answers.

use super::{Session, SessionOutcome};
use crate::event::{EventKind, ExitCause, Survivor};
use crate::supervisor::guardian::Guardian;
use crate::supervisor::input::Input;
use crate::supervisor::survivors::{self, SweepFailed};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How long survivors of a node's tree get after its main process ended before they are
/// killed (group members stopping in step with their leader finish in this time).
const SURVIVOR_GRACE_NS: u64 = 250_000_000;

/// The survivor sweeps of a session.
#[derive(Default)]
pub(super) struct Sweeps {
    /// (when, node) sweeps due.
    due: Vec<(u64, String)>,
    /// Sweeps under way on a blocking thread.
    running: usize,
}

impl Sweeps {
    pub(super) fn next_due(&self) -> Option<u64> {
        self.due.iter().map(|(t, _)| *t).min()
    }

    /// Whether any sweep is due or under way (the session waits for them).
    pub(super) fn busy(&self) -> bool {
        !self.due.is_empty() || self.running > 0
    }
}

impl Session {
    /// `node`'s main process ended at `t`: sweep its tree a moment later.
    pub(super) fn sweep_later(&mut self, node: String, t: u64) {
        self.sweeps.due.push((t + SURVIVOR_GRACE_NS, node));
    }

    /// Starts the sweeps due at `now`.
    pub(super) fn start_due_sweeps(&mut self, now: u64) {
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.sweeps.due).into_iter().partition(|(t, _)| *t <= now);
        self.sweeps.due = later;
        for (_, node) in due {
            // Off the loop: a sweep reads /proc and waits for what it killed to die, and the
            // loop must keep every other node's deadlines meanwhile.
            let known = self.probe.known(&node);
            let spare = self.spared_children();
            let run_id = self.run_id.clone();
            let tx = self.inputs_tx.clone();
            self.sweeps.running += 1;
            tokio::task::spawn_blocking(move || {
                // Whatever happens in it, the sweep reports back: the session waits for it.
                let swept = survivors::guarded(|| survivors::sweep(&node, &run_id, &known, &spare));
                let _ = tx.blocking_send(Input::Swept { node, survivors: swept });
            });
        }
    }

    /// A sweep is done: what it killed, or why it failed.
    pub(super) fn on_swept(&mut self, node: String, swept: Result<Vec<Survivor>, SweepFailed>) {
        self.sweeps.running = self.sweeps.running.saturating_sub(1);
        match swept {
            Ok(survivors) if survivors.is_empty() => {}
            Ok(survivors) => self.emit(EventKind::Survivors { node, survivors }),
            Err(failed) => self.emit(EventKind::SupervisorError { context: node, message: failed.to_string() }),
        }
    }

    /// Our children that are not leftovers: live node leaders and the guardian.
    pub(super) fn spared_children(&self) -> Vec<u32> {
        let mut spare = self.registry.lock().leader_pids();
        spare.extend(self.mode.guardian().map(Guardian::pid));
        spare
    }

    /// Sweeps what is left, records the end, says bye to the guardian, closes the journal.
    pub(super) fn finish(mut self) -> SessionOutcome {
        let spare = self.spared_children();
        // The session's end is recorded whatever the last sweep does.
        let left = survivors::guarded(|| survivors::sweep_all(&spare)).unwrap_or_else(|failed| {
            self.emit(EventKind::SupervisorError { context: "survivors".into(), message: failed.to_string() });
            Vec::new()
        });
        let mut by_node: BTreeMap<String, Vec<crate::event::Survivor>> = BTreeMap::new();
        let mut strays = Vec::new();
        for (node, s) in left {
            match node.filter(|n| self.hub.state.node(n).is_some()) {
                Some(n) => by_node.entry(n).or_default().push(s),
                None => strays.push(format!("{} ({})", s.pid, s.name)),
            }
        }
        for (node, survivors) in by_node {
            self.emit(EventKind::Survivors { node, survivors });
        }
        if !strays.is_empty() {
            let message = format!("killed {} leftover processes no node claimed: {}", strays.len(), strays.join(", "));
            self.emit(EventKind::SupervisorError { context: "survivors".into(), message });
        }
        let reason = if self.signals_seen > 0 {
            "stopped by a signal to gracewatch"
        } else if self.end_requested {
            "stopped"
        } else {
            "every node exited"
        };
        self.emit(EventKind::SessionEnded { reason: reason.into() });
        // Whoever still waits for a stop hears how it ended, whether or not every node did.
        self.answer_waiters_finally();
        if let Some(g) = self.mode.guardian_mut() {
            g.bye();
        }
        self.sockets.control_task.abort();
        self.sockets.node_task.abort();
        let _ = std::fs::remove_file(&self.sockets.control);
        let _ = std::fs::remove_file(&self.sockets.node);
        if let Some(dir) = self.mode.python_dir() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let summary: Vec<(String, Option<ExitCause>)> =
            self.hub.state.nodes.values().map(|n| (n.name.clone(), n.exit.as_ref().map(|e| e.cause))).collect();
        let clean = summary.iter().all(|(_, c)| c.is_some_and(ExitCause::is_clean));
        let journal = self.hub.journal_path().map(PathBuf::from);
        let journal_problem = self.hub.close_journal();
        SessionOutcome { journal, clean, summary, journal_problem }
    }
}
