//! A watched node's process tree: every process the probe knows of, how it was last seen, and
//! the rounds that refresh it.
//!
//! Membership is by pid, not by ancestry: a descendant stays in its node's tree when its parent
//! dies and it is reparented to init, a subreaper or the supervisor, and its own children join
//! too. A process leaves the tree only when its `/proc` entry is gone (reaped); an exited,
//! not yet reaped process (a zombie) is reported gone (`ProcGone`) but still listed by
//! [`super::Probe::known`], so that the survivor sweep sees everything that still has a pid.

use super::Known;
use super::at_fork::ThreadBook;
use super::exec::{self, ExecState, Identity, Layout, Verdict};
use super::masks::MaskWatch;
use super::read::{self, Buf, ProcDir, Stat, Units};
use super::schedule::{Cadence, RoundKind};
use super::thread::Worker;
use crate::event::{ChildInfo, EventKind, ProcSample, SigSet, ThreadSample};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A value read from `/proc` is reported only once two consecutive samples at least
/// [`CONFIRM_GAP`] apart agree on it. Per-thread masks are briefly all-blocked during reloads
/// and bursts, and signal dispositions pass through a moment where the runtime is up but the
/// application's handler is not yet installed (Python catches SIGINT before the script sets its
/// SIGTERM handler): a hazard must not flicker on either, and two reads a few microseconds
/// apart (a scheduled round right after an exec's re-read) would both see the same moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hysteresis<T = SigSet> {
    confirmed: Option<T>,
    /// A value seen, and when it was first seen.
    candidate: Option<(T, Instant)>,
}

/// How far apart two reads must be to confirm a value.
pub const CONFIRM_GAP: Duration = Duration::from_millis(200);

/// A process younger than this may still be setting itself up: an interpreter catches SIGINT
/// before the script installs its SIGTERM handler, and on a loaded machine a slow import holds
/// that moment for a second or more. Its signal dispositions are confirmed only once it is
/// this old, so that a hazard about them is never raised by the start-up of a healthy process.
pub const STARTUP_SETTLE: Duration = Duration::from_secs(2);

/// ... unless it is still running then (state `R` or `D`: executing or waiting for the CPU or
/// the disk, as an import on a starved machine does): its start-up then counts as over at the
/// first read that finds it in any other state (sleeping, stopped), at this age whatever it
/// does, or as soon as its node is signalled (a stop judges what is there). Until then it
/// publishes no sample, and is read in full every fast round.
pub const STARTUP_SETTLE_BUSY: Duration = Duration::from_secs(5);

/// Has a process of this age (ms) and state finished starting, as far as judging its signal
/// dispositions goes? The age is that of its program: an exec starts it again (`sh -c 'setup;
/// exec python app.py'` starts Python only when the setup is done).
pub fn start_up_over(age_ms: u64, state: u8) -> bool {
    let age = u128::from(age_ms);
    age >= STARTUP_SETTLE_BUSY.as_millis() || (age >= STARTUP_SETTLE.as_millis() && !matches!(state, b'R' | b'D'))
}

impl<T: Copy + Eq> Hysteresis<T> {
    pub fn observe(&mut self, seen: T, now: Instant) {
        self.observe_settling(seen, now, true);
    }

    /// Like [`observe`](Self::observe), but nothing is confirmed until `settled` (the value
    /// waits, pending, for the process to finish starting).
    pub fn observe_settling(&mut self, seen: T, now: Instant, settled: bool) {
        if self.confirmed == Some(seen) {
            self.candidate = None;
            return;
        }
        match self.candidate {
            Some((value, since)) if value == seen => {
                if settled && now.saturating_duration_since(since) >= CONFIRM_GAP {
                    self.confirmed = Some(seen);
                    self.candidate = None;
                }
            }
            _ => self.candidate = Some((seen, now)),
        }
    }

    /// A value seen once waits for its confirmation.
    pub fn pending(&self) -> bool {
        self.candidate.is_some()
    }

    /// The confirmed value, if any yet.
    pub fn confirmed(&self) -> Option<T> {
        self.confirmed
    }

    /// The value the latest read saw (confirmed or not).
    pub fn latest(&self) -> Option<T> {
        self.candidate.map(|(value, _)| value).or(self.confirmed)
    }
}

impl Hysteresis<SigSet> {
    /// What is reported of a mask: the confirmed one; a brand-new thread reports nothing
    /// blocked until its mask is confirmed (so that it can never make a signal look "blocked
    /// everywhere").
    pub fn reported(&self) -> SigSet {
        self.confirmed.unwrap_or(SigSet::EMPTY)
    }
}

/// What reading a tracked process's `stat` found.
enum StatRead {
    Live(Stat),
    /// It is gone or exited, and that was recorded.
    Ended,
    /// Nothing to go on (already ended, or a read error that says nothing about it).
    Nothing,
}

