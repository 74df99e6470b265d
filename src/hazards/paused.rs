//! A node paused while it is being stopped: it cannot act on its stop message or signal.
//!
//! A paused node at rest is no hazard (a debugger may hold it on purpose; the table says
//! "paused"). During a stop, every signal stage of the plan is followed by SIGCONT, which
//! resumes a process stopped by SIGSTOP or job control (`T`). What SIGCONT cannot resume is a
//! process held by a tracer (`t`: a debugger, strace): its stop signal waits until the tracer
//! lets it go, or until SIGKILL. So the hazard is raised for a traced process once a stage
//! other than the kill has begun; for a stopped one while the stop message waits for it (no
//! SIGCONT has been sent yet) or when a sample taken after the SIGCONT still finds it stopped.

use super::{HazardId, Lint};
use crate::event::{Paused, StageAction};
use crate::state::NodeState;

pub(super) struct PausedDuringStop;

impl Lint for PausedDuringStop {
    fn id(&self) -> HazardId {
        HazardId::PausedDuringStop
    }
    fn summary(&self) -> &'static str {
        "The node is paused (stopped, or held by a debugger) while it is being stopped: it cannot act on its stop message or signal, and will be killed at the deadline."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let stop = node.stop.as_ref()?;
        if node.exit.is_some() {
            return None;
        }
        let stage = stop.stage?;
        if stage == StageAction::Kill {
            return None; // SIGKILL ends a paused process too
        }
        let (p, paused) = node.paused_process()?;
        let who = match node.leader() {
            Some(leader) if leader.pid != p.pid => format!("its command {} (pid {}) ", p.name, p.pid),
            _ => String::new(),
        };
        let signal = stop.plan.first_signal().map_or_else(|| "its stop signal".to_string(), crate::event::Signal::name);
        match paused {
            Paused::Traced => Some(format!(
                "{who}is held by a debugger (a ptrace stop): SIGCONT cannot resume it, so {signal} stays pending \
                 until the debugger lets it go, or SIGKILL at the deadline"
            )),
            Paused::Stopped if stage == StageAction::Message && stop.continued_at.is_none() => Some(format!(
                "{who}is paused (SIGSTOP or job control): it cannot act on the stop message until gracewatch \
                 resumes it with SIGCONT after {signal}"
            )),
            Paused::Stopped => {
                let continued = stop.continued_at?;
                // Only a read taken after the SIGCONT says it stayed paused.
                let fresh = p.pid == node.pid? && node.leader_sampled_at.is_some_and(|t| t > continued);
                fresh.then(|| {
                    format!(
                        "{who}is still paused after SIGCONT (stopped again by SIGSTOP or job control): {signal} \
                         stays pending until it runs, or SIGKILL at the deadline"
                    )
                })
            }
        }
    }
}
