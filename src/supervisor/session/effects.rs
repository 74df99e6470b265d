//! The stop engine's effects carried out, in order: events recorded, signals sent (to a
//! process group only while its leader is provably unreaped), stop messages sent.

use super::Session;
use crate::event::{EventKind, Requester, Signal, SignalTarget};
use crate::stop_engine::Effect;

impl Session {
    /// Executes the stop engine's effects in order; then the probe reads each node signalled
    /// (once all of its signals are sent: a SIGCONT follows each stop signal).
    pub(super) fn execute(&mut self, effects: Vec<Effect>) {
        let mut signalled: Vec<String> = Vec::new();
        for effect in effects {
            match effect {
                Effect::Emit(ev) => self.emit(ev),
                Effect::Signal { node, signal, group } => {
                    self.signal_node(&node, signal, group, Requester::Plan);
                    if !signalled.contains(&node) {
                        signalled.push(node);
                    }
                }
                Effect::SendStopMessage { node, signal_in_ms, kill_in_ms } => {
                    self.send_stop_message(&node, signal_in_ms, kill_in_ms);
                }
            }
        }
        for node in signalled {
            self.probe.sample_now(&node);
        }
    }

    /// Signals a node: its process group (only while the leader is provably unreaped, so the
    /// group id cannot have been recycled) or its process through its pidfd.
    pub(super) fn signal_node(&mut self, node: &str, signal: Signal, group: bool, by: Requester) {
        let Some(p) = self.procs.get(node) else {
            return;
        };
        let (pid, pgid) = (p.pid, p.pgid);
        let Some(sig) = rustix::process::Signal::from_named_raw(signal.number()) else {
            self.emit(EventKind::SupervisorError {
                context: node.to_string(),
                message: format!("{signal} cannot be sent"),
            });
            return;
        };
        let (target, result) = if group {
            let inner = self.registry.lock();
            let result = if inner.is_unreaped_leader(pid) {
                rustix::process::Pid::from_raw(pgid as i32)
                    .map_or(Err(rustix::io::Errno::SRCH), |pg| rustix::process::kill_process_group(pg, sig))
            } else {
                Err(rustix::io::Errno::SRCH)
            };
            drop(inner);
            (SignalTarget::Group, result)
        } else {
            (SignalTarget::Process, rustix::process::pidfd_send_signal(&p.pidfd, sig))
        };
        let error = result.err().map(|e| match e {
            rustix::io::Errno::SRCH => "no such process (already gone)".to_string(),
            rustix::io::Errno::PERM => crate::supervisor::permission::permission_refused(pid),
            e => e.to_string(),
        });
        self.emit(EventKind::SignalSent { node: node.to_string(), pid, target, signal, error, by: Some(by) });
    }
}
