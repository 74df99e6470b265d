//! A watched node's process tree: every process the probe knows of and how it was last seen
//! (the rounds that refresh it are the probe thread's, in [`super::thread`]).
//!
//! Membership is by pid, not by ancestry: a descendant stays in its node's tree when its parent
//! dies and it is reparented to init, a subreaper or the supervisor, and its own children join
//! too. A process leaves the tree only when its `/proc` entry is gone (reaped); an exited,
//! not yet reaped process (a zombie) is reported gone (`ProcGone`) but still listed by
//! [`super::Probe::known`], so that the survivor sweep sees everything that still has a pid.

use super::Known;
use super::at_fork::ThreadBook;
use super::exec::{ExecState, Identity, Layout};
use super::masks::MaskWatch;
use super::read::{Buf, ProcDir, Stat, Units};
use super::schedule::Cadence;
use crate::event::{ChildInfo, ProcSample, SigSet, ThreadSample};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A value read from `/proc` is reported only once two consecutive samples at least
/// [`CONFIRM_GAP`] apart agree on it. Per-thread masks are briefly all-blocked during reloads
/// and bursts, and signal dispositions pass through a moment where the runtime is up but the
/// application's handler is not yet installed (Python catches SIGINT before the script sets its
/// SIGTERM handler): a hazard must not flicker on either, and two reads a few microseconds
/// apart (a scheduled round right after an exec's re-read) would both see the same moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Hysteresis<T = SigSet> {
    confirmed: Option<T>,
    /// A value seen, and when it was first seen.
    candidate: Option<(T, Instant)>,
}

/// How far apart two reads must be to confirm a value.
pub(super) const CONFIRM_GAP: Duration = Duration::from_millis(200);

/// A process younger than this may still be setting itself up: an interpreter catches SIGINT
/// before the script installs its SIGTERM handler, and on a loaded machine a slow import holds
/// that moment for a second or more. Its signal dispositions are confirmed only once it is
/// this old, so that a hazard about them is never raised by the start-up of a healthy process.
pub(super) const STARTUP_SETTLE: Duration = Duration::from_secs(2);

/// ... unless it is still running then (state `R` or `D`: executing or waiting for the CPU or
/// the disk, as an import on a starved machine does): its start-up then counts as over at the
/// first read that finds it in any other state (sleeping, stopped), at this age whatever it
/// does, or as soon as its node is signalled (a stop judges what is there). Until then it
/// publishes no sample, and is read in full every fast round.
pub(super) const STARTUP_SETTLE_BUSY: Duration = Duration::from_secs(5);

/// Has a process of this age (ms) and state finished starting, as far as judging its signal
/// dispositions goes? The age is that of its program: an exec starts it again (`sh -c 'setup;
/// exec python app.py'` starts Python only when the setup is done).
pub(super) fn start_up_over(age_ms: u64, state: u8) -> bool {
    let age = u128::from(age_ms);
    age >= STARTUP_SETTLE_BUSY.as_millis() || (age >= STARTUP_SETTLE.as_millis() && !matches!(state, b'R' | b'D'))
}

impl<T: Copy + Eq> Hysteresis<T> {
    pub(super) fn observe(&mut self, seen: T, now: Instant) {
        self.observe_settling(seen, now, true);
    }

