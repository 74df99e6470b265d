//! Watching processes gracewatch did not start (`gracewatch watch`).
//!
//! Each target is *adopted*: a pidfd is opened and then checked against the start time read
//! before it, so the pidfd is known to hold the process that was meant (a recycled pid is never
//! signalled). Exits come from the pidfd becoming readable; the exit status, which only a parent
//! may collect, comes from the kernel connector when the probe has it. Ending a watch never
//! stops or sweeps anything: the processes are not ours.

use super::{NodeProc, Session};
use crate::event::{EventKind, Signal};
use crate::probe::ProcExit;
use crate::probe::read::{Buf, ProcDir};
use crate::supervisor::input::Input;
use std::collections::{HashMap, HashSet};
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// Which processes to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Targets {
    Pids(Vec<u32>),
    /// Processes whose name or command line contains the pattern, now and as they start.
    Name(String),
    /// The children of a process, now and as they start.
    ChildrenOf(u32),
}

/// Why a process could not be taken under watch (the journal says it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AdoptError {
    NoProcess {
        pid: u32,
        cause: String,
    },
    /// Its `/proc/PID/stat` could not be read.
    Unreadable {
        pid: u32,
        cause: String,
    },
    PidZero,
    Pidfd {
        pid: u32,
        error: rustix::io::Errno,
    },
    /// It ended while being taken under watch (its number may have been reused).
    Recycled(u32),
}

impl std::fmt::Display for AdoptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdoptError::NoProcess { pid, cause } => write!(f, "no process {pid}: {cause}"),
            AdoptError::Unreadable { pid, cause } => write!(f, "cannot read /proc/{pid}/stat: {cause}"),
            AdoptError::PidZero => f.write_str("pid 0"),
            AdoptError::Pidfd { pid, error } => write!(f, "cannot open a pidfd for {pid}: {error}"),
            AdoptError::Recycled(pid) => {
                write!(f, "pid {pid} ended (and its number may have been reused) while being taken under watch")
            }
        }
    }
}

/// How long an exit may wait for its status from the kernel connector.
const STATUS_WAIT_NS: u64 = 200_000_000;
/// How often `--name` and `--children-of` look for new matches.
const RESCAN_EVERY_NS: u64 = 1_000_000_000;

pub(super) struct Watched {
    /// What to watch.
    targets: Targets,
    /// Exit statuses that arrived before the pidfd said the process had gone.
    statuses: HashMap<u32, ProcExit>,
    /// Exits waiting for their status: (give up at, node, pid).
    waiting: Vec<(u64, String, u32)>,
    adopted: HashSet<u32>,
    /// Pids that could not be watched (said once).
    refused: HashSet<u32>,
    next_rescan: Option<u64>,
}

impl Watched {
    pub(super) fn new(targets: Targets) -> Self {
        Watched {
            targets,
            statuses: HashMap::new(),
            waiting: Vec::new(),
            adopted: HashSet::new(),
            refused: HashSet::new(),
            next_rescan: None,
        }
    }

    pub(super) fn next_wake(&self) -> Option<u64> {
        self.waiting.iter().map(|(t, _, _)| *t).chain(self.next_rescan).min()
    }
}

/// `python3-4242`: a node name for a watched process.
fn node_name(comm: &str, pid: u32) -> String {
    format!("{}-{pid}", crate::manifest::sanitize_name(comm))
}

fn cmdline_text(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim_end().to_string())
        .unwrap_or_default()
}

fn ppid_of(pid: u32) -> Option<u32> {
    ProcDir::open(pid).ok()?.stat(&mut Buf::new()).ok().map(|s| s.ppid)
}

/// The parent of `pid`, its parent, and so on (init and the kernel's threads left out).
fn ancestors_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut p = ppid_of(pid);
    while let Some(q) = p.filter(|q| *q > 1 && found.len() < 64) {
        found.push(q);
        p = ppid_of(q);
    }
    found
}

