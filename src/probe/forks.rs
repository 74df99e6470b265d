//! Forks: seen (by the kernel connector, by the client library, or in a children list) and
//! resolved (did the child exec; did the parent's extra threads outlive the fork).
//!
//! A fork is a hazard when the child does not exec while the parent had other threads: the
//! child inherits locks held by threads that do not exist in it. Three facts of real programs
//! shape how this is decided:
//! - a parent that joins a helper thread just before forking may still show it at the instant
//!   of the fork; so the parent's threads that existed at the fork are noted, and the fork
//!   counts as threaded only if at least two of them are still alive at a look [`SETTLE`] after
//!   the fork;
//! - a parent may start a new helper 0.4–2 ms after the fork, in the child's own clock tick:
//!   which threads existed at the fork is decided by the kernel connector's thread events in
//!   time order where it runs, else from `/proc` start times and the order pids were given out,
//!   and then the verdict says it is uncertain (see [`super::at_fork`]);
//! - a child may live a few milliseconds only: with the connector its exec is known exactly
//!   (an exit before any exec means it never exec'd), without it a poller may never see it.
//!
//! Forks of single-threaded parents are not hazards and are not announced (the children still
//! appear in samples); forks reported by a client library are always resolved (the supervisor
//! announced them). At the look after the fork, with the connector, the threads at the fork are
//! counted again from the kernel's events (those that came after the announcement included) and
//! the announcement is corrected if the count differs.
//!
//! An uncertain threaded verdict (sampling only, and only a thread started in the child's own
//! tick makes it threaded) is still reported as threaded, marked uncertain, and the hazard says
//! "may have had": a runtime that starts its workers and forks at once looks exactly like this,
//! and missing it is as bad as a false alarm. The restarted helper above is numbered after the
//! child, so it does not count even then.

use super::at_fork::{self, AtFork, ForkInstant, threads_at_fork};
use super::connector::ExitStatus;
use super::exec::ExecState;
use super::read::{ProcDir, Units};
use super::thread::Worker;
use super::tree::{Discovery, read_threads};
use crate::event::{EventKind, ForkSeen, ForkSource};
use std::time::{Duration, Instant};

/// How long after a fork the parent's threads are counted again.
pub const SETTLE: Duration = Duration::from_millis(200);
/// How often an unresolved fork whose child is still undecided is looked at again.
const RECHECK: Duration = Duration::from_millis(100);
/// Give up on a fork whose child vanished before its exec could be decided (the connector's
/// late exit event may still settle it meanwhile).
const GIVE_UP_GONE: Duration = Duration::from_secs(2);
/// Give up on a fork whose child lives on undecided (it cannot stay so: a safety net).
const GIVE_UP_ALIVE: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct PendingFork {
    pub node: String,
    pub parent: u32,
    pub child: u32,
    /// The parent's threads that existed (or may have) at the fork.
    pub at_fork: Vec<AtFork>,
    pub instant: ForkInstant,
    pub seen_at: Instant,
    /// When to look next.
    pub check_at: Instant,
    /// The probe emitted `Fork` for it: as seen by whom, with how many threads.
    pub announced: Option<(ForkSource, u32)>,
    /// The client library reported it (the supervisor emitted `Fork`).
    pub client: bool,
    /// The client library's own threads in the parent: not counted.
    pub client_tids: Vec<u32>,
    pub threaded: Option<bool>,
    /// The threaded verdict rests on sampling (see [`at_fork::Verdict`]).
    pub uncertain: bool,
    /// The child's exec state when it is not (or no longer) in the tree.
    pub exec: ExecState,
    /// `execd` as last emitted in `ForkResolved`.
    pub resolved: Option<bool>,
}

impl PendingFork {
    fn new(node: &str, instant: ForkInstant, at_fork: Vec<AtFork>, now: Instant, settle_in: Duration) -> PendingFork {
        PendingFork {
            node: node.to_string(),
            parent: instant.parent,
            child: instant.child,
            at_fork,
            instant,
            seen_at: now,
            check_at: now + settle_in,
            announced: None,
            client: false,
            client_tids: Vec::new(),
            threaded: None,
            uncertain: false,
            exec: ExecState::Unknown,
            resolved: None,
        }
    }

    fn threads(&self) -> u32 {
        at_fork::count(&self.at_fork)
    }

