//! Runs of reads that found signals blocked on every thread of a process, and pending while so.
//!
//! Servers block their signals for a moment (a reload, a connection hand-off, a short sleep with
//! signals blocked) and open them again; under churn a read finds such a mask now and then,
//! sometimes twice in a row. Whether a stop signal will be *delivered* is decided by whether
//! the mask ever opens, so the probe counts, per signal, the consecutive reads that found it
//! blocked on every thread (a read that finds it open anywhere ends the run) and, separately,
//! those that found it pending as well: sent, and held back. The samples carry these counts
//! ([`crate::event::MaskRuns`]); the fold times them with its events' `t` and the hazard is
//! judged there (`hazards::BLOCK_PERSIST_*`, `hazards::HELD_SPAN_MS`).
//!
//! While a run has not lasted long enough to be judged, the process is read in full every half
//! to whole fast interval, at uneven intervals ([`spread`]): a brief block is seen open again
//! within one interval, one that comes back periodically is not seen in step with the reads,
//! and a lasting one is seen read after read. Once it has, its count stops moving (no sample is published for a
//! read that only says "still blocked") until the run ends.
//!
//! Pure: instants come in as arguments.

use crate::event::{MaskRun, MaskRuns, SigSet, Signal};
use crate::hazards::{BLOCK_PERSIST_READS, BLOCK_PERSIST_SPAN_MS, HELD_READS, HELD_SPAN_MS};
use std::time::{Duration, Instant};

/// Reads closer together than this are one sighting: a run counts a read only this long after
/// its previous one (a `sample_now` right after a round reads the same moment twice).
pub(super) const READ_GAP: Duration = Duration::from_millis(200);

/// A run keeps counting this long past its judging span, so that the fold, which times the run
/// from the `t` of the first sample that showed it (a little later than the read, and later
/// still when that sample waited for a disposition's confirmation), sees it last long enough.
pub(super) const SPAN_MARGIN: Duration = Duration::from_millis(500);

/// An interval between half of `fast` and all of it, picked by `random`: while a run is judged
/// the process is read at uneven intervals, so that a block that comes back on a period close to
/// the probe's own (a 50 ms critical section on a 250 ms timer) is not seen in step, read after
/// read.
pub(super) fn spread(fast: Duration, random: u64) -> Duration {
    let half = fast / 2;
    half + Duration::from_nanos(random % (u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1)))
}

/// What one kind of run needs before it can be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Judging {
    /// Published from this many reads on.
    pub publish_from: u32,
    /// Judged once it counts this many reads ...
    pub reads: u32,
    /// ... over this long since it was first published.
    pub span: Duration,
}

/// Blocked on every thread: a single read never counts; judged over
/// [`BLOCK_PERSIST_SPAN_MS`] and [`BLOCK_PERSIST_READS`].
pub(super) const BLOCKED: Judging =
    Judging { publish_from: 2, reads: BLOCK_PERSIST_READS, span: Duration::from_millis(BLOCK_PERSIST_SPAN_MS) };

/// Pending while blocked on every thread: the kernel's own evidence, published at once; judged
/// over [`HELD_SPAN_MS`].
pub(super) const HELD: Judging =
    Judging { publish_from: 1, reads: HELD_READS, span: Duration::from_millis(HELD_SPAN_MS) };

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    signal: Signal,
    reads: u32,
    /// The latest counted read.
    last: Instant,
    /// When a sample showing it was first published: the fold times the run from there.
    published: Option<Instant>,
    /// Long enough to be judged: the count no longer moves.
    settled: bool,
    /// The number of the read that started it ([`MaskRun::started`]).
    started: u64,
}

/// The runs of one kind, per signal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Runs {
    runs: Vec<Run>,
    /// Reads observed so far: numbers the runs.
    reads_seen: u64,
}

impl Runs {
    /// A read found `set` so (blocked on every thread, or held).
    pub(super) fn observe(&mut self, set: SigSet, now: Instant, judging: Judging) {
        self.reads_seen += 1;
        self.runs.retain(|r| set.contains(r.signal));
        for run in &mut self.runs {
            if run.settled || now.saturating_duration_since(run.last) < READ_GAP {
                continue;
            }
            run.reads = run.reads.saturating_add(1);
            run.last = now;
            settle(run, now, judging);
        }
        for signal in set.iter() {
            if !self.runs.iter().any(|r| r.signal == signal) {
                let mut run =
                    Run { signal, reads: 1, last: now, published: None, settled: false, started: self.reads_seen };
                settle(&mut run, now, judging);
                self.runs.push(run);
            }
        }
    }

    /// The published runs, grouped by read count (most reads first).
    pub(super) fn published(&self, judging: Judging) -> Vec<MaskRun> {
        let mut out: Vec<MaskRun> = Vec::new();
        for run in self.runs.iter().filter(|r| r.reads >= judging.publish_from) {
            match out.iter_mut().find(|m| m.reads == run.reads && m.started == run.started) {
                Some(m) => m.signals.insert(run.signal),
                None => out.push(MaskRun {
                    signals: [run.signal].into_iter().collect(),
                    reads: run.reads,
                    started: run.started,
                }),
            }
        }
        out.sort_by(|a, b| b.reads.cmp(&a.reads).then(a.signals.0.cmp(&b.signals.0)));
        out
    }

