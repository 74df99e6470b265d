//! The probe thread ("gw-probe"): owns every watched tree, sleeps on its command channel
//! between rounds (so it costs nothing while nothing is due), runs the rounds that are due,
//! and handles the kernel connector's events as they come.

use super::connector::{ConnectorMsg, KernelEvent};
use super::forks::PendingFork;
use super::read::{Buf, ProcDir, Units};
use super::schedule::RoundKind;
use super::tree::NodeTree;
use super::{ExitHook, Intensity, Known, ProbeConfig, Shared, Sink};
use crate::event::{EventKind, ForkSeen, ProbeMode};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a reaped process stays known to the connector's filter, for its exit event.
const GONE_GRACE: Duration = Duration::from_secs(2);

/// What the probe thread is asked to do.
pub enum Cmd {
    Watch { node: String, pid: u32 },
    Unwatch { node: String },
    Intensity(Intensity),
    SampleNow { node: String },
    ForkSeen { node: String, fork: ForkSeen },
    Known { node: String, reply: Sender<Vec<Known>> },
    OnExit(ExitHook),
    Connector(ConnectorMsg),
    Shutdown,
}

pub struct Worker {
    pub(super) config: ProbeConfig,
    pub(super) sink: Sink,
    pub(super) units: Units,
    /// Address-space randomization on system-wide.
    pub(super) aslr: bool,
    pub(super) buf: Buf,
    pub(super) child_index: super::children::ChildIndex,
    pub(super) nodes: BTreeMap<String, NodeTree>,
    /// Which node each tracked pid belongs to.
    pub(super) owner: HashMap<u32, String>,
    /// What was left of unwatched nodes at their last look.
    pub(super) retired: HashMap<String, Vec<Known>>,
    pub(super) shared: Shared,
    pub(super) intensity: Intensity,
    /// The connector reports forks, execs and exits.
    pub(super) connector_up: bool,
    pub(super) forks: HashMap<u32, PendingFork>,
    /// Children the connector reported that were gone before they could be read.
    pub(super) orphan_forks: HashSet<u32>,
    /// Processes reaped moments ago: (node, start time, when), until their exit event is in.
    pub(super) recently_gone: HashMap<u32, (String, u64, Instant)>,
    /// Exit statuses the connector reported for processes not yet seen gone.
    pub(super) exit_status: HashMap<u32, super::connector::ExitStatus>,
    pub(super) exit_hook: Option<ExitHook>,
    /// `/proc/sys/kernel/pid_max`: where pid numbers wrap.
    pub(super) pid_max: u32,
    /// xorshift state for [`Worker::random`].
    pub(super) rng: u64,
}

impl Worker {
    pub fn new(config: ProbeConfig, sink: Sink, shared: Shared) -> Worker {
        Worker {
            config,
            sink,
            units: Units::get(),
            aslr: super::read::aslr_enabled(),
            buf: Buf::new(),
            child_index: super::children::ChildIndex::default(),
            nodes: BTreeMap::new(),
            owner: HashMap::new(),
            retired: HashMap::new(),
            shared,
            intensity: Intensity::default(),
            connector_up: false,
            forks: HashMap::new(),
            orphan_forks: HashSet::new(),
            recently_gone: HashMap::new(),
            exit_status: HashMap::new(),
            exit_hook: None,
            pid_max: super::read::pid_max(),
            rng: super::read::monotonic_ns() | 1,
        }
    }

