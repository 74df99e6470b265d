//! The payload types events carry.

use super::{SigSet, Signal};
use crate::manifest::Manifest;
use serde::{Deserialize, Serialize};

/// The first record of every session: enough to read the rest without anything else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`super::FORMAT_VERSION`] of the writer: the major version of the format.
    pub format: u32,
    /// [`super::FORMAT_MINOR`] of the writer (0 in journals from before minor versions).
    #[serde(default)]
    pub format_minor: u32,
    /// gracewatch version that wrote the session.
    pub version: String,
    pub session: String,
    pub mode: SessionMode,
    pub host: String,
    /// Process id of the supervisor.
    pub pid: u32,
    /// Wall-clock time at `t = 0`, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// The same instant, RFC 3339, for people reading the journal.
    pub started: String,
    /// `CLOCK_MONOTONIC` at `t = 0`, so a client on the same machine can compute `t` itself.
    pub monotonic_ns: u64,
    /// Where the journal of this session is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    /// The resolved manifest (for `watch`, the processes taken under watch).
    pub manifest: Manifest,
}

impl Header {
    /// The header of a synthetic session (tests, benchmarks, generated journals): these nodes
    /// with every default, started at the Unix epoch.
    pub fn synthetic(session: &str, nodes: Vec<crate::manifest::NodeSpec>) -> Header {
        Header {
            format: super::FORMAT_VERSION,
            format_minor: super::FORMAT_MINOR,
            version: env!("CARGO_PKG_VERSION").to_string(),
            session: session.to_string(),
            mode: SessionMode::Up,
            host: "synthetic".to_string(),
            pid: 1,
            started_unix_ms: 0,
            started: "1970-01-01T00:00:00.000Z".to_string(),
            monotonic_ns: 0,
            journal: None,
            manifest: Manifest {
                name: session.to_string(),
                path: None,
                nodes,
                hazards: std::collections::BTreeMap::default(),
                probe_interval_ms: crate::manifest::DEFAULT_PROBE_INTERVAL_MS,
                watch_stop_signal: None,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionMode {
    Up,
    Demo,
    Watch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Why a node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitCause {
    /// Ended by itself with status 0, no stop requested.
    Exited,
    /// Ended after a stop request, before the kill deadline (whatever its status).
    Stopped,
    /// Killed with SIGKILL when the grace period ran out.
    KilledAtDeadline,
    /// Killed with SIGKILL on an operator's forced stop.
    ForceKilled,
    /// Ended by itself with a non-zero status or a signal, no stop requested.
    Crashed,
    /// Could not be started at all.
    SpawnFailed,
    /// Ended after a signal someone sent it outside a stop's plan (the cockpit's `x`): who
    /// asked and what was sent. The signal it died of, if any, is in the exit status.
    Signalled { signal: Signal, by: Requester },
}

impl ExitCause {
    pub fn as_str(self) -> &'static str {
        match self {
            ExitCause::Exited => "exited",
            ExitCause::Stopped => "stopped",
            ExitCause::KilledAtDeadline => "killed-at-deadline",
            ExitCause::ForceKilled => "force-killed",
            ExitCause::Crashed => "crashed",
            ExitCause::SpawnFailed => "spawn-failed",
            ExitCause::Signalled { .. } => "signalled",
        }
    }

    /// The cause in words: `stopped`, `signalled by the operator (SIGKILL)`.
    pub fn describe(self) -> String {
        match self {
            ExitCause::Signalled { signal, by } => format!("signalled by {} ({signal})", by.phrase()),
            other => other.as_str().to_string(),
        }
    }

    /// The cause with the exit status, as `stop --wait`, the log and the report say it:
    /// `stopped (status 0)`, `signalled by the operator (SIGKILL)` (the status is left out when
    /// it is the signal that was sent), `signalled by the operator (SIGINT), then status 1`.
    pub fn with_status(self, status: &str) -> String {
        match self {
            ExitCause::Signalled { signal, .. } if status == signal.name() || status == "-" => self.describe(),
            ExitCause::Signalled { .. } => format!("{}, then {status}", self.describe()),
            other => format!("{} ({status})", other.as_str()),
        }
    }

    /// Did the node end the way an operator wants a stop to end? A signal someone sent it
    /// counts as a stop, unless it was SIGKILL (no cleanup ran: a kill, like a forced stop).
    pub fn is_clean(self) -> bool {
        match self {
            ExitCause::Exited | ExitCause::Stopped => true,
            ExitCause::Signalled { signal, .. } => signal != Signal::KILL,
            _ => false,
        }
    }
}

/// A drop token still lent out, with who holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingToken {
    pub id: u64,
    /// Nanoseconds since the token was issued.
    pub age_ns: u64,
    pub holders: Vec<String>,
}

/// A process left over after its node's leader ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survivor {
    pub pid: u32,
    pub name: String,
    /// Did it detach into its own session (`setsid`) or process group?
    pub detached: bool,
}

/// One process of a node's tree as `/proc` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProcSample {
    pub pid: u32,
    pub ppid: u32,
    /// `comm`: the kernel's short name of the process.
    pub name: String,
    /// Signals with a handler installed (`SigCgt`).
    pub caught: SigSet,
    /// Signals ignored (`SigIgn`).
    pub ignored: SigSet,
    pub threads: Vec<ThreadSample>,
    pub children: Vec<ChildInfo>,
    /// How long signals have stayed blocked on every thread, and held pending, read after read
    /// (what the stop-signal-blocked hazard is judged on). Empty when nothing is blocked on
    /// every thread; absent from journals older than it.
    #[serde(default, skip_serializing_if = "MaskRuns::is_empty")]
    pub mask_runs: MaskRuns,
    /// Stopped (state `T`: SIGSTOP, job control) or held by a debugger (`t`, a ptrace stop);
    /// `None` while it runs or sleeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<Paused>,
}

/// Runs of consecutive reads of a process that found signals blocked on every thread (and
/// pending while so), raw: the thread masks in [`ThreadSample::blocked`] are the confirmed
/// ones, which hide a mask seen in one read only, open as well as blocked.
///
/// A read counts towards a run only if it comes at least 200 ms after the run's previous one
/// (two reads of the same moment are one sighting); a read that finds a signal open on any
/// thread ends its run. The probe publishes a sample at each counted read until the run has
/// lasted long enough for the hazard to be judged (`hazards::BLOCK_PERSIST_*`), then only when
/// it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MaskRuns {
    /// Signals blocked on every thread in each of the latest `reads` reads; from two reads on
    /// (one read is never a run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<MaskRun>,
    /// Signals pending (the process's `ShdPnd` or a thread's `SigPnd`) while every thread blocks
    /// them, in each of the latest `reads` reads: sent, and held back by the mask.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<MaskRun>,
}

