//! What the fold knows about one node.

use super::stop::StopProgress;
use super::tokens::TokenLedger;
use crate::event::{ClaimOutcome, ExitCause, ForkSource, HandlerClaim, PendingToken, ProcSample, Signal, Survivor};
use crate::hazard_id::HazardId;
use crate::manifest::NodeSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Starting,
    Running,
    Stopping,
    Exited,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Stopping => "stopping",
            Phase::Exited => "exited",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeState {
    pub name: String,
    pub spec: NodeSpec,
    pub phase: Phase,
    pub pid: Option<u32>,
    pub pgid: Option<u32>,
    pub argv: Vec<String>,
    pub spawned_at: Option<u64>,
    /// Taken under watch rather than started by gracewatch.
    pub adopted: bool,
    /// The processes of the node's tree, by pid (the leader is `pid`).
    #[serde(with = "crate::util::map_as_pairs")]
    pub procs: BTreeMap<u32, ProcSample>,
    /// `t` of the leader's latest sample.
    pub leader_sampled_at: Option<u64>,
    /// The main process as read during its start-up, until its first sample
    /// ([`crate::event::EventKind::ProcSettling`]): shown, marked as settling; never judged.
    #[serde(default)]
    pub settling: Option<ProcSample>,
    /// Per process of the tree: its runs of reads with signals blocked on every thread, timed.
    #[serde(default, with = "crate::util::map_as_pairs")]
    pub masks: BTreeMap<u32, super::MaskSeen>,
    pub cpu_permille: u32,
    pub rss_kib: u64,
    /// `t` of the latest CPU and memory report; `None` until the first (the figures above are
    /// not measured yet, not zero).
    #[serde(default)]
    pub usage_at: Option<u64>,
    pub claims: Vec<ClaimRecord>,
    pub connection: Option<Connection>,
    pub tokens: TokenLedger,
    pub forks: Vec<ForkRecord>,
    pub stop: Option<StopProgress>,
    pub exit: Option<ExitRecord>,
    pub survivors: Vec<Survivor>,
    /// Hazards present now, with when each was first raised.
    pub hazards: Vec<ActiveHazard>,
    pub protocol_errors: u32,
    pub client_dropped: u64,
    pub output_lines: u64,
    /// The latest signal that could end it sent outside a stop plan (the cockpit's `x`), and
    /// who asked: an exit soon after is put down to it.
    #[serde(default)]
    pub signalled: Option<SignalRecord>,
}