    /// A pseudo-random number (xorshift64): only to keep reads out of step with a process.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    pub(super) fn fast(&self) -> Duration {
        Duration::from_millis(self.config.fast_interval_ms)
    }

    pub(super) fn idle(&self) -> Duration {
        Duration::from_millis(self.config.idle_interval_ms)
    }

    pub(super) fn tracked_set(&self) -> MutexGuard<'_, HashSet<u32>> {
        self.shared.tracked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn intense(&self) -> bool {
        self.intensity.viewers > 0 || self.intensity.stopping > 0
    }

    /// Runs until told to stop (or every handle is gone).
    pub fn run(mut self, rx: &Receiver<Cmd>) {
        loop {
            let now = Instant::now();
            let first = match self.next_wake() {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(t) => rx.recv_timeout(t.saturating_duration_since(now)),
            };
            match first {
                Ok(Cmd::Shutdown) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(cmd) => {
                    self.handle(cmd);
                    // Take whatever else is queued before the next round.
                    loop {
                        match rx.try_recv() {
                            Ok(Cmd::Shutdown) => return,
                            Ok(cmd) => self.handle(cmd),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.run_due(Instant::now());
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let rounds = self.nodes.values().map(|t| t.cadence.next).min();
        match (rounds, self.next_fork_check()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn run_due(&mut self, now: Instant) {
        let intense = self.intense();
        let due: Vec<String> =
            self.nodes.iter().filter(|(_, t)| t.cadence.is_due(now)).map(|(n, _)| n.clone()).collect();
        for node in due {
            let Some(kind) = self.nodes.get(&node).map(|t| t.cadence.kind(now, intense)) else { continue };
            let changed = self.round(&node, kind, now);
            let fast = self.fast();
            let spread = super::masks::spread(fast, self.random());
            if let Some(tree) = self.nodes.get_mut(&node) {
                tree.cadence.ran(now, kind, intense, changed);
                // Masks seen once wait for their second sighting: look again soon.
                if tree.unconfirmed() {
                    tree.cadence.look_again(now, fast);
                }
                // A signal seen blocked on every thread waits for its run to be judged: look
                // again soon, at uneven intervals, so that a block that comes back on a period
                // close to the probe's own is not seen in step, read after read.
                if tree.judging_masks() {
                    tree.cadence.look_again(now, spread);
                }
            }
        }
        self.resolve_forks(now);
        self.forget_the_gone(now);
    }

    /// Drops the processes reaped more than [`GONE_GRACE`] ago from the connector's set.
    fn forget_the_gone(&mut self, now: Instant) {
        if self.recently_gone.is_empty() {
            return;
        }
        let old: Vec<u32> = self
            .recently_gone
            .iter()
            .filter(|(_, (_, _, at))| now.duration_since(*at) > GONE_GRACE)
            .map(|(pid, _)| *pid)
            .collect();
        for pid in old {
            self.recently_gone.remove(&pid);
            if !self.owner.contains_key(&pid) {
                self.tracked_set().remove(&pid);
            }
        }
    }

    fn handle(&mut self, cmd: Cmd) {
        let now = Instant::now();
        match cmd {
            Cmd::Watch { node, pid } => self.watch(&node, pid, now),
            Cmd::Unwatch { node } => self.unwatch(&node, now),
            Cmd::Intensity(i) => {
                let was = self.intense();
                self.intensity = i;
                if self.intense() && !was {
                    // Someone looks: fresh full samples now.
                    for tree in self.nodes.values_mut() {
                        tree.cadence.due_now(now);
                    }
                }
            }
            Cmd::SampleNow { node } => {
                if let Some(tree) = self.nodes.get_mut(&node) {
                    tree.signalled = true;
                    self.round(&node, RoundKind::Full, now);
                    if let Some(tree) = self.nodes.get_mut(&node) {
                        tree.cadence.full_done(now);
                        tree.cadence.changed(now);
                    }
                }
            }
            Cmd::ForkSeen { node, fork } => self.client_fork(&node, &fork, now),
            Cmd::Known { node, reply } => {
                if self.nodes.contains_key(&node) {
                    self.round(&node, RoundKind::Full, now);
                }
                let _ = reply.send(self.known_now(&node));
            }
            Cmd::OnExit(hook) => self.exit_hook = Some(hook),
            Cmd::Connector(msg) => self.connector(msg, now),
            Cmd::Shutdown => {}
        }
    }

    fn connector(&mut self, msg: ConnectorMsg, now: Instant) {
        match msg {
            ConnectorMsg::Up => {
                self.connector_up = true;
                self.set_mode(
                    ProbeMode::Connector,
                    "kernel process events connector: exact fork, exec and exit".to_string(),
                );
            }
            ConnectorMsg::Down(why) => {
                self.connector_up = false;
                self.set_mode(ProbeMode::Polling, why);
            }
            ConnectorMsg::Event(KernelEvent::Fork { parent, child, timestamp_ns }) => {
                self.kernel_fork(parent, child, timestamp_ns, now);
            }
            ConnectorMsg::Event(KernelEvent::Exec { pid }) => self.kernel_exec(pid, now),
            ConnectorMsg::Event(KernelEvent::Exit { pid, status }) => self.kernel_exit(pid, status, now),
            ConnectorMsg::Event(KernelEvent::Thread { pid, tid, born, timestamp_ns }) => {
                self.kernel_thread(pid, tid, born, timestamp_ns);
            }
            ConnectorMsg::Event(KernelEvent::Lost) => {
                // Events were dropped: re-read every tree in full.
                let nodes: Vec<String> = self.nodes.keys().cloned().collect();
                for node in nodes {
                    self.round(&node, RoundKind::Full, now);
                }
            }
        }
    }

    pub(super) fn set_mode(&mut self, mode: ProbeMode, detail: String) {
        self.shared.set_mode(mode);
        (self.sink)(EventKind::ProbeMode { mode, detail });
    }

    /// Full samples of a few processes of a node right now (an exec); the node turns hot.
    pub(super) fn resample(&mut self, node: &str, pids: &[u32], now: Instant) {
        if let Some(tree) = self.nodes.get_mut(node) {
            tree.cadence.changed(now);
        }
        self.force_full(node, pids, now);
    }

    /// Every process the node's tree knows (or, for an unwatched node, what was left of it and
    /// is still alive with the same start time).
    pub(super) fn known_now(&self, node: &str) -> Vec<Known> {
        if let Some(tree) = self.nodes.get(node) {
            return tree.known();
        }
        self.retired.get(node).map(|k| still_alive(k)).unwrap_or_default()
    }

    /// Publishes the node's membership for `Probe::known` callers that cannot wait.
    pub(super) fn publish_known(&self, node: &str) {
        let known = match self.nodes.get(node) {
            Some(tree) => tree.known(),
            None => self.retired.get(node).cloned().unwrap_or_default(),
        };
        self.shared.known.lock().unwrap_or_else(PoisonError::into_inner).insert(node.to_string(), known);
    }
}

/// The processes of `known` that still exist with the same start time.
pub fn still_alive(known: &[Known]) -> Vec<Known> {
    let mut buf = Buf::new();
    known
        .iter()
        .filter(|k| ProcDir::open(k.pid).and_then(|d| d.stat(&mut buf)).is_ok_and(|s| s.start_time == k.start_time))
        .copied()
        .collect()
}