impl Session {
    /// Adopts the targets present now (called once when the session starts).
    pub(super) fn adopt_targets(&mut self) {
        let Some(targets) = self.mode.watched().map(|w| w.targets.clone()) else { return };
        match targets {
            Targets::Pids(pids) => {
                for pid in pids {
                    if let Err(e) = self.adopt(pid) {
                        let message = e.to_string();
                        self.emit(EventKind::SupervisorError { context: format!("watch pid {pid}"), message });
                    }
                }
            }
            Targets::Name(_) | Targets::ChildrenOf(_) => self.rescan(),
        }
    }

    /// Looks for new matches of `--name` / `--children-of`.
    fn rescan(&mut self) {
        let now = self.now();
        let Some(targets) = self.mode.watched().map(|w| w.targets.clone()) else { return };
        let candidates: Vec<u32> = match &targets {
            Targets::Pids(_) => return,
            Targets::ChildrenOf(parent) => crate::supervisor::survivors::children_of(*parent),
            Targets::Name(pattern) => {
                let me = std::process::id();
                std::fs::read_dir("/proc")
                    .into_iter()
                    .flatten()
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                    .filter(|pid| *pid != me)
                    .filter(|pid| {
                        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                        comm.trim_end().contains(pattern.as_str()) || cmdline_text(*pid).contains(pattern.as_str())
                    })
                    .collect()
            }
        };
        // gracewatch's own ancestors (the shell, `sudo`, `timeout` that started it) carry the
        // pattern in their command lines: watching them would mean offering to stop them.
        let ancestors = ancestors_of(std::process::id());
        for pid in candidates {
            let Some(w) = self.mode.watched() else { return };
            if w.adopted.contains(&pid)
                || w.refused.contains(&pid)
                || ancestors.contains(&pid)
                || self.descends_from_watched(pid)
            {
                continue;
            }
            if let Err(e) = self.adopt(pid) {
                let message = e.to_string();
                if let Some(w) = self.mode.watched_mut() {
                    w.refused.insert(pid);
                }
                self.emit(EventKind::SupervisorError { context: format!("watch pid {pid}"), message });
            }
        }
        if let Some(w) = self.mode.watched_mut() {
            w.next_rescan = Some(now + RESCAN_EVERY_NS);
        }
    }

    /// Is `pid` a descendant of an adopted process (then it is part of that node's tree) or
    /// of gracewatch itself?
    fn descends_from_watched(&self, pid: u32) -> bool {
        let Some(w) = self.mode.watched() else { return false };
        let me = std::process::id();
        let mut p = ppid_of(pid);
        for _ in 0..64 {
            match p {
                Some(0 | 1) | None => return false,
                Some(q) if q == me || w.adopted.contains(&q) => return true,
                Some(q) => p = ppid_of(q),
            }
        }
        false
    }