#[derive(Debug, Clone)]
pub struct ThreadTrack {
    pub name: String,
    /// Clock ticks since boot.
    pub start_time: u64,
    pub blocked: Hysteresis,
}

/// How a process came to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// The process the node was started as (or taken under watch as).
    Leader,
    /// Found in its parent's children lists.
    Scan,
    /// The kernel connector's fork event.
    Connector,
    /// Reported by the node's client library.
    Client,
}

#[derive(Debug)]
pub struct Proc {
    pub dir: ProcDir,
    pub pid: u32,
    pub start_time: u64,
    /// The parent it was forked from (its `ppid` when first seen).
    pub parent: u32,
    /// The parent's layout when this process was first seen.
    pub parent_layout: Layout,
    /// Was the parent's address space randomized (ASLR on and no `ADDR_NO_RANDOMIZE`)?
    pub randomized: bool,
    pub discovery: Discovery,
    pub exec: ExecState,
    /// Samples that found its layout equal to its parent's.
    pub equal_seen: u32,
    pub stat: Stat,
    pub threads: BTreeMap<u32, ThreadTrack>,
    /// Caught and ignored signals (`SigCgt`, `SigIgn`), confirmed over two samples.
    pub handlers: Hysteresis<(SigSet, SigSet)>,
    pub children: Vec<u32>,
    /// Exited (zombie): `ProcGone` was emitted.
    pub exited: bool,
    pub emitted: Option<ProcSample>,
    /// The last [`EventKind::ProcSettling`] emitted for it (the leader, before its first sample).
    pub emitted_settling: Option<ProcSample>,
    /// CPU ticks at the previous read, for the tree's usage.
    pub cpu_prev: u64,
    /// Its sample must be rebuilt (and emitted if it changed).
    pub dirty: bool,
    /// When it was seen to exec, if it did while tracked: its program's start-up runs from
    /// there.
    pub image_since: Option<Instant>,
    /// Its threads' creations and exits as the kernel connector reported them.
    pub book: ThreadBook,
    /// Runs of reads that found signals blocked on every thread (and pending while so).
    pub masks: MaskWatch,
    /// Whether reads find it in a tracing stop (`t`), and for how long.
    pub trace: TraceSeen,
}

/// A tracing stop (`t`) is reported only once every read has found it for a while: a process
/// under strace passes through `t` at every system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceSeen {
    #[default]
    No,
    /// Every read since then found it in `t`; its context switches then (see
    /// [`context_switches`]).
    Since(Instant, Option<u64>),
    /// Long enough: it is held by its tracer.
    Held,
}

impl Proc {
    fn new(dir: ProcDir, stat: Stat, parent_layout: Layout, randomized: bool, discovery: Discovery) -> Proc {
        Proc {
            pid: dir.pid,
            dir,
            start_time: stat.start_time,
            parent: stat.ppid,
            parent_layout,
            randomized,
            discovery,
            exec: if discovery == Discovery::Leader { ExecState::Execd } else { ExecState::Unknown },
            equal_seen: 0,
            cpu_prev: stat.cpu_ticks,
            stat,
            threads: BTreeMap::new(),
            handlers: Hysteresis::default(),
            children: Vec::new(),
            exited: false,
            emitted: None,
            emitted_settling: None,
            dirty: true,
            image_since: None,
            book: ThreadBook::default(),
            masks: MaskWatch::default(),
            trace: TraceSeen::No,
        }
    }

    /// It exec'd (the kernel said so, or its address space is a new one): the new program
    /// starts up from here, and the dispositions confirmed for the old one are gone (an exec
    /// resets every caught signal to its default).
    pub fn new_image(&mut self, now: Instant) {
        self.image_since = Some(now);
        self.handlers = Hysteresis::default();
        self.dirty = true;
    }

    /// How long its program has been running (ms): since its exec if one was seen, else since
    /// the process started (`age_ms`).
    fn program_age_ms(&self, age_ms: u64, now: Instant) -> u64 {
        self.image_since.map_or(age_ms, |t| {
            age_ms.min(u64::try_from(now.saturating_duration_since(t).as_millis()).unwrap_or(u64::MAX))
        })
    }

