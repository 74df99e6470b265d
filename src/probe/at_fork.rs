//! Which of a parent's threads existed at the instant of a fork, and what that makes the fork.
//! Pure: the probe feeds it what the kernel connector and `/proc` said.
//!
//! A pre-fork server may join its helper thread in an at-fork hook and start a new one in the
//! parent 0.4–2 ms after the fork: inside the same 10 ms clock tick, so `/proc` start times
//! cannot tell the new helper from one that was there. Two sources order them:
//! - **the kernel connector** (exact): its events carry `CLOCK_MONOTONIC` nanoseconds and report
//!   every thread's creation and exit. A process's [`ThreadBook`] keeps them, sorted by time
//!   (not by arrival: events from different CPUs may arrive out of order), and a thread lived
//!   at the fork if the last event about it before the fork's instant is its creation (or, with
//!   none before, the first one after is its exit: it was there before the probe looked);
//! - **`/proc` alone** (sampling): a thread that started in an earlier tick than the child
//!   existed at the fork, one in a later tick did not; within the child's own tick the order in
//!   which the kernel gave out the numbers decides (pids and tids come from one counter that only
//!   goes up, wrapping at `pid_max`), which is a good guess but not a fact, so the verdict then
//!   says it is uncertain.
//!
//! Threads the kernel said nothing about (they started before the process was tracked, or the
//! events were lost) are judged the second way even with the connector.

use std::collections::BTreeMap;

/// Did a thread exist at the fork?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Existed {
    /// Surely: the kernel's order, or a start in an earlier clock tick than the child's.
    Yes,
    /// Started in the child's tick, and its tid was given out before the child's pid.
    Probably,
    /// Started in the child's tick, and its tid was given out after the child's pid.
    ProbablyNot,
}

/// A thread of the parent that existed (or may have existed) at the fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AtFork {
    pub tid: u32,
    /// Start time (clock ticks since boot) as `/proc` showed it, if it did: tells a thread
    /// apart from a later one with the same tid.
    pub start: Option<u64>,
    pub existed: Existed,
}

/// The instant of a fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ForkInstant {
    /// The parent (its thread-group leader exists as long as it does).
    pub parent: u32,
    pub child: u32,
    /// The child's start time in clock ticks since boot.
    pub child_tick: u64,
    /// The kernel connector's timestamp of the fork (`CLOCK_MONOTONIC` ns), if it reported it.
    pub ns: Option<u64>,
    /// `/proc/sys/kernel/pid_max`: where the pid counter wraps.
    pub pid_max: u32,
}

/// One process's thread creations and exits as the kernel connector reported them, by tid, each
/// tid's in time order.
#[derive(Debug, Clone, Default)]
pub(super) struct ThreadBook {
    /// tid → `(timestamp ns, born)`; `born == false` is an exit.
    events: BTreeMap<u32, Vec<(u64, bool)>>,
    /// The newest timestamp recorded.
    newest: u64,
    /// Recorded since the last pruning.
    since_prune: usize,
}

/// How long the exits of threads are remembered (a fork is judged [`super::forks::SETTLE`]
/// after it; this leaves a loaded machine ample room).
const KEEP_NS: u64 = 10_000_000_000;

impl ThreadBook {
    pub(super) fn record(&mut self, tid: u32, ns: u64, born: bool) {
        let list = self.events.entry(tid).or_default();
        let at = list.partition_point(|(t, _)| *t <= ns);
        list.insert(at, (ns, born));
        self.newest = self.newest.max(ns);
        self.since_prune += 1;
        if self.since_prune >= 256 {
            self.prune();
        }
    }

    /// Forgets threads that exited more than [`KEEP_NS`] before the newest event.
    fn prune(&mut self) {
        self.since_prune = 0;
        let horizon = self.newest.saturating_sub(KEEP_NS);
        self.events.retain(|_, list| list.last().is_none_or(|(t, born)| *born || *t >= horizon));
    }

    /// Did the thread live at `ns`, as far as the kernel said? `None`: it said nothing about it.
    pub(super) fn alive_at(&self, tid: u32, ns: u64) -> Option<bool> {
        let list = self.events.get(&tid)?;
        match list.iter().rev().find(|(t, _)| *t < ns) {
            Some((_, born)) => Some(*born),
            // Nothing before: an exit first means it was there; a creation first, that it was not.
            None => list.first().map(|(_, born)| !born),
        }
    }

    /// Did the kernel report the thread's exit (and no later creation of that tid)?
    pub(super) fn exited(&self, tid: u32) -> bool {
        self.events.get(&tid).and_then(|l| l.last()).is_some_and(|(_, born)| !born)
    }

    pub(super) fn tids(&self) -> impl Iterator<Item = u32> + '_ {
        self.events.keys().copied()
    }
}

