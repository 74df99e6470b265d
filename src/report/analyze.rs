//! From a journal's events to a post-mortem: pure, no I/O.

use crate::event::{
    Event, EventKind, ExitCause, ForkSource, PendingToken, Requester, Signal, StageAction, StopMode, Survivor,
};
use crate::hazard_id::HazardId;
use crate::journal::{DamagedAt, ReadSummary};
use crate::state::{Fold, State, StepKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub session: String,
    pub host: String,
    pub gracewatch_version: String,
    pub started: String,
    pub started_unix_ms: u64,
    /// Session time of the last event, ns.
    pub duration_ns: u64,
    pub events: u64,
    /// The journal ended with a cut-off line (a crash).
    pub torn: bool,
    /// Records of kinds this version does not know, skipped.
    pub unknown_kinds: u64,
    /// Damaged records (lines that are not whole records) skipped; the report is made of the
    /// rest.
    #[serde(default)]
    pub damaged_records: u64,
    /// Where the first damaged records are.
    #[serde(default)]
    pub damaged_at: Vec<DamagedAt>,
    /// Why the session ended, if the journal says.
    pub ended: Option<String>,
    pub nodes: Vec<NodeReport>,
    /// Every stop-related event in order.
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    pub name: String,
    pub pid: Option<u32>,
    pub started_at: Option<u64>,
    pub argv: Vec<String>,
    pub stop: Option<StopReport>,
    pub exit: Option<ExitReport>,
    /// Tokens still lent when the node ended (kept only for unclean ends).
    pub pending_tokens_at_end: Vec<PendingToken>,
    pub hazards: Vec<HazardReport>,
    pub forks: Vec<ForkReport>,
    pub survivors: Vec<Survivor>,
    pub protocol_errors: u32,
    /// One line: how it ended.
    pub verdict: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopReport {
    pub requested_at: u64,
    pub by: Requester,
    pub mode: StopMode,
    pub plan: String,
    pub stages: Vec<StageReached>,
    /// From the stop message to the node's acknowledgement.
    pub ack_latency_ns: Option<u64>,
    pub extensions: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReached {
    pub t: u64,
    pub stage: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitReport {
    pub t: u64,
    pub cause: ExitCause,
    /// How the process ended: `{"code": 0, "signal": null}` or `{"code": null, "signal":
    /// "SIGKILL"}`; both null when it never ran (see `error`).
    pub status: ExitStatus,
    /// Why it could not start, for `spawn-failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// From the stop request (if any).
    pub after_stop_ns: Option<u64>,
}

/// An exit status: the code it exited with, or the signal that ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    pub code: Option<i32>,
    pub signal: Option<Signal>,
}

impl ExitStatus {
    /// `status 0`, `SIGKILL`, `-`.
    pub(crate) fn text(self) -> String {
        crate::state::status_text(self.code, self.signal)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HazardReport {
    pub id: HazardId,
    pub t: u64,
    pub sentence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForkReport {
    pub t: u64,
    pub parent_pid: u32,
    pub child_pid: u32,
    pub threads: u32,
    pub execd: Option<bool>,
    pub source: ForkSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub t: u64,
    /// The event's sequence number: the order of events of one `t`.
    #[serde(default)]
    pub seq: u64,
    pub node: Option<String>,
    pub what: String,
}

/// Builds the report from a journal's events (as read, header first) and what the read found
/// besides them (a torn tail, skipped records).
pub fn analyze(events: &[Event], read: &ReadSummary) -> Report {
    let mut state = Fold::new(crate::hazards::lints());
    let mut timeline = Vec::new();
    for e in events {
        state.apply(e);
        if e.ev.is_stop_related() || matches!(e.ev, EventKind::StopMessageSent { .. } | EventKind::StopAcked { .. }) {
            timeline.push(TimelineEntry {
                t: e.t,
                seq: e.seq,
                node: e.node().map(str::to_string),
                what: crate::state::sentence::report_line(&e.ev, e.node().and_then(|n| state.node(n))),
            });
        }
    }
    // In the order things happened: by time in ns, and by sequence within one time, never by
    // the rounded time shown (events a few µs apart show the same millisecond).
    timeline.sort_by_key(|e| (e.t, e.seq));
    let header = state.header.clone();
    let nodes = state.nodes.values().map(|n| node_report(n, &state)).collect();
    Report {
        session: state.session().to_string(),
        host: header.as_ref().map(|h| h.host.clone()).unwrap_or_default(),
        gracewatch_version: header.as_ref().map(|h| h.version.clone()).unwrap_or_default(),
        started: header.as_ref().map(|h| h.started.clone()).unwrap_or_default(),
        started_unix_ms: header.as_ref().map_or(0, |h| h.started_unix_ms),
        duration_ns: state.now,
        events: events.len() as u64,
        torn: read.torn_tail.is_some(),
        unknown_kinds: read.unknown_kinds,
        damaged_records: read.damaged,
        damaged_at: read.damaged_at.clone(),
        ended: state.ended.as_ref().map(|(_, r)| r.clone()),
        nodes,
        timeline,
    }
}

fn node_report(n: &crate::state::NodeState, state: &State) -> NodeReport {
    let stop = n.stop.as_ref().map(|s| StopReport {
        requested_at: s.requested_at,
        by: s.by,
        mode: s.mode,
        plan: s.plan.describe(),
        stages: s
            .timeline
            .iter()
            .filter_map(|step| match &step.what {
                StepKind::Stage { action } => Some(StageReached { t: step.t, stage: action.label() }),
                _ => None,
            })
            .collect(),
        ack_latency_ns: s.ack_latency(),
        extensions: s.extensions,
    });
    let exit = n.exit.as_ref().map(|e| ExitReport {
        t: e.t,
        cause: e.cause,
        status: ExitStatus { code: e.code, signal: e.signal },
        error: e.error.clone(),
        after_stop_ns: n.stop.as_ref().map(|s| e.t.saturating_sub(s.requested_at)),
    });
    let hazards = state
        .hazard_feed
        .iter()
        .filter(|h| h.node == n.name)
        .map(|h| HazardReport { id: h.id, t: h.t, sentence: h.sentence.clone() })
        .collect();
    let forks = n
        .forks
        .iter()
        .map(|f| ForkReport {
            t: f.t,
            parent_pid: f.parent_pid,
            child_pid: f.child_pid,
            threads: f.threads,
            execd: f.execd,
            source: f.source,
        })
        .collect();
    let pending = n.exit.as_ref().map(|e| e.pending_tokens.clone()).unwrap_or_default();
    NodeReport {
        name: n.name.clone(),
        pid: n.pid,
        started_at: n.spawned_at,
        argv: n.argv.clone(),
        verdict: verdict(n),
        stop,
        exit,
        pending_tokens_at_end: pending,
        hazards,
        forks,
        survivors: n.survivors.clone(),
        protocol_errors: n.protocol_errors,
    }
}

/// One line: "stopped cleanly in 1.2s", "stopped in 15s after escalation to SIGINT", "killed at
/// deadline after 10s, 3 tokens held by `detector`".
fn verdict(n: &crate::state::NodeState) -> String {
    use crate::state::sentence::count;
    use crate::util::fmt_ns;
    let Some(e) = &n.exit else {
        return match &n.stop {
            Some(s) => format!(
                "still stopping when the journal ends (stop requested at {})",
                crate::util::fmt_t(s.requested_at)
            ),
            None if n.pid.is_some() => "still running when the journal ends".to_string(),
            None => "never started".to_string(),
        };
    };
    let since = n.stop.as_ref().map(|s| e.t.saturating_sub(s.requested_at));
    let held = if e.pending_tokens.is_empty() {
        String::new()
    } else {
        let mut holders: Vec<&str> =
            e.pending_tokens.iter().flat_map(|t| t.holders.iter().map(String::as_str)).collect();
        holders.sort_unstable();
        holders.dedup();
        let names: Vec<String> = holders.iter().map(|h| format!("`{h}`")).collect();
        format!(", {} held by {}", count(e.pending_tokens.len(), "token"), names.join(", "))
    };
    let survivors = if n.survivors.is_empty() {
        String::new()
    } else {
        format!("; {} killed after it exited", count(n.survivors.len(), "survivor"))
    };
    let base = match e.cause {
        ExitCause::Stopped => {
            let ack = n
                .stop
                .as_ref()
                .and_then(crate::state::StopProgress::ack_latency)
                .map(|a| format!(" (acknowledged in {})", fmt_ns(a)))
                .unwrap_or_default();
            let took = fmt_ns(since.unwrap_or(0));
            // Killed by the stop signal's default action: it stopped, but nothing of its own ran.
            let by_default = e
                .signal
                .zip(n.leader())
                .filter(|(sig, l)| l.disposition(*sig) == crate::event::Disposition::Default)
                .map(|(sig, _)| format!("by {sig}'s default action: no handler ran, so no cleanup"));
            // The first stage did not end it: a later one (the stop signal after the stop
            // message, an escalation signal) did.
            let stages: Vec<StageAction> = n
                .stop
                .iter()
                .flat_map(|s| &s.timeline)
                .filter_map(|step| match step.what {
                    StepKind::Stage { action } if step.t <= e.t => Some(action),
                    _ => None,
                })
                .collect();
            let escalated = match stages.as_slice() {
                [_, .., last] => Some(format!("after escalation to {}", last.label())),
                _ => None,
            };
            match (escalated, by_default) {
                (None, None) => format!("stopped cleanly in {took}{ack}"),
                (None, Some(how)) => format!("stopped in {took} {how}{ack}"),
                (Some(after), None) => format!("stopped in {took} {after}{ack}"),
                (Some(after), Some(how)) => format!("stopped in {took} {after}, {how}{ack}"),
            }
        }
        ExitCause::KilledAtDeadline => format!("killed at deadline after {}{held}", fmt_ns(since.unwrap_or(0))),
        ExitCause::ForceKilled => format!("force-killed after {}{held}", fmt_ns(since.unwrap_or(0))),
        ExitCause::Exited => format!("exited by itself ({}) at {}", e.status(), crate::util::fmt_t(e.t)),
        ExitCause::Crashed => {
            format!("crashed ({}) at {}, no stop requested{held}", e.status(), crate::util::fmt_t(e.t))
        }
        ExitCause::SpawnFailed => format!("could not start: {}", e.error.as_deref().unwrap_or("?")),
        ExitCause::Signalled { .. } => {
            let during = since.map(|s| format!(" during its stop, after {}", fmt_ns(s))).unwrap_or_default();
            format!("{} at {}{during}{held}", e.cause.with_status(&e.status()), crate::util::fmt_t(e.t))
        }
    };
    format!("{base}{survivors}")
}