    /// Its threads as last read: `(tid, start time)`.
    pub fn threads_seen(&self) -> impl Iterator<Item = (u32, Option<u64>)> + '_ {
        self.threads.iter().map(|(tid, t)| (*tid, Some(t.start_time)))
    }

    /// What is published of it; `None` while its dispositions wait for a confirmation (a
    /// sample always shows what the latest read saw, so that a handler claimed over the wire
    /// is never contradicted by an older read).
    fn sample(&self, procs: &BTreeMap<u32, Proc>) -> Option<ProcSample> {
        if self.handlers.pending() {
            return None;
        }
        let (caught, ignored) = self.handlers.confirmed()?;
        Some(self.build(procs, caught, ignored))
    }

    /// What is shown of it while it starts up and has never been published: the latest read,
    /// dispositions included, to be marked as settling and never judged.
    fn settling_sample(&self, procs: &BTreeMap<u32, Proc>) -> Option<ProcSample> {
        if self.emitted.is_some() {
            return None; // after an exec the last sample stands until the new one is confirmed
        }
        let (caught, ignored) = self.handlers.latest()?;
        Some(self.build(procs, caught, ignored))
    }

    fn build(&self, procs: &BTreeMap<u32, Proc>, caught: SigSet, ignored: SigSet) -> ProcSample {
        ProcSample {
            pid: self.pid,
            ppid: self.stat.ppid,
            name: self.stat.comm.clone(),
            caught,
            ignored,
            threads: self
                .threads
                .iter()
                .map(|(tid, t)| ThreadSample { tid: *tid, name: t.name.clone(), blocked: t.blocked.reported() })
                .collect(),
            // A child whose exec is not decided yet (younger than 100 ms, layout still its
            // parent's) is left out until it is: it is not called "not exec'd" too early.
            children: self
                .children
                .iter()
                .filter_map(|c| procs.get(c))
                .filter(|c| !c.exited)
                .filter_map(|c| Some(ChildInfo { pid: c.pid, name: c.stat.comm.clone(), execd: c.exec.decided()? }))
                .collect(),
            mask_runs: self.masks.runs(),
            paused: match crate::event::Paused::from_state(self.stat.state) {
                Some(crate::event::Paused::Traced) if self.trace != TraceSeen::Held => None,
                other => other,
            },
        }
    }
}

/// Did anything `stat` shows, other than CPU and memory, change?
fn stat_changed(old: &Stat, new: &Stat) -> bool {
    old.exited() != new.exited()
        || crate::event::Paused::from_state(old.state) != crate::event::Paused::from_state(new.state)
        || old.ppid != new.ppid
        || old.comm != new.comm
        || old.num_threads != new.num_threads
        || old.caught != new.caught
        || old.ignored != new.ignored
        || old.blocked != new.blocked
        || old.layout != new.layout
}

/// CPU and memory of a whole tree, reported when they moved meaningfully and at most about
/// once a second.
#[derive(Debug)]
pub struct UsageMeter {
    window_start: Instant,
    ticks: u64,
    last: Option<(u32, u64)>,
}

/// At least this much change of CPU (per mille of one core) to report it.
pub const CPU_STEP_PERMILLE: u32 = 10;
/// At least this much relative change of RSS (percent) to report it.
pub const RSS_STEP_PERCENT: u64 = 5;
pub const USAGE_WINDOW: Duration = Duration::from_secs(1);

impl UsageMeter {
    pub fn new(now: Instant) -> UsageMeter {
        UsageMeter { window_start: now, ticks: 0, last: None }
    }

    /// Ends the window if it is long enough; returns what to report, if anything.
    pub fn close(&mut self, now: Instant, rss_kib: u64, units: Units) -> Option<(u32, u64)> {
        let elapsed = now.duration_since(self.window_start);
        if elapsed < USAGE_WINDOW {
            return None;
        }
        let elapsed_ms = elapsed.as_millis().max(1) as u64;
        let permille =
            (u128::from(self.ticks) * 1_000_000 / (u128::from(units.ticks_per_sec) * u128::from(elapsed_ms))) as u32;
        self.window_start = now;
        self.ticks = 0;
        let report = match self.last {
            None => true,
            Some((cpu, rss)) => {
                cpu.abs_diff(permille) >= CPU_STEP_PERMILLE
                    || rss.abs_diff(rss_kib) * 100 >= rss.max(1) * RSS_STEP_PERCENT
            }
        };
        report.then(|| {
            self.last = Some((permille, rss_kib));
            (permille, rss_kib)
        })
    }
}

/// A watched node.
#[derive(Debug)]
pub struct NodeTree {
    pub leader: u32,
    /// Clock ticks since boot when the watch began.
    pub watched_at_tick: u64,
    /// Bumped whenever a process joins or leaves (for publishing `known`).
    pub members: u64,
    pub procs: BTreeMap<u32, Proc>,
    pub cadence: Cadence,
    pub usage: UsageMeter,
    /// The node has been signalled: its processes' start-up no longer defers judging them.
    pub signalled: bool,
}

impl NodeTree {
    /// Every process of the tree, the leader first.
    pub fn known(&self) -> Vec<Known> {
        let mut known: Vec<Known> =
            self.procs.values().map(|p| Known { pid: p.pid, start_time: p.start_time }).collect();
        known.sort_by_key(|k| k.pid != self.leader);
        known
    }

    /// Does any thread wait for its mask to be confirmed?
    pub fn unconfirmed(&self) -> bool {
        self.procs
            .values()
            .any(|p| !p.exited && (p.handlers.pending() || p.threads.values().any(|t| t.blocked.pending())))
    }

