//! Hazards from what instrumented nodes report about installing their signal handlers.

use super::{HazardId, Lint};
use crate::event::{ClaimOutcome, Disposition};
use crate::state::NodeState;

pub(super) struct HandlerInstallFailed;

impl Lint for HandlerInstallFailed {
    fn id(&self) -> HazardId {
        HazardId::HandlerInstallFailed
    }
    fn summary(&self) -> &'static str {
        "A library tried to install a signal handler and failed: the signal keeps whatever action it had."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let failed: Vec<_> = node.current_claims().filter(|c| c.claim.outcome == ClaimOutcome::Failed).collect();
        let first = failed.first()?;
        let c = &first.claim;
        let more = if failed.len() > 1 { format!(" (and {} more)", failed.len() - 1) } else { String::new() };
        Some(format!(
            "{} failed to install its {} handler from thread '{}': {}{more}",
            c.owner,
            c.signal,
            c.thread,
            c.error.as_deref().unwrap_or("no error given")
        ))
    }
}

pub(super) struct HandlerOffMainThread;

impl Lint for HandlerOffMainThread {
    fn id(&self) -> HazardId {
        HazardId::HandlerOffMainThread
    }
    fn summary(&self) -> &'static str {
        "A signal handler was claimed from a thread other than the main thread, where many runtimes refuse it or run it late."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let c = &node.current_claims().find(|c| !c.claim.main_thread)?.claim;
        Some(format!("{} claimed {} from thread '{}', not the main thread", c.owner, c.signal, c.thread))
    }
}

pub(super) struct HandlerLost;

impl Lint for HandlerLost {
    fn id(&self) -> HazardId {
        HazardId::HandlerLost
    }
    fn summary(&self) -> &'static str {
        "A handler a library installed is no longer installed: someone replaced or reset it."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let leader = node.live_leader()?;
        // A stopping process resets its own handlers on the way out (Python does at exit):
        // that is not a handler lost.
        if node.stop.is_some() {
            return None;
        }
        let sampled = node.leader_sampled_at?;
        node.current_claims()
            .filter(|c| c.claim.outcome == ClaimOutcome::Installed && c.t < sampled)
            .find(|c| leader.disposition(c.claim.signal) != Disposition::Caught)
            .map(|c| {
                format!(
                    "{} installed a {} handler but the kernel now shows {} as {}: it was replaced or reset",
                    c.claim.owner,
                    c.claim.signal,
                    c.claim.signal,
                    leader.disposition(c.claim.signal).as_str()
                )
            })
    }
}
