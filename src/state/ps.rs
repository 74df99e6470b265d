//! The `ps --json` snapshot: a pure function of the state and the time it is taken at.

use super::{NodeState, State};
use crate::event::{Disposition, ExitCause, SigSet, Signal, StageAction};
use crate::hazard_id::HazardId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsSnapshot {
    pub session: String,
    pub journal: Option<String>,
    /// Supervisor pid.
    pub pid: u32,
    /// Session time of the snapshot, ns.
    pub t: u64,
    pub nodes: Vec<PsNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsNode {
    pub name: String,
    pub pid: Option<u32>,
    /// `starting|running|stopping|exited`.
    pub state: String,
    /// Set while the node is paused: `stopped` (SIGSTOP, job control) or `traced` (held by a
    /// debugger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<crate::event::Paused>,
    /// Disposition of SIGINT, SIGTERM, SIGQUIT, SIGHUP (and any other caught or ignored
    /// signal): `default|caught|ignored`. What the main process was not sampled for yet is
    /// `null` (here and below), never a value that looks measured.
    pub handlers: Option<BTreeMap<String, Disposition>>,
    /// While the main process starts up and `handlers` is still `null`: its dispositions as
    /// read so far, not judged (hazards wait for the start-up to end). `null` otherwise.
    pub settling_handlers: Option<BTreeMap<String, Disposition>>,
    /// Signals blocked on every thread of the main process.
    pub blocked: Option<SigSet>,
    pub threads: Option<usize>,
    pub children: Option<Vec<PsChild>>,
    pub stop: Option<PsStop>,
    pub exit: Option<PsExit>,
    pub pending_tokens: usize,
    pub oldest_token_ms: Option<u64>,
    pub token_holders: BTreeMap<String, u32>,
    pub hazards: Vec<HazardId>,
    /// Each active hazard's sentence, as the cockpit and the report say it.
    pub hazard_sentences: BTreeMap<HazardId, String>,
    pub connected: bool,
    /// CPU and memory of the node's tree; `null` until first measured (about a second in).
    pub cpu_permille: Option<u32>,
    pub rss_kib: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsChild {
    pub pid: u32,
    pub name: String,
    pub execd: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsStop {
    /// `message`, a signal name, or `SIGKILL`.
    pub stage: Option<String>,
    pub signal: Option<Signal>,
    /// Until the next stage (or the kill), at the snapshot's time.
    pub remaining_ms: Option<u64>,
    pub kill_in_ms: u64,
    pub requested_by: String,
    pub acked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsExit {
    pub code: Option<i32>,
    pub signal: Option<Signal>,
    pub cause: ExitCause,
}

impl PsExit {
    /// `SIGTERM`, `status 0`, or `-`, as everywhere else.
    pub fn status(&self) -> String {
        super::node::status_text(self.code, self.signal)
    }
}

impl PsSnapshot {
    pub fn from_state(state: &State, now: u64) -> PsSnapshot {
        let header = state.header.as_ref();
        PsSnapshot {
            session: state.session().to_string(),
            journal: header.and_then(|h| h.journal.clone()),
            pid: header.map_or(0, |h| h.pid),
            t: now,
            nodes: state.nodes.values().map(|n| PsNode::from_node(n, now)).collect(),
        }
    }
}

impl PsNode {
    pub fn from_node(n: &NodeState, now: u64) -> PsNode {
        let leader = n.leader();
        let handlers = leader.map(dispositions);
        let settling_handlers = n.settling_leader().map(dispositions);
        let stop = n.stop.as_ref().filter(|_| n.exit.is_none()).map(|s| PsStop {
            stage: s.stage.map(|a| match a {
                StageAction::Message => "message".to_string(),
                other => other.label(),
            }),
            signal: s.stage.and_then(|a| match a {
                StageAction::Signal(sig) => Some(sig),
                StageAction::Kill => Some(Signal::KILL),
                StageAction::Message => None,
            }),
            remaining_ms: s.stage_remaining(now).map(|ns| ns / 1_000_000),
            kill_in_ms: s.kill_remaining(now) / 1_000_000,
            requested_by: s.by.as_str().to_string(),
            acked: s.acked_at.is_some(),
        });
        PsNode {
            name: n.name.clone(),
            pid: n.pid,
            state: n.phase.as_str().to_string(),
            paused: n.paused().filter(|_| n.exit.is_none()),
            handlers,
            settling_handlers,
            blocked: leader.map(crate::event::ProcSample::blocked_everywhere),
            threads: leader.map(|l| l.threads.len()),
            children: leader.map(|l| {
                l.children.iter().map(|c| PsChild { pid: c.pid, name: c.name.clone(), execd: c.execd }).collect()
            }),
            stop,
            exit: n.exit.as_ref().map(|e| PsExit { code: e.code, signal: e.signal, cause: e.cause }),
            pending_tokens: n.tokens.pending(),
            oldest_token_ms: n.tokens.oldest_issued_at().map(|t| now.saturating_sub(t) / 1_000_000),
            token_holders: n.tokens.holders().map(|(h, c)| (h.to_string(), c)).collect(),
            hazards: n.hazards.iter().map(|h| h.id).collect(),
            hazard_sentences: n.hazards.iter().map(|h| (h.id, h.sentence.clone())).collect(),
            connected: n.is_connected(),
            cpu_permille: n.usage_at.map(|_| n.cpu_permille),
            rss_kib: n.usage_at.map(|_| n.rss_kib),
        }
    }
}

/// SIGINT, SIGTERM, SIGQUIT, SIGHUP and every other signal caught or ignored, by name.
fn dispositions(p: &crate::event::ProcSample) -> BTreeMap<String, Disposition> {
    let mut handlers = BTreeMap::new();
    for sig in Signal::SHOWN {
        handlers.insert(sig.name(), p.disposition(sig));
    }
    for sig in p.caught.iter().chain(p.ignored.iter()) {
        handlers.entry(sig.name()).or_insert_with(|| p.disposition(sig));
    }
    handlers
}