    /// Does any process have a run of reads with a signal blocked on every thread that waits to
    /// be judged?
    pub fn judging_masks(&self) -> bool {
        self.procs.values().any(|p| !p.exited && p.masks.judging())
    }
}

/// Reads the threads of a process: `(tid, stat)` of each thread still there.
pub fn read_threads(dir: &ProcDir, buf: &mut Buf) -> std::io::Result<Vec<(u32, Stat)>> {
    let mut out = Vec::new();
    for tid in dir.tids()? {
        if let Ok(s) = dir.task_stat(tid, buf) {
            out.push((tid, s));
        }
    }
    Ok(out)
}

impl Worker {
    /// Starts watching `node` as the tree of `pid`, and samples it at once.
    pub(super) fn watch(&mut self, node: &str, pid: u32, now: Instant) {
        if self.nodes.contains_key(node) {
            self.forget_node(node);
        }
        self.retired.remove(node);
        let mut tree = NodeTree {
            leader: pid,
            watched_at_tick: self.units.now_ticks(),
            members: 0,
            procs: BTreeMap::new(),
            cadence: Cadence::new(now, self.fast(), self.idle()),
            usage: UsageMeter::new(now),
            signalled: false,
        };
        // Track first, read after: a fork reported by the connector in between is then kept.
        self.track(node, pid);
        match ProcDir::open(pid).and_then(|dir| dir.stat(&mut self.buf).map(|s| (dir, s))) {
            Ok((dir, stat)) => {
                tree.procs.insert(pid, Proc::new(dir, stat, Layout::default(), self.aslr, Discovery::Leader));
            }
            Err(_) => self.untrack(pid),
        }
        self.nodes.insert(node.to_string(), tree);
        self.round(node, RoundKind::Full, now);
        if let Some(tree) = self.nodes.get_mut(node) {
            tree.cadence.ran(now, RoundKind::Full, false, false);
        }
        self.publish_known(node);
    }

    /// A last full look at the node's tree, then stop watching it. What was still there stays
    /// listed by `known()` (checked against start times when asked).
    pub(super) fn unwatch(&mut self, node: &str, now: Instant) {
        if !self.nodes.contains_key(node) {
            return;
        }
        self.round(node, RoundKind::Full, now);
        let known = self.nodes.get(node).map(NodeTree::known).unwrap_or_default();
        self.forget_node(node);
        self.retired.insert(node.to_string(), known);
        self.publish_known(node);
    }

    fn forget_node(&mut self, node: &str) {
        if let Some(tree) = self.nodes.remove(node) {
            for pid in tree.procs.keys() {
                self.untrack(*pid);
                self.exit_status.remove(pid);
            }
        }
        self.forks.retain(|_, f| f.node != node);
    }

    pub(super) fn track(&mut self, node: &str, pid: u32) {
        self.recently_gone.remove(&pid);
        self.owner.insert(pid, node.to_string());
        self.tracked_set().insert(pid);
    }

    pub(super) fn untrack(&mut self, pid: u32) {
        self.owner.remove(&pid);
        self.tracked_set().remove(&pid);
    }

    /// One round over a node: `stat` of everything (cheap) or every file (full); full samples
    /// of whatever changed, new children included. Returns whether anything changed.
    pub(super) fn round(&mut self, node: &str, kind: RoundKind, now: Instant) -> bool {
        let Some(tree) = self.nodes.get(node) else { return false };
        let before = tree.members;
        let pids: Vec<u32> = tree.procs.keys().copied().collect();
        let mut queue = Vec::new();
        let mut changed = false;
        for pid in pids {
            match kind {
                RoundKind::Full => queue.push(pid),
                RoundKind::Cheap => {
                    if self.cheap_read(node, pid, &mut changed, now) {
                        queue.push(pid);
                    }
                }
            }
        }
        changed |= self.sample_all(node, queue, now);
        self.report_usage(node, now);
        if self.nodes.get(node).is_some_and(|t| t.members != before) {
            self.publish_known(node);
        }
        changed
    }

    /// Full samples of some processes of a node right now (an exec, a fork reported).
    pub(super) fn force_full(&mut self, node: &str, pids: &[u32], now: Instant) {
        let Some(tree) = self.nodes.get(node) else { return };
        let before = tree.members;
        self.sample_all(node, pids.to_vec(), now);
        if self.nodes.get(node).is_some_and(|t| t.members != before) {
            self.publish_known(node);
        }
    }

    /// Full samples of the queued processes and of every new child found on the way; then the
    /// exec verdicts and the samples that changed.
    fn sample_all(&mut self, node: &str, mut queue: Vec<u32>, now: Instant) -> bool {
        let mut changed = false;
        let mut seen = std::collections::HashSet::new();
        while let Some(pid) = queue.pop() {
            if seen.insert(pid) {
                changed |= self.full_sample(node, pid, &mut queue, now);
            }
        }
        changed |= self.settle_exec(node);
        changed |= self.emit_dirty(node);
        changed
    }

