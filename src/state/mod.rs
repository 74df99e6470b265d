//! `State`: the pure fold over events that `ps`, the cockpit, replay and the report all read.
//!
//! `State::apply` does no I/O, reads no clock and owns no channel: feed it the same events and
//! it reaches the same state, live or from a journal.

mod log;
mod masks;
mod node;
mod ps;
mod stop;
mod tokens;

pub use log::{LOG_CAPACITY, Log, LogLine, LogSource};
pub use masks::{MaskSeen, RunSeen};
pub use node::{
    ActiveHazard, CLAIMS_KEPT, ClaimRecord, Connection, ExitRecord, FORKS_KEPT, ForkRecord, NodeState, Phase,
    SignalRecord, is_shell, status_text,
};
pub use ps::{PsChild, PsExit, PsNode, PsSnapshot, PsStop};
pub use stop::{StepKind, StopProgress, StopStep};
pub use tokens::{LedgerError, TokenLedger};

use crate::event::{Event, EventKind, ExitCause, Header, ProbeMode, Requester, StageAction, Stream};
use crate::hazards::{self, HazardId};
use crate::manifest::NodeSpec;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Hazard notices kept for the hazards panel.
pub const HAZARD_FEED_CAPACITY: usize = 1_000;

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

/// The order of a stop-all in words: `web, lone now; app after web; db after app` (a journal
/// without the waits: its tiers, `web, lone → app → db`).
pub fn stop_all_order(tiers: &[Vec<String>], waits: &std::collections::BTreeMap<String, Vec<String>>) -> String {
    if waits.is_empty() {
        return tiers.iter().map(|tier| tier.join(", ")).collect::<Vec<_>>().join(" → ");
    }
    let all: Vec<&String> = tiers.iter().flatten().collect();
    let now: Vec<&str> = all.iter().filter(|n| !waits.contains_key(**n)).map(|n| n.as_str()).collect();
    let mut parts = Vec::new();
    if !now.is_empty() {
        parts.push(format!("{} now", now.join(", ")));
    }
    for name in all {
        if let Some(after) = waits.get(name) {
            parts.push(format!("{name} after {}", after.join(", ")));
        }
    }
    parts.join("; ")
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
    pub fn new() -> Self {
        Self::default()
    }

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

    fn say(&mut self, ev: &Event, node: Option<&str>, source: LogSource, text: String) {
        self.log.push(LogLine { t: ev.t, seq: ev.seq, node: node.map(str::to_string), source, text });
    }

    /// Applies one event. Total: any event, in any order, leaves a consistent state.
    pub fn apply(&mut self, ev: &Event) {
        self.now = self.now.max(ev.t);
        self.last_seq = Some(ev.seq);
        self.events_applied += 1;
        let recheck = match &ev.ev {
            EventKind::SessionStarted(_)
            | EventKind::SessionEnded { .. }
            | EventKind::NodeSpawned { .. }
            | EventKind::SpawnFailed { .. }
            | EventKind::ProcessAdopted { .. }
            | EventKind::Output { .. }
            | EventKind::NodeExited { .. }
            | EventKind::Survivors { .. }
            | EventKind::SupervisorError { .. } => self.apply_lifecycle(ev),
            EventKind::ProcSampled { .. }
            | EventKind::ProcSettling { .. }
            | EventKind::ProcGone { .. }
            | EventKind::Usage { .. }
            | EventKind::Fork { .. }
            | EventKind::ForkResolved { .. }
            | EventKind::Exec { .. }
            | EventKind::ProbeMode { .. } => self.apply_probe(ev),
            EventKind::StopRequested { .. }
            | EventKind::StopAllRequested { .. }
            | EventKind::StageEntered { .. }
            | EventKind::SignalSent { .. }
            | EventKind::GraceExtended { .. }
            | EventKind::StopMessageSent { .. }
            | EventKind::StopAcked { .. } => self.apply_stop(ev),
            EventKind::NodeConnected { .. }
            | EventKind::NodeDisconnected { .. }
            | EventKind::StopListening { .. }
            | EventKind::ConnectionRefused { .. }
            | EventKind::ProtocolError { .. }
            | EventKind::HandlerClaimed { .. }
            | EventKind::TokenIssued { .. }
            | EventKind::TokenReleased { .. }
            | EventKind::ClientDropped { .. } => self.apply_wire(ev),
        };
        if let Some(node) = recheck {
            self.recheck_hazards(node, ev);
        }
    }

    /// Session, spawn, output and exit events.
    fn apply_lifecycle<'e>(&mut self, ev: &'e Event) -> Option<&'e str> {
        let t = ev.t;
        let mut recheck: Option<&'e str> = None;
        match &ev.ev {
            EventKind::SessionStarted(header) => {
                for spec in &header.manifest.nodes {
                    if !self.nodes.contains_key(&spec.name) {
                        self.nodes.insert(spec.name.clone(), NodeState::new(spec.clone()));
                    }
                }
                self.header = Some((**header).clone());
                let text = format!(
                    "session {} started (gracewatch {}, {})",
                    header.session,
                    header.version,
                    crate::hazards::count(header.manifest.nodes.len(), "node")
                );
                self.say(ev, None, LogSource::Event, text);
            }
            EventKind::SessionEnded { reason } => {
                self.ended = Some((t, reason.clone()));
                self.say(ev, None, LogSource::Event, format!("session ended: {reason}"));
            }
            EventKind::NodeSpawned { node, pid, pgid, argv } => {
                let n = self.node_mut(node);
                n.pid = Some(*pid);
                n.pgid = Some(*pgid);
                n.argv.clone_from(argv);
                n.spawned_at = Some(t);
                if n.phase == Phase::Starting {
                    n.phase = Phase::Running;
                }
                let text = format!("spawned pid {pid}: {}", shell_join(argv));
                self.say(ev, Some(node), LogSource::Event, text);
            }
            EventKind::SpawnFailed { node, error } => {
                let n = self.node_mut(node);
                n.phase = Phase::Exited;
                n.exit = Some(ExitRecord {
                    t,
                    pid: 0,
                    code: None,
                    signal: None,
                    cause: ExitCause::SpawnFailed,
                    pending_tokens: Vec::new(),
                    error: Some(error.clone()),
                });
                self.say(ev, Some(node), LogSource::Problem, format!("could not start: {error}"));
            }
            EventKind::ProcessAdopted { node, pid, argv, uid } => {
                let manifest = self.header.as_ref().map(|h| &h.manifest);
                let declared = manifest.is_some_and(|m| m.node(node).is_some());
                let assumed = manifest.and_then(|m| m.watch_stop_signal);
                let n = self.node_mut(node);
                if n.spec.cmd.is_empty() {
                    n.spec.cmd.clone_from(argv);
                }
                if !declared {
                    // `watch --stop-signal` (SIGTERM unless given): what its hazards assume.
                    n.spec.stop_signal = assumed.unwrap_or(crate::event::Signal::TERM);
                }
                // Not ours: signals go to the process alone, never to a group it may share.
                n.spec.group = false;
                n.pid = Some(*pid);
                n.pgid = None;
                n.argv.clone_from(argv);
                n.spawned_at = Some(t);
                n.adopted = true;
                n.phase = Phase::Running;
                let text = format!("watching pid {pid} (uid {uid}): {}", shell_join(argv));
                self.say(ev, Some(node), LogSource::Event, text);
            }
            EventKind::Output { node, stream, line, truncated_from } => {
                self.node_mut(node).output_lines += 1;
                let source = if *stream == Stream::Stdout { LogSource::Stdout } else { LogSource::Stderr };
                let text = match truncated_from {
                    Some(len) => format!("{line}… [cut from {len} bytes]"),
                    None => line.clone(),
                };
                self.say(ev, Some(node), source, text);
            }
            EventKind::NodeExited { node, pid, code, signal, cause, pending_tokens } => {
                let n = self.node_mut(node);
                n.phase = Phase::Exited;
                let record = ExitRecord {
                    t,
                    pid: *pid,
                    code: *code,
                    signal: *signal,
                    cause: *cause,
                    pending_tokens: pending_tokens.clone(),
                    error: None,
                };
                let status = record.status();
                n.exit = Some(record);
                n.cpu_permille = 0;
                if let Some(stop) = &mut n.stop {
                    stop.push(t, StepKind::Exited { cause: *cause });
                    stop.deadline = None;
                }
                let took = n
                    .stop
                    .as_ref()
                    .map(|s| {
                        format!(" {} after the stop request", crate::util::fmt_ns(t.saturating_sub(s.requested_at)))
                    })
                    .unwrap_or_default();
                let tokens = if pending_tokens.is_empty() {
                    String::new()
                } else {
                    format!(", {} tokens still lent", pending_tokens.len())
                };
                let source = if cause.is_clean() { LogSource::Event } else { LogSource::Problem };
                self.say(ev, Some(node), source, format!("{}{took}{tokens}", cause.with_status(&status)));
                recheck = Some(node);
            }
            EventKind::Survivors { node, survivors } => {
                self.node_mut(node).survivors.extend(survivors.iter().cloned());
                let list: Vec<String> = survivors.iter().map(|s| format!("{} ({})", s.pid, s.name)).collect();
                self.say(
                    ev,
                    Some(node),
                    LogSource::Problem,
                    format!("killed survivors of its tree: {}", list.join(", ")),
                );
                recheck = Some(node);
            }
            EventKind::SupervisorError { context, message } => {
                self.supervisor_errors += 1;
                self.say(ev, None, LogSource::Problem, format!("{context}: {message}"));
            }
            _ => {}
        }
        recheck
    }

    /// What the /proc probe and the kernel saw.
    fn apply_probe<'e>(&mut self, ev: &'e Event) -> Option<&'e str> {
        let t = ev.t;
        let mut recheck: Option<&'e str> = None;
        match &ev.ev {
            EventKind::ProcSampled { node, sample } => {
                let n = self.node_mut(node);
                if n.pid == Some(sample.pid) {
                    n.leader_sampled_at = Some(t);
                    n.settling = None;
                }
                n.masks.entry(sample.pid).or_default().update(t, &sample.mask_runs);
                n.procs.insert(sample.pid, sample.clone());
                recheck = Some(node);
            }
            EventKind::ProcSettling { node, sample } => {
                // Shown only; hazards wait for the sample (no recheck).
                let n = self.node_mut(node);
                if n.pid == Some(sample.pid) && n.leader().is_none() {
                    n.settling = Some(sample.clone());
                }
            }
            EventKind::ProcGone { node, pid } => {
                let n = self.node_mut(node);
                n.masks.remove(pid);
                // A shell's command may be what its hazards were about.
                if n.pid != Some(*pid) && n.procs.remove(pid).is_some() {
                    recheck = Some(node);
                }
            }
            EventKind::Usage { node, cpu_permille, rss_kib } => {
                let n = self.node_mut(node);
                n.cpu_permille = *cpu_permille;
                n.rss_kib = *rss_kib;
                n.usage_at = Some(t);
            }
            EventKind::Fork { node, fork } => {
                let n = self.node_mut(node);
                if let Some(existing) = n.forks.iter_mut().find(|f| f.child_pid == fork.child_pid) {
                    // Seen twice (client and kernel): keep the earliest sighting, the best facts.
                    existing.t = existing.t.min(t);
                    if fork.source != crate::event::ForkSource::Proc {
                        existing.threads = fork.threads;
                        existing.source = fork.source;
                    }
                    existing.runtime = existing.runtime.or(fork.runtime);
                } else {
                    if n.forks.len() >= FORKS_KEPT {
                        // Drop the oldest resolved harmless fork first, else the oldest.
                        let victim = n.forks.iter().position(|f| f.execd == Some(true)).unwrap_or(0);
                        n.forks.remove(victim);
                    }
                    n.forks.push(ForkRecord {
                        t,
                        parent_pid: fork.parent_pid,
                        child_pid: fork.child_pid,
                        threads: fork.threads,
                        runtime: fork.runtime,
                        source: fork.source,
                        execd: None,
                        threaded: None,
                        uncertain: false,
                    });
                }
            }
            EventKind::ForkResolved { node, child_pid, execd, threaded, uncertain } => {
                let n = self.node_mut(node);
                if let Some(f) = n.forks.iter_mut().find(|f| f.child_pid == *child_pid) {
                    f.execd = Some(*execd);
                    f.threaded = Some(*threaded);
                    f.uncertain = *uncertain;
                    if !*execd && *threaded {
                        let sampled = if f.uncertain { " (seen by sampling /proc, not exact)" } else { "" };
                        let text = format!(
                            "pid {} forked {} without exec while it {}{sampled}",
                            f.parent_pid,
                            f.child_pid,
                            f.had_threads()
                        );
                        self.say(ev, Some(node), LogSource::Problem, text);
                    }
                }
                recheck = Some(node);
            }
            EventKind::Exec { node, pid } => {
                let n = self.node_mut(node);
                if let Some(f) = n.forks.iter_mut().find(|f| f.child_pid == *pid && f.execd.is_none()) {
                    f.execd = Some(true);
                }
            }
            EventKind::ProbeMode { mode, detail } => {
                self.probe_mode = Some((*mode, detail.clone()));
                let text = format!(
                    "process events: {} ({detail})",
                    match mode {
                        ProbeMode::Connector => "kernel connector",
                        ProbeMode::Polling => "/proc polling",
                    }
                );
                self.say(ev, None, LogSource::Event, text);
            }
            _ => {}
        }
        recheck
    }

    /// The course of stops.
    fn apply_stop<'e>(&mut self, ev: &'e Event) -> Option<&'e str> {
        let t = ev.t;
        let mut recheck: Option<&'e str> = None;
        match &ev.ev {
            EventKind::StopRequested { node, by, mode, plan, kill_at } => {
                let n = self.node_mut(node);
                if n.phase != Phase::Exited {
                    n.phase = Phase::Stopping;
                }
                let kill_at = kill_at.unwrap_or_else(|| StopProgress::kill_at_of(t, plan));
                match &mut n.stop {
                    Some(stop) if n.phase != Phase::Exited => {
                        // A second request (usually a forced one) on a stop in progress.
                        stop.mode = *mode;
                        stop.plan = plan.clone();
                        stop.kill_at = kill_at;
                        stop.push(t, StepKind::Requested { by: *by, mode: *mode });
                    }
                    _ => n.stop = Some(StopProgress::new(t, *by, *mode, plan.clone(), kill_at)),
                }
                let what = if *mode == crate::event::StopMode::Force { "forced stop" } else { "stop" };
                self.say(
                    ev,
                    Some(node),
                    LogSource::Event,
                    format!("{what} requested by {}: {}", by.as_str(), plan.describe()),
                );
            }
            EventKind::StopAllRequested { by, force, tiers, waits } => {
                self.stop_all = Some(StopAll { t, by: *by, force: *force, tiers: tiers.clone(), waits: waits.clone() });
                let order = stop_all_order(tiers, waits);
                let what = if *force { "forced stop of all" } else { "stop all" };
                self.say(ev, None, LogSource::Event, format!("{what} requested by {}: {order}", by.as_str()));
            }
            EventKind::StageEntered { node, stage, deadline } => {
                let n = self.node_mut(node);
                if let Some(stop) = &mut n.stop {
                    stop.stage = Some(*stage);
                    stop.stage_index += 1;
                    stop.stage_entered_at = Some(t);
                    stop.deadline = *deadline;
                    if *stage == StageAction::Kill {
                        stop.kill_at = t;
                    }
                    stop.push(t, StepKind::Stage { action: *stage });
                }
                recheck = Some(node);
            }
            EventKind::SignalSent { node, pid, target, signal, error, by } => {
                let n = self.node_mut(node);
                let by_hand = by.filter(|b| *b != Requester::Plan);
                if let Some(stop) = &mut n.stop {
                    stop.push(t, StepKind::Signal { signal: *signal, target: *target, error: error.clone() });
                    if *signal == crate::event::Signal::CONT && error.is_none() && by_hand.is_none() {
                        stop.continued_at = Some(t);
                    }
                }
                if let Some(by) = by_hand.filter(|_| error.is_none() && signal.can_end()) {
                    n.signalled = Some(SignalRecord { t, signal: *signal, by });
                }
                let to = match target {
                    crate::event::SignalTarget::Group => format!("process group {pid}"),
                    crate::event::SignalTarget::Process => format!("pid {pid}"),
                    crate::event::SignalTarget::Descendant => format!("descendant {pid}"),
                };
                let who = by_hand.map(|b| format!(" (sent by {})", b.phrase())).unwrap_or_default();
                let (source, text) = match error {
                    Some(e) => (LogSource::Problem, format!("{signal} to {to} failed: {e}{who}")),
                    None => (LogSource::Event, format!("{signal} → {to}{who}")),
                };
                self.say(ev, Some(node), source, text);
                recheck = Some(node);
            }
            EventKind::GraceExtended { node, deadline, pending_tokens } => {
                let n = self.node_mut(node);
                if let Some(stop) = &mut n.stop {
                    stop.kill_at = *deadline;
                    stop.deadline = Some(*deadline);
                    stop.extensions += 1;
                    stop.push(t, StepKind::Extended { deadline: *deadline, pending_tokens: *pending_tokens });
                }
                let text = format!(
                    "grace extended by {}: {pending_tokens} tokens still draining",
                    crate::util::fmt_ns(deadline.saturating_sub(t))
                );
                self.say(ev, Some(node), LogSource::Event, text);
            }
            EventKind::StopMessageSent { node } => {
                if let Some(stop) = &mut self.node_mut(node).stop {
                    stop.message_sent_at = Some(t);
                    stop.push(t, StepKind::MessageSent);
                }
                self.say(ev, Some(node), LogSource::Event, "stop message sent".to_string());
            }
            EventKind::StopAcked { node } => {
                let mut latency = None;
                if let Some(stop) = &mut self.node_mut(node).stop {
                    if stop.acked_at.is_none() {
                        stop.acked_at = Some(t);
                        stop.push(t, StepKind::Acked);
                        latency = stop.ack_latency();
                    }
                }
                let text = match latency {
                    Some(l) => format!("acknowledged the stop after {}", crate::util::fmt_ns(l)),
                    None => "acknowledged a stop".to_string(),
                };
                self.say(ev, Some(node), LogSource::Event, text);
                recheck = Some(node);
            }
            _ => {}
        }
        recheck
    }

    /// What instrumented nodes reported over the wire.
    fn apply_wire<'e>(&mut self, ev: &'e Event) -> Option<&'e str> {
        let t = ev.t;
        let mut recheck: Option<&'e str> = None;
        match &ev.ev {
            EventKind::NodeConnected { node, pid, language, client_version } => {
                let n = self.node_mut(node);
                n.connection = Some(Connection {
                    since: t,
                    pid: *pid,
                    language: language.clone(),
                    client_version: client_version.clone(),
                    listens_stop: false,
                    closed: None,
                });
                self.say(
                    ev,
                    Some(node),
                    LogSource::Event,
                    format!("connected: {language} client {client_version}, pid {pid}"),
                );
                recheck = Some(node);
            }
            EventKind::NodeDisconnected { node, reason } => {
                let n = self.node_mut(node);
                if let Some(c) = &mut n.connection {
                    c.closed = Some((t, reason.clone()));
                }
                self.say(ev, Some(node), LogSource::Event, format!("disconnected: {reason}"));
                recheck = Some(node);
            }
            EventKind::StopListening { node } => {
                if let Some(c) = &mut self.node_mut(node).connection {
                    c.listens_stop = true;
                }
                recheck = Some(node);
            }
            EventKind::ConnectionRefused { node, reason } => {
                self.refused_connections += 1;
                self.say(ev, node.as_deref(), LogSource::Problem, format!("connection refused: {reason}"));
            }
            EventKind::ProtocolError { node, error } => {
                self.node_mut(node).protocol_errors += 1;
                self.say(ev, Some(node), LogSource::Problem, format!("protocol error, connection cut: {error}"));
            }
            EventKind::HandlerClaimed { node, claim } => {
                let n = self.node_mut(node);
                if n.claims.len() >= CLAIMS_KEPT {
                    n.claims.remove(0);
                }
                n.claims.push(ClaimRecord { t, claim: claim.clone() });
                let (source, text) = match claim.outcome {
                    crate::event::ClaimOutcome::Installed => (
                        LogSource::Event,
                        format!("{} installed a {} handler (thread '{}')", claim.owner, claim.signal, claim.thread),
                    ),
                    crate::event::ClaimOutcome::Restored => {
                        (LogSource::Event, format!("{} restored the previous {} handler", claim.owner, claim.signal))
                    }
                    crate::event::ClaimOutcome::Failed => (
                        LogSource::Problem,
                        format!(
                            "{} failed to install a {} handler (thread '{}'): {}",
                            claim.owner,
                            claim.signal,
                            claim.thread,
                            claim.error.as_deref().unwrap_or("?")
                        ),
                    ),
                };
                self.say(ev, Some(node), source, text);
                recheck = Some(node);
            }
            EventKind::TokenIssued { node, id, receivers } => {
                let n = self.node_mut(node);
                let _ = n.tokens.issue(*id, receivers, t);
                if n.phase == Phase::Stopping {
                    recheck = Some(node);
                }
            }
            EventKind::TokenReleased { node, id, receiver } => {
                let n = self.node_mut(node);
                let _ = n.tokens.release(*id, receiver, t);
                if n.phase == Phase::Stopping {
                    recheck = Some(node);
                }
            }
            EventKind::ClientDropped { node, count } => {
                self.node_mut(node).client_dropped += count;
            }
            _ => {}
        }
        recheck
    }

    /// Re-evaluates a node's hazards; newly raised ones go to the feed and the log.
    fn recheck_hazards(&mut self, name: &str, ev: &Event) {
        let manifest = self.header.as_ref().map(|h| &h.manifest);
        let Some(node) = self.nodes.get(name) else {
            return;
        };
        let found = hazards::evaluate(node, manifest);
        let mut raised = Vec::new();
        let next: Vec<ActiveHazard> = found
            .into_iter()
            .map(|(id, sentence)| {
                if let Some(h) = node.hazards.iter().find(|h| h.id == id) {
                    ActiveHazard { id, since: h.since, sentence }
                } else {
                    raised.push((id, sentence.clone()));
                    ActiveHazard { id, since: ev.t, sentence }
                }
            })
            .collect();
        if let Some(node) = self.nodes.get_mut(name) {
            node.hazards = next;
        }
        for (id, sentence) in raised {
            if self.hazard_feed.len() >= HAZARD_FEED_CAPACITY {
                self.hazard_feed.pop_front();
            }
            self.say(ev, Some(name), LogSource::Problem, format!("hazard {id}: {sentence}"));
            self.hazard_feed.push_back(HazardNotice { t: ev.t, node: name.to_string(), id, sentence });
        }
    }
}

/// Joins argv for display, quoting words that need it; control characters are shown as
/// `$'…\n…'` so a multi-line script stays on one readable line.
pub fn shell_join(argv: &[String]) -> String {
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
