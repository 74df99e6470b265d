//! A stop, as asked: which nodes, how, with which changes to their plans, and who asked. The
//! one shape every way in uses: the cockpit's confirm line holds it, the control protocol
//! carries it (`gracewatch stop`, an attached cockpit), the session's command hands it to the
//! stop engine.

use super::plan::Overrides;
use crate::event::{Requester, Signal, StopMode};
use serde::{Deserialize, Serialize};

/// Which nodes a stop is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopTargets {
    /// Every node still running, in reverse dependency order.
    All,
    /// These nodes (by name), each at once.
    Nodes(Vec<String>),
}

/// One stop request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StopRequestJson", into = "StopRequestJson")]
pub struct StopRequest {
    pub targets: StopTargets,
    /// Graceful (the plan) or forced (SIGKILL now).
    pub mode: StopMode,
    /// `--grace` / `--signal`.
    pub overrides: Overrides,
    pub by: Requester,
}

impl StopRequest {
    /// A stop of the nodes named, with their plans as they are.
    pub fn nodes(nodes: Vec<String>, mode: StopMode, by: Requester) -> Self {
        StopRequest { targets: StopTargets::Nodes(nodes), mode, overrides: Overrides::default(), by }
    }

    /// A stop of everything, with every plan as it is.
    pub fn all(mode: StopMode, by: Requester) -> Self {
        StopRequest { targets: StopTargets::All, mode, overrides: Overrides::default(), by }
    }

    pub fn is_all(&self) -> bool {
        self.targets == StopTargets::All
    }

    pub fn force(&self) -> bool {
        self.mode == StopMode::Force
    }
}

/// The request on the control socket, as `gracewatch stop` has always sent it:
/// `{"nodes":[..],"all":..,"force":..,"grace_ms":..,"signal":..,"by":..}`, every field optional
/// (`by` defaults to `ctl`); `all` wins over `nodes`.
#[derive(Serialize, Deserialize)]
struct StopRequestJson {
    #[serde(default)]
    nodes: Vec<String>,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    force: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grace_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signal: Option<Signal>,
    /// Who is asking: `ctl` for the CLI, `operator` for a cockpit.
    #[serde(default = "default_by")]
    by: Requester,
}

fn default_by() -> Requester {
    Requester::Ctl
}

impl From<StopRequestJson> for StopRequest {
    fn from(j: StopRequestJson) -> Self {
        StopRequest {
            targets: if j.all { StopTargets::All } else { StopTargets::Nodes(j.nodes) },
            mode: if j.force { StopMode::Force } else { StopMode::Graceful },
            overrides: Overrides { grace_ms: j.grace_ms, signal: j.signal },
            by: j.by,
        }
    }
}

impl From<StopRequest> for StopRequestJson {
    fn from(r: StopRequest) -> Self {
        let (nodes, all) = match r.targets {
            StopTargets::All => (Vec::new(), true),
            StopTargets::Nodes(nodes) => (nodes, false),
        };
        StopRequestJson {
            nodes,
            all,
            force: r.mode == StopMode::Force,
            grace_ms: r.overrides.grace_ms,
            signal: r.overrides.signal,
            by: r.by,
        }
    }
}