    /// Does a run still wait to be judged?
    pub(super) fn judging(&self) -> bool {
        self.runs.iter().any(|r| !r.settled)
    }

    /// A sample with the published runs went out.
    fn shown(&mut self, now: Instant, judging: Judging) {
        for run in self.runs.iter_mut().filter(|r| r.reads >= judging.publish_from && r.published.is_none()) {
            run.published = Some(now);
        }
    }
}

/// Is the run long enough to be judged, counted from the first sample that showed it (a run
/// can grow unseen while the process's samples wait, e.g. for its start-up to end)?
fn settle(run: &mut Run, now: Instant, judging: Judging) {
    run.settled = run.reads >= judging.reads
        && run.published.is_some_and(|p| now.saturating_duration_since(p) >= judging.span + SPAN_MARGIN);
}

/// How long what a process reads from signalfds is trusted before it is looked at again.
pub(super) const SIGNALFD_FRESH: Duration = Duration::from_secs(30);

/// Both kinds of runs of one process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct MaskWatch {
    blocked: Runs,
    held: Runs,
    /// What its signalfds read, when last looked at, and for which blocked set.
    signalfd: Option<(SigSet, Instant, SigSet)>,
}

impl MaskWatch {
    /// Must the process's signalfds be looked at before [`observe`](Self::observe) of
    /// `blocked` (something blocked everywhere, not looked at for this set lately)?
    pub(super) fn wants_signalfd(&self, blocked: SigSet, now: Instant) -> bool {
        !blocked.is_empty()
            && !self.signalfd.is_some_and(|(_, at, checked)| {
                checked == blocked && now.saturating_duration_since(at) < SIGNALFD_FRESH
            })
    }

    /// The signals its signalfds read, looked at now for `blocked`.
    pub(super) fn signalfd_seen(&mut self, found: SigSet, blocked: SigSet, now: Instant) {
        self.signalfd = Some((found, now, blocked));
    }

    /// A full read found `blocked` blocked on every thread, and `pending` pending (shared or on
    /// any thread). A signal read from a signalfd is blocked by design, taken all the same: it
    /// starts no run of blocked reads; still pending while blocked (nobody reads it) is held.
    pub(super) fn observe(&mut self, blocked: SigSet, pending: SigSet, now: Instant) {
        let taken = self.signalfd.map_or(SigSet::EMPTY, |(found, _, _)| found);
        self.blocked.observe(SigSet(blocked.0 & !taken.0), now, BLOCKED);
        self.held.observe(pending.intersect(blocked), now, HELD);
    }

    pub(super) fn runs(&self) -> MaskRuns {
        MaskRuns { blocked: self.blocked.published(BLOCKED), held: self.held.published(HELD) }
    }

    /// A sample of the process, with [`runs`](Self::runs), was published at `now`.
    pub(super) fn shown(&mut self, now: Instant) {
        self.blocked.shown(now, BLOCKED);
        self.held.shown(now, HELD);
    }