/// Was `a` given out after `b` by the pid counter (which wraps at `pid_max`)? The nearer way
/// round the circle wins.
pub(super) fn given_out_after(a: u32, b: u32, pid_max: u32) -> bool {
    let max = i64::from(pid_max.max(2));
    let d = (i64::from(a) - i64::from(b)).rem_euclid(max);
    d != 0 && d < max / 2
}

/// Did the thread `tid` (started at tick `start`, if `/proc` showed it) exist at the fork?
/// `None`: it did not.
pub(super) fn existed(book: Option<&ThreadBook>, fork: &ForkInstant, tid: u32, start: Option<u64>) -> Option<Existed> {
    if tid == fork.parent {
        return Some(Existed::Yes);
    }
    if let (Some(book), Some(ns)) = (book, fork.ns) {
        if let Some(alive) = book.alive_at(tid, ns) {
            return alive.then_some(Existed::Yes);
        }
    }
    let start = start?;
    if start < fork.child_tick {
        Some(Existed::Yes)
    } else if start > fork.child_tick {
        None
    } else if given_out_after(fork.child, tid, fork.pid_max) {
        Some(Existed::Probably)
    } else {
        Some(Existed::ProbablyNot)
    }
}

/// The threads that existed (or may have) at the fork, from every thread `/proc` showed
/// (`(tid, start)`) and every one the book knows.
pub(super) fn threads_at_fork(
    book: Option<&ThreadBook>,
    fork: &ForkInstant,
    seen: impl IntoIterator<Item = (u32, Option<u64>)>,
) -> Vec<AtFork> {
    let mut all: BTreeMap<u32, Option<u64>> = BTreeMap::new();
    for (tid, start) in seen {
        let slot = all.entry(tid).or_default();
        *slot = slot.or(start);
    }
    if fork.ns.is_some() {
        for tid in book.into_iter().flat_map(ThreadBook::tids) {
            all.entry(tid).or_default();
        }
    }
    all.into_iter()
        .filter_map(|(tid, start)| Some(AtFork { tid, start, existed: existed(book, fork, tid, start)? }))
        .collect()
}