    fn seen(&self, source: ForkSource) -> ForkSeen {
        ForkSeen {
            parent_pid: self.parent,
            child_pid: self.child,
            threads: self.threads(),
            runtime: None,
            source,
            client_tids: Vec::new(),
        }
    }

    fn wanted(&self) -> bool {
        self.announced.is_some() || self.client
    }

    fn resolved_event(&self, execd: bool) -> EventKind {
        EventKind::ForkResolved {
            node: self.node.clone(),
            child_pid: self.child,
            execd,
            threaded: self.threaded.unwrap_or(false),
            uncertain: self.uncertain,
        }
    }
}

/// Ticks since boot of a connector timestamp (`CLOCK_MONOTONIC` ns).
fn fork_tick(units: Units, timestamp_ns: u64) -> u64 {
    let offset = super::read::boottime_ns().saturating_sub(super::read::monotonic_ns());
    units.ns_to_ticks(timestamp_ns.saturating_add(offset))
}

impl Worker {
    /// A new child found in a children list (no connector report of it).
    pub(super) fn fork_found(&mut self, node: &str, parent: u32, child: u32, child_start: u64, now: Instant) {
        let Some(par) = self.nodes.get(node).and_then(|t| t.procs.get(&parent)) else { return };
        let instant = ForkInstant { parent, child, child_tick: child_start, ns: None, pid_max: self.pid_max };
        // The parent's threads were read in this round, before its children.
        let at_fork = threads_at_fork(None, &instant, par.threads_seen());
        if at_fork::count(&at_fork) < 2 || self.forks.contains_key(&child) {
            return;
        }
        let age = Duration::from_millis(self.units.ticks_to_ms(self.units.now_ticks().saturating_sub(child_start)));
        let mut f = PendingFork::new(node, instant, at_fork, now, SETTLE.saturating_sub(age));
        self.announce(&mut f, ForkSource::Proc);
        self.forks.insert(child, f);
    }

    fn announce(&self, f: &mut PendingFork, source: ForkSource) {
        f.announced = Some((source, f.threads()));
        (self.sink)(EventKind::Fork { node: f.node.clone(), fork: f.seen(source) });
    }

    /// The threads of `instant`'s parent that existed (or may have) at the fork: from `/proc`
    /// now and, with the fork's timestamp, the kernel's events.
    fn threads_at_fork_now(&mut self, node: &str, instant: &ForkInstant) -> Vec<AtFork> {
        let Some(p) = self.nodes.get(node).and_then(|t| t.procs.get(&instant.parent)) else { return Vec::new() };
        let now = read_threads(&p.dir, &mut self.buf).unwrap_or_default();
        threads_at_fork(Some(&p.book), instant, now.into_iter().map(|(tid, s)| (tid, Some(s.start_time))))
    }

    /// The connector's report of a thread created or ended in a tracked process.
    pub(super) fn kernel_thread(&mut self, pid: u32, tid: u32, born: bool, timestamp_ns: u64) {
        let Some(node) = self.owner.get(&pid) else { return };
        if let Some(p) = self.nodes.get_mut(node).and_then(|t| t.procs.get_mut(&pid)) {
            p.book.record(tid, timestamp_ns, born);
        }
    }