    /// Reads the `stat` of a tracked, still running process; records its end if it is gone
    /// (reaped) or has exited (a zombie).
    fn read_stat(&mut self, node: &str, pid: u32) -> StatRead {
        let Some(p) = self.nodes.get(node).and_then(|t| t.procs.get(&pid)) else { return StatRead::Nothing };
        // Read even an exited one: it leaves the tree once its entry is gone (reaped).
        let already_exited = p.exited;
        match p.dir.stat(&mut self.buf) {
            Ok(_) if already_exited => StatRead::Nothing,
            Ok(stat) if stat.exited() && stat.num_threads <= 1 => {
                self.exited(node, pid, Some(stat));
                StatRead::Ended
            }
            Ok(stat) => StatRead::Live(stat),
            Err(e) if read::is_gone(&e) => {
                self.vanished(node, pid);
                StatRead::Ended
            }
            // Anything else (out of descriptors…) says nothing about the process: next time.
            Err(_) => StatRead::Nothing,
        }
    }

    /// Reads one process's `stat`. Returns whether it needs a full sample.
    fn cheap_read(&mut self, node: &str, pid: u32, changed: &mut bool, now: Instant) -> bool {
        let connector_up = self.connector_up;
        let stat = match self.read_stat(node, pid) {
            StatRead::Live(stat) => stat,
            StatRead::Ended => {
                *changed = true;
                return false;
            }
            StatRead::Nothing => return false,
        };
        let Some(NodeTree { procs, usage, .. }) = self.nodes.get_mut(node) else { return false };
        let Some(p) = procs.get_mut(&pid) else { return false };
        let mut full = stat_changed(&p.stat, &stat)
            || p.handlers.pending()
            || p.threads.values().any(|t| t.blocked.pending())
            || p.masks.judging();
        observe_stat(p, stat, &mut usage.ticks, now);
        if !connector_up && !full {
            // Forks are not reported: look for new children.
            full |= self.child_index.children(pid, now) != p.children;
        }
        full
    }

    /// Reads everything of one process; queues children it finds. Returns whether it changed.
    fn full_sample(&mut self, node: &str, pid: u32, queue: &mut Vec<u32>, now: Instant) -> bool {
        let stat = match self.read_stat(node, pid) {
            StatRead::Live(stat) => stat,
            StatRead::Ended => return true,
            StatRead::Nothing => return false,
        };
        let Some(NodeTree { procs, usage, signalled, .. }) = self.nodes.get_mut(node) else { return false };
        let Some(p) = procs.get_mut(&pid) else { return false };
        observe_stat(p, stat, &mut usage.ticks, now);
        let age_ms = p.program_age_ms(self.units.ticks_to_ms(self.units.now_ticks().saturating_sub(p.start_time)), now);
        let settled = start_up_over(age_ms, p.stat.state) || p.handlers.confirmed().is_some() || *signalled;
        p.handlers.observe_settling((p.stat.caught, p.stat.ignored), now, settled);
        let Ok(threads) = read_threads(&p.dir, &mut self.buf) else {
            return false;
        };
        let mut kept = BTreeMap::new();
        // What this read saw, raw: blocked on every thread, pending on any.
        let mut everywhere = SigSet(if threads.is_empty() { 0 } else { u64::MAX });
        let mut pending = SigSet::EMPTY;
        for (tid, ts) in threads {
            let mut track = p.threads.remove(&tid).filter(|t| t.start_time == ts.start_time).unwrap_or_else(|| {
                ThreadTrack { name: String::new(), start_time: ts.start_time, blocked: Hysteresis::default() }
            });
            everywhere = everywhere.intersect(ts.blocked);
            pending = SigSet(pending.0 | ts.pending.0);
            track.name = ts.comm;
            track.blocked.observe(ts.blocked, now);
            kept.insert(tid, track);
        }
        p.threads = kept;
        if !everywhere.is_empty() {
            // A signal sent to the process waits in its shared set (only in `status`): read it
            // only when something is blocked everywhere, the one case where it can wait long.
            pending = SigSet(pending.0 | p.dir.shared_pending(&mut self.buf).unwrap_or_default().0);
        }
        if p.masks.wants_signalfd(everywhere, now) {
            // Its descriptors cannot be looked at (another user's process under `watch`): it
            // may read every one of these from a signalfd, so none starts a run of blocked
            // reads. Unknown is not blocked; during a stop the pending signal still tells.
            let found = p.dir.signalfd_signals(&mut self.buf).unwrap_or(everywhere);
            p.masks.signalfd_seen(found, everywhere, now);
        }
        p.masks.observe(everywhere, pending, now);
        let kids = self.child_index.children(pid, now);
        p.children.clone_from(&kids);
        p.dirty = true;
        let mut changed = false;
        for kid in kids {
            let known = self.nodes.get(node).is_some_and(|t| t.procs.contains_key(&kid));
            if !known && self.discover(node, pid, kid, Discovery::Scan, now) {
                queue.push(kid);
                changed = true;
            }
        }
        changed
    }