/// How many threads the parent had at the fork (surely or probably).
pub(super) fn count(at_fork: &[AtFork]) -> u32 {
    at_fork.iter().filter(|t| t.existed != Existed::ProbablyNot).count() as u32
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Verdict {
    /// At least two threads existed at the fork and outlived it.
    pub threaded: bool,
    /// The answer rests on the order of numbers within one clock tick, not on the kernel's.
    pub uncertain: bool,
}

/// The verdict from each thread at the fork and whether it outlived it (still there at a look
/// after the fork; the client library's own threads already left out). A thread that was there
/// at the fork but gone moments later (a helper joined just before it, still exiting) does not
/// count.
pub(super) fn verdict(threads: impl IntoIterator<Item = (Existed, bool)>) -> Verdict {
    let (mut yes, mut probably, mut probably_not) = (0, 0, 0);
    for (existed, outlived) in threads {
        if outlived {
            match existed {
                Existed::Yes => yes += 1,
                Existed::Probably => probably += 1,
                Existed::ProbablyNot => probably_not += 1,
            }
        }
    }
    let threaded = yes + probably >= 2;
    let uncertain = if threaded { yes < 2 } else { yes + probably + probably_not >= 2 };
    Verdict { threaded, uncertain }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A parent (pid 100) whose fork of pid 140 happened at 1000 ms, in tick 7.
    fn fork(ns: Option<u64>) -> ForkInstant {
        ForkInstant { parent: 100, child: 140, child_tick: 7, ns, pid_max: 4_194_304 }
    }

    #[test]
    fn with_the_kernel_s_events_a_helper_joined_before_the_fork_and_restarted_after_it_is_not_there() {
        let mut book = ThreadBook::default();
        // Helper 120 runs from the start; the at-fork hook joins it (it exits 0.3 ms before the
        // fork); the parent starts helper 141 0.4 ms after the fork. The events arrive out of
        // order (different CPUs): the book sorts them by time.
        book.record(141, 1000 * MS + 400_000, true);
        book.record(120, 1000 * MS - 300_000, false);
        book.record(120, 200 * MS, true);
        let at = fork(Some(1000 * MS));
        // /proc, read later, shows the new helper in the child's own tick, after the child.
        let seen = [(100, Some(1)), (141, Some(7))];
        let threads = threads_at_fork(Some(&book), &at, seen);
        assert_eq!(threads, [AtFork { tid: 100, start: Some(1), existed: Existed::Yes }]);
        assert_eq!(count(&threads), 1);
        // The new helper outlives the fork, but was not there: not threaded, and surely so.
        let v = verdict(threads.iter().map(|t| (t.existed, true)));
        assert_eq!(v, Verdict { threaded: false, uncertain: false });
    }

    #[test]
    fn with_the_kernel_s_events_a_helper_still_exiting_at_the_fork_was_there_but_does_not_outlive_it() {
        let mut book = ThreadBook::default();
        book.record(120, 200 * MS, true);
        // Joined, but its exit lands 2 ms after the fork.
        book.record(120, 1002 * MS, false);
        let at = fork(Some(1000 * MS));
        let threads = threads_at_fork(Some(&book), &at, [(100, Some(1))]);
        assert_eq!(count(&threads), 2);
        let outlived = |t: &AtFork| !book.exited(t.tid);
        let v = verdict(threads.iter().map(|t| (t.existed, outlived(t))));
        assert_eq!(v, Verdict { threaded: false, uncertain: false });
    }

    #[test]
    fn with_the_kernel_s_events_a_helper_running_through_the_fork_makes_it_threaded() {
        let mut book = ThreadBook::default();
        book.record(120, 200 * MS, true);
        // A thread the probe heard nothing about, from before the process was tracked.
        let seen = [(100, Some(1)), (120, Some(3)), (90, Some(0))];
        let at = fork(Some(1000 * MS));
        let threads = threads_at_fork(Some(&book), &at, seen);
        assert_eq!(count(&threads), 3);
        let v = verdict(threads.iter().map(|t| (t.existed, true)));
        assert_eq!(v, Verdict { threaded: true, uncertain: false });
        // A thread that exited before the fork, and one created after it that /proc shows in
        // an earlier tick (it cannot, but the kernel's word wins).
        book.record(130, 300 * MS, true);
        book.record(130, 900 * MS, false);
        book.record(150, 1001 * MS, true);
        let threads = threads_at_fork(Some(&book), &at, [(100, Some(1)), (150, Some(6))]);
        assert_eq!(threads.iter().map(|t| t.tid).collect::<Vec<_>>(), [100, 120]);
    }

    #[test]
    fn by_sampling_the_tick_decides_and_within_the_child_s_tick_the_pid_order_guesses() {
        let at = fork(None);
        // 100 the parent; 120 started ticks before; 139 in the child's tick, numbered before it;
        // 141 in its tick, numbered after it (restarted after the fork); 160 a tick later.
        let seen = [(100, Some(7)), (120, Some(5)), (139, Some(7)), (141, Some(7)), (160, Some(8))];
        let threads = threads_at_fork(None, &at, seen);
        let got: Vec<_> = threads.iter().map(|t| (t.tid, t.existed)).collect();
        assert_eq!(
            got,
            [(100, Existed::Yes), (120, Existed::Yes), (139, Existed::Probably), (141, Existed::ProbablyNot)]
        );
        assert_eq!(count(&threads), 3);
        // Main thread and a helper from an earlier tick: a fact.
        assert_eq!(verdict([(Existed::Yes, true), (Existed::Yes, true)]), Verdict { threaded: true, uncertain: false });
        // Only a same-tick thread makes it threaded: said as uncertain.
        let v = verdict([(Existed::Yes, true), (Existed::Probably, true)]);
        assert_eq!(v, Verdict { threaded: true, uncertain: true });
        // Only a same-tick thread numbered after the child would make it threaded: not
        // threaded, but not surely.
        let v = verdict([(Existed::Yes, true), (Existed::ProbablyNot, true)]);
        assert_eq!(v, Verdict { threaded: false, uncertain: true });
        // A lone thread: surely not.
        assert_eq!(
            verdict([(Existed::Yes, true), (Existed::Yes, false)]),
            Verdict { threaded: false, uncertain: false }
        );
    }

    #[test]
    fn the_pid_counter_wraps() {
        assert!(given_out_after(141, 140, 32_768));
        assert!(!given_out_after(140, 141, 32_768));
        // Numbered near the top, then the counter wrapped: 300 came after 32_700.
        assert!(given_out_after(300, 32_700, 32_768));
        assert!(!given_out_after(32_700, 300, 32_768));
        assert!(!given_out_after(5, 5, 32_768));
    }

    #[test]
    fn a_book_forgets_old_exits_but_not_live_threads() {
        let mut book = ThreadBook::default();
        book.record(1, 0, true);
        book.record(2, 0, true);
        book.record(2, MS, false);
        for i in 0..300 {
            book.record(1000 + i, 20_000 * MS + u64::from(i), true);
        }
        assert_eq!(book.alive_at(1, 20_000 * MS), Some(true));
        assert_eq!(book.alive_at(2, 20_000 * MS), None, "forgotten");
        assert!(!book.exited(1));
        // A tid given to a new thread after the old one exited.
        book.record(3, 10, true);
        book.record(3, 20, false);
        book.record(3, 30, true);
        assert_eq!(book.alive_at(3, 25), Some(false));
        assert_eq!(book.alive_at(3, 5), Some(false));
        assert_eq!(book.alive_at(3, 15), Some(true));
        assert!(!book.exited(3));
    }
}
