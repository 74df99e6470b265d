//! The resolved manifest: what the supervisor runs, written into every journal header.

use crate::signal::Signal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Default grace period.
pub(crate) const DEFAULT_GRACE_MS: u64 = 10_000;
/// Default cooperative window for nodes that listen for the stop message.
pub(crate) const DEFAULT_COOPERATIVE_MS: u64 = 2_000;
/// Default /proc probe interval while someone watches or a stop runs.
pub(crate) const DEFAULT_PROBE_INTERVAL_MS: u64 = 250;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Session name: the manifest's `name`, else its directory's name.
    pub name: String,
    /// Where it was read from (absent for `watch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Nodes in the order they are declared; they start in dependency order.
    pub nodes: Vec<NodeSpec>,
    /// Hazard levels set by the manifest (`allow` or `warn`); unlisted hazards warn.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hazards: BTreeMap<String, HazardLevel>,
    pub probe_interval_ms: u64,
    /// `watch --stop-signal`: the stop signal assumed for the processes taken under watch (their
    /// hazards are judged against it, and a stop sends it). Absent: SIGTERM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_stop_signal: Option<Signal>,
}

impl Manifest {
    pub fn node(&self, name: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The level of a hazard in this session.
    pub fn hazard_level(&self, id: &str) -> HazardLevel {
        self.hazards.get(id).copied().unwrap_or(HazardLevel::Warn)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HazardLevel {
    Allow,
    Warn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub name: String,
    pub cmd: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    pub stop_signal: Signal,
    pub grace_ms: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalate: Vec<Escalation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Signal the whole process group (default) or only the node's process.
    pub group: bool,
    /// How long a node that listens for the stop message gets before the stop signal.
    pub cooperative_ms: u64,
    /// Upper bound on extending the kill deadline while drop tokens drain.
    pub drain_extension_ms: u64,
}

impl NodeSpec {
    /// A node with every default, for tests and `watch`.
    pub fn with_defaults(name: &str, cmd: Vec<String>) -> NodeSpec {
        NodeSpec {
            name: name.to_string(),
            cmd,
            cwd: None,
            env: BTreeMap::new(),
            stop_signal: Signal::TERM,
            grace_ms: DEFAULT_GRACE_MS,
            escalate: Vec::new(),
            depends_on: Vec::new(),
            group: true,
            cooperative_ms: DEFAULT_COOPERATIVE_MS,
            drain_extension_ms: 0,
        }
    }
}

/// An intermediate stage: send `signal` `after_ms` after the previous stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    pub signal: Signal,
    pub after_ms: u64,
}
