//! The fork tracker ([`ForkTracker`]): forks seen (by the kernel connector, by the client
//! library, or in a children list) and resolved (did the child exec; did the parent's extra
//! threads outlive the fork). The probe thread hands it what it sees; it owns the forks that
//! wait for their verdict and says the verdicts through the sink.
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

use super::Sink;
use super::at_fork::{self, AtFork, ForkInstant, threads_at_fork};
use super::exec::ExecState;
use super::read::{Buf, ProcDir, Units};
use super::tree::{Discovery, NodeTree, Proc, read_threads};
use crate::event::{EventKind, ForkSeen, ForkSource};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// How long after a fork the parent's threads are counted again.
pub(super) const SETTLE: Duration = Duration::from_millis(200);
/// How often an unresolved fork whose child is still undecided is looked at again.
const RECHECK: Duration = Duration::from_millis(100);
/// Give up on a fork whose child vanished before its exec could be decided (the connector's
/// late exit event may still settle it meanwhile).
const GIVE_UP_GONE: Duration = Duration::from_secs(2);
/// Give up on a fork whose child lives on undecided (it cannot stay so: a safety net).
const GIVE_UP_ALIVE: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(super) struct PendingFork {
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

/// What a fork is judged against: the watched trees as last read, a buffer for fresh reads of
/// `/proc`, and where the verdicts go. Borrowed from the probe thread for one call.
pub(super) struct View<'a> {
    pub nodes: &'a BTreeMap<String, NodeTree>,
    pub buf: &'a mut Buf,
    pub sink: &'a Sink,
}

/// Every fork of a watched tree that waits for its verdict (or keeps one that may still be
/// corrected), and the connector's children that were gone before they could be read.
#[derive(Debug)]
pub(super) struct ForkTracker {
    /// By child pid.
    pending: HashMap<u32, PendingFork>,
    /// Children the connector reported that were gone before they could be read.
    orphans: HashSet<u32>,
    units: Units,
    /// `/proc/sys/kernel/pid_max`: where pid numbers wrap.
    pid_max: u32,
}

impl ForkTracker {
    pub(super) fn new(units: Units, pid_max: u32) -> ForkTracker {
        ForkTracker { pending: HashMap::new(), orphans: HashSet::new(), units, pid_max }
    }

    /// Is a fork of this child tracked (so its kernel events still matter)?
    pub(super) fn tracks(&self, child: u32) -> bool {
        self.pending.contains_key(&child)
    }

    /// The node is no longer watched: its forks are dropped unresolved.
    pub(super) fn forget_node(&mut self, node: &str) {
        self.pending.retain(|_, f| f.node != node);
    }

    /// A child the connector reported was gone before it could be read: its exec and exit
    /// events still resolve it.
    pub(super) fn orphan(&mut self, child: u32) {
        self.orphans.insert(child);
    }

    /// An orphan's exit came in: nothing more to hear about it. Returns whether it was one.
    pub(super) fn orphan_exited(&mut self, pid: u32) -> bool {
        self.orphans.remove(&pid)
    }

    /// A new child found in a children list (no connector report of it), with its parent as
    /// read in this round.
    pub(super) fn found(&mut self, node: &str, parent: &Proc, child: u32, child_start: u64, now: Instant, sink: &Sink) {
        let instant =
            ForkInstant { parent: parent.pid, child, child_tick: child_start, ns: None, pid_max: self.pid_max };
        // The parent's threads were read in this round, before its children.
        let at_fork = threads_at_fork(None, &instant, parent.threads_seen());
        if at_fork::count(&at_fork) < 2 || self.pending.contains_key(&child) {
            return;
        }
        let age = Duration::from_millis(self.units.ticks_to_ms(self.units.now_ticks().saturating_sub(child_start)));
        let mut f = PendingFork::new(node, instant, at_fork, now, SETTLE.saturating_sub(age));
        announce(&mut f, ForkSource::Proc, sink);
        self.pending.insert(child, f);
    }

