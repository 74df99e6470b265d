//! A running session: the loop that owns the hub, the stop engine and the node processes, and
//! turns inputs (reaped children, edge events, commands, timers, signals to gracewatch) into
//! events and actions. Its parts, a file each:
//!
//! - this file: the session's state and its loop (what wakes it, when it ends);
//! - `mode`: owned (`up`, headless: started, stopped and swept by the session) or watched
//!   (`gracewatch watch`: taken under watch, never stopped or swept at the end);
//! - `start`: the edges a session starts (journal, sockets, reaper, spawner, probe, guardian,
//!   Python client) and then its nodes;
//! - `commands`: what the control socket, the cockpits and signals to gracewatch ask (stops,
//!   signals, `ps`, subscriptions), and the answers to `stop --wait`;
//! - `effects`: the stop engine's effects carried out (events, signals, stop messages);
//! - `exits`: a reaped leader's exit, decided at once and recorded after its last output and
//!   messages;
//! - `end`: survivor sweeps, and the end of the session;
//! - `watch`: the processes of a watched session (adoption, exits through pidfds);
//! - `wire`: node messages on the node socket, validated against the fold.
//!
//! What the edges send the loop is [`crate::supervisor::input::Input`].

mod commands;
mod effects;
mod end;
mod error;
mod exits;
mod mode;
mod start;
mod watch;
mod wire;

use super::command::Command;
use super::hub::Hub;
use super::input::Input;
use super::node_server::{Conn, Secrets};
use super::registry::Registry;
use super::spawner::Spawner;
use crate::clock::Clock;
use crate::control::protocol::StoppedNode;
use crate::event::{EventKind, ExitCause, SessionMode};
use crate::manifest::Manifest;
use crate::probe::{Intensity, Probe};
use crate::state::Phase;
use crate::stop_engine::StopEngine;
pub(crate) use error::{RunError, StartError};
use mode::Mode;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
pub(crate) use watch::Targets;

/// How long the end of a session waits for its last control answers to be written.
const CONTROL_DRAIN: std::time::Duration = std::time::Duration::from_millis(500);