    /// Takes one process under watch.
    fn adopt(&mut self, pid: u32) -> Result<(), AdoptError> {
        let proc = ProcDir::open(pid).map_err(|e| AdoptError::NoProcess { pid, cause: e.to_string() })?;
        let mut buf = Buf::new();
        let stat = proc.stat(&mut buf).map_err(|e| AdoptError::Unreadable { pid, cause: e.to_string() })?;
        let raw = rustix::process::Pid::from_raw(pid as i32).ok_or(AdoptError::PidZero)?;
        let pidfd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty())
            .map_err(|error| AdoptError::Pidfd { pid, error })?;
        // The pidfd holds whatever process has this pid now: check it is the one read above.
        let now_start = ProcDir::open(pid).and_then(|p| p.stat(&mut buf)).map(|s| s.start_time);
        if now_start.ok() != Some(stat.start_time) {
            return Err(AdoptError::Recycled(pid));
        }
        let uid = proc.owner_uid().unwrap_or(u32::MAX);
        let mut argv =
            proc.cmdline(&mut buf).ok().and_then(|raw| String::from_utf8(raw).ok()).map_or_else(Vec::new, |text| {
                text.split('\0').filter(|arg| !arg.is_empty()).map(str::to_string).collect()
            });
        if argv.is_empty() {
            argv = vec![format!("[{}]", stat.comm)];
        }
        let node = node_name(&stat.comm, pid);
        self.emit(EventKind::ProcessAdopted { node: node.clone(), pid, argv, uid });
        self.probe.watch(&node, pid);
        let pidfd = Arc::new(pidfd);
        self.watch_exit(node.clone(), pid, pidfd.clone());
        self.procs.insert(node, NodeProc { pid, pgid: 0, pidfd });
        if let Some(w) = self.mode.watched_mut() {
            w.adopted.insert(pid);
        }
        Ok(())
    }

    /// A task that reports when the process behind `pidfd` has exited.
    fn watch_exit(&self, node: String, pid: u32, pidfd: Arc<OwnedFd>) {
        let tx = self.inputs_tx.clone();
        let clock = self.clock;
        tokio::spawn(async move {
            match crate::sys::async_pidfd::register(pidfd.clone()) {
                Ok(afd) => {
                    let _ = afd.readable().await;
                }
                Err(_) => loop {
                    // Not pollable through the runtime: look every 100 ms.
                    let mut fds = [rustix::event::PollFd::new(&*pidfd, rustix::event::PollFlags::IN)];
                    if rustix::event::poll(&mut fds, Some(&rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 }))
                        .is_ok_and(|n| n > 0)
                    {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                },
            }
            let _ = tx.send(Input::PidfdExited { node, pid, t: clock.now() }).await;
        });
    }

    /// The pidfd says the process is gone; its status may still be on its way.
    pub(super) fn on_pidfd_exit(&mut self, node: String, pid: u32, t: u64) {
        let known = self.mode.watched_mut().and_then(|w| w.statuses.remove(&pid));
        match known {
            Some(e) => self.end_watched(&node, pid, e.code, e.signal, t),
            None => {
                if let Some(w) = self.mode.watched_mut() {
                    w.waiting.push((t + STATUS_WAIT_NS, node, pid));
                }
            }
        }
    }

    /// An exit status from the kernel connector (through the probe).
    pub(super) fn on_proc_exit(&mut self, e: ProcExit) {
        let Some(w) = self.mode.watched_mut() else { return };
        if !w.adopted.contains(&e.pid) {
            return; // a descendant, not a watched process
        }
        if let Some(i) = w.waiting.iter().position(|(_, _, pid)| *pid == e.pid) {
            let (_, node, pid) = w.waiting.remove(i);
            let now = self.now();
            self.end_watched(&node, pid, e.code, e.signal, now);
        } else {
            w.statuses.insert(e.pid, e);
        }
    }

    /// Exits whose status did not come in time, and rescans that are due.
    pub(super) fn on_watch_timer(&mut self, now: u64) {
        let Some(w) = self.mode.watched_mut() else { return };
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut w.waiting).into_iter().partition(|(t, _, _)| *t <= now);
        w.waiting = later;
        let rescan = w.next_rescan.is_some_and(|t| t <= now);
        for (_, node, pid) in due {
            self.end_watched(&node, pid, None, None, now);
        }
        if rescan {
            self.rescan();
        }
    }

    fn end_watched(&mut self, node: &str, pid: u32, code: Option<i32>, signal: Option<Signal>, t: u64) {
        let sent = self.signalled_by_hand(node, t, signal);
        let cause = self.engine.on_exit(node, code, signal, sent);
        self.hub.push(
            t,
            EventKind::NodeExited { node: node.to_string(), pid, code, signal, cause, pending_tokens: Vec::new() },
        );
        self.procs.remove(node);
        self.probe.unwatch(node);
        if let Some(w) = self.mode.watched_mut() {
            w.adopted.remove(&pid);
        }
        let now = self.now();
        let effects = self.engine.tick(&self.hub.state, now);
        self.execute(effects);
        self.answer_waiters();
    }
}