    /// The connector's fork of a tracked process, once the child joined the tree (if it could):
    /// the parent's threads are read now.
    pub(super) fn kernel_fork(
        &mut self,
        node: &str,
        parent: u32,
        child: u32,
        timestamp_ns: u64,
        now: Instant,
        view: &mut View,
    ) {
        let tree = view.nodes.get(node);
        let child_tick = match tree.and_then(|t| t.procs.get(&child)) {
            Some(c) => c.start_time,
            None => fork_tick(self.units, timestamp_ns),
        };
        let instant = ForkInstant { parent, child, child_tick, ns: Some(timestamp_ns), pid_max: self.pid_max };
        // The events of threads started or ended just before the fork may still be on their way
        // (from another CPU): this count is looked at again when the fork is resolved.
        let at_fork = match tree.and_then(|t| t.procs.get(&parent)) {
            Some(p) => {
                let now = read_threads(&p.dir, view.buf).unwrap_or_default();
                threads_at_fork(Some(&p.book), &instant, now.into_iter().map(|(tid, s)| (tid, Some(s.start_time))))
            }
            None => Vec::new(),
        };
        let threaded_parent = at_fork::count(&at_fork) >= 2;
        let mut pending = self.pending.remove(&child);
        match &mut pending {
            // Found by a scan or reported by the client first: the kernel's view of the fork is
            // the better one.
            Some(f) => {
                f.instant = instant;
                f.at_fork = at_fork;
                if threaded_parent {
                    announce(f, ForkSource::Connector, view.sink);
                }
            }
            None if threaded_parent => {
                let mut f = PendingFork::new(node, instant, at_fork, now, SETTLE);
                announce(&mut f, ForkSource::Connector, view.sink);
                pending = Some(f);
            }
            // A single-threaded parent's fork is no hazard: nothing to announce.
            None => {}
        }
        if let Some(f) = pending {
            self.pending.insert(child, f);
        }
    }

    /// The connector's exec of a tracked process.
    pub(super) fn kernel_exec(&mut self, pid: u32) {
        if let Some(f) = self.pending.get_mut(&pid) {
            f.exec = ExecState::Execd;
        }
    }

    /// The connector's exit of a tracked process.
    pub(super) fn kernel_exit(&mut self, pid: u32) {
        if let Some(f) = self.pending.get_mut(&pid) {
            if f.exec == ExecState::Unknown {
                // Exit before any exec: the connector saw the whole life of this child.
                f.exec = ExecState::NotExecd;
            }
        }
    }

    /// A fork reported by the node's client library that is tracked already: marks it as the
    /// client's (judged again without the client's own threads). Returns false if it is not
    /// tracked (see [`ForkTracker::client_fork`]).
    pub(super) fn client_report(&mut self, fork: &ForkSeen, now: Instant, view: &mut View) -> bool {
        let Some(f) = self.pending.get_mut(&fork.child_pid) else { return false };
        f.client = true;
        if !fork.client_tids.is_empty() && f.client_tids != fork.client_tids {
            // Count the parent's threads again, without the client's own.
            f.client_tids.clone_from(&fork.client_tids);
            f.threaded = None;
            if f.resolved.take().is_some() {
                self.resolve(fork.child_pid, now, view);
                return true;
            }
        }
        if let (Some(execd), Some(_)) = (f.resolved, f.threaded) {
            (view.sink)(f.resolved_event(execd));
        }
        true
    }