/// What a session is asked to do.
pub(crate) struct SessionConfig {
    pub manifest: Manifest,
    pub mode: SessionMode,
    /// `None`: the default path.
    pub journal: Option<PathBuf>,
    /// Print every event to stdout (`--headless`).
    pub print: bool,
    /// End the session once every node has exited, however they ended (headless runs).
    pub end_when_all_exited: bool,
    /// Extra environment for every node (the Python client's path, for instance).
    pub extra_env: BTreeMap<String, String>,
    /// `watch`: processes to adopt instead of nodes to start.
    pub targets: Option<Targets>,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionOutcome {
    pub journal: Option<PathBuf>,
    /// Every node ended cleanly (exited 0 or stopped before its deadline).
    pub clean: bool,
    pub summary: Vec<(String, Option<ExitCause>)>,
    /// The journal could not be written to the end (the first write error).
    pub journal_problem: Option<String>,
}

/// The handle others use to reach the session.
#[derive(Clone)]
pub(crate) struct SessionHandle {
    pub session: String,
    pub commands: mpsc::Sender<Command>,
    pub journal: Option<PathBuf>,
    pub control_socket: PathBuf,
}

struct NodeProc {
    pid: u32,
    /// 0 for a watched process (never signalled as a group).
    pgid: u32,
    pidfd: Arc<OwnedFd>,
}

/// A `stop --wait` waiting for its nodes to exit.
struct Waiter {
    nodes: Vec<String>,
    reply: oneshot::Sender<Vec<StoppedNode>>,
}

/// The two sockets a session serves, and their tasks.
struct Sockets {
    control_task: tokio::task::JoinHandle<()>,
    /// Taken when the session ends, to wait for the control connections' last answers.
    control_drain: Option<super::control_server::Drain>,
    control: PathBuf,
    node_task: tokio::task::JoinHandle<()>,
    node: PathBuf,
    secrets: Secrets,
}

pub(crate) struct Session {
    cfg: SessionConfig,
    clock: Clock,
    hub: Hub,
    engine: StopEngine,
    /// Owned or watched, with what each has of its own.
    mode: Mode,
    procs: HashMap<String, NodeProc>,
    registry: Arc<Registry>,
    spawner: Spawner,
    probe: Probe,
    /// The session's random id, in every node's environment (survivors carry it).
    run_id: String,
    inputs_tx: mpsc::Sender<Input>,
    inputs_rx: mpsc::Receiver<Input>,
    commands_rx: mpsc::Receiver<Command>,
    sockets: Sockets,
    conns: HashMap<u64, Conn>,
    waiters: Vec<Waiter>,
    sweeps: end::Sweeps,
    /// Output streams of each node still open.
    open_streams: HashMap<String, u32>,
    /// Reaped leaders whose exits wait for their last output and messages ([`exits`]).
    held_exits: Vec<exits::HeldExit>,
    viewers: usize,
    intensity: Intensity,
    signals_seen: u32,
    end_requested: bool,
}

impl Session {
    /// Starts the nodes and runs until the session ends.
    pub(crate) async fn run(mut self) -> Result<SessionOutcome, RunError> {
        let mut signals = signal_hook_tokio::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ])
        .map_err(RunError::Signals)?;
        if self.mode.owns() {
            self.spawn_all().await;
        } else {
            self.adopt_targets();
        }
        use futures_util::StreamExt;
        loop {
            if self.should_end() {
                break;
            }
            let wake = self.next_wake().map(|t| tokio::time::Instant::from_std(self.clock.instant_at(t)));
            tokio::select! {
                biased;
                Some(input) = self.inputs_rx.recv() => self.on_input(input),
                Some(sig) = signals.next() => self.on_signal(sig),
                Some(cmd) = self.commands_rx.recv() => self.on_command(cmd),
                () = async { if let Some(w) = wake { tokio::time::sleep_until(w).await } else { std::future::pending().await } } => self.on_timer(),
            }
            self.update_intensity();
            if let Some(message) = self.hub.take_journal_failure() {
                self.emit(EventKind::SupervisorError { context: "journal".into(), message });
            }
        }
        signals.handle().close();
        let drain = self.sockets.control_drain.take();
        let outcome = self.finish();
        // The answers finish() gave (`stop --wait`, attached cockpits told the session ended)
        // are written by the connection tasks: let them go out before the runtime is dropped.
        if let Some(drain) = drain {
            drain.wait(CONTROL_DRAIN).await;
        }
        Ok(outcome)
    }

    pub(super) fn now(&self) -> u64 {
        self.clock.now()
    }

    pub(super) fn emit(&mut self, ev: EventKind) {
        let now = self.now();
        self.hub.push(now, ev);
    }

    /// When the loop must wake next: a stop's stage, a sweep, a held exit, the mode's own.
    fn next_wake(&self) -> Option<u64> {
        [self.engine.next_deadline(), self.sweeps.next_due(), self.mode.next_wake(), self.next_held_exit()]
            .into_iter()
            .flatten()
            .min()
    }

    fn should_end(&self) -> bool {
        if self.sweeps.busy() || !self.held_exits.is_empty() {
            return false;
        }
        if !self.mode.waits_for_exits() {
            return self.end_requested;
        }
        let all_exited = self.hub.state.nodes.values().all(|n| n.phase == Phase::Exited);
        (self.end_requested && all_exited)
            || self.engine.all_done(&self.hub.state)
            || (self.cfg.end_when_all_exited && all_exited)
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Event(t, ev) => {
                self.hub.push(t, ev);
            }
            Input::Reaped(r) => self.on_leader_reaped(r),
            Input::StreamClosed { node } => self.stream_closed(&node),
            Input::Wire(w) => self.on_wire(w),
            Input::PidfdExited { node, pid, t } => self.on_pidfd_exit(node, pid, t),
            Input::ProcExit(e) => self.on_proc_exit(e),
            Input::Swept { node, survivors } => self.on_swept(node, survivors),
        }
    }

    fn on_timer(&mut self) {
        let now = self.now();
        self.release_overdue_exits(now);
        self.on_watch_timer(now);
        let effects = self.engine.tick(&self.hub.state, now);
        self.execute(effects);
        self.start_due_sweeps(now);
    }

    /// The probe watches closer while anyone looks or anything stops.
    fn update_intensity(&mut self) {
        let next = Intensity { viewers: self.viewers, stopping: self.engine.stopping() };
        if next != self.intensity {
            self.intensity = next;
            self.probe.set_intensity(next);
        }
    }
}
