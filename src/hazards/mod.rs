//! Hazards: lints over a node's folded state. Each has an id, a one-line summary of what it
//! means, and a sentence about the node that raised it. They are pure functions of
//! [`NodeState`]: computed in the fold, so live, replay and `ps --json` agree.

mod claims;
mod forks;
mod paused;
mod signals;
mod stops;

pub use signals::{BLOCK_PERSIST_READS, BLOCK_PERSIST_SPAN_MS, HELD_READS, HELD_SPAN_MS};

use crate::manifest::{HazardLevel, Manifest};
use crate::state::NodeState;
use serde::{Deserialize, Serialize};

/// Every hazard gracewatch knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HazardId {
    SigtermIgnored,
    StopSignalDefault,
    StopSignalBlocked,
    HandlerInstallFailed,
    HandlerOffMainThread,
    HandlerLost,
    ForkWithoutExecThreaded,
    TokensStuck,
    StopUnacknowledged,
    SurvivorsAfterExit,
    PausedDuringStop,
}

impl HazardId {
    pub const ALL: [HazardId; 11] = [
        HazardId::SigtermIgnored,
        HazardId::StopSignalDefault,
        HazardId::StopSignalBlocked,
        HazardId::HandlerInstallFailed,
        HazardId::HandlerOffMainThread,
        HazardId::HandlerLost,
        HazardId::ForkWithoutExecThreaded,
        HazardId::TokensStuck,
        HazardId::StopUnacknowledged,
        HazardId::SurvivorsAfterExit,
        HazardId::PausedDuringStop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HazardId::SigtermIgnored => "sigterm-ignored",
            HazardId::StopSignalDefault => "stop-signal-default",
            HazardId::StopSignalBlocked => "stop-signal-blocked",
            HazardId::HandlerInstallFailed => "handler-install-failed",
            HazardId::HandlerOffMainThread => "handler-off-main-thread",
            HazardId::HandlerLost => "handler-lost",
            HazardId::ForkWithoutExecThreaded => "fork-without-exec-threaded",
            HazardId::TokensStuck => "tokens-stuck",
            HazardId::StopUnacknowledged => "stop-unacknowledged",
            HazardId::SurvivorsAfterExit => "survivors-after-exit",
            HazardId::PausedDuringStop => "paused-during-stop",
        }
    }

    /// What the hazard means, in one line, independent of any node.
    pub fn summary(self) -> &'static str {
        lint(self).summary()
    }
}

impl std::fmt::Display for HazardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lint: looks at one node and, when the hazard is present, says so in one sentence.
pub trait Lint: Sync {
    fn id(&self) -> HazardId;
    /// One line: what this hazard is and why it matters.
    fn summary(&self) -> &'static str;
    /// `Some(sentence)` when the node has the hazard. The sentence does not start with the
    /// node's name; views prefix it.
    fn check(&self, node: &NodeState) -> Option<String>;
}

static LINTS: [&dyn Lint; 11] = [
    &signals::SigtermIgnored,
    &signals::StopSignalDefault,
    &signals::StopSignalBlocked,
    &claims::HandlerInstallFailed,
    &claims::HandlerOffMainThread,
    &claims::HandlerLost,
    &forks::ForkWithoutExecThreaded,
    &stops::TokensStuck,
    &stops::StopUnacknowledged,
    &stops::SurvivorsAfterExit,
    &paused::PausedDuringStop,
];

fn lint(id: HazardId) -> &'static dyn Lint {
    LINTS[HazardId::ALL.iter().position(|h| *h == id).unwrap_or(0)]
}

/// `1 drop token`, `3 drop tokens`, `2 processes`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if noun.ends_with('s') {
        format!("{n} {noun}es")
    } else {
        format!("{n} {noun}s")
    }
}

/// The hazards a node has now,in [`HazardId::ALL`] order, skipping those the manifest allows.
pub fn evaluate(node: &NodeState, manifest: Option<&Manifest>) -> Vec<(HazardId, String)> {
    LINTS
        .iter()
        .filter(|l| manifest.is_none_or(|m| m.hazard_level(l.id().as_str()) == HazardLevel::Warn))
        .filter_map(|l| l.check(node).map(|sentence| (l.id(), sentence)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hazard_has_a_lint_with_its_own_id() {
        for id in HazardId::ALL {
            assert_eq!(lint(id).id(), id);
            assert!(!id.summary().is_empty());
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{}\"", id.as_str()));
        }
    }
}