impl MaskRuns {
    pub fn is_empty(&self) -> bool {
        self.blocked.is_empty() && self.held.is_empty()
    }
}

/// Signals found so in `reads` consecutive reads, the latest included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskRun {
    pub signals: SigSet,
    pub reads: u32,
    /// Which run this is: the number of the probe's read of the process that started it. Two
    /// samples show the same run only with the same number: a run that ended and a new one
    /// that grew as long between two samples are told apart. 0 in journals older than it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub started: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why a process is not running at all, from its state in `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Paused {
    /// `T`: stopped by SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU; SIGCONT resumes it.
    Stopped,
    /// `t`: stopped by a tracer (a debugger, strace): only the tracer resumes it, SIGCONT
    /// does not.
    Traced,
}

impl Paused {
    /// From the one-letter state of `/proc/PID/stat`.
    pub fn from_state(state: u8) -> Option<Paused> {
        match state {
            b'T' => Some(Paused::Stopped),
            b't' => Some(Paused::Traced),
            _ => None,
        }
    }

    /// `paused (stopped)`, `paused (debugger)`: for detail panes.
    pub fn describe(self) -> &'static str {
        match self {
            Paused::Stopped => "paused (stopped: SIGSTOP or job control)",
            Paused::Traced => "paused (held by a debugger: a ptrace stop)",
        }
    }
}

impl ProcSample {
    /// Signals blocked on every thread: none of them can take delivery.
    pub fn blocked_everywhere(&self) -> SigSet {
        self.threads
            .iter()
            .fold(SigSet(if self.threads.is_empty() { 0 } else { u64::MAX }), |acc, t| acc.intersect(t.blocked))
    }

    /// How this process disposes of a signal, from the kernel's masks.
    pub fn disposition(&self, sig: Signal) -> Disposition {
        if self.ignored.contains(sig) {
            Disposition::Ignored
        } else if self.caught.contains(sig) {
            Disposition::Caught
        } else {
            Disposition::Default
        }
    }
}