    /// Does a run wait to be judged (the process is then read in full at the fast interval)?
    pub(super) fn judging(&self) -> bool {
        self.blocked.judging() || self.held.judging()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runs' signals and counts, without their numbers.
    fn shape(runs: Vec<MaskRun>) -> Vec<(SigSet, u32)> {
        runs.into_iter().map(|r| (r.signals, r.reads)).collect()
    }

    const TERM: SigSet = SigSet(1 << 14);

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn judging_reads_are_spread_between_half_the_fast_interval_and_all_of_it() {
        let fast = Duration::from_millis(250);
        let picks: Vec<Duration> =
            [0u64, 1, 62_499_999, 124_999_999, 125_000_000, u64::MAX].iter().map(|r| spread(fast, *r)).collect();
        assert!(picks.iter().all(|d| *d >= fast / 2 && *d < fast), "{picks:?}");
        assert_eq!(picks[0], Duration::from_millis(125));
        assert_eq!(picks[4], Duration::from_millis(125));
    }

    #[test]
    fn one_read_is_never_a_run_and_an_open_read_ends_one() {
        let t0 = Instant::now();
        let mut w = MaskWatch::default();
        w.observe(TERM, SigSet::EMPTY, t0);
        assert!(w.runs().is_empty(), "one read publishes nothing");
        assert!(w.judging(), "but it is read again soon");
        w.observe(SigSet::EMPTY, SigSet::EMPTY, at(t0, 250));
        assert!(w.runs().is_empty());
        assert!(!w.judging());
        // Seen twice in a row (a brief block sampled twice): published, then ended by the read
        // that finds it open.
        w.observe(TERM, SigSet::EMPTY, at(t0, 500));
        w.observe(TERM, SigSet::EMPTY, at(t0, 750));
        assert_eq!(shape(w.runs().blocked), vec![(TERM, 2)]);
        w.observe(SigSet::EMPTY, SigSet::EMPTY, at(t0, 1000));
        assert!(w.runs().is_empty());
    }

    #[test]
    fn reads_of_the_same_moment_count_once() {
        let t0 = Instant::now();
        let mut w = MaskWatch::default();
        for ms in [0, 1, 2, 50, 199] {
            w.observe(TERM, SigSet::EMPTY, at(t0, ms));
        }
        assert!(w.runs().is_empty(), "still one sighting");
        w.observe(TERM, SigSet::EMPTY, at(t0, 200));
        assert_eq!(shape(w.runs().blocked), vec![(TERM, 2)]);
    }

    #[test]
    fn a_lasting_block_counts_until_it_can_be_judged_then_holds_still() {
        let t0 = Instant::now();
        let mut w = MaskWatch::default();
        let mut ms = 0;
        let mut last = None;
        while w.judging() || ms == 0 {
            w.observe(TERM, SigSet::EMPTY, at(t0, ms));
            // Its samples wait (a process starting up) until the fourth read.
            if ms >= 750 {
                w.shown(at(t0, ms));
            }
            last = Some((ms, w.runs()));
            ms += 250;
            assert!(ms < 10_000, "never settled");
        }
        let (settled_at, runs) = last.unwrap();
        // First shown at its fourth read (750 ms); settled once span + margin had passed since.
        assert!(settled_at >= 750 + BLOCK_PERSIST_SPAN_MS + SPAN_MARGIN.as_millis() as u64, "{settled_at}");
        assert!(settled_at < 750 + BLOCK_PERSIST_SPAN_MS + SPAN_MARGIN.as_millis() as u64 + 250, "{settled_at}");
        let reads = runs.blocked[0].reads;
        assert!(reads >= BLOCK_PERSIST_READS);
        // From now on a read that only says "still blocked" changes nothing.
        w.observe(TERM, SigSet::EMPTY, at(t0, ms + 1000));
        assert_eq!(w.runs(), runs);
        // Opening ends it.
        w.observe(SigSet::EMPTY, SigSet::EMPTY, at(t0, ms + 2000));
        assert!(w.runs().is_empty());
    }

    #[test]
    fn held_counts_pending_signals_only_while_blocked_everywhere() {
        let t0 = Instant::now();
        let int = SigSet(1 << 1);
        let mut w = MaskWatch::default();
        // SIGINT pending but not blocked everywhere: not held (it is being delivered).
        w.observe(TERM, SigSet(TERM.0 | int.0), t0);
        assert_eq!(shape(w.runs().held), vec![(TERM, 1)], "held is published at once");
        w.observe(TERM, TERM, at(t0, 250));
        assert_eq!(shape(w.runs().held), vec![(TERM, 2)]);
        assert_eq!(shape(w.runs().blocked), vec![(TERM, 2)]);
        // Taken (a thread unblocked it, or it was read from a signalfd): the held run ends.
        w.observe(TERM, SigSet::EMPTY, at(t0, 500));
        assert!(w.runs().held.is_empty());
        assert_eq!(shape(w.runs().blocked), vec![(TERM, 3)]);
    }

    #[test]
    fn a_signal_read_from_a_signalfd_starts_no_blocked_run_but_can_be_held() {
        let t0 = Instant::now();
        let mut w = MaskWatch::default();
        assert!(w.wants_signalfd(TERM, t0));
        assert!(!w.wants_signalfd(SigSet::EMPTY, t0), "nothing blocked: nothing to look at");
        w.signalfd_seen(TERM, TERM, t0);
        assert!(!w.wants_signalfd(TERM, at(t0, 1000)), "looked at lately for the same set");
        assert!(w.wants_signalfd(SigSet(TERM.0 | 2), at(t0, 1000)), "another set");
        assert!(w.wants_signalfd(TERM, t0 + SIGNALFD_FRESH), "stale");
        for ms in [0, 250, 500, 750, 1000] {
            w.observe(TERM, SigSet::EMPTY, at(t0, ms));
        }
        assert!(w.runs().is_empty(), "{:?}", w.runs());
        assert!(!w.judging());
        // Sent and never read from the descriptor: held all the same.
        w.observe(TERM, TERM, at(t0, 1250));
        w.observe(TERM, TERM, at(t0, 1500));
        assert_eq!(shape(w.runs().held), vec![(TERM, 2)]);
    }

    #[test]
    fn runs_of_different_lengths_are_published_apart() {
        let t0 = Instant::now();
        let int = SigSet(1 << 1);
        let mut w = MaskWatch::default();
        w.observe(TERM, SigSet::EMPTY, t0);
        w.observe(TERM, SigSet::EMPTY, at(t0, 250));
        w.observe(SigSet(TERM.0 | int.0), SigSet::EMPTY, at(t0, 500));
        w.observe(SigSet(TERM.0 | int.0), SigSet::EMPTY, at(t0, 750));
        assert_eq!(shape(w.runs().blocked), vec![(TERM, 4), (int, 2)]);
    }
}