    /// The connector's fork of a tracked process: the child joins the tree now, the parent's
    /// threads are read now.
    pub(super) fn kernel_fork(&mut self, parent: u32, child: u32, timestamp_ns: u64, now: Instant) {
        let Some(node) = self.owner.get(&parent).cloned() else {
            self.tracked_set().remove(&child);
            return;
        };
        let already = self.nodes.get(&node).is_some_and(|t| t.procs.contains_key(&child));
        if already {
            if let Some(p) = self.nodes.get_mut(&node).and_then(|t| t.procs.get_mut(&child)) {
                p.discovery = Discovery::Connector;
            }
        } else if !self.discover(&node, parent, child, Discovery::Connector, now) {
            // Already gone (or not readable): its exec and exit events still resolve it.
            if !self.owner.contains_key(&child) {
                self.orphan_forks.insert(child);
            }
        }
        if let Some(tree) = self.nodes.get_mut(&node) {
            tree.cadence.changed(now);
            // The parent's children lists are not re-read for this: the kernel said it.
            if tree.procs.contains_key(&child) {
                if let Some(p) = tree.procs.get_mut(&parent) {
                    if let Err(at) = p.children.binary_search(&child) {
                        p.children.insert(at, child);
                        p.dirty = true;
                    }
                }
            }
        }
        let child_tick = match self.nodes.get(&node).and_then(|t| t.procs.get(&child)) {
            Some(c) => c.start_time,
            None => fork_tick(self.units, timestamp_ns),
        };
        let instant = ForkInstant { parent, child, child_tick, ns: Some(timestamp_ns), pid_max: self.pid_max };
        // The events of threads started or ended just before the fork may still be on their way
        // (from another CPU): this count is looked at again when the fork is resolved.
        let at_fork = self.threads_at_fork_now(&node, &instant);
        let threaded_parent = at_fork::count(&at_fork) >= 2;
        let mut pending = self.forks.remove(&child);
        match &mut pending {
            // Found by a scan or reported by the client first: the kernel's view of the fork is
            // the better one.
            Some(f) => {
                f.instant = instant;
                f.at_fork = at_fork;
                if threaded_parent {
                    self.announce(f, ForkSource::Connector);
                }
            }
            None if threaded_parent => {
                let mut f = PendingFork::new(&node, instant, at_fork, now, SETTLE);
                self.announce(&mut f, ForkSource::Connector);
                pending = Some(f);
            }
            // A single-threaded parent's fork is no hazard: nothing to announce.
            None => {}
        }
        if let Some(f) = pending {
            self.forks.insert(child, f);
        }
    }

    /// The connector's exec of a tracked process.
    pub(super) fn kernel_exec(&mut self, pid: u32, now: Instant) {
        if let Some(f) = self.forks.get_mut(&pid) {
            f.exec = ExecState::Execd;
        }
        let Some(node) = self.owner.get(&pid).cloned() else {
            if !self.forks.contains_key(&pid) {
                self.tracked_set().remove(&pid);
            }
            return;
        };
        (self.sink)(EventKind::Exec { node: node.clone(), pid });
        if let Some(p) = self.nodes.get_mut(&node).and_then(|t| t.procs.get_mut(&pid)) {
            p.new_image(now);
        }
        self.set_exec(&node, pid, ExecState::Execd);
        self.resample(&node, &[pid], now);
    }

    /// The connector's exit of a tracked process.
    pub(super) fn kernel_exit(&mut self, pid: u32, status: ExitStatus, now: Instant) {
        if self.orphan_forks.remove(&pid) {
            self.tracked_set().remove(&pid);
        }
        if let Some(f) = self.forks.get_mut(&pid) {
            if f.exec == ExecState::Unknown {
                // Exit before any exec: the connector saw the whole life of this child.
                f.exec = ExecState::NotExecd;
            }
        }
        // Reaped and dropped from the tree by a round before this event came through: it
        // still belongs to its node for a moment.
        if let Some((node, start_time, _)) = self.recently_gone.remove(&pid) {
            if !self.owner.contains_key(&pid) {
                self.tracked_set().remove(&pid);
            }
            self.call_exit_hook(&node, pid, start_time, status);
            return;
        }
        let Some(node) = self.owner.get(&pid).cloned() else {
            // Not (or no longer) ours: nothing more to hear about it.
            if !self.forks.contains_key(&pid) {
                self.tracked_set().remove(&pid);
            }
            return;
        };
        let Some(p) = self.nodes.get(&node).and_then(|t| t.procs.get(&pid)) else { return };
        if p.exited {
            let start_time = p.start_time;
            self.call_exit_hook(&node, pid, start_time, status);
            return;
        }
        // The event comes from inside the exit, before the process is a zombie (and a main
        // thread that called pthread_exit while others run is not the end of the process):
        // the status waits until the process is seen gone.
        self.exit_status.insert(pid, status);
        let gone = p.dir.stat(&mut self.buf).map_or(true, |s| s.exited() && s.num_threads <= 1);
        if gone {
            self.exited(&node, pid, None);
            self.emit_dirty(&node);
        }
        if let Some(tree) = self.nodes.get_mut(&node) {
            tree.cadence.changed(now);
        }
    }