/// What the kernel will do with a signal sent to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Default,
    Caught,
    Ignored,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Default => "default",
            Disposition::Caught => "caught",
            Disposition::Ignored => "ignored",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ThreadSample {
    pub tid: u32,
    pub name: String,
    /// Signals this thread blocks (`SigBlk`).
    pub blocked: SigSet,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildInfo {
    pub pid: u32,
    pub name: String,
    /// Did the child exec a program, or is it a copy of its parent (fork without exec)?
    pub execd: bool,
}

/// A fork as first seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkSeen {
    pub parent_pid: u32,
    pub child_pid: u32,
    /// Threads of the parent at the fork.
    pub threads: u32,
    /// Was an async runtime running in the parent (client library only)?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<bool>,
    pub source: ForkSource,
    /// Threads of the parent that belong to gracewatch's client library (reported by it):
    /// not counted when deciding whether the fork was threaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_tids: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForkSource {
    /// Reported by the node's client library at the fork.
    Client,
    /// The kernel's process-events connector, at the fork.
    Connector,
    /// Found by the /proc probe at its next sample.
    Proc,
}

impl ForkSource {
    /// Who saw it, in words.
    pub fn describe(self) -> &'static str {
        match self {
            ForkSource::Client => "the client library",
            ForkSource::Connector => "the kernel connector",
            ForkSource::Proc => "the /proc probe",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeMode {
    /// Kernel process-events connector (exact fork/exec/exit) plus /proc for masks.
    Connector,
    /// /proc polling only.
    Polling,
}

/// Who asked for a stop, or for a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requester {
    /// A key pressed in the cockpit.
    Operator,
    /// `gracewatch stop` on the control socket.
    Ctl,
    /// A signal to gracewatch itself (Ctrl-C, SIGTERM, SIGHUP).
    Signal,
    /// The supervisor on its own (quitting, the end of a session, a survivor sweep).
    Supervisor,
    /// A stop's plan, carried out by the stop engine (its signal stages, the SIGCONT after
    /// each, the kill): whoever asked for the stop is on its `StopRequested`.
    Plan,
}

impl Requester {
    pub fn as_str(self) -> &'static str {
        match self {
            Requester::Operator => "operator",
            Requester::Ctl => "ctl",
            Requester::Signal => "signal",
            Requester::Supervisor => "supervisor",
            Requester::Plan => "plan",
        }
    }

    /// Who, in a sentence: `signalled by the operator`.
    pub fn phrase(self) -> &'static str {
        match self {
            Requester::Operator => "the operator",
            Requester::Ctl => "gracewatch on the command line",
            Requester::Signal => "a signal to gracewatch",
            Requester::Supervisor => "gracewatch",
            Requester::Plan => "its stop plan",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMode {
    Graceful,
    Force,
}

/// The course a stop will take, fixed when it is requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopPlan {
    /// From the request to SIGKILL, before any drain extension.
    pub grace_ms: u64,
    /// In order; `at_ms` counts from the request. The last stage is always the kill.
    pub stages: Vec<PlanStage>,
    /// Upper bound on moving the kill deadline out while tokens drain.
    pub drain_extension_ms: u64,
    /// Signals go to the whole process group.
    pub group: bool,
}

impl StopPlan {
    /// The first signal the plan sends (its stop signal, or the one `stop --signal` chose);
    /// `None` for a plan that only kills.
    pub fn first_signal(&self) -> Option<Signal> {
        self.stages.iter().find_map(|s| match s.action {
            StageAction::Signal(sig) => Some(sig),
            _ => None,
        })
    }

    /// One line for a confirm prompt: `stop message → SIGTERM @2s → SIGINT @5s → SIGKILL @10s`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .stages
            .iter()
            .map(|s| {
                let what = s.action.label();
                if s.at_ms == 0 { what } else { format!("{what} @{}", crate::util::fmt_ms(s.at_ms)) }
            })
            .collect();
        parts.join(" → ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStage {
    pub at_ms: u64,
    pub action: StageAction,
}

/// What a stage of a stop does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageAction {
    /// Send the cooperative `stop` message on the node's socket.
    Message,
    /// Send a signal (the stop signal or an escalation).
    Signal(Signal),
    /// SIGKILL.
    Kill,
}

impl StageAction {
    pub fn label(self) -> String {
        match self {
            StageAction::Message => "stop message".to_string(),
            StageAction::Signal(s) => s.name(),
            StageAction::Kill => "SIGKILL".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalTarget {
    /// The node's process only, through its pidfd.
    Process,
    /// The node's whole process group.
    Group,
    /// One survivor or descendant, through its pidfd.
    Descendant,
}

/// A node's report of installing (or failing to install) a signal handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlerClaim {
    pub signal: Signal,
    pub outcome: ClaimOutcome,
    /// The library or component that asked: `torch.distributed`, `uvicorn`, `dataflow-runtime`.
    pub owner: String,
    /// Name of the thread it was attempted from.
    pub thread: String,
    pub main_thread: bool,
    /// The exact error on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimOutcome {
    Installed,
    Failed,
    Restored,
}
