//! The probe thread ("gw-probe"): owns every watched tree, sleeps on its command channel
//! between rounds (so it costs nothing while nothing is due), runs the rounds that are due,
//! and handles the kernel connector's events as they come.

use super::connector::ExitStatus;
use super::connector::{ConnectorMsg, KernelEvent};
use super::exec::{self, ExecState, Layout, Verdict};
use super::forks::{ForkTracker, View};
use super::read::{self, Buf, ProcDir, Stat, Units};
use super::schedule::{Cadence, RoundKind};
use super::tree::{
    Discovery, Hysteresis, NodeTree, Proc, StatRead, ThreadTrack, UsageMeter, identity, observe_stat, read_threads,
    start_up_over, stat_changed,
};
use super::{ExitHook, Intensity, Known, ProbeConfig, Shared, Sink};
use crate::event::{EventKind, ForkSeen, ProbeMode, SigSet};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a reaped process stays known to the connector's filter, for its exit event.
const GONE_GRACE: Duration = Duration::from_secs(2);

/// What the probe thread is asked to do.
pub(super) enum Cmd {
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

pub(super) struct Worker {
    config: ProbeConfig,
    sink: Sink,
    units: Units,
    /// Address-space randomization on system-wide.
    aslr: bool,
    buf: Buf,
    child_index: super::children::ChildIndex,
    nodes: BTreeMap<String, NodeTree>,
    /// Which node each tracked pid belongs to.
    owner: HashMap<u32, String>,
    /// What was left of unwatched nodes at their last look.
    retired: HashMap<String, Vec<Known>>,
    shared: Shared,
    intensity: Intensity,
    /// The connector reports forks, execs and exits.
    connector_up: bool,
    /// Forks seen, until their verdict (threaded? exec'd?) is out.
    forks: ForkTracker,
    /// Processes reaped moments ago: (node, start time, when), until their exit event is in.
    recently_gone: HashMap<u32, (String, u64, Instant)>,
    /// Exit statuses the connector reported for processes not yet seen gone.
    exit_status: HashMap<u32, super::connector::ExitStatus>,
    exit_hook: Option<ExitHook>,
    /// xorshift state for [`Worker::random`].
    rng: u64,
}

impl Worker {
    pub(super) fn new(config: ProbeConfig, sink: Sink, shared: Shared) -> Worker {
        let units = Units::get();
        Worker {
            config,
            sink,
            units,
            aslr: super::read::aslr_enabled(),
            buf: Buf::new(),
            child_index: super::children::ChildIndex::default(),
            nodes: BTreeMap::new(),
            owner: HashMap::new(),
            retired: HashMap::new(),
            shared,
            intensity: Intensity::default(),
            connector_up: false,
            forks: ForkTracker::new(units, super::read::pid_max()),
            recently_gone: HashMap::new(),
            exit_status: HashMap::new(),
            exit_hook: None,
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

    fn fast(&self) -> Duration {
        Duration::from_millis(self.config.fast_interval_ms)
    }

    fn idle(&self) -> Duration {
        Duration::from_millis(self.config.idle_interval_ms)
    }

    fn tracked_set(&self) -> MutexGuard<'_, HashSet<u32>> {
        self.shared.tracked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn intense(&self) -> bool {
        self.intensity.viewers > 0 || self.intensity.stopping > 0
    }

    /// Runs until told to stop (or every handle is gone).
    pub(super) fn run(mut self, rx: &Receiver<Cmd>) {
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
        match (rounds, self.forks.next_check()) {
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
        let view = &mut View { nodes: &self.nodes, buf: &mut self.buf, sink: &self.sink };
        self.forks.resolve_due(now, view);
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

    fn set_mode(&mut self, mode: ProbeMode, detail: String) {
        self.shared.set_mode(mode);
        (self.sink)(EventKind::ProbeMode { mode, detail });
    }

    /// Full samples of a few processes of a node right now (an exec); the node turns hot.
    fn resample(&mut self, node: &str, pids: &[u32], now: Instant) {
        if let Some(tree) = self.nodes.get_mut(node) {
            tree.cadence.changed(now);
        }
        self.force_full(node, pids, now);
    }

    /// Every process the node's tree knows (or, for an unwatched node, what was left of it and
    /// is still alive with the same start time).
    fn known_now(&self, node: &str) -> Vec<Known> {
        if let Some(tree) = self.nodes.get(node) {
            return tree.known();
        }
        self.retired.get(node).map(|k| still_alive(k)).unwrap_or_default()
    }

    /// Publishes the node's membership for `Probe::known` callers that cannot wait.
    fn publish_known(&self, node: &str) {
        let known = match self.nodes.get(node) {
            Some(tree) => tree.known(),
            None => self.retired.get(node).cloned().unwrap_or_default(),
        };
        self.shared.known.lock().unwrap_or_else(PoisonError::into_inner).insert(node.to_string(), known);
    }

    /// Starts watching `node` as the tree of `pid`, and samples it at once.
    fn watch(&mut self, node: &str, pid: u32, now: Instant) {
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
    fn unwatch(&mut self, node: &str, now: Instant) {
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
        self.forks.forget_node(node);
    }

    fn track(&mut self, node: &str, pid: u32) {
        self.recently_gone.remove(&pid);
        self.owner.insert(pid, node.to_string());
        self.tracked_set().insert(pid);
    }

    fn untrack(&mut self, pid: u32) {
        self.owner.remove(&pid);
        self.tracked_set().remove(&pid);
    }

    /// One round over a node: `stat` of everything (cheap) or every file (full); full samples
    /// of whatever changed, new children included. Returns whether anything changed.
    fn round(&mut self, node: &str, kind: RoundKind, now: Instant) -> bool {
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
    fn force_full(&mut self, node: &str, pids: &[u32], now: Instant) {
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
    fn discover(&mut self, node: &str, parent: u32, child: u32, how: Discovery, now: Instant) -> bool {
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
            if let Some(par) = self.nodes.get(node).and_then(|t| t.procs.get(&parent)) {
                self.forks.found(node, par, child, child_start, now, &self.sink);
            }
        }
        true
    }

    /// The process's `/proc` entry is gone (reaped): it leaves the tree.
    fn vanished(&mut self, node: &str, pid: u32) {
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
        self.forks.child_gone(pid);
    }

    /// The process exited (zombie, or gone): report it once.
    fn exited(&mut self, node: &str, pid: u32, last: Option<Stat>) {
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
        if let Some(p) = self.owner.get(&pid).and_then(|n| self.nodes.get(n)).and_then(|t| t.procs.get(&pid)) {
            self.forks.child_exited(p);
        }
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
    fn set_exec(&mut self, node: &str, pid: u32, state: ExecState) {
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
        self.forks.exec_known(pid, state, &self.sink);
    }

    /// Emits the samples that changed. Returns whether any did.
    fn emit_dirty(&mut self, node: &str) -> bool {
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

    /// The connector's report of a thread created or ended in a tracked process.
    fn kernel_thread(&mut self, pid: u32, tid: u32, born: bool, timestamp_ns: u64) {
        let Some(node) = self.owner.get(&pid) else { return };
        if let Some(p) = self.nodes.get_mut(node).and_then(|t| t.procs.get_mut(&pid)) {
            p.book.record(tid, timestamp_ns, born);
        }
    }

    /// The connector's fork of a tracked process: the child joins the tree now, the parent's
    /// threads are read now.
    fn kernel_fork(&mut self, parent: u32, child: u32, timestamp_ns: u64, now: Instant) {
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
                self.forks.orphan(child);
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
        let view = &mut View { nodes: &self.nodes, buf: &mut self.buf, sink: &self.sink };
        self.forks.kernel_fork(&node, parent, child, timestamp_ns, now, view);
    }

    /// The connector's exec of a tracked process.
    fn kernel_exec(&mut self, pid: u32, now: Instant) {
        self.forks.kernel_exec(pid);
        let Some(node) = self.owner.get(&pid).cloned() else {
            if !self.forks.tracks(pid) {
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
    fn kernel_exit(&mut self, pid: u32, status: ExitStatus, now: Instant) {
        if self.forks.orphan_exited(pid) {
            self.tracked_set().remove(&pid);
        }
        self.forks.kernel_exit(pid);
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
            if !self.forks.tracks(pid) {
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

    fn call_exit_hook(&self, node: &str, pid: u32, start_time: u64, status: ExitStatus) {
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
    fn client_fork(&mut self, node: &str, fork: &ForkSeen, now: Instant) {
        let view = &mut View { nodes: &self.nodes, buf: &mut self.buf, sink: &self.sink };
        if self.forks.client_report(fork, now, view) {
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
        let view = &mut View { nodes: &self.nodes, buf: &mut self.buf, sink: &self.sink };
        self.forks.client_fork(node, fork, now, view);
        if let Some(tree) = self.nodes.get_mut(node) {
            tree.cadence.changed(now);
        }
    }
}

/// The processes of `known` that still exist with the same start time.
pub(super) fn still_alive(known: &[Known]) -> Vec<Known> {
    let mut buf = Buf::new();
    known
        .iter()
        .filter(|k| ProcDir::open(k.pid).and_then(|d| d.stat(&mut buf)).is_ok_and(|s| s.start_time == k.start_time))
        .copied()
        .collect()
}