    /// Adds a new child of a tracked process. Returns whether it was added.
    pub(super) fn discover(&mut self, node: &str, parent: u32, child: u32, how: Discovery, now: Instant) -> bool {
        if self.owner.get(&child).is_some_and(|n| n != node) {
            return false; // already someone else's (should not happen)
        }
        let Ok(dir) = ProcDir::open(child) else { return false };
        let Ok(stat) = dir.stat(&mut self.buf) else { return false };
        let Some(tree) = self.nodes.get(node) else { return false };
        let Some(par) = tree.procs.get(&parent) else { return false };
        // A pid from a children list is the child only if it still names the parent (else
        // the pid was recycled in between); a connector fork may have been reparented already
        // (its parent died), but it cannot have started before its parent.
        let genuine = stat.ppid == parent || (how == Discovery::Connector && stat.start_time >= par.start_time);
        if !genuine {
            return false;
        }
        let parent_layout = par.stat.layout;
        let tree_start = tree.watched_at_tick;
        let randomized =
            self.aslr && par.dir.personality(&mut self.buf).map_or(true, |p| p & read::ADDR_NO_RANDOMIZE == 0);
        let child_start = stat.start_time;
        let mut proc = Proc::new(dir, stat, parent_layout, randomized, how);
        proc.parent = parent;
        if proc.start_time >= tree_start {
            proc.cpu_prev = 0; // born under watch: all its CPU is this tree's
        }
        self.track(node, child);
        if let Some(tree) = self.nodes.get_mut(node) {
            tree.procs.insert(child, proc);
            tree.members += 1;
        }
        if how == Discovery::Scan {
            self.fork_found(node, parent, child, child_start, now);
        }
        true
    }

    /// The process's `/proc` entry is gone (reaped): it leaves the tree.
    pub(super) fn vanished(&mut self, node: &str, pid: u32) {
        self.exited(node, pid, None);
        let mut start_time = 0;
        if let Some(tree) = self.nodes.get_mut(node) {
            if let Some(p) = tree.procs.remove(&pid) {
                tree.members += 1;
                start_time = p.start_time;
            }
            // Its pid may be given to another process: no parent lists it any more.
            for p in tree.procs.values_mut() {
                p.children.retain(|c| *c != pid);
            }
        }
        if self.connector_up {
            // Its exit event may still be on its way (a round can see the reaping first):
            // it stays in the connector's set a moment longer.
            self.owner.remove(&pid);
            self.recently_gone.insert(pid, (node.to_string(), start_time, Instant::now()));
        } else {
            self.untrack(pid);
        }
        self.fork_child_gone(pid);
    }

    /// The process exited (zombie, or gone): report it once.
    pub(super) fn exited(&mut self, node: &str, pid: u32, last: Option<Stat>) {
        let Some(tree) = self.nodes.get_mut(node) else { return };
        let Some(p) = tree.procs.get_mut(&pid) else { return };
        if let Some(s) = last {
            p.stat.state = s.state;
        }
        if p.exited {
            return;
        }
        p.exited = true;
        let (parent, start_time) = (p.stat.ppid, p.start_time);
        if let Some(par) = tree.procs.get_mut(&parent) {
            par.dirty = true;
        }
        (self.sink)(EventKind::ProcGone { node: node.to_string(), pid });
        if let Some(status) = self.exit_status.remove(&pid) {
            self.call_exit_hook(node, pid, start_time, status);
        }
        self.fork_child_exited(pid);
    }

    /// Decides the exec state of children not decided yet (and notices late execs).
    fn settle_exec(&mut self, node: &str) -> bool {
        let now_ticks = self.units.now_ticks();
        let Some(tree) = self.nodes.get(node) else { return false };
        let mut updates = Vec::new();
        for p in tree.procs.values() {
            if p.exited || p.exec == ExecState::Execd || p.discovery == Discovery::Leader {
                continue;
            }
            // A copy stays a copy until its stat changes (an exec changes its layout and name).
            if p.exec == ExecState::NotExecd && !p.dirty {
                continue;
            }
            let age_ms = self.units.ticks_to_ms(now_ticks.saturating_sub(p.start_time));
            let layout = exec::by_layout(p.stat.layout, p.parent_layout, p.randomized, age_ms, p.equal_seen);
            let verdict = match layout {
                Verdict::Decided(ExecState::Execd) => ExecState::Execd,
                // The kernel reports every exec of a child it reported the fork of: no exec
                // event (yet) means no exec, whatever the layout can or cannot tell.
                _ if p.discovery == Discovery::Connector && self.connector_up => {
                    if age_ms >= exec::YOUNG_MS {
                        ExecState::NotExecd
                    } else {
                        ExecState::Unknown
                    }
                }
                Verdict::Decided(v) => v,
                Verdict::NeedIdentity => {
                    let parent = tree.procs.get(&p.parent).filter(|q| !q.exited);
                    match parent {
                        Some(q) => exec::by_identity(
                            &identity(p, &mut self.buf),
                            &identity(q, &mut self.buf),
                            age_ms,
                            p.equal_seen,
                        ),
                        None if age_ms >= exec::YOUNG_MS => ExecState::NotExecd,
                        None => ExecState::Unknown,
                    }
                }
            };
            if verdict != p.exec && !(p.exec == ExecState::NotExecd && verdict == ExecState::Unknown) {
                updates.push((p.pid, verdict));
            }
        }
        let changed = !updates.is_empty();
        for (pid, verdict) in updates {
            self.set_exec(node, pid, verdict);
        }
        changed
    }