    pub(super) fn call_exit_hook(&self, node: &str, pid: u32, start_time: u64, status: ExitStatus) {
        if let Some(hook) = &self.exit_hook {
            hook(super::ProcExit {
                node: node.to_string(),
                pid,
                start_time,
                code: status.code,
                signal: status.signal.and_then(crate::signal::Signal::from_number),
                core_dumped: status.core_dumped,
            });
        }
    }

    /// A fork reported by the node's client library: resolve it like the others.
    pub(super) fn client_fork(&mut self, node: &str, fork: &ForkSeen, now: Instant) {
        if let Some(f) = self.forks.get_mut(&fork.child_pid) {
            f.client = true;
            if !fork.client_tids.is_empty() && f.client_tids != fork.client_tids {
                // Count the parent's threads again, without the client's own.
                f.client_tids.clone_from(&fork.client_tids);
                f.threaded = None;
                if f.resolved.take().is_some() {
                    self.resolve_fork(fork.child_pid, now);
                    return;
                }
            }
            if let (Some(execd), Some(_)) = (f.resolved, f.threaded) {
                (self.sink)(f.resolved_event(execd));
            }
            return;
        }
        if !self.nodes.contains_key(node) {
            return;
        }
        let tracked_parent = self.nodes.get(node).is_some_and(|t| t.procs.contains_key(&fork.parent_pid));
        let child_known = self.nodes.get(node).is_some_and(|t| t.procs.contains_key(&fork.child_pid));
        if tracked_parent && !child_known {
            self.discover(node, fork.parent_pid, fork.child_pid, Discovery::Client, now);
        }
        // The child's start time bounds the threads that existed at the fork.
        let child_start = self
            .nodes
            .get(node)
            .and_then(|t| t.procs.get(&fork.child_pid))
            .map_or_else(|| self.units.now_ticks(), |p| p.start_time);
        let parent_threads = match self.nodes.get(node).and_then(|t| t.procs.get(&fork.parent_pid)) {
            Some(p) => read_threads(&p.dir, &mut self.buf).ok(),
            None => ProcDir::open(fork.parent_pid).ok().and_then(|d| read_threads(&d, &mut self.buf).ok()),
        };
        let instant = ForkInstant {
            parent: fork.parent_pid,
            child: fork.child_pid,
            child_tick: child_start,
            ns: None,
            pid_max: self.pid_max,
        };
        let seen = parent_threads.unwrap_or_default().into_iter().map(|(tid, s)| (tid, Some(s.start_time)));
        let at_fork = threads_at_fork(None, &instant, seen);
        let age = Duration::from_millis(self.units.ticks_to_ms(self.units.now_ticks().saturating_sub(child_start)));
        let mut f = PendingFork::new(node, instant, at_fork, now, SETTLE.saturating_sub(age));
        f.client = true;
        f.client_tids.clone_from(&fork.client_tids);
        self.forks.insert(fork.child_pid, f);
        if let Some(tree) = self.nodes.get_mut(node) {
            tree.cadence.changed(now);
        }
    }

    /// A tracked child's exec state was decided (or changed).
    pub(super) fn fork_exec_known(&mut self, child: u32, state: ExecState) {
        let Some(f) = self.forks.get_mut(&child) else { return };
        f.exec = state;
        // Resolved as "not exec'd" and then exec'd after all: correct the record.
        if f.resolved == Some(false) && state == ExecState::Execd {
            f.resolved = Some(true);
            if f.wanted() {
                (self.sink)(f.resolved_event(true));
            }
        }
    }

    /// A tracked child exited: what is known of its exec now is final.
    pub(super) fn fork_child_exited(&mut self, child: u32) {
        let Some(node) = self.owner.get(&child) else { return };
        let Some(p) = self.nodes.get(node).and_then(|t| t.procs.get(&child)) else { return };
        let final_state = match p.exec {
            // Under the connector an exec would have been reported; in a scan, its layout was
            // still its parent's when last seen.
            ExecState::Unknown if p.discovery == Discovery::Connector || p.equal_seen >= 1 => ExecState::NotExecd,
            s => s,
        };
        if let Some(f) = self.forks.get_mut(&child) {
            if f.exec != ExecState::Execd {
                f.exec = final_state;
            }
        }
    }

    /// A child's `/proc` entry is gone: a resolved fork record is no longer needed.
    pub(super) fn fork_child_gone(&mut self, child: u32) {
        if self.forks.get(&child).is_some_and(|f| f.resolved.is_some()) {
            self.forks.remove(&child);
        }
    }

