//! The /proc probe: watches each node's process tree and reports what changed.
//!
//! Runs on its own thread ("gw-probe"). The supervisor tells it which trees to watch and how
//! closely (someone watching, a stop running); it emits [`EventKind`]s through a sink:
//! `ProcSampled` (only when something but CPU/memory changed), `ProcGone`, `Usage`,
//! `Fork` and `ForkResolved`, `Exec`, and `ProbeMode` once at start (and again if the kernel
//! connector fails later).
//!
//! Where things are:
//! - [`read`]: reading one process or thread from `/proc` (hand-parsed `stat`).
//! - `exec`: did a child exec? (address-space layout, not the command line).
//! - `tree`: a node's tree as last read, mask hysteresis, usage.
//! - [`children`]: who a process's children are (with or without
//!   `CONFIG_PROC_CHILDREN`).
//! - `forks`: the fork tracker, forks seen and resolved (threaded? exec'd?);
//!   `at_fork`: which threads existed at the instant of a fork.
//! - `masks`: runs of reads that found signals blocked on every thread.
//! - `schedule`: the adaptive cadence.
//! - `connector`: the kernel's process events (`NETLINK_CONNECTOR`).
//! - `thread`: the probe thread: its commands, the rounds that refresh each
//!   tree, the kernel connector's events (handed to the fork tracker where they are forks).
//!
//! What each process costs per round, and when rounds happen, is described in
//! `schedule`; the measured figures are in `benches/probe.rs`.

mod at_fork;
pub mod children;
mod connector;
mod exec;
mod forks;
mod masks;
#[doc(hidden)]
pub mod read; // public for benches/probe.rs only
mod schedule;
mod thread;
mod tree;

use crate::event::{EventKind, ForkSeen, ProbeMode, Signal};
use rustix::fd::OwnedFd;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use thread::{Cmd, Worker};

/// Where the probe's events go (the supervisor stamps and journals them).
pub(crate) type Sink = Box<dyn Fn(EventKind) + Send + 'static>;

/// Called on the probe thread when a watched process exits and the kernel connector told how
/// (see [`Probe::on_exit`]).
pub(crate) type ExitHook = Box<dyn Fn(ProcExit) + Send + 'static>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Interval while someone watches or a stop runs (manifest `probe_interval`).
    pub fast_interval_ms: u64,
    /// Longest interval when nothing changes and nobody watches.
    pub idle_interval_ms: u64,
    /// Use the kernel's process-events connector when it is available (default). Off: /proc
    /// polling only.
    pub connector: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig { fast_interval_ms: 250, idle_interval_ms: 5_000, connector: true }
    }
}

/// How closely to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Intensity {
    /// Cockpits attached.
    pub viewers: usize,
    /// Nodes with a stop in progress.
    pub stopping: usize,
}

/// A process of a node's tree, as last seen (for the survivor sweep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22): tells a recycled
    /// pid apart.
    pub start_time: u64,
}

/// How a watched process ended, as the kernel connector reported it. Available for processes
/// gracewatch did not start (`gracewatch watch`), which it cannot `wait` for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcExit {
    pub node: String,
    pub pid: u32,
    /// Clock ticks since boot, as in [`Known`].
    pub start_time: u64,
    /// Exit status, if it exited.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<Signal>,
    pub core_dumped: bool,
}

/// State the probe thread shares with the handle and the connector thread.
#[derive(Clone, Default)]
struct Shared {
    /// Pids whose kernel events matter (every tracked process).
    tracked: Arc<Mutex<HashSet<u32>>>,
    /// Each node's membership as of its last round, for `known()` when the thread is busy.
    known: Arc<Mutex<HashMap<String, Vec<Known>>>>,
    /// 0: not decided yet; 1: connector; 2: polling.
    mode: Arc<AtomicU8>,
}

impl Shared {
    fn set_mode(&self, mode: ProbeMode) {
        self.mode.store(if mode == ProbeMode::Connector { 1 } else { 2 }, Ordering::Relaxed);
    }
}

/// How long `known()` waits for the probe thread's fresh look before it settles for the last
/// published one.
const KNOWN_WAIT: Duration = Duration::from_millis(500);

/// The supervisor's handle on the probe thread. Dropping it stops the thread.
pub struct Probe {
    tx: Sender<Cmd>,
    shared: Shared,
    worker: Option<JoinHandle<()>>,
    connector: Option<JoinHandle<()>>,
    /// Dropping the write end of this pipe stops the connector thread.
    connector_stop: Option<OwnedFd>,
}