    /// Records a process's exec state; its parent's sample and any fork record follow.
    pub(super) fn set_exec(&mut self, node: &str, pid: u32, state: ExecState) {
        let Some(tree) = self.nodes.get_mut(node) else { return };
        let Some(p) = tree.procs.get_mut(&pid) else { return };
        if p.exec == state {
            return;
        }
        p.exec = state;
        let parents = [p.parent, p.stat.ppid];
        for par in parents {
            if let Some(q) = tree.procs.get_mut(&par) {
                q.dirty = true;
            }
        }
        self.fork_exec_known(pid, state);
    }

    /// Emits the samples that changed. Returns whether any did.
    pub(super) fn emit_dirty(&mut self, node: &str) -> bool {
        let Some(tree) = self.nodes.get_mut(node) else { return false };
        let dirty: Vec<u32> = tree.procs.values().filter(|p| p.dirty && !p.exited).map(|p| p.pid).collect();
        let mut changed = false;
        for pid in dirty {
            let Some(p) = tree.procs.get(&pid) else { continue };
            // Not published before its dispositions are confirmed (it stays dirty till then);
            // meanwhile the leader's reads are shown as settling.
            let Some(sample) = p.sample(&tree.procs) else {
                let settling = if pid == tree.leader { p.settling_sample(&tree.procs) } else { None };
                if let Some(sample) = settling.filter(|s| p.emitted_settling.as_ref() != Some(s)) {
                    if let Some(p) = tree.procs.get_mut(&pid) {
                        p.emitted_settling = Some(sample.clone());
                    }
                    // Shown, not a change the probe's cadence answers to.
                    (self.sink)(EventKind::ProcSettling { node: node.to_string(), sample });
                }
                continue;
            };
            let Some(p) = tree.procs.get_mut(&pid) else { continue };
            p.dirty = false;
            if p.emitted.as_ref() != Some(&sample) {
                p.masks.shown(Instant::now());
                p.emitted = Some(sample.clone());
                changed = true;
                (self.sink)(EventKind::ProcSampled { node: node.to_string(), sample });
            }
        }
        changed
    }

    fn report_usage(&mut self, node: &str, now: Instant) {
        let units = self.units;
        let Some(tree) = self.nodes.get_mut(node) else { return };
        let rss_kib: u64 = tree.procs.values().filter(|p| !p.exited).map(|p| p.stat.rss_pages * units.page_kib).sum();
        if let Some((cpu_permille, rss_kib)) = tree.usage.close(now, rss_kib, units) {
            (self.sink)(EventKind::Usage { node: node.to_string(), cpu_permille, rss_kib });
        }
    }
}

/// Takes a fresh `stat` of a process: CPU for the tree's usage, exec evidence.
fn observe_stat(p: &mut Proc, stat: Stat, usage_ticks: &mut u64, now: Instant) {
    // Start and stack of an address space are fixed for its life: new ones mean an exec.
    if p.stat.layout.is_known() && stat.layout.is_known() && !p.stat.layout.same_origin(stat.layout) {
        p.new_image(now);
    }
    *usage_ticks += stat.cpu_ticks.saturating_sub(p.cpu_prev);
    p.cpu_prev = stat.cpu_ticks;
    if p.parent_layout.is_known() && stat.layout.same_origin(p.parent_layout) {
        p.equal_seen += 1;
    }
    if stat_changed(&p.stat, &stat) {
        p.dirty = true;
    }
    p.trace = match (stat.state, p.trace) {
        (b't', TraceSeen::No) => TraceSeen::Since(now, context_switches(&p.dir)),
        (b't', TraceSeen::Since(since, switches)) if now.saturating_duration_since(since) >= TRACED_PERSISTS => {
            // Not switched in once since: it has not run at all, it is held. A process under
            // `strace` is found in `t` read after read too (it stops at every system call), but
            // it runs in between.
            let now_switches = context_switches(&p.dir);
            if switches.is_some() && now_switches == switches {
                p.dirty = true;
                TraceSeen::Held
            } else {
                TraceSeen::Since(now, now_switches)
            }
        }
        (b't', seen) => seen,
        _ => TraceSeen::No,
    };
    p.stat = stat;
}