    /// Like [`observe`](Self::observe), but nothing is confirmed until `settled` (the value
    /// waits, pending, for the process to finish starting).
    pub(super) fn observe_settling(&mut self, seen: T, now: Instant, settled: bool) {
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
    pub(super) fn pending(&self) -> bool {
        self.candidate.is_some()
    }

    /// The confirmed value, if any yet.
    pub(super) fn confirmed(&self) -> Option<T> {
        self.confirmed
    }

    /// The value the latest read saw (confirmed or not).
    pub(super) fn latest(&self) -> Option<T> {
        self.candidate.map(|(value, _)| value).or(self.confirmed)
    }
}

impl Hysteresis<SigSet> {
    /// What is reported of a mask: the confirmed one; a brand-new thread reports nothing
    /// blocked until its mask is confirmed (so that it can never make a signal look "blocked
    /// everywhere").
    pub(super) fn reported(&self) -> SigSet {
        self.confirmed.unwrap_or(SigSet::EMPTY)
    }
}

/// What reading a tracked process's `stat` found.
pub(super) enum StatRead {
    Live(Stat),
    /// It is gone or exited, and that was recorded.
    Ended,
    /// Nothing to go on (already ended, or a read error that says nothing about it).
    Nothing,
}

#[derive(Debug, Clone)]
pub(super) struct ThreadTrack {
    pub name: String,
    /// Clock ticks since boot.
    pub start_time: u64,
    pub blocked: Hysteresis,
}

/// How a process came to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Discovery {
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
pub(super) struct Proc {
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
pub(super) enum TraceSeen {
    #[default]
    No,
    /// Every read since then found it in `t`; its context switches then (see
    /// [`context_switches`]).
    Since(Instant, Option<u64>),
    /// Long enough: it is held by its tracer.
    Held,
}

impl Proc {
    pub(super) fn new(dir: ProcDir, stat: Stat, parent_layout: Layout, randomized: bool, discovery: Discovery) -> Proc {
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
    pub(super) fn new_image(&mut self, now: Instant) {
        self.image_since = Some(now);
        self.handlers = Hysteresis::default();
        self.dirty = true;
    }

    /// How long its program has been running (ms): since its exec if one was seen, else since
    /// the process started (`age_ms`).
    pub(super) fn program_age_ms(&self, age_ms: u64, now: Instant) -> u64 {
        self.image_since.map_or(age_ms, |t| {
            age_ms.min(u64::try_from(now.saturating_duration_since(t).as_millis()).unwrap_or(u64::MAX))
        })
    }

    /// Its threads as last read: `(tid, start time)`.
    pub(super) fn threads_seen(&self) -> impl Iterator<Item = (u32, Option<u64>)> + '_ {
        self.threads.iter().map(|(tid, t)| (*tid, Some(t.start_time)))
    }

    /// What is published of it; `None` while its dispositions wait for a confirmation (a
    /// sample always shows what the latest read saw, so that a handler claimed over the wire
    /// is never contradicted by an older read).
    pub(super) fn sample(&self, procs: &BTreeMap<u32, Proc>) -> Option<ProcSample> {
        if self.handlers.pending() {
            return None;
        }
        let (caught, ignored) = self.handlers.confirmed()?;
        Some(self.build(procs, caught, ignored))
    }

    /// What is shown of it while it starts up and has never been published: the latest read,
    /// dispositions included, to be marked as settling and never judged.
    pub(super) fn settling_sample(&self, procs: &BTreeMap<u32, Proc>) -> Option<ProcSample> {
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
pub(super) fn stat_changed(old: &Stat, new: &Stat) -> bool {
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
pub(super) struct UsageMeter {
    window_start: Instant,
    pub ticks: u64,
    last: Option<(u32, u64)>,
}

/// At least this much change of CPU (per mille of one core) to report it.
pub(super) const CPU_STEP_PERMILLE: u32 = 10;
/// At least this much relative change of RSS (percent) to report it.
pub(super) const RSS_STEP_PERCENT: u64 = 5;
pub(super) const USAGE_WINDOW: Duration = Duration::from_secs(1);

impl UsageMeter {
    pub(super) fn new(now: Instant) -> UsageMeter {
        UsageMeter { window_start: now, ticks: 0, last: None }
    }

    /// Ends the window if it is long enough; returns what to report, if anything.
    pub(super) fn close(&mut self, now: Instant, rss_kib: u64, units: Units) -> Option<(u32, u64)> {
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
pub(super) struct NodeTree {
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
    pub(super) fn known(&self) -> Vec<Known> {
        let mut known: Vec<Known> =
            self.procs.values().map(|p| Known { pid: p.pid, start_time: p.start_time }).collect();
        known.sort_by_key(|k| k.pid != self.leader);
        known
    }

    /// Does any thread wait for its mask to be confirmed?
    pub(super) fn unconfirmed(&self) -> bool {
        self.procs
            .values()
            .any(|p| !p.exited && (p.handlers.pending() || p.threads.values().any(|t| t.blocked.pending())))
    }

    /// Does any process have a run of reads with a signal blocked on every thread that waits to
    /// be judged?
    pub(super) fn judging_masks(&self) -> bool {
        self.procs.values().any(|p| !p.exited && p.masks.judging())
    }
}

/// Reads the threads of a process: `(tid, stat)` of each thread still there.
pub(super) fn read_threads(dir: &ProcDir, buf: &mut Buf) -> std::io::Result<Vec<(u32, Stat)>> {
    let mut out = Vec::new();
    for tid in dir.tids()? {
        if let Ok(s) = dir.task_stat(tid, buf) {
            out.push((tid, s));
        }
    }
    Ok(out)
}

/// Takes a fresh `stat` of a process: CPU for the tree's usage, exec evidence.
pub(super) fn observe_stat(p: &mut Proc, stat: Stat, usage_ticks: &mut u64, now: Instant) {
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

pub(super) fn identity(p: &Proc, buf: &mut Buf) -> Identity {
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
