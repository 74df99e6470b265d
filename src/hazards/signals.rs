//! Hazards read from the kernel's signal masks of the process the stop signal goes to.

use super::{HazardId, Lint};
use crate::event::{Disposition, ProcSample, Signal};
use crate::state::{NodeState, is_shell};

/// How a sentence names the process it is about: nothing for the node's leader, "its command
/// NAME (pid N, run by SHELL) " for the command a shell leader waits for
/// ([`NodeState::stop_target`]).
fn named(node: &NodeState, target: &ProcSample) -> String {
    match node.leader() {
        Some(leader) if leader.pid != target.pid => {
            format!("its command {} (pid {}, run by {}) ", target.name, target.pid, leader.name)
        }
        _ => String::new(),
    }
}

pub struct SigtermIgnored;

impl Lint for SigtermIgnored {
    fn id(&self) -> HazardId {
        HazardId::SigtermIgnored
    }
    fn summary(&self) -> &'static str {
        "The process ignores its stop signal: only SIGKILL at the end of the grace period will stop it."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let sig = node.stop_signal();
        let target = node.stop_target()?;
        (target.disposition(sig) == Disposition::Ignored).then(|| {
            format!(
                "{}ignores {sig} (its stop signal): only SIGKILL at the end of its grace period will stop it",
                named(node, target)
            )
        })
    }
}

pub struct StopSignalDefault;

impl Lint for StopSignalDefault {
    fn id(&self) -> HazardId {
        HazardId::StopSignalDefault
    }
    fn summary(&self) -> &'static str {
        "The stop signal is at its default action while the process handles other signals: it will die on the spot, without its cleanup."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let sig = node.stop_signal();
        let target = node.stop_target()?;
        if target.disposition(sig) != Disposition::Default || node.stops_cooperatively() {
            return None;
        }
        if let Some(claim) = node.failed_claim_for(sig) {
            return Some(format!(
                "{sig} is at its default action because {} could not install its handler: it will die without cleanup",
                claim.claim.owner
            ));
        }
        // A shell catches SIGINT for job control, waiting for a command or between two, and
        // a `trap ... INT` looks the same from here: a shell's SIGINT says nothing.
        let shell = is_shell(&target.name);
        let others: Vec<String> = Signal::SHOWN
            .iter()
            .filter(|s| **s != sig && target.caught.contains(**s) && !(shell && **s == Signal::INT))
            .map(|s| s.name())
            .collect();
        (!others.is_empty()).then(|| {
            let who = named(node, target);
            let subject = if who.is_empty() { format!("{sig} is") } else { format!("{who}has {sig}") };
            format!(
                "{subject} at its default action though it catches {}: it will die without cleanup",
                others.join(" and ")
            )
        })
    }
}

pub struct StopSignalBlocked;

impl Lint for StopSignalBlocked {
    fn id(&self) -> HazardId {
        HazardId::StopSignalBlocked
    }
    fn summary(&self) -> &'static str {
        "The stop signal is blocked on every thread: it stays pending and the stop waits for SIGKILL."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let sig = node.stop_signal();
        let target = node.stop_target()?;
        if target.disposition(sig) == Disposition::Ignored || !target.blocked_everywhere().contains(sig) {
            return None;
        }
        Some(format!(
            "{}blocks {sig} on all {} of its threads: the signal stays pending and the stop will end in SIGKILL",
            named(node, target),
            target.threads.len()
        ))
    }
}
