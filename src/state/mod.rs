//! `State`: what the pure fold over events has found, read by `ps`, the cockpit, replay and the
//! report. A [`Fold`] applies events to it (`fold.rs`, one handler file per domain under
//! `fold/`) and judges its nodes by the lints it was given (`lint.rs`); `sentence.rs` holds
//! every sentence said about an event, for the log, the steps of a stop and the report.

mod fold;
mod lint;
mod log;
mod masks;
mod node;
mod ps;
pub(crate) mod sentence;
mod stop;
mod tokens;

pub use fold::Fold;
pub use lint::{Lint, Lints};

pub(crate) use log::{Log, LogLine, LogSource};
pub(crate) use masks::MaskSeen;
pub(crate) use node::{
    ActiveHazard, CLAIMS_KEPT, ClaimRecord, Connection, ExitRecord, FORKS_KEPT, ForkRecord, NodeState, Phase,
    SignalRecord, is_shell, status_text,
};
pub use ps::{PsNode, PsSnapshot};
pub(crate) use sentence::stop_all_order;
pub use stop::{StepKind, StopProgress, StopStep};
pub(crate) use tokens::LedgerError;

use crate::event::{Header, ProbeMode, Requester};
use crate::hazard_id::HazardId;
use crate::manifest::NodeSpec;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub header: Option<Header>,
    /// `t` of the latest event applied.
    pub now: u64,
    /// `seq` of the latest event applied.
    pub last_seq: Option<u64>,
    pub events_applied: u64,
    pub nodes: IndexMap<String, NodeState>,
    pub log: Log,
    /// Hazards as they were raised, oldest first.
    pub hazard_feed: VecDeque<HazardNotice>,
    pub stop_all: Option<StopAll>,
    pub probe_mode: Option<(ProbeMode, String)>,
    pub supervisor_errors: u32,
    pub refused_connections: u32,
    /// Set when the session ended: when and why.
    pub ended: Option<(u64, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HazardNotice {
    pub t: u64,
    pub node: String,
    pub id: HazardId,
    pub sentence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopAll {
    pub t: u64,
    pub by: Requester,
    pub force: bool,
    pub tiers: Vec<Vec<String>>,
    /// The nodes each node waits for before its stop starts (empty in older journals: each
    /// tier then waited for the one before).
    #[serde(default)]
    pub waits: std::collections::BTreeMap<String, Vec<String>>,
}

/// Counts of nodes per phase, for headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseCounts {
    pub starting: usize,
    pub running: usize,
    pub stopping: usize,
    pub exited: usize,
}

impl State {
    /// The nodes that were started and have not exited, by name: what a stop of everything stops.
    pub fn alive_nodes(&self) -> Vec<String> {
        self.nodes.values().filter(|n| n.phase != Phase::Exited && n.pid.is_some()).map(|n| n.name.clone()).collect()
    }

    pub fn node(&self, name: &str) -> Option<&NodeState> {
        self.nodes.get(name)
    }

    pub fn session(&self) -> &str {
        self.header.as_ref().map_or("", |h| h.session.as_str())
    }

    pub fn counts(&self) -> PhaseCounts {
        let mut c = PhaseCounts::default();
        for n in self.nodes.values() {
            match n.phase {
                crate::state::Phase::Starting => c.starting += 1,
                crate::state::Phase::Running => c.running += 1,
                crate::state::Phase::Stopping => c.stopping += 1,
                crate::state::Phase::Exited => c.exited += 1,
            }
        }
        c
    }

    /// Has every node ended?
    pub fn all_exited(&self) -> bool {
        !self.nodes.is_empty() && self.nodes.values().all(|n| n.phase == Phase::Exited)
    }

    fn node_mut(&mut self, name: &str) -> &mut NodeState {
        if !self.nodes.contains_key(name) {
            self.nodes.insert(name.to_string(), NodeState::new(NodeSpec::with_defaults(name, Vec::new())));
        }
        // Present: inserted just above if it was missing.
        let idx = self.nodes.get_index_of(name).unwrap_or(0);
        &mut self.nodes[idx]
    }
}

/// Joins argv for display, quoting words that need it; control characters are shown as
/// `$'…\n…'` so a multi-line script stays on one readable line.
pub(crate) fn shell_join(argv: &[String]) -> String {
    if argv.iter().any(|a| a.chars().any(char::is_control)) {
        return argv
            .iter()
            .map(|a| {
                if a.chars().any(char::is_control) {
                    let escaped: String = a
                        .chars()
                        .map(|c| match c {
                            '\n' => "\\n".to_string(),
                            '\t' => "\\t".to_string(),
                            '\'' => "\\'".to_string(),
                            '\\' => "\\\\".to_string(),
                            c if c.is_control() => format!("\\x{:02x}", c as u32),
                            c => c.to_string(),
                        })
                        .collect();
                    format!("$'{escaped}'")
                } else {
                    shell_join(std::slice::from_ref(a))
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    argv.iter()
        .map(|a| {
            if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
