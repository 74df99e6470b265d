//! Hazards about the course of a stop.

use super::{HazardId, Lint};
use crate::event::{ExitCause, StageAction};
use crate::state::NodeState;

pub(super) struct TokensStuck;

impl Lint for TokensStuck {
    fn id(&self) -> HazardId {
        HazardId::TokensStuck
    }
    fn summary(&self) -> &'static str {
        "Drop tokens are still held by receivers while the node is being stopped: the stop waits on them."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        if let Some(exit) = &node.exit {
            if exit.pending_tokens.is_empty() || exit.cause.is_clean() {
                return None;
            }
            let holders = holder_list(exit.pending_tokens.iter().flat_map(|t| t.holders.iter().map(String::as_str)));
            return Some(format!(
                "was killed with {} still held by {holders}",
                super::count(exit.pending_tokens.len(), "drop token")
            ));
        }
        let stop = node.stop.as_ref()?;
        // Only once the stop has gone past its first stage (the node had that stage to drain),
        // or the kill deadline had to move out for them.
        if (stop.stage_index <= 1 && stop.extensions == 0) || node.tokens.pending() == 0 {
            return None;
        }
        let holders = holder_list(node.tokens.holders().map(|(name, _)| name));
        Some(format!(
            "{} still held by {holders} while the stop waits",
            super::count(node.tokens.pending(), "drop token")
        ))
    }
}

fn holder_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    names.dedup();
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

pub(super) struct StopUnacknowledged;

impl Lint for StopUnacknowledged {
    fn id(&self) -> HazardId {
        HazardId::StopUnacknowledged
    }
    fn summary(&self) -> &'static str {
        "The node was sent the cooperative stop message and did not acknowledge it before the next stage."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        let stop = node.stop.as_ref()?;
        let sent = stop.message_sent_at?;
        if stop.acked_at.is_some() {
            return None;
        }
        let moved_on = stop.stage.is_some_and(|s| s != StageAction::Message)
            || node
                .exit
                .as_ref()
                .is_some_and(|e| matches!(e.cause, ExitCause::KilledAtDeadline | ExitCause::ForceKilled));
        moved_on.then(|| {
            let waited = stop.stage_entered_at.unwrap_or(sent).saturating_sub(sent);
            format!("did not acknowledge the stop message within {}", crate::util::fmt_ns(waited))
        })
    }
}

pub(super) struct SurvivorsAfterExit;

impl Lint for SurvivorsAfterExit {
    fn id(&self) -> HazardId {
        HazardId::SurvivorsAfterExit
    }
    fn summary(&self) -> &'static str {
        "Processes of the node's tree were still alive after its main process ended."
    }
    fn check(&self, node: &NodeState) -> Option<String> {
        if node.survivors.is_empty() {
            return None;
        }
        let names: Vec<String> = node.survivors.iter().take(4).map(|s| format!("{} ({})", s.pid, s.name)).collect();
        let detached = node.survivors.iter().filter(|s| s.detached).count();
        let detached = if detached > 0 { format!(", {detached} detached with setsid") } else { String::new() };
        let n = super::count(node.survivors.len(), "process");
        Some(format!("{n} of its tree outlived it: {}{detached}; gracewatch killed them", names.join(", ")))
    }
}