impl Probe {
    pub fn start(config: ProbeConfig, sink: Sink) -> std::io::Result<Probe> {
        let (tx, rx) = mpsc::channel();
        let shared = Shared::default();
        let worker = Worker::new(config, sink, shared.clone());
        let worker = std::thread::Builder::new().name("gw-probe".to_string()).spawn(move || worker.run(&rx))?;
        let mut probe = Probe {
            tx: tx.clone(),
            shared: shared.clone(),
            worker: Some(worker),
            connector: None,
            connector_stop: None,
        };
        if !config.connector {
            let _ = tx.send(Cmd::Connector(connector::ConnectorMsg::Down(
                "/proc polling: the kernel connector is turned off".to_string(),
            )));
            return Ok(probe);
        }
        match connector::stop_pipe() {
            Ok((stop_read, stop_write)) => {
                let tracked = shared.tracked.clone();
                let spawned = std::thread::Builder::new().name("gw-connector".to_string()).spawn(move || {
                    connector::run(&stop_read, &tracked, &mut |msg| tx.send(Cmd::Connector(msg)).is_ok());
                });
                match spawned {
                    Ok(handle) => {
                        probe.connector = Some(handle);
                        probe.connector_stop = Some(stop_write);
                    }
                    Err(e) => probe.send(Cmd::Connector(connector::ConnectorMsg::Down(format!(
                        "connector thread not started: {e}"
                    )))),
                }
            }
            Err(e) => {
                probe.send(Cmd::Connector(connector::ConnectorMsg::Down(format!("connector not started: pipe: {e}"))));
            }
        }
        Ok(probe)
    }

    fn send(&self, cmd: Cmd) {
        // The thread only ends when the handle is dropped: a failed send cannot happen while
        // `self` exists, and there is nothing to do about it if it did.
        let _ = self.tx.send(cmd);
    }

    /// Start watching a node's tree rooted at `pid` (sampled at once).
    pub fn watch(&self, node: &str, pid: u32) {
        self.send(Cmd::Watch { node: node.to_string(), pid });
    }

    /// The node's main process ended: take a last look at what is left, then stop watching.
    /// [`known`](Probe::known) still lists what was left (while it lives).
    pub fn unwatch(&self, node: &str) {
        self.send(Cmd::Unwatch { node: node.to_string() });
    }

    pub(crate) fn set_intensity(&self, intensity: Intensity) {
        self.send(Cmd::Intensity(intensity));
    }

    /// Sample this node's tree now (a stop was requested, a signal sent). From then on, its
    /// processes' start-up no longer defers judging their signal dispositions.
    pub(crate) fn sample_now(&self, node: &str) {
        self.send(Cmd::SampleNow { node: node.to_string() });
    }

    /// A fork reported by someone else (the node's client library): resolve whether the
    /// child exec'd and whether the parent's threads outlived the fork.
    pub fn fork_seen(&self, node: &str, fork: ForkSeen) {
        self.send(Cmd::ForkSeen { node: node.to_string(), fork });
    }

    /// Every process of the node's tree the probe knows of, leader included, with start
    /// times; includes descendants reparented away from the tree.
    ///
    /// For a watched node the probe thread first re-reads the tree (children lists included),
    /// so a process forked a moment ago is listed; if the thread cannot answer within half a
    /// second (e.g. the sink is blocked), the membership of the last round is returned. For an
    /// unwatched node: what was left at its last look and is still alive. Do not call this
    /// from the sink.
    pub fn known(&self, node: &str) -> Vec<Known> {
        let (reply, answer) = mpsc::channel();
        if self.tx.send(Cmd::Known { node: node.to_string(), reply }).is_ok() {
            if let Ok(known) = answer.recv_timeout(KNOWN_WAIT) {
                return known;
            }
        }
        let last =
            self.shared.known.lock().unwrap_or_else(PoisonError::into_inner).get(node).cloned().unwrap_or_default();
        thread::still_alive(&last)
    }

    /// How process events are collected, once decided (the connector takes up to a second to
    /// acknowledge; `ProbeMode` is emitted at the same moment).
    pub fn mode(&self) -> Option<ProbeMode> {
        match self.shared.mode.load(Ordering::Relaxed) {
            1 => Some(ProbeMode::Connector),
            2 => Some(ProbeMode::Polling),
            _ => None,
        }
    }

    /// Calls `hook` (on the probe thread) whenever a watched process exits and the kernel
    /// connector reported its status: exit code or signal, for processes gracewatch did not
    /// start and cannot `wait` for. Not called in polling mode (nothing tells the status).
    pub fn on_exit(&self, hook: ExitHook) {
        self.send(Cmd::OnExit(hook));
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.send(Cmd::Shutdown);
        self.connector_stop = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        if let Some(c) = self.connector.take() {
            let _ = c.join();
        }
    }
}