    /// A fork reported by the node's client library, not tracked yet (the child joined the
    /// tree if its parent is in it): resolve it like the others.
    pub(super) fn client_fork(&mut self, node: &str, fork: &ForkSeen, now: Instant, view: &mut View) {
        let tree = view.nodes.get(node);
        // The child's start time bounds the threads that existed at the fork.
        let child_start =
            tree.and_then(|t| t.procs.get(&fork.child_pid)).map_or_else(|| self.units.now_ticks(), |p| p.start_time);
        let parent_threads = match tree.and_then(|t| t.procs.get(&fork.parent_pid)) {
            Some(p) => read_threads(&p.dir, view.buf).ok(),
            None => ProcDir::open(fork.parent_pid).ok().and_then(|d| read_threads(&d, view.buf).ok()),
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
        self.pending.insert(fork.child_pid, f);
    }

    /// A tracked child's exec state was decided (or changed).
    pub(super) fn exec_known(&mut self, child: u32, state: ExecState, sink: &Sink) {
        let Some(f) = self.pending.get_mut(&child) else { return };
        f.exec = state;
        // Resolved as "not exec'd" and then exec'd after all: correct the record.
        if f.resolved == Some(false) && state == ExecState::Execd {
            f.resolved = Some(true);
            if f.wanted() {
                sink(f.resolved_event(true));
            }
        }
    }

    /// A tracked child exited: what is known of its exec now is final.
    pub(super) fn child_exited(&mut self, child: &Proc) {
        let final_state = match child.exec {
            // Under the connector an exec would have been reported; in a scan, its layout was
            // still its parent's when last seen.
            ExecState::Unknown if child.discovery == Discovery::Connector || child.equal_seen >= 1 => {
                ExecState::NotExecd
            }
            s => s,
        };
        if let Some(f) = self.pending.get_mut(&child.pid) {
            if f.exec != ExecState::Execd {
                f.exec = final_state;
            }
        }
    }

    /// A child's `/proc` entry is gone: a resolved fork record is no longer needed.
    pub(super) fn child_gone(&mut self, child: u32) {
        if self.pending.get(&child).is_some_and(|f| f.resolved.is_some()) {
            self.pending.remove(&child);
        }
    }

    /// Resolves the forks whose time has come.
    pub(super) fn resolve_due(&mut self, now: Instant, view: &mut View) {
        let due: Vec<u32> =
            self.pending.values().filter(|f| f.resolved.is_none() && f.check_at <= now).map(|f| f.child).collect();
        for child in due {
            self.resolve(child, now, view);
        }
    }

    /// The earliest time a fork needs a look.
    pub(super) fn next_check(&self) -> Option<Instant> {
        self.pending.values().filter(|f| f.resolved.is_none()).map(|f| f.check_at).min()
    }

    /// Decides whether the fork was threaded: which of the parent's threads at the fork are
    /// still alive now?
    fn judge_threads(&mut self, child: u32, view: &mut View) {
        let Some(f) = self.pending.get(&child) else { return };
        let parent = view.nodes.get(&f.node).and_then(|t| t.procs.get(&f.parent)).filter(|p| !p.exited);
        let (at_fork, verdict) = match parent {
            Some(p) => {
                let at_fork = match f.instant.ns {
                    // The kernel's events up to the fork are in by now: count again.
                    Some(_) => {
                        let now = read_threads(&p.dir, view.buf).unwrap_or_default();
                        let seen = now.into_iter().map(|(tid, s)| (tid, Some(s.start_time)));
                        threads_at_fork(
                            Some(&p.book),
                            &f.instant,
                            seen.chain(f.at_fork.iter().map(|t| (t.tid, t.start))),
                        )
                    }
                    None => f.at_fork.clone(),
                };
                let buf = &mut *view.buf;
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
        let Some(f) = self.pending.get_mut(&child) else { return };
        f.at_fork = at_fork;
        f.threaded = Some(verdict.threaded);
        f.uncertain = verdict.uncertain;
        // Announced with another count (events that came after the announcement): say it again,
        // as the kernel's view, before the verdict.
        if f.announced.is_some_and(|(_, threads)| threads != f.threads()) && f.instant.ns.is_some() {
            f.announced = Some((ForkSource::Connector, f.threads()));
            let fork = f.seen(ForkSource::Connector);
            (view.sink)(EventKind::Fork { node: f.node.clone(), fork });
        }
    }

    fn resolve(&mut self, child: u32, now: Instant, view: &mut View) {
        let Some(f) = self.pending.get(&child) else { return };
        let node = f.node.clone();
        let sink = view.sink;
        let nodes = view.nodes;
        if f.threaded.is_none() {
            self.judge_threads(child, view);
        }
        let child_proc = nodes.get(&node).and_then(|t| t.procs.get(&child));
        let exec = match child_proc {
            Some(p) if p.exec != ExecState::Unknown => p.exec,
            _ => self.pending.get(&child).map_or(ExecState::Unknown, |f| f.exec),
        };
        let alive = child_proc.is_some_and(|p| !p.exited);
        let Some(f) = self.pending.get_mut(&child) else { return };
        let Some(execd) = exec.decided() else {
            let give_up = if alive { GIVE_UP_ALIVE } else { GIVE_UP_GONE };
            if f.seen_at + give_up < now {
                // Gone before anything could tell whether it exec'd: leave it unresolved.
                self.pending.remove(&child);
            } else {
                f.check_at = now + RECHECK;
            }
            return;
        };
        f.resolved = Some(execd);
        if f.wanted() {
            sink(f.resolved_event(execd));
        }
        // Keep a "not exec'd" record while the child lives, to correct it if it execs later.
        if execd || !alive || !f.wanted() {
            self.pending.remove(&child);
        }
    }
}

/// Says the probe saw the fork (`Fork`), with the parent's threads counted at it.
fn announce(f: &mut PendingFork, source: ForkSource, sink: &Sink) {
    f.announced = Some((source, f.threads()));
    sink(EventKind::Fork { node: f.node.clone(), fork: f.seen(source) });
}