/// A signal sent to a node by someone, outside a stop plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalRecord {
    pub t: u64,
    pub signal: Signal,
    pub by: crate::event::Requester,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRecord {
    pub t: u64,
    pub claim: HandlerClaim,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub since: u64,
    pub pid: u32,
    pub language: String,
    pub client_version: String,
    pub listens_stop: bool,
    /// Set when the connection ended.
    pub closed: Option<(u64, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForkRecord {
    pub t: u64,
    pub parent_pid: u32,
    pub child_pid: u32,
    pub threads: u32,
    pub runtime: Option<bool>,
    pub source: ForkSource,
    /// None until known.
    pub execd: Option<bool>,
    pub threaded: Option<bool>,
    /// `threaded` was decided by sampling `/proc`, not by the kernel's ordered events.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub uncertain: bool,
}

impl ForkRecord {
    /// How many threads the parent had at the fork, in words: "had 3 threads", or "may have
    /// had 3 threads" when that was sampled.
    pub fn had_threads(&self) -> String {
        let may = if self.uncertain { "may have " } else { "" };
        format!("{may}had {} threads", self.threads)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub t: u64,
    pub pid: u32,
    pub code: Option<i32>,
    pub signal: Option<Signal>,
    pub cause: ExitCause,
    pub pending_tokens: Vec<PendingToken>,
    /// Why it could not start, for `spawn-failed`.
    pub error: Option<String>,
}

impl ExitRecord {
    /// `status 0`, `SIGKILL`, `status 1`.
    pub fn status(&self) -> String {
        status_text(self.code, self.signal)
    }
}

/// How a process ended, in a word or two: `SIGTERM`, `status 0`, or `-` when unknown.
pub(crate) fn status_text(code: Option<i32>, signal: Option<Signal>) -> String {
    match (code, signal) {
        (_, Some(sig)) => sig.name(),
        (Some(code), None) => format!("status {code}"),
        (None, None) => "-".to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveHazard {
    pub id: HazardId,
    pub since: u64,
    pub sentence: String,
}

/// Forks kept per node; older ones fall off (the hazard stays once raised).
pub(crate) const FORKS_KEPT: usize = 64;
/// Handler claims kept per node.
pub(crate) const CLAIMS_KEPT: usize = 128;

impl NodeState {
    pub fn new(spec: NodeSpec) -> Self {
        NodeState {
            name: spec.name.clone(),
            spec,
            phase: Phase::Starting,
            pid: None,
            pgid: None,
            argv: Vec::new(),
            spawned_at: None,
            adopted: false,
            procs: BTreeMap::new(),
            leader_sampled_at: None,
            settling: None,
            masks: BTreeMap::new(),
            cpu_permille: 0,
            rss_kib: 0,
            usage_at: None,
            claims: Vec::new(),
            connection: None,
            tokens: TokenLedger::default(),
            forks: Vec::new(),
            stop: None,
            exit: None,
            survivors: Vec::new(),
            hazards: Vec::new(),
            protocol_errors: 0,
            client_dropped: 0,
            output_lines: 0,
            signalled: None,
        }
    }

    /// The signal a graceful stop sends.
    pub fn stop_signal(&self) -> Signal {
        self.spec.stop_signal
    }

    /// The latest sample of the node's main process.
    pub fn leader(&self) -> Option<&ProcSample> {
        self.procs.get(&self.pid?)
    }

    /// The main process as read while it still starts up, when it has no sample yet: what the
    /// views show, marked as settling, in place of a sample. Never for hazards.
    pub fn settling_leader(&self) -> Option<&ProcSample> {
        if self.leader().is_some() { None } else { self.settling.as_ref().filter(|s| Some(s.pid) == self.pid) }
    }

    /// The latest sample of the main process while it runs: hazards about a live process's
    /// masks stop applying once it has exited (the hazard feed keeps their history).
    pub fn live_leader(&self) -> Option<&ProcSample> {
        if self.exit.is_some() { None } else { self.leader() }
    }

    /// The process whose signal dispositions decide how its stop signal lands: the live
    /// leader, unless the leader is a shell waiting for its one command and the signal goes to
    /// the whole group. Such a shell catches SIGINT (to hand Ctrl-C on to its command) and dies
    /// on SIGTERM, which says nothing about the node; its command gets the signal too and is
    /// the one that matters (followed down through shells: `sh -c 'bash -c "..."'`). `None`
    /// while that command has no sample yet.
    pub fn stop_target(&self) -> Option<&ProcSample> {
        let mut target = self.live_leader()?;
        if !self.spec.group {
            return Some(target);
        }
        while is_shell(&target.name) {
            let [command] = target.children.as_slice() else { break };
            if !command.execd {
                break; // a subshell: still the shell
            }
            target = self.procs.get(&command.pid)?;
        }
        Some(target)
    }

    /// Is the node paused (the process its stop signal goes to, or its leader, stopped by
    /// SIGSTOP or job control, or held by a debugger), as its latest sample says?
    pub fn paused(&self) -> Option<crate::event::Paused> {
        self.paused_process().map(|(_, paused)| paused)
    }

    /// The process of the node that is paused, if one is: the one its stop signal is judged on,
    /// else the leader.
    pub fn paused_process(&self) -> Option<(&ProcSample, crate::event::Paused)> {
        [self.stop_target(), self.live_leader()].into_iter().flatten().find_map(|p| Some((p, p.paused?)))
    }

    /// Is the node connected and listeningfor the cooperative stop message?
    pub fn listens_for_stop(&self) -> bool {
        self.connection.as_ref().is_some_and(|c| c.listens_stop && c.closed.is_none())
    }

    /// Listens for the stop message, or did when its stop began and has closed the connection
    /// since (it is on its way out; its stop signal's disposition no longer matters).
    pub fn stops_cooperatively(&self) -> bool {
        self.listens_for_stop() || (self.stop.is_some() && self.connection.as_ref().is_some_and(|c| c.listens_stop))
    }

    pub fn is_connected(&self) -> bool {
        self.connection.as_ref().is_some_and(|c| c.closed.is_none())
    }

    /// The latest claim per (signal, owner): what each library currently believes it did.
    pub fn current_claims(&self) -> impl Iterator<Item = &ClaimRecord> {
        self.claims
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                !self.claims[i + 1..]
                    .iter()
                    .any(|later| later.claim.signal == c.claim.signal && later.claim.owner == c.claim.owner)
            })
            .map(|(_, c)| c)
    }

    /// A current failed claim for `sig`, if any.
    pub fn failed_claim_for(&self, sig: Signal) -> Option<&ClaimRecord> {
        self.current_claims().find(|c| c.claim.signal == sig && c.claim.outcome == ClaimOutcome::Failed)
    }

    pub fn has_hazard(&self, id: HazardId) -> bool {
        self.hazards.iter().any(|h| h.id == id)
    }

    /// Threads of the main process that can take delivery of `sig` (do not block it).
    pub fn receiving_threads(&self, sig: Signal) -> Vec<&crate::event::ThreadSample> {
        self.leader().map(|l| l.threads.iter().filter(|t| !t.blocked.contains(sig)).collect()).unwrap_or_default()
    }

    /// Descendants (every process of the tree but the leader).
    pub fn descendants(&self) -> impl Iterator<Item = &ProcSample> {
        let leader = self.pid;
        self.procs.values().filter(move |p| Some(p.pid) != leader)
    }
}

/// Shells, which catch SIGINT to hand Ctrl-C on to the command they wait for (dash, bash and
/// the rest do; dash keeps it caught between commands too); `comm` as the kernel shows it.
pub(crate) fn is_shell(name: &str) -> bool {
    matches!(name, "sh" | "dash" | "bash" | "ash" | "busybox" | "zsh" | "ksh" | "mksh" | "yash")
}