    /// Resolves the forks whose time has come.
    pub(super) fn resolve_forks(&mut self, now: Instant) {
        let due: Vec<u32> =
            self.forks.values().filter(|f| f.resolved.is_none() && f.check_at <= now).map(|f| f.child).collect();
        for child in due {
            self.resolve_fork(child, now);
        }
    }

    /// Decides whether the fork was threaded: which of the parent's threads at the fork are
    /// still alive now?
    fn judge_threads(&mut self, child: u32) {
        let Some(f) = self.forks.get(&child) else { return };
        let parent = self.nodes.get(&f.node).and_then(|t| t.procs.get(&f.parent)).filter(|p| !p.exited);
        let (at_fork, verdict) = match parent {
            Some(p) => {
                let at_fork = match f.instant.ns {
                    // The kernel's events up to the fork are in by now: count again.
                    Some(_) => {
                        let now = read_threads(&p.dir, &mut self.buf).unwrap_or_default();
                        let seen = now.into_iter().map(|(tid, s)| (tid, Some(s.start_time)));
                        threads_at_fork(
                            Some(&p.book),
                            &f.instant,
                            seen.chain(f.at_fork.iter().map(|t| (t.tid, t.start))),
                        )
                    }
                    None => f.at_fork.clone(),
                };
                let buf = &mut self.buf;
                let mut outlived = |t: &AtFork| {
                    !f.client_tids.contains(&t.tid)
                        && !p.book.exited(t.tid)
                        && p.dir.task_stat(t.tid, buf).is_ok_and(|s| t.start.is_none_or(|start| start == s.start_time))
                };
                let verdict = at_fork::verdict(at_fork.iter().map(|t| (t.existed, outlived(t))));
                (at_fork, verdict)
            }
            // The parent is gone: the look at the fork is all there is (a parent that forks and
            // exits while threaded leaves a child with the same hazard).
            None => {
                let counted = f.at_fork.iter().filter(|t| !f.client_tids.contains(&t.tid));
                (f.at_fork.clone(), at_fork::verdict(counted.map(|t| (t.existed, true))))
            }
        };
        let Some(f) = self.forks.get_mut(&child) else { return };
        f.at_fork = at_fork;
        f.threaded = Some(verdict.threaded);
        f.uncertain = verdict.uncertain;
        // Announced with another count (events that came after the announcement): say it again,
        // as the kernel's view, before the verdict.
        if f.announced.is_some_and(|(_, threads)| threads != f.threads()) && f.instant.ns.is_some() {
            f.announced = Some((ForkSource::Connector, f.threads()));
            let fork = f.seen(ForkSource::Connector);
            (self.sink)(EventKind::Fork { node: f.node.clone(), fork });
        }
    }

    fn resolve_fork(&mut self, child: u32, now: Instant) {
        let Some(f) = self.forks.get(&child) else { return };
        let node = f.node.clone();
        if f.threaded.is_none() {
            self.judge_threads(child);
        }
        let child_proc = self.nodes.get(&node).and_then(|t| t.procs.get(&child));
        let exec = match child_proc {
            Some(p) if p.exec != ExecState::Unknown => p.exec,
            _ => self.forks.get(&child).map_or(ExecState::Unknown, |f| f.exec),
        };
        let alive = child_proc.is_some_and(|p| !p.exited);
        let Some(f) = self.forks.get_mut(&child) else { return };
        let Some(execd) = exec.decided() else {
            let give_up = if alive { GIVE_UP_ALIVE } else { GIVE_UP_GONE };
            if f.seen_at + give_up < now {
                // Gone before anything could tell whether it exec'd: leave it unresolved.
                self.forks.remove(&child);
            } else {
                f.check_at = now + RECHECK;
            }
            return;
        };
        f.resolved = Some(execd);
        if f.wanted() {
            (self.sink)(f.resolved_event(execd));
        }
        // Keep a "not exec'd" record while the child lives, to correct it if it execs later.
        if execd || !alive || !f.wanted() {
            self.forks.remove(&child);
        }
    }

    /// The earliest time a fork needs a look.
    pub(super) fn next_fork_check(&self) -> Option<Instant> {
        self.forks.values().filter(|f| f.resolved.is_none()).map(|f| f.check_at).min()
    }
}