/// A tracing stop (`t`) seen this long, through every read, with the process not run once
/// meanwhile, is a process held by its tracer.
const TRACED_PERSISTS: Duration = Duration::from_millis(100);

fn context_switches(dir: &ProcDir) -> Option<u64> {
    dir.context_switches(&mut Buf::new()).ok()
}

fn identity(p: &Proc, buf: &mut Buf) -> Identity {
    Identity { exe: p.dir.exe().ok(), cmdline: p.dir.cmdline(buf).unwrap_or_default(), caught: p.stat.caught.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_is_reported_once_seen_twice_in_a_row_far_enough_apart() {
        let term = SigSet(1 << 14);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut h = Hysteresis::default();
        h.observe(term, at(0));
        assert_eq!(h.reported(), SigSet::EMPTY, "a new thread reports nothing blocked until confirmed");
        assert!(h.pending());
        // Two reads of the same moment (microseconds apart) do not confirm it.
        h.observe(term, at(1));
        assert!(h.pending());
        assert_eq!(h.reported(), SigSet::EMPTY);
        h.observe(term, at(250));
        assert_eq!(h.reported(), term);
        assert!(!h.pending());
        // A one-sample blip (everything blocked during a reload) never shows.
        h.observe(SigSet(u64::MAX), at(500));
        assert_eq!(h.reported(), term);
        h.observe(term, at(750));
        assert_eq!(h.reported(), term);
        assert!(!h.pending());
        // A real change shows at its second sighting.
        h.observe(SigSet::EMPTY, at(1000));
        h.observe(SigSet::EMPTY, at(1250));
        assert_eq!(h.reported(), SigSet::EMPTY);
    }

    #[test]
    fn dispositions_of_a_starting_process_wait_until_it_has_settled() {
        let caught_int = SigSet(1 << 1);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut h: Hysteresis = Hysteresis::default();
        // Python's own SIGINT handler, the script's SIGTERM handler not installed yet: seen
        // for a long second while the process is young, never confirmed.
        for ms in [0, 250, 500, 750, 1000, 1250] {
            h.observe_settling(caught_int, at(ms), false);
            assert!(h.pending());
            assert_eq!(h.confirmed(), None);
            assert_eq!(h.latest(), Some(caught_int), "shown as settling meanwhile");
        }
        // The script got there: the value that counts is the one the settled process shows.
        let caught_both = SigSet((1 << 1) | (1 << 14));
        h.observe_settling(caught_both, at(1500), false);
        assert_eq!(h.latest(), Some(caught_both), "the latest read, at once");
        h.observe_settling(caught_both, at(1750), true);
        assert_eq!(h.confirmed(), Some(caught_both));
        // A value held since youth is confirmed at the first settled read.
        let mut h: Hysteresis = Hysteresis::default();
        h.observe_settling(caught_int, at(0), false);
        h.observe_settling(caught_int, at(1900), false);
        h.observe_settling(caught_int, at(2100), true);
        assert_eq!(h.confirmed(), Some(caught_int));
    }

    #[test]
    fn start_up_is_over_once_the_process_first_waits_or_at_five_seconds() {
        // Young: never.
        assert!(!start_up_over(1999, b'S'));
        // Old enough and waiting for something (sleeping, stopped): yes.
        assert!(start_up_over(2000, b'S') && start_up_over(2000, b'T'));
        // Old enough but still running or in the disk (a starved import): not yet ...
        assert!(!start_up_over(4999, b'R') && !start_up_over(4999, b'D'));
        // ... unless it has been at it for five seconds (a node that computes from the start).
        assert!(start_up_over(5000, b'R'));
    }

    #[test]
    fn usage_is_reported_when_it_moves_and_at_most_once_a_window() {
        let units = Units { ticks_per_sec: 100, page_kib: 4 };
        let t0 = Instant::now();
        let mut m = UsageMeter::new(t0);
        m.ticks = 50; // half a core for one second
        assert_eq!(m.close(t0 + Duration::from_millis(500), 1000, units), None, "window too short");
        assert_eq!(m.close(t0 + Duration::from_secs(1), 1000, units), Some((500, 1000)));
        m.ticks = 50;
        assert_eq!(m.close(t0 + Duration::from_secs(2), 1020, units), None, "same CPU, RSS +2%");
        m.ticks = 52;
        assert_eq!(m.close(t0 + Duration::from_secs(3), 1000, units), Some((520, 1000)));
        assert_eq!(m.close(t0 + Duration::from_secs(4), 1100, units), Some((0, 1100)));
    }
}
